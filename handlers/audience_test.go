package handlers_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// payloadOf decodes a compact JWS's claims.
func payloadOf(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokenAudience(t *testing.T) {
	e := newEnv(t)
	plain := e.create(basicClient("no audience"))
	if aud, ok := plain["audience"].([]any); !ok || len(aud) != 0 {
		t.Fatalf("default audience %v", plain["audience"])
	}
	body := basicClient("billing")
	body["audience"] = []string{"https://billing.example", "urn:example:reports", "ledger"}
	cl := e.create(body)
	id, secret := cl["id"].(string), cl["secret"].(string)

	issue := func(f string) response {
		return e.tokenRequest(f, basicAuth(id, secret))
	}
	tokenOf := func(r response) string {
		t.Helper()
		r.wantStatus(http.StatusOK)
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		r.json(&tr)
		return tr.AccessToken
	}
	for _, tt := range []struct {
		name, form string
		want       any
	}{
		{"none named: the whole audience", form("grant_type", "client_credentials"),
			[]any{"https://billing.example", "urn:example:reports", "ledger"}},
		{"one resource", form("grant_type", "client_credentials", "resource", "https://billing.example"), "https://billing.example"},
		{"resources repeated", form("grant_type", "client_credentials", "resource", "https://billing.example", "resource", "urn:example:reports"),
			[]any{"https://billing.example", "urn:example:reports"}},
		{"audience", form("grant_type", "client_credentials", "audience", "ledger"), "ledger"},
		{"both, with a duplicate", form("grant_type", "client_credentials", "resource", "https://billing.example", "audience", "ledger", "audience", "https://billing.example"),
			[]any{"https://billing.example", "ledger"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := tokenOf(issue(tt.form))
			got := payloadOf(t, tok)["aud"]
			if g, _ := json.Marshal(got); string(g) != mustJSON(tt.want) {
				t.Errorf("aud = %s, want %s", g, mustJSON(tt.want))
			}
			r := e.do(request{method: http.MethodPost, path: "/oauth/introspect", token: "-", contentType: "application/x-www-form-urlencoded",
				body: form("token", tok), header: basicAuth(id, secret)})
			r.wantStatus(http.StatusOK)
			if g, _ := json.Marshal(r.object()["aud"]); string(g) != mustJSON(tt.want) {
				t.Errorf("introspected aud = %s, want %s", g, mustJSON(tt.want))
			}
		})
	}
	for _, tt := range []struct{ name, form string }{
		{"resource not held", form("grant_type", "client_credentials", "resource", "https://other.example")},
		{"audience not held", form("grant_type", "client_credentials", "audience", "ledger", "audience", "other")},
		{"resource not absolute", form("grant_type", "client_credentials", "resource", "ledger")},
		{"resource with a fragment", form("grant_type", "client_credentials", "resource", "https://billing.example#x")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := issue(tt.form)
			if r.Code != http.StatusBadRequest || r.object()["error"] != "invalid_target" {
				t.Errorf("status %d %s, want 400 invalid_target", r.Code, r.Body)
			}
		})
	}
	// A client without an audience gets the issuer.
	pid, psecret := plain["id"].(string), plain["secret"].(string)
	if aud := payloadOf(t, tokenOf(e.tokenRequest(form("grant_type", "client_credentials"), basicAuth(pid, psecret))))["aud"]; aud != testIssuer {
		t.Errorf("aud without an audience %v, want the issuer", aud)
	}
	e.tokenRequest(form("grant_type", "client_credentials", "scope", "a", "scope", "b"), basicAuth(pid, psecret)).wantStatus(http.StatusBadRequest)

	// The member is patchable and validated.
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id, contentType: "application/json-patch+json",
		body: `[{"op":"add","path":"/audience/-","value":"urn:new"}]`}).wantStatus(http.StatusOK)
	if got := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id}).object()["audience"].([]any); len(got) != 4 || got[3] != "urn:new" {
		t.Errorf("audience after patch %v", got)
	}
	for _, bad := range []string{`["a","a"]`, `["has space"]`, `[""]`, `["` + strings.Repeat("x", 2049) + `"]`,
		`[` + strings.TrimSuffix(strings.Repeat(`"x",`, 33), ",") + `]`} {
		r := e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id, contentType: "application/merge-patch+json",
			body: `{"audience":` + bad + `}`})
		if r.Code != http.StatusBadRequest || !strings.Contains(r.Body.String(), "audience") {
			t.Errorf("audience %.40s: %d %s", bad, r.Code, r.Body)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
