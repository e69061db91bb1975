package handlers_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func (e *env) tokenRequest(body string, header map[string]string) response {
	return e.do(request{method: http.MethodPost, path: "/oauth/token", token: "-",
		contentType: "application/x-www-form-urlencoded", body: body, header: header})
}

func basicAuth(id, secret string) map[string]string {
	raw := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))}
}

type tokenBody struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

func TestCreateTokenFlows(t *testing.T) {
	e := newEnv(t)
	cl := e.create(map[string]any{"name": "svc", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"accessTokenValiditySeconds": 120, "scope": []string{"sp:oauth-client:read", "sp:scopes:default"}})
	id, secret := cl["id"].(string), cl["secret"].(string)

	check := func(t *testing.T, r response, wantScope string) {
		t.Helper()
		r.wantStatus(http.StatusOK)
		var tb tokenBody
		r.json(&tb)
		if tb.TokenType != "Bearer" || tb.ExpiresIn != 120 || tb.Scope != wantScope || strings.Count(tb.AccessToken, ".") != 2 {
			t.Errorf("token response %s", r.Body)
		}
		if r.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.Header().Get("Cache-Control"))
		}
	}
	t.Run("basic", func(t *testing.T) {
		check(t, e.tokenRequest(form("grant_type", "client_credentials"), basicAuth(id, secret)), "sp:oauth-client:read sp:scopes:default")
	})
	t.Run("post", func(t *testing.T) {
		check(t, e.tokenRequest(form("grant_type", "client_credentials", "client_id", id, "client_secret", secret, "scope", "sp:oauth-client:read"), nil), "sp:oauth-client:read")
	})
	t.Run("multipart", func(t *testing.T) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret} {
			_ = w.WriteField(k, v)
		}
		_ = w.Close()
		check(t, e.do(request{method: http.MethodPost, path: "/oauth/token", token: "-", contentType: w.FormDataContentType(), body: buf.Bytes()}),
			"sp:oauth-client:read sp:scopes:default")
	})
	t.Run("basic with a form-encoded secret", func(t *testing.T) {
		// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic,
		// which matters for a chosen secret such as a bootstrap admin's.
		weirdID, weirdSecret := e.seedClientWithSecret(t, "chosen", []string{models.ScopeDefault}, "p@ss:word with+plus%and/slash-0123456789")
		r := e.tokenRequest(form("grant_type", "client_credentials"), basicAuth(weirdID, weirdSecret))
		r.wantStatus(http.StatusOK)
		raw := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(weirdID+":"+weirdSecret))}
		if got := e.tokenRequest(form("grant_type", "client_credentials"), raw).Code; got != http.StatusUnauthorized {
			t.Errorf("a secret sent without form-encoding: status %d, want 401 (+ decodes to a space)", got)
		}
	})
	if got := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id}).object()["lastUsed"]; got == nil {
		t.Error("lastUsed not set after a token was issued")
	}

	disabled := e.create(map[string]any{"name": "off", "enabled": false, "grantTypes": []string{"CLIENT_CREDENTIALS"}})
	noCC := e.create(map[string]any{"name": "web", "grantTypes": []string{"AUTHORIZATION_CODE"}, "redirectUris": []string{"https://w.example/cb"}})
	errs := []struct {
		name   string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"no grant_type", form("client_id", id, "client_secret", secret), nil, 400, "invalid_request"},
		{"bad grant_type", form("grant_type", "password"), basicAuth(id, secret), 400, "unsupported_grant_type"},
		{"wrong secret", form("grant_type", "client_credentials"), basicAuth(id, strings.Repeat("0", 64)), 401, "invalid_client"},
		{"unknown client", form("grant_type", "client_credentials", "client_id", "nobody", "client_secret", "x"), nil, 401, "invalid_client"},
		{"no authentication", form("grant_type", "client_credentials"), nil, 401, "invalid_client"},
		{"two methods", form("grant_type", "client_credentials", "client_secret", secret), basicAuth(id, secret), 400, "invalid_request"},
		{"scope not held", form("grant_type", "client_credentials", "scope", "sp:oauth-client:manage"), basicAuth(id, secret), 400, "invalid_scope"},
		{"duplicate parameter", "grant_type=client_credentials&grant_type=client_credentials", basicAuth(id, secret), 400, "invalid_request"},
		{"disabled client", form("grant_type", "client_credentials"), basicAuth(disabled["id"].(string), disabled["secret"].(string)), 401, "invalid_client"},
		{"no client credentials grant", form("grant_type", "client_credentials"), basicAuth(noCC["id"].(string), noCC["secret"].(string)), 400, "unauthorized_client"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			r := e.tokenRequest(tt.body, tt.header)
			r.wantStatus(tt.status)
			var tb tokenBody
			r.json(&tb)
			if tb.Error != tt.code {
				t.Errorf("error = %q, want %q", tb.Error, tt.code)
			}
			if tt.status == 401 && !strings.HasPrefix(r.Header().Get("WWW-Authenticate"), "Basic") {
				t.Errorf("WWW-Authenticate = %q", r.Header().Get("WWW-Authenticate"))
			}
		})
	}
	r := e.do(request{method: http.MethodPost, path: "/oauth/token", token: "-", contentType: "application/json", body: `{}`})
	r.wantStatus(http.StatusBadRequest)
}

// The scope matrix: every management operation against tokens of no scope,
// the default scope, read, manage and all.
func TestScopeMatrix(t *testing.T) {
	e := newEnv(t)
	target := e.create(basicClient("target"))["id"].(string)
	tokens := map[string]string{"none": "-"}
	for name, scope := range map[string]string{"default": models.ScopeDefault, "read": models.ScopeRead, "manage": models.ScopeManage, "all": models.ScopeAll} {
		id, secret := e.seedClient(t, "caller "+name, []string{scope})
		tokens[name] = e.token(id, secret, "")
	}
	ops := []struct {
		name    string
		req     func() request
		success int
		write   bool
	}{
		{"listOauthClients", func() request { return request{method: http.MethodGet, path: "/oauth-clients"} }, 200, false},
		{"getOauthClient", func() request { return request{method: http.MethodGet, path: "/oauth-clients/" + target} }, 200, false},
		{"createOauthClient", func() request {
			return request{method: http.MethodPost, path: "/oauth-clients", body: basicClient("made")}
		}, 201, true},
		{"patchOauthClient", func() request {
			return request{method: http.MethodPatch, path: "/oauth-clients/" + target, contentType: "application/merge-patch+json", body: `{"description":"x"}`}
		}, 200, true},
		{"replaceOauthClient", func() request {
			return request{method: http.MethodPut, path: "/oauth-clients/" + target, body: basicClient("target")}
		}, 200, true},
		{"rotateOauthClientSecret", func() request {
			return request{method: http.MethodPost, path: "/oauth-clients/" + target + "/secret"}
		}, 200, true},
		{"deleteOauthClient", func() request {
			id := e.create(basicClient("doomed"))["id"].(string)
			return request{method: http.MethodDelete, path: "/oauth-clients/" + id}
		}, 204, true},
	}
	for _, op := range ops {
		for _, who := range []string{"none", "default", "read", "manage", "all"} {
			t.Run(op.name+"/"+who, func(t *testing.T) {
				req := op.req()
				req.token = tokens[who]
				r := e.do(req)
				switch {
				case who == "none":
					if r.Code != 401 || !strings.HasPrefix(r.Header().Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("status %d, WWW-Authenticate %q", r.Code, r.Header().Get("WWW-Authenticate"))
					}
					var body map[string]string
					r.json(&body)
					if body["error"] == "" {
						t.Errorf("401 body %s", r.Body)
					}
				case who == "default" || (who == "read" && op.write):
					r.wantError(403, apierrors.CodeForbidden, "")
				default:
					r.wantStatus(op.success)
				}
			})
		}
	}
}

func TestGrantOnlyHeldScopes(t *testing.T) {
	e := newEnv(t)
	id, secret := e.seedClient(t, "manager", []string{models.ScopeManage})
	tok := e.token(id, secret, "")
	body := basicClient("escalate")
	body["scope"] = []string{models.ScopeAll}
	e.do(request{method: http.MethodPost, path: "/oauth-clients", body: body, token: tok}).wantError(403, apierrors.CodeForbidden, "sp:scopes:all")
	body["scope"] = []string{models.ScopeManage, models.ScopeDefault}
	e.do(request{method: http.MethodPost, path: "/oauth-clients", body: body, token: tok}).wantStatus(http.StatusCreated)
}

// jwtParts splits a token into its decoded header and claims.
func jwtParts(t *testing.T, tok string) (map[string]any, map[string]any, string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1]), parts[2]
}

func seg(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func signES256(t *testing.T, key *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := seg(header) + "." + seg(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestForgedTokensAreRefused(t *testing.T) {
	e := newEnv(t)
	good := e.adminToken
	header, claims, sig := jwtParts(t, good)
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json", token: "-"}).json(&jwks)
	pubJWK, _ := json.Marshal(jwks.Keys[0])
	with := func(m map[string]any, k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	hs256 := func(secret []byte) string {
		h := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}
		input := seg(h) + "." + seg(claims)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	widened := with(claims, "scope", "sp:scopes:all sp:oauth-client:manage")
	now := time.Now().Unix()
	forged := map[string]string{
		"alg none":           seg(with(header, "alg", "none")) + "." + seg(claims) + ".",
		"HS256 with the JWK": hs256(pubJWK),
		"HS256 with x":       hs256([]byte(fmt.Sprint(jwks.Keys[0]["x"]))),
		"foreign key":        signES256(t, foreign, header, claims),
		"unknown kid":        signES256(t, foreign, with(header, "kid", "nope"), claims),
		"tampered payload":   seg(header) + "." + seg(widened) + "." + sig,
		"wrong issuer":       signES256(t, foreign, header, with(claims, "iss", "http://evil.example")),
		"expired":            signES256(t, foreign, header, with(with(claims, "exp", now-10), "iat", now-100)),
		"garbage":            "not.a.token",
		"two parts":          seg(header) + "." + seg(claims),
	}
	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			r := e.do(request{method: http.MethodGet, path: "/oauth-clients", token: tok})
			if r.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %s", r.Code, r.Body)
			}
			if !strings.Contains(r.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", r.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// Our own key, signing claims we never issued with a wrong iss or an
	// expired exp, is refused too: the checks are not only the signature.
	e.do(request{method: http.MethodGet, path: "/oauth-clients", token: good}).wantStatus(http.StatusOK)
}

func TestTokenInvalidation(t *testing.T) {
	e := newEnv(t)
	mk := func(name string) (id, secret, tok string) {
		cl := e.create(map[string]any{"name": name, "grantTypes": []string{"CLIENT_CREDENTIALS"}, "scope": []string{models.ScopeRead}})
		id, secret = cl["id"].(string), cl["secret"].(string)
		return id, secret, e.token(id, secret, "")
	}
	works := func(tok string) int {
		return e.do(request{method: http.MethodGet, path: "/oauth-clients?limit=1", token: tok}).Code
	}
	causes := map[string]func(id, secret, tok string){
		"deleted": func(id, _, _ string) {
			e.do(request{method: http.MethodDelete, path: "/oauth-clients/" + id}).wantStatus(204)
		},
		"disabled": func(id, _, _ string) {
			e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id, contentType: "application/merge-patch+json", body: `{"enabled":false}`}).wantStatus(200)
		},
		"secret rotated": func(id, _, _ string) {
			e.do(request{method: http.MethodPost, path: "/oauth-clients/" + id + "/secret"}).wantStatus(200)
		},
		"lost CLIENT_CREDENTIALS": func(id, _, _ string) {
			e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id, contentType: "application/json-patch+json",
				body: `[{"op":"add","path":"/redirectUris/-","value":"https://x.example/cb"},{"op":"replace","path":"/grantTypes","value":["AUTHORIZATION_CODE"]}]`}).wantStatus(200)
		},
		"revoked": func(id, secret, tok string) {
			e.do(request{method: http.MethodPost, path: "/oauth/revoke", token: "-", contentType: "application/x-www-form-urlencoded",
				body: form("token", tok), header: basicAuth(id, secret)}).wantStatus(200)
		},
	}
	for name, cause := range causes {
		t.Run(name, func(t *testing.T) {
			id, secret, tok := mk(name)
			if got := works(tok); got != 200 {
				t.Fatalf("before: status %d", got)
			}
			cause(id, secret, tok)
			if got := works(tok); got != http.StatusUnauthorized {
				t.Errorf("after %s: status %d, want 401", name, got)
			}
			intro := e.do(request{method: http.MethodPost, path: "/oauth/introspect", token: "-", contentType: "application/x-www-form-urlencoded",
				body: form("token", tok), header: basicAuth(e.adminID, e.adminSecret)})
			intro.wantStatus(200)
			if active := intro.object()["active"]; active != false {
				t.Errorf("introspection after %s: active = %v", name, active)
			}
		})
	}
	// Re-enabling does not revive a token that died with the disabling.
	id, _, tok := mk("re-enabled")
	path := "/oauth-clients/" + id
	e.do(request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json", body: `{"enabled":false}`}).wantStatus(200)
	e.do(request{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json", body: `{"enabled":true}`}).wantStatus(200)
	if got := works(tok); got != http.StatusUnauthorized {
		t.Errorf("after re-enabling: status %d, want 401", got)
	}
	// Unrelated changes keep tokens alive.
	id, _, tok = mk("renamed")
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id, contentType: "application/merge-patch+json", body: `{"name":"renamed again"}`}).wantStatus(200)
	if got := works(tok); got != 200 {
		t.Errorf("after a rename: status %d, want 200", got)
	}
}

func TestIntrospectAndRevoke(t *testing.T) {
	e := newEnv(t)
	id, secret := e.seedClient(t, "resource", []string{models.ScopeRead})
	tok := e.token(id, secret, "")
	intro := func(tok string, header map[string]string) response {
		return e.do(request{method: http.MethodPost, path: "/oauth/introspect", token: "-", contentType: "application/x-www-form-urlencoded",
			body: form("token", tok), header: header})
	}
	r := intro(tok, basicAuth(id, secret))
	r.wantStatus(200)
	got := r.object()
	if got["active"] != true || got["client_id"] != id || got["sub"] != id || got["scope"] != models.ScopeRead || got["iss"] != testIssuer {
		t.Errorf("introspection %s", r.Body)
	}
	if r := intro("garbage", basicAuth(id, secret)); r.object()["active"] != false {
		t.Errorf("garbage introspected as %s", r.Body)
	}
	intro(tok, nil).wantStatus(http.StatusUnauthorized)
	intro(tok, basicAuth(id, "wrong")).wantStatus(http.StatusUnauthorized)

	// Another client cannot revoke this token: 200, but it stays active.
	e.do(request{method: http.MethodPost, path: "/oauth/revoke", token: "-", contentType: "application/x-www-form-urlencoded",
		body: form("token", tok), header: basicAuth(e.adminID, e.adminSecret)}).wantStatus(200)
	if r := intro(tok, basicAuth(id, secret)); r.object()["active"] != true {
		t.Errorf("revoked by another client: %s", r.Body)
	}
	e.do(request{method: http.MethodPost, path: "/oauth/revoke", token: "-", contentType: "application/x-www-form-urlencoded",
		body: form("token", tok), header: basicAuth(id, secret)}).wantStatus(200)
	if r := intro(tok, basicAuth(id, secret)); r.object()["active"] != false {
		t.Errorf("after revocation: %s", r.Body)
	}
	e.do(request{method: http.MethodPost, path: "/oauth/revoke", token: "-", contentType: "application/x-www-form-urlencoded",
		body: form("token_type_hint", "access_token"), header: basicAuth(id, secret)}).wantStatus(400)
}

func TestDiscoveryDocuments(t *testing.T) {
	e := newEnv(t)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	r := e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json", token: "-"})
	r.wantStatus(200)
	r.json(&jwks)
	if len(jwks.Keys) == 0 {
		t.Fatal("no keys")
	}
	for _, k := range jwks.Keys {
		if _, private := k["d"]; private {
			t.Error("JWKS publishes a private key")
		}
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["kid"] == nil {
			t.Errorf("key %v", k)
		}
	}
	var md map[string]any
	r = e.do(request{method: http.MethodGet, path: "/.well-known/oauth-authorization-server", token: "-"})
	r.wantStatus(200)
	r.json(&md)
	if md["issuer"] != testIssuer || md["token_endpoint"] != testIssuer+"/oauth/token" || md["jwks_uri"] != testIssuer+"/.well-known/jwks.json" {
		t.Errorf("metadata %v", md)
	}
	h, c, _ := jwtParts(t, e.adminToken)
	if h["alg"] != "ES256" || h["typ"] != "at+jwt" || h["kid"] != jwks.Keys[0]["kid"] {
		t.Errorf("header %v", h)
	}
	for _, k := range []string{"iss", "sub", "client_id", "scope", "iat", "exp", "jti"} {
		if c[k] == nil {
			t.Errorf("claim %s missing: %v", k, c)
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnvWith(t, envOptions{rateLimit: "3/10s"})
	for i := 0; i < 3; i++ {
		e.do(request{method: http.MethodGet, path: "/oauth-clients?limit=1"}).wantStatus(200)
	}
	r := e.do(request{method: http.MethodGet, path: "/oauth-clients?limit=1"})
	r.wantStatus(http.StatusTooManyRequests)
	if r.Body.String() != `{"message":"Rate Limit Exceeded"}`+"\n" && r.Body.String() != `{"message":"Rate Limit Exceeded"}` {
		t.Errorf("429 body %q", r.Body)
	}
	secs, err := strconv.Atoi(r.Header().Get("Retry-After"))
	if err != nil || secs < 1 || secs > 20 {
		t.Errorf("Retry-After = %q", r.Header().Get("Retry-After"))
	}
	// Another client has its own budget.
	id, secret := e.seedClient(t, "other", []string{models.ScopeRead})
	e.do(request{method: http.MethodGet, path: "/oauth-clients?limit=1", token: e.token(id, secret, "")}).wantStatus(200)
}

func TestFailedClientAuthenticationsAreLimited(t *testing.T) {
	e := newEnv(t)
	var last response
	for i := 0; i < 40; i++ {
		last = e.tokenRequest(form("grant_type", "client_credentials"), basicAuth(e.adminID, "wrong"))
		if last.Code == http.StatusTooManyRequests {
			break
		}
	}
	if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" {
		t.Fatalf("after many failures: status %d, Retry-After %q", last.Code, last.Header().Get("Retry-After"))
	}
}
