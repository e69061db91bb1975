package handlers_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientele/clientele/clientkeys"
	"github.com/clientele/clientele/internal/pgtest"
)

// testClock is the injected clock of a whole stack; tests move it by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tokenFor asks for a token with client_secret_basic; "" when refused.
func (e *env) tokenFor(id, secret string) string {
	e.t.Helper()
	r := e.tokenRequest("grant_type=client_credentials", basicAuth(id, secret))
	if r.Code != http.StatusOK {
		return ""
	}
	var tb tokenBody
	r.json(&tb)
	return tb.AccessToken
}

// works reports whether token is accepted by the management API.
func (e *env) works(token string) bool {
	e.t.Helper()
	return e.do(request{method: http.MethodGet, path: "/oauth-clients?limit=1", token: token}).Code == http.StatusOK
}

type wireSecret struct {
	ID      string  `json:"id"`
	Expires *string `json:"expires"`
	Hint    *string `json:"hint"`
	Secret  string  `json:"secret"`
}

// TestSecretLifecycle walks SPEC §9 with an injected clock: two live
// secrets, a third refused, a delete ending only its own tokens, rotation
// with grace keeping the old secret and its tokens until one second past
// the grace, and rotation without grace ending everything.
func TestSecretLifecycle(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	e := newEnvWith(t, envOptions{now: clock.now})
	cl := e.create(map[string]any{"name": "svc", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"scope": []string{"sp:oauth-client:read"}})
	id, first := cl["id"].(string), cl["secret"].(string)
	path := "/oauth-clients/" + id

	var added wireSecret
	r := e.do(request{method: http.MethodPost, path: path + "/secrets", body: "{}"})
	if r.Code != http.StatusCreated || r.Header().Get("Location") == "" {
		t.Fatalf("add: %d %s", r.Code, r.Body)
	}
	r.json(&added)
	if len(added.Secret) != 64 || added.Hint == nil || *added.Hint != added.Secret[60:] {
		t.Fatalf("added secret %+v", added)
	}
	second := added.Secret

	tokFirst, tokSecond := e.tokenFor(id, first), e.tokenFor(id, second)
	if tokFirst == "" || tokSecond == "" || !e.works(tokFirst) || !e.works(tokSecond) {
		t.Fatal("both live secrets must get tokens that work")
	}
	if r := e.do(request{method: http.MethodPost, path: path + "/secrets", body: "{}"}); r.Code != http.StatusConflict {
		t.Errorf("a third secret: %d %s", r.Code, r.Body)
	}

	var listed []wireSecret
	e.do(request{method: http.MethodGet, path: path + "/secrets"}).json(&listed)
	if len(listed) != 2 {
		t.Fatalf("listed %d secrets", len(listed))
	}
	got := e.do(request{method: http.MethodGet, path: path}).Body.String() + e.do(request{method: http.MethodGet, path: path + "/secrets"}).Body.String()
	if strings.Contains(got, first) || strings.Contains(got, second) {
		t.Error("a GET shows a secret value")
	}

	// Deleting the first secret ends its tokens only.
	firstID := listed[0].ID
	if listed[0].ID == added.ID {
		firstID = listed[1].ID
	}
	if r := e.do(request{method: http.MethodDelete, path: path + "/secrets/" + firstID}); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	if e.works(tokFirst) || !e.works(tokSecond) || e.tokenFor(id, first) != "" {
		t.Error("after deleting the first secret: its token or the secret still works, or the other token died")
	}
	if r := e.do(request{method: http.MethodDelete, path: path + "/secrets/" + added.ID}); r.Code != http.StatusBadRequest {
		t.Errorf("deleting the last secret of a secret-only client: %d %s", r.Code, r.Body)
	}

	// Rotation with a grace: the old secret and its tokens live until the
	// grace ends, and not a second longer.
	r = e.do(request{method: http.MethodPost, path: path + "/secret", body: `{"graceSeconds": 60}`})
	if r.Code != http.StatusOK {
		t.Fatalf("rotate with grace: %d %s", r.Code, r.Body)
	}
	var rotated struct {
		Secret string `json:"secret"`
	}
	r.json(&rotated)
	third := rotated.Secret
	tokSecondAgain, tokThird := e.tokenFor(id, second), e.tokenFor(id, third)
	if tokSecondAgain == "" || tokThird == "" || !e.works(tokSecond) || !e.works(tokThird) {
		t.Fatal("during the grace both secrets must get tokens and every token must work")
	}
	clock.advance(60 * time.Second)
	if e.tokenFor(id, second) != "" || e.works(tokSecond) || e.works(tokSecondAgain) {
		t.Error("at the end of the grace the old secret or its tokens still work")
	}
	if !e.works(tokThird) || e.tokenFor(id, third) == "" {
		t.Error("the new secret's token died with the old secret")
	}

	// Rotation without a body ends every token at once.
	r = e.do(request{method: http.MethodPost, path: path + "/secret"})
	if r.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.Code, r.Body)
	}
	r.json(&rotated)
	if e.works(tokThird) || e.tokenFor(id, third) != "" || e.tokenFor(id, rotated.Secret) == "" {
		t.Error("rotation without grace left an old secret or token working, or the new one does not")
	}
	e.do(request{method: http.MethodGet, path: path + "/secrets"}).json(&listed)
	if len(listed) != 1 {
		t.Errorf("after rotation: %d live secrets, want 1", len(listed))
	}

	// Refusals.
	for _, tt := range []struct {
		path, body string
		want       int
	}{
		{path + "/secret", `{"graceSeconds": 0}`, http.StatusBadRequest},
		{path + "/secret", `{"graceSeconds": 604801}`, http.StatusBadRequest},
		{path + "/secret", `{"grace": 5}`, http.StatusBadRequest},
		{path + "/secrets", `{"expiresInSeconds": 59}`, http.StatusBadRequest},
		{"/oauth-clients/00000000000000000000000000000000/secrets", `{}`, http.StatusNotFound},
	} {
		if r := e.do(request{method: http.MethodPost, path: tt.path, body: tt.body}); r.Code != tt.want {
			t.Errorf("POST %s %s: %d, want %d: %s", tt.path, tt.body, r.Code, tt.want, r.Body)
		}
	}
	pub := e.create(map[string]any{"name": "spa", "type": "PUBLIC", "grantTypes": []string{"AUTHORIZATION_CODE"},
		"redirectUris": []string{"https://spa.example/cb"}})
	if r := e.do(request{method: http.MethodPost, path: "/oauth-clients/" + pub["id"].(string) + "/secrets", body: "{}"}); r.Code != http.StatusBadRequest {
		t.Errorf("a secret for a PUBLIC client: %d", r.Code)
	}
}

// TestSecretExpiry: a secret added with expiresInSeconds authenticates
// until then, and its tokens stop working when it expires.
func TestSecretExpiry(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	e := newEnvWith(t, envOptions{now: clock.now})
	cl := e.create(map[string]any{"name": "svc", "grantTypes": []string{"CLIENT_CREDENTIALS"}, "scope": []string{"sp:oauth-client:read"}})
	id := cl["id"].(string)
	var added wireSecret
	e.do(request{method: http.MethodPost, path: "/oauth-clients/" + id + "/secrets", body: `{"expiresInSeconds": 120}`}).json(&added)
	if added.Expires == nil {
		t.Fatalf("no expiry: %+v", added)
	}
	tok := e.tokenFor(id, added.Secret)
	clock.advance(119 * time.Second)
	if !e.works(tok) || e.tokenFor(id, added.Secret) == "" {
		t.Fatal("the secret stopped before its expiry")
	}
	clock.advance(time.Second)
	if e.works(tok) || e.tokenFor(id, added.Secret) != "" {
		t.Error("the expired secret, or its token, still works")
	}
	if e.tokenFor(id, cl["secret"].(string)) == "" {
		t.Error("the client's other secret stopped too")
	}
}

// TestAuthMethodsAreEnforced: a client authenticates only by the methods
// it lists, at the token, introspection and revocation endpoints.
func TestAuthMethodsAreEnforced(t *testing.T) {
	e := newEnv(t)
	basicOnly := e.create(map[string]any{"name": "basic", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"tokenEndpointAuthMethods": []string{"client_secret_basic"}})
	postOnly := e.create(map[string]any{"name": "post", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"tokenEndpointAuthMethods": []string{"client_secret_post"}})
	bid, bsec := basicOnly["id"].(string), basicOnly["secret"].(string)
	pid, psec := postOnly["id"].(string), postOnly["secret"].(string)
	form := func(id, secret string) string {
		return url.Values{"client_id": {id}, "client_secret": {secret}}.Encode()
	}
	tok := e.tokenFor(bid, bsec)
	if tok == "" {
		t.Fatal("client_secret_basic refused for a client that lists it")
	}
	for _, endpoint := range []string{"/oauth/token", "/oauth/introspect", "/oauth/revoke"} {
		body := "token=" + tok
		if endpoint == "/oauth/token" {
			body = "grant_type=client_credentials"
		}
		r := e.do(request{method: http.MethodPost, path: endpoint, token: "-", contentType: "application/x-www-form-urlencoded",
			body: body + "&" + form(bid, bsec)})
		if r.Code != http.StatusUnauthorized {
			t.Errorf("%s: client_secret_post for a basic-only client: %d %s", endpoint, r.Code, r.Body)
		}
		r = e.do(request{method: http.MethodPost, path: endpoint, token: "-", contentType: "application/x-www-form-urlencoded",
			body: body, header: basicAuth(pid, psec)})
		if r.Code != http.StatusUnauthorized {
			t.Errorf("%s: client_secret_basic for a post-only client: %d %s", endpoint, r.Code, r.Body)
		}
		r = e.do(request{method: http.MethodPost, path: endpoint, token: "-", contentType: "application/x-www-form-urlencoded",
			body: body + "&" + form(pid, psec)})
		if r.Code != http.StatusOK {
			t.Errorf("%s: client_secret_post for a post-only client: %d %s", endpoint, r.Code, r.Body)
		}
	}
}

// jwtKey is a key that signs client assertions with go-jose, a library
// independent of the jwx that verifies them.
type jwtKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func newJWTKey(t *testing.T, kid string) jwtKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jwtKey{kid: kid, priv: priv}
}

func (k jwtKey) set(t *testing.T) json.RawMessage {
	t.Helper()
	raw, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.priv.PublicKey, KeyID: k.kid, Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (k jwtKey) assertion(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func assertionForm(id, assertion string) string {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
		"client_assertion_type": {clientkeys.AssertionType}, "client_assertion": {assertion}}.Encode()
}

// TestPrivateKeyJWT gets tokens with RFC 7523 assertions against jwks and
// jwksUri through the real router, and refuses a replayed jti, a wrong
// aud and a key outside the set with invalid_client and a reason.
func TestPrivateKeyJWT(t *testing.T) {
	key, other := newJWTKey(t, "k1"), newJWTKey(t, "k2")
	jwksServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write(key.set(t))
	}))
	defer jwksServer.Close()
	e := newEnvWith(t, envOptions{fetcher: clientkeys.NewFetcher(true, time.Now)})
	withJWKS := e.create(map[string]any{"name": "keys", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"tokenEndpointAuthMethods": []string{"private_key_jwt"}, "jwks": key.set(t), "scope": []string{"sp:oauth-client:read"}})
	withURI := e.create(map[string]any{"name": "uri", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"tokenEndpointAuthMethods": []string{"private_key_jwt"}, "jwksUri": jwksServer.URL})

	n := 0
	claims := func(id string, edit func(map[string]any)) map[string]any {
		n++
		now := time.Now()
		c := map[string]any{"iss": id, "sub": id, "aud": testIssuer + "/oauth/token", "jti": "jti-" + string(rune('a'+n)),
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	for _, cl := range []map[string]any{withJWKS, withURI} {
		id := cl["id"].(string)
		a := key.assertion(t, claims(id, nil))
		r := e.tokenRequest(assertionForm(id, a), nil)
		if r.Code != http.StatusOK {
			t.Fatalf("%s: private_key_jwt: %d %s", cl["name"], r.Code, r.Body)
		}
		var tb tokenBody
		r.json(&tb)
		if cl["name"] == "keys" && !e.works(tb.AccessToken) {
			t.Error("the token of a private_key_jwt client does not work")
		}
		for _, bad := range []struct {
			name, assertion, reason string
		}{
			{"replayed jti", a, "used before"},
			{"wrong aud", key.assertion(t, claims(id, func(c map[string]any) { c["aud"] = "https://elsewhere.example/token" })), "aud"},
			{"a key not in the set", other.assertion(t, claims(id, nil)), "kid"},
			{"expired", key.assertion(t, claims(id, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), "expired"},
		} {
			r := e.tokenRequest(assertionForm(id, bad.assertion), nil)
			var tb struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			r.json(&tb)
			if r.Code != http.StatusUnauthorized || tb.Error != "invalid_client" || !strings.Contains(tb.Description, bad.reason) {
				t.Errorf("%s, %s: %d %s", cl["name"], bad.name, r.Code, r.Body)
			}
		}
	}
	// A secret is no way in for a client that lists only private_key_jwt:
	// it gets none on create, and one added later gets no token.
	if withJWKS["secret"] != nil {
		t.Errorf("a private_key_jwt-only client got secret %v", withJWKS["secret"])
	}
	var added wireSecret
	e.do(request{method: http.MethodPost, path: "/oauth-clients/" + withJWKS["id"].(string) + "/secrets", body: "{}"}).json(&added)
	if added.Secret == "" || e.tokenFor(withJWKS["id"].(string), added.Secret) != "" {
		t.Error("a private_key_jwt-only client got a token with its secret")
	}
	// The metadata lists the methods and algorithms.
	var md map[string]any
	e.do(request{method: http.MethodGet, path: "/.well-known/oauth-authorization-server", token: "-"}).json(&md)
	if !strings.Contains(toJSON(md["token_endpoint_auth_methods_supported"]), "private_key_jwt") ||
		!strings.Contains(toJSON(md["token_endpoint_auth_signing_alg_values_supported"]), "EdDSA") {
		t.Errorf("metadata: %v", md)
	}
}

// TestPrivateJWKSURIRefused: without --allow-private-jwks-uri a jwksUri on
// loopback is refused with invalid_client naming why, and no 5xx.
func TestPrivateJWKSURIRefused(t *testing.T) {
	key := newJWTKey(t, "k1")
	jwksServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(key.set(t)) }))
	defer jwksServer.Close()
	e := newEnvWith(t, envOptions{fetcher: clientkeys.NewFetcher(false, time.Now)})
	cl := e.create(map[string]any{"name": "uri", "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"tokenEndpointAuthMethods": []string{"private_key_jwt"}, "jwksUri": jwksServer.URL})
	id := cl["id"].(string)
	now := time.Now()
	a := key.assertion(t, map[string]any{"iss": id, "sub": id, "aud": testIssuer, "jti": "x",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	r := e.tokenRequest(assertionForm(id, a), nil)
	if r.Code != http.StatusUnauthorized || !strings.Contains(r.Body.String(), "private") {
		t.Errorf("a loopback jwksUri: %d %s", r.Code, r.Body)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSecretsAcrossServers runs two servers on one PostgreSQL store with
// one injected clock: a deleted secret's token dies on the other server
// within SPEC §6's bound, and so does an old secret's token one second
// past its grace.
func TestSecretsAcrossServers(t *testing.T) {
	url := pgtest.URL(t)
	clock := &testClock{t: time.Now().UTC()}
	a := newEnvWith(t, envOptions{dbURL: url, now: clock.now})
	b := newEnvWith(t, envOptions{dbURL: url, now: clock.now})
	cl := a.create(map[string]any{"name": "svc", "grantTypes": []string{"CLIENT_CREDENTIALS"}, "scope": []string{"sp:oauth-client:read"}})
	id, first := cl["id"].(string), cl["secret"].(string)
	var added wireSecret
	a.do(request{method: http.MethodPost, path: "/oauth-clients/" + id + "/secrets", body: "{}"}).json(&added)
	tokFirst, tokSecond := a.tokenFor(id, first), a.tokenFor(id, added.Secret)
	if !b.works(tokFirst) || !b.works(tokSecond) {
		t.Fatal("server B refuses live tokens")
	}
	within := func(what string, dead func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !dead() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still alive on server B after 5 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var listed []wireSecret
	a.do(request{method: http.MethodGet, path: "/oauth-clients/" + id + "/secrets"}).json(&listed)
	for _, s := range listed {
		if s.ID != added.ID {
			a.do(request{method: http.MethodDelete, path: "/oauth-clients/" + id + "/secrets/" + s.ID})
		}
	}
	within("the deleted secret's token", func() bool { return !b.works(tokFirst) })
	if !b.works(tokSecond) {
		t.Error("the other secret's token died on server B")
	}

	a.do(request{method: http.MethodPost, path: "/oauth-clients/" + id + "/secret", body: `{"graceSeconds": 30}`})
	if !b.works(tokSecond) {
		t.Fatal("during the grace the old secret's token died on server B")
	}
	clock.advance(31 * time.Second)
	within("the old secret's token past its grace", func() bool { return !b.works(tokSecond) })
	if b.tokenFor(id, added.Secret) != "" {
		t.Error("server B gave a token for a secret past its grace")
	}
}
