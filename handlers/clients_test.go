package handlers_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/pgtest"
)

var (
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	msTS  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
)

func TestCreateOauthClient(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: map[string]any{
		"name": "Acme CI", "grantTypes": []string{"CLIENT_CREDENTIALS", "AUTHORIZATION_CODE"},
		"redirectUris": []string{"https://acme.example/cb", "http://localhost:8000/cb", "com.acme.app:/cb"},
		"tenant":       "acme", "scope": []string{"sp:oauth-client:read"},
	}})
	r.wantStatus(http.StatusCreated)
	got := r.object()
	id, _ := got["id"].(string)
	if !hex32.MatchString(id) {
		t.Errorf("id = %q, want 32 lowercase hex", id)
	}
	if loc := r.Header().Get("Location"); loc != "/oauth-clients/"+id {
		t.Errorf("Location = %q", loc)
	}
	if secret, _ := got["secret"].(string); !hex64.MatchString(secret) {
		t.Errorf("secret = %q, want 64 lowercase hex", secret)
	}
	if r.Header().Get("ETag") == "" {
		t.Error("no ETag")
	}
	wants := map[string]any{
		"name": "Acme CI", "tenant": "acme", "description": nil, "businessName": nil, "homepageUrl": nil,
		"accessTokenValiditySeconds": 3600.0, "refreshTokenValiditySeconds": 86400.0,
		"accessType": "ONLINE", "type": "CONFIDENTIAL", "internal": false, "enabled": true,
		"strongAuthSupported": false, "claimsSupported": false, "lastUsed": nil,
	}
	for k, want := range wants {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	for _, k := range []string{"created", "modified"} {
		if s, _ := got[k].(string); !msTS.MatchString(s) {
			t.Errorf("%s = %v, want RFC 3339 with milliseconds", k, got[k])
		}
	}

	// The secret is never shown again.
	g := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id})
	g.wantStatus(http.StatusOK)
	if _, ok := g.object()["secret"]; ok {
		t.Errorf("GET shows a secret: %s", g.Body)
	}
	if strings.Contains(g.Body.String(), got["secret"].(string)) {
		t.Error("GET body contains the secret")
	}
}

func TestCreateOauthClientPublicHasNoSecret(t *testing.T) {
	e := newEnv(t)
	got := e.create(map[string]any{"name": "SPA", "type": "PUBLIC", "grantTypes": []string{"AUTHORIZATION_CODE"},
		"redirectUris": []string{"https://spa.example/cb"}})
	if got["secret"] != nil {
		t.Errorf("secret = %v, want null for a PUBLIC client", got["secret"])
	}
}

func TestCreateOauthClientErrors(t *testing.T) {
	e := newEnv(t)
	big := `{"name":"` + strings.Repeat("a", 70<<10) + `","grantTypes":["CLIENT_CREDENTIALS"]}`
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		mention     string
	}{
		{"missing name", `{"grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeRequiredMissing, "name"},
		{"missing grantTypes", `{"name":"x"}`, "", 400, apierrors.CodeRequiredMissing, "grantTypes"},
		{"null name", `{"name":null,"grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeRequiredMissing, "name"},
		{"unknown member", `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"colour":"red"}`, "", 400, apierrors.CodeIllegalValue, "colour"},
		{"read-only id", `{"id":"abc","name":"x","grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeIllegalUpdate, "id"},
		{"read-only secret", `{"secret":"abc","name":"x","grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeIllegalUpdate, "secret"},
		{"wrong type", `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"enabled":"yes"}`, "", 400, apierrors.CodeIllegalValue, "enabled"},
		{"wrong number", `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"],"accessTokenValiditySeconds":1.5}`, "", 400, apierrors.CodeIllegalValue, "accessTokenValiditySeconds"},
		{"duplicate member", `{"name":"x","name":"y","grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeBadSyntax, "name"},
		{"not JSON", `{"name":`, "", 400, apierrors.CodeBadSyntax, ""},
		{"empty array body", `[]`, "", 400, apierrors.CodeRequiredMissing, "at least one"},
		{"scalar body", `7`, "", 400, apierrors.CodeBadSyntax, "body"},
		{"trailing data", `{"name":"x","grantTypes":["CLIENT_CREDENTIALS"]} {}`, "", 400, apierrors.CodeBadSyntax, ""},
		{"bad enum", `{"name":"x","grantTypes":["client_credentials"]}`, "", 400, apierrors.CodeIllegalValue, "grantTypes/0"},
		{"http redirect", `{"name":"x","grantTypes":["AUTHORIZATION_CODE"],"redirectUris":["http://evil.example/cb"]}`, "", 400, apierrors.CodeIllegalValue, "redirectUris/0"},
		{"name too long", `{"name":"` + strings.Repeat("n", 129) + `","grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeLengthOutOfRange, "name"},
		{"public with client credentials", `{"name":"x","type":"PUBLIC","grantTypes":["CLIENT_CREDENTIALS"]}`, "", 400, apierrors.CodeIllegalValue, "PUBLIC"},
		{"xml", `<x/>`, "application/xml", 415, apierrors.CodeUnsupportedMedia, "application/xml"},
		{"too large", big, "", 413, apierrors.CodePayloadTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: tt.body, contentType: tt.contentType})
			r.wantError(tt.status, tt.code, tt.mention)
		})
	}
	list := e.do(request{method: http.MethodGet, path: "/oauth-clients?count=true"})
	if got := list.Header().Get("X-Total-Count"); got != "1" {
		t.Errorf("after refused creates X-Total-Count = %s, want 1 (the admin)", got)
	}
}

func TestGetOauthClient(t *testing.T) {
	e := newEnv(t)
	id := e.create(basicClient("get me"))["id"].(string)
	r := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id})
	r.wantStatus(http.StatusOK)
	etag := r.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
		t.Errorf("ETag = %q", etag)
	}
	nm := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id, header: map[string]string{"If-None-Match": etag}})
	nm.wantStatus(http.StatusNotModified)
	if nm.Body.Len() != 0 || nm.Header().Get("ETag") != etag {
		t.Errorf("304: body %q, ETag %q", nm.Body, nm.Header().Get("ETag"))
	}
	e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id, header: map[string]string{"If-None-Match": `"other"`}}).wantStatus(http.StatusOK)
	e.do(request{method: http.MethodGet, path: "/oauth-clients/0123456789abcdef0123456789abcdef"}).wantError(404, apierrors.CodeNotFound, "")
	e.do(request{method: http.MethodGet, path: "/v3/oauth-clients/" + id}).wantStatus(http.StatusOK)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t)
	e.do(request{method: http.MethodGet, path: "/nothing-here", token: "-"}).wantError(404, apierrors.CodeNotFound, "")
	r := e.do(request{method: http.MethodPost, path: "/healthz", token: "-"})
	r.wantError(405, apierrors.CodeMethodNotAllowed, "")
	if allow := r.Header().Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow = %q", allow)
	}
}

func TestListOauthClients(t *testing.T) {
	e := newEnv(t)
	for i, n := range []string{"Acme One", "acme two", "Beta", "Gamma 50%", "Gamma_x"} {
		body := basicClient(n)
		if i%2 == 0 {
			body["tenant"] = "t1"
		}
		if i == 2 {
			body["enabled"] = false
		}
		e.create(body)
	}
	names := func(r response) []string {
		var cs []map[string]any
		r.json(&cs)
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c["name"].(string)
		}
		return strings.Split(strings.Join(out, ","), ",")
	}
	tests := []struct {
		query string
		want  string
		total string
	}{
		{"filters=" + q(`name sw "acme"`), "Acme One,acme two", ""},
		{"filters=" + q(`name sw "ACME" and tenant eq "t1"`) + "&count=true", "Acme One", "1"},
		{"filters=" + q(`enabled eq false`), "Beta", ""},
		{"filters=" + q(`name co "50%"`), "Gamma 50%", ""},
		{"filters=" + q(`name co "_"`), "Gamma_x", ""},
		{"filters=" + q(`tenant isnull and name ne "Clientele admin" and not name eq "admin"`), "acme two,Gamma 50%", ""},
		{"filters=" + q(`name in ("beta", "gamma_x")`) + "&sorters=-name", "Gamma_x,Beta", ""},
		{"filters=" + q(`tenant eq "t1"`) + "&sorters=name&limit=2&offset=1&count=true", "Beta,Gamma_x", "3"},
		{"filters=" + q(`grantTypes ca ("CLIENT_CREDENTIALS") and name sw "g"`) + "&sorters=name", "Gamma 50%,Gamma_x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := e.do(request{method: http.MethodGet, path: "/oauth-clients?" + tt.query})
			r.wantStatus(http.StatusOK)
			if got := strings.Join(names(r), ","); got != tt.want {
				t.Errorf("names = %s, want %s", got, tt.want)
			}
			if got := r.Header().Get("X-Total-Count"); got != tt.total {
				t.Errorf("X-Total-Count = %q, want %q", got, tt.total)
			}
		})
	}
	// The default order is created, then id: total and stable.
	var all []map[string]any
	e.do(request{method: http.MethodGet, path: "/oauth-clients"}).json(&all)
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a["created"].(string) > b["created"].(string) ||
			(a["created"] == b["created"] && a["id"].(string) >= b["id"].(string)) {
			t.Errorf("default order broken at %d: %v/%v before %v/%v", i, a["created"], a["id"], b["created"], b["id"])
		}
	}
	bad := []struct{ query, code, mention string }{
		{"limit=251", apierrors.CodeIllegalValue, "limit"},
		{"limit=x", apierrors.CodeIllegalValue, "limit"},
		{"offset=-1", apierrors.CodeIllegalValue, "offset"},
		{"sorters=secret", apierrors.CodeIllegalValue, "secret"},
		{"filters=" + q(`secret eq "x"`), apierrors.CodeIllegalValue, "secret"},
		{"filters=" + q(`name eq "x`), apierrors.CodeBadSyntax, "filters"},
		{"filters=" + q(`enabled co "x"`), apierrors.CodeIllegalValue, "enabled"},
	}
	for _, b := range bad {
		t.Run("bad "+b.query, func(t *testing.T) {
			e.do(request{method: http.MethodGet, path: "/oauth-clients?" + b.query}).wantError(400, b.code, b.mention)
		})
	}
}

func q(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "%", "%25", "(", "%28", ")", "%29", ",", "%2C").Replace(s)
}

func TestPatchOauthClient(t *testing.T) {
	e := newEnv(t)
	created := e.create(basicClient("patch me"))
	id := created["id"].(string)
	path := "/oauth-clients/" + id

	r := e.do(request{method: http.MethodPatch, path: path, contentType: "application/json-patch+json",
		body: `[{"op":"add","path":"/redirectUris/-","value":"https://a.example/cb"},
		        {"op":"replace","path":"/description","value":"d"},
		        {"op":"test","path":"/name","value":"patch me"}]`})
	r.wantStatus(http.StatusOK)
	got := r.object()
	if got["description"] != "d" || fmt.Sprint(got["redirectUris"]) != "[https://a.example/cb]" {
		t.Errorf("after JSON Patch: %s", r.Body)
	}
	if got["modified"] == created["modified"] && got["created"] == created["modified"] {
		// modified may equal created only within the same millisecond.
		t.Log("modified did not visibly move (same millisecond)")
	}
	etag := r.Header().Get("ETag")

	m := e.do(request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json; charset=utf-8",
		body: `{"description":null,"enabled":false}`, header: map[string]string{"If-Match": etag}})
	m.wantStatus(http.StatusOK)
	if got := m.object(); got["description"] != nil || got["enabled"] != false {
		t.Errorf("after merge patch: %s", m.Body)
	}
	if m.Header().Get("ETag") == etag {
		t.Error("ETag did not change")
	}
	// The stale ETag now fails, and nothing changes.
	e.do(request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json",
		body: `{"enabled":true}`, header: map[string]string{"If-Match": etag}}).wantError(412, apierrors.CodePreconditionFailed, "")
	e.do(request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json",
		body: `{"name":"star"}`, header: map[string]string{"If-Match": "*"}}).wantStatus(http.StatusOK)

	before := e.do(request{method: http.MethodGet, path: path}).Body.String()
	refused := []struct {
		name, ct, body string
		status         int
		code, mention  string
	}{
		{"secret path", "application/json-patch+json", `[{"op":"copy","from":"/secret","path":"/description"}]`, 400, apierrors.CodeIllegalUpdate, "/secret"},
		{"test secret", "application/json-patch+json", `[{"op":"test","path":"/secret","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "/secret"},
		{"scope", "application/json-patch+json", `[{"op":"add","path":"/scope/-","value":"sp:scopes:all"}]`, 400, apierrors.CodeIllegalUpdate, "/scope"},
		{"failing test", "application/json-patch+json", `[{"op":"test","path":"/name","value":"nope"}]`, 409, apierrors.CodeConflict, ""},
		{"missing target", "application/json-patch+json", `[{"op":"remove","path":"/redirectUris/5"}]`, 400, apierrors.CodeBadContent, ""},
		{"remove name", "application/json-patch+json", `[{"op":"remove","path":"/name"}]`, 400, apierrors.CodeRequiredMissing, "name"},
		{"wrong type", "application/json-patch+json", `[{"op":"replace","path":"/enabled","value":"yes"}]`, 400, apierrors.CodeIllegalValue, "enabled"},
		{"not an array", "application/json-patch+json", `{"op":"remove","path":"/name"}`, 400, apierrors.CodeBadSyntax, ""},
		{"merge unknown", "application/merge-patch+json", `{"secret":"x"}`, 400, apierrors.CodeIllegalUpdate, "secret"},
		{"plain json", "application/json", `[]`, 415, apierrors.CodeUnsupportedMedia, ""},
		{"too large", "application/json-patch+json", `[{"op":"replace","path":"/description","value":"` + strings.Repeat("x", 65<<10) + `"}]`, 413, apierrors.CodePayloadTooLarge, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			e.do(request{method: http.MethodPatch, path: path, contentType: tt.ct, body: tt.body}).wantError(tt.status, tt.code, tt.mention)
			if after := e.do(request{method: http.MethodGet, path: path}).Body.String(); after != before {
				t.Errorf("client changed by a refused patch:\n%s\n%s", before, after)
			}
		})
	}

	// An empty patch changes nothing, modified included.
	for _, tt := range []struct{ ct, body string }{{"application/json-patch+json", `[]`}, {"application/merge-patch+json", `{}`}} {
		r := e.do(request{method: http.MethodPatch, path: path, contentType: tt.ct, body: tt.body})
		r.wantStatus(http.StatusOK)
		if r.Body.String() != before {
			t.Errorf("empty patch %s changed the client:\n%s\n%s", tt.body, before, r.Body)
		}
	}
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/0123456789abcdef0123456789abcdef",
		contentType: "application/json-patch+json", body: `[]`}).wantError(404, apierrors.CodeNotFound, "")
}

func TestReplaceOauthClient(t *testing.T) {
	e := newEnv(t)
	created := e.create(map[string]any{"name": "put me", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"description": "old", "accessTokenValiditySeconds": 600, "scope": []string{"sp:oauth-client:read"}})
	id := created["id"].(string)
	path := "/oauth-clients/" + id

	// A GET body edited and sent back is accepted.
	body := e.do(request{method: http.MethodGet, path: path}).object()
	body["name"] = "put again"
	delete(body, "description")
	delete(body, "accessTokenValiditySeconds")
	r := e.do(request{method: http.MethodPut, path: path, body: body})
	r.wantStatus(http.StatusOK)
	got := r.object()
	if got["name"] != "put again" || got["description"] != nil || got["accessTokenValiditySeconds"] != 3600.0 {
		t.Errorf("after PUT: %s", r.Body)
	}
	if got["created"] != created["created"] || got["id"] != id {
		t.Errorf("PUT changed id or created: %s", r.Body)
	}
	for _, tt := range []struct {
		name    string
		body    map[string]any
		code    string
		mention string
	}{
		{"other id", map[string]any{"id": "0123456789abcdef0123456789abcdef", "name": "x", "grantTypes": []string{"CLIENT_CREDENTIALS"}}, apierrors.CodeIllegalUpdate, "id"},
		{"type change", map[string]any{"name": "x", "type": "PUBLIC", "grantTypes": []string{"AUTHORIZATION_CODE"}, "redirectUris": []string{"https://a.example"}}, apierrors.CodeIllegalUpdate, "type"},
		{"scope change", map[string]any{"name": "x", "grantTypes": []string{"CLIENT_CREDENTIALS"}, "scope": []string{"sp:scopes:all"}}, apierrors.CodeIllegalUpdate, "scope"},
		{"secret", map[string]any{"name": "x", "grantTypes": []string{"CLIENT_CREDENTIALS"}, "secret": "s"}, apierrors.CodeIllegalUpdate, "secret"},
		{"no name", map[string]any{"grantTypes": []string{"CLIENT_CREDENTIALS"}}, apierrors.CodeRequiredMissing, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.do(request{method: http.MethodPut, path: path, body: tt.body}).wantError(400, tt.code, tt.mention)
		})
	}
	e.do(request{method: http.MethodPut, path: path, body: basicClient("x"),
		header: map[string]string{"If-Match": `"stale"`}}).wantError(412, apierrors.CodePreconditionFailed, "")
}

func TestDeleteOauthClient(t *testing.T) {
	e := newEnv(t)
	id := e.create(basicClient("delete me"))["id"].(string)
	path := "/oauth-clients/" + id
	e.do(request{method: http.MethodDelete, path: path, header: map[string]string{"If-Match": `"stale"`}}).wantError(412, apierrors.CodePreconditionFailed, "")
	r := e.do(request{method: http.MethodDelete, path: path})
	r.wantStatus(http.StatusNoContent)
	if r.Body.Len() != 0 {
		t.Errorf("204 with body %q", r.Body)
	}
	e.do(request{method: http.MethodGet, path: path}).wantError(404, apierrors.CodeNotFound, "")
	e.do(request{method: http.MethodDelete, path: path}).wantError(404, apierrors.CodeNotFound, "")
}

func TestRotateOauthClientSecret(t *testing.T) {
	e := newEnv(t)
	created := e.create(basicClient("rotate me"))
	id, oldSecret := created["id"].(string), created["secret"].(string)
	r := e.do(request{method: http.MethodPost, path: "/oauth-clients/" + id + "/secret"})
	r.wantStatus(http.StatusOK)
	newSecret, _ := r.object()["secret"].(string)
	if !hex64.MatchString(newSecret) || newSecret == oldSecret {
		t.Fatalf("new secret %q (old %q)", newSecret, oldSecret)
	}
	if r.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.Header().Get("Cache-Control"))
	}
	tokenStatus := func(secret string) int {
		req := request{method: http.MethodPost, path: "/oauth/token", token: "-", contentType: "application/x-www-form-urlencoded",
			body: "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret}
		return e.do(req).Code
	}
	if got := tokenStatus(oldSecret); got != http.StatusUnauthorized {
		t.Errorf("old secret: token status %d, want 401", got)
	}
	if got := tokenStatus(newSecret); got != http.StatusOK {
		t.Errorf("new secret: token status %d, want 200", got)
	}
	pub := e.create(map[string]any{"name": "pub", "type": "PUBLIC", "grantTypes": []string{"AUTHORIZATION_CODE"},
		"redirectUris": []string{"https://spa.example/cb"}})["id"].(string)
	e.do(request{method: http.MethodPost, path: "/oauth-clients/" + pub + "/secret"}).wantError(400, apierrors.CodeIllegalUpdate, "PUBLIC")
}

func TestConcurrentAppendsLoseNothing(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			o := envOptions{}
			if backend == "postgres" {
				o.dbURL = pgtest.URL(t)
			}
			e := newEnvWith(t, o)
			id := e.create(basicClient("concurrent"))["id"].(string)
			const writers = 40
			var wg sync.WaitGroup
			codes := make([]int, writers)
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					body := fmt.Sprintf(`[{"op":"add","path":"/redirectUris/-","value":"https://app%d.example/cb"}]`, i)
					codes[i] = e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id,
						contentType: "application/json-patch+json", body: body}).Code
				}(i)
			}
			wg.Wait()
			for i, c := range codes {
				if c != http.StatusOK {
					t.Errorf("writer %d: status %d", i, c)
				}
			}
			var got struct {
				RedirectURIs []string `json:"redirectUris"`
			}
			e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id}).json(&got)
			if len(got.RedirectURIs) != writers {
				t.Fatalf("stored %d redirect URIs, want %d", len(got.RedirectURIs), writers)
			}
			seen := map[string]bool{}
			for _, u := range got.RedirectURIs {
				seen[u] = true
			}
			for i := 0; i < writers; i++ {
				if !seen[fmt.Sprintf("https://app%d.example/cb", i)] {
					t.Errorf("lost https://app%d.example/cb", i)
				}
			}
		})
	}
}

// A create names every member of the wrong type, in the body's order, not
// only the first (SPEC §5: one cause per problem found).
func TestCreateNamesEveryWrongType(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: http.MethodPost, path: "/oauth-clients?dryRun=true",
		body: `{"name":5,"grantTypes":["CLIENT_CREDENTIALS"],"enabled":"yes","audience":[1]}`})
	env := r.wantError(http.StatusBadRequest, apierrors.CodeIllegalValue, "")
	var got []string
	for _, c := range env.Causes {
		got = append(got, c.Text)
	}
	want := []string{"name: must be a string", "enabled: must be a boolean", "audience: must be an array of strings"}
	if !slices.Equal(got, want) {
		t.Errorf("causes = %q, want %q", got, want)
	}
}
