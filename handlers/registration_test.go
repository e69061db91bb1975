package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/registration"
)

// The registration tests talk to the server over real HTTP on loopback,
// as an RFC 7591 client does, and hold every exchange to openapi.yaml.

// live is e served on a loopback port for the life of the test.
type live struct {
	e   *env
	srv *httptest.Server
}

func (e *env) live() live {
	srv := httptest.NewServer(e.e)
	e.t.Cleanup(srv.Close)
	return live{e: e, srv: srv}
}

// do sends r over HTTP; its token is sent as it is ("-" or "" for none).
func (l live) do(r request) response {
	t := l.e.t
	t.Helper()
	var body []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(r.method, l.srv.URL+r.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if r.token != "" && r.token != "-" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := l.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	rec := httptest.NewRecorder()
	for k, v := range res.Header {
		rec.Header()[k] = v
	}
	rec.WriteHeader(res.StatusCode)
	if _, err := io.Copy(rec, res.Body); err != nil {
		t.Fatal(err)
	}
	// The spec check reads the request as the server saw it.
	seen := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
	seen.Header = req.Header.Clone()
	checkAgainstSpec(t, seen, body, rec)
	rememberSecretsIn(rec.Body.Bytes())
	return response{rec, t}
}

func (l live) register(bearer string, body any) response {
	return l.do(request{method: http.MethodPost, path: "/oauth/register", token: bearer, body: body})
}

// wantRFCError asserts an RFC-shaped refusal: status, error code, a
// description mentioning mention and, for 401 and 403, the Bearer
// challenge with that code.
func (r response) wantRFCError(status int, code, mention string) {
	r.t.Helper()
	if r.Code != status {
		r.t.Fatalf("status = %d, want %d; body %s", r.Code, status, r.Body)
	}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	r.json(&body)
	if body.Error != code || !strings.Contains(body.Description, mention) {
		r.t.Errorf("body %s, want error %q mentioning %q", r.Body, code, mention)
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		challenge := r.Header().Get("WWW-Authenticate")
		if !strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, `error="`+code+`"`) {
			r.t.Errorf("WWW-Authenticate = %q, want Bearer with error=%q", challenge, code)
		}
	}
}

// registered is a registration's answer.
type registered struct {
	ID, Secret, AccessToken, URI string
	body                         map[string]any
}

func (r response) registered() registered {
	r.t.Helper()
	if r.Code != http.StatusCreated && r.Code != http.StatusOK {
		r.t.Fatalf("status = %d; body %s", r.Code, r.Body)
	}
	m := r.object()
	str := func(k string) string { s, _ := m[k].(string); return s }
	return registered{ID: str("client_id"), Secret: str("client_secret"), AccessToken: str("registration_access_token"),
		URI: str("registration_client_uri"), body: m}
}

func (reg registered) path() string { return "/oauth/register/" + reg.ID }

// newestEvent returns the type and actor of a client's newest event.
func (e *env) newestEvent(id string) (string, string) {
	e.t.Helper()
	r := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id + "/history?limit=1"})
	r.wantStatus(http.StatusOK)
	var evs []struct{ Type, Actor string }
	r.json(&evs)
	if len(evs) != 1 {
		e.t.Fatalf("history of %s: %s", id, r.Body)
	}
	return evs[0].Type, evs[0].Actor
}

func TestRegistrationOffIsAnUnknownRoute(t *testing.T) {
	e := newEnv(t)
	l := e.live()
	for _, r := range []request{
		{method: http.MethodPost, path: "/oauth/register", token: e.adminToken, body: map[string]any{"client_name": "x"}},
		{method: http.MethodGet, path: "/oauth/register/0190f1a2b3c47d8e9fa0b1c2d3e4f5a6", token: e.adminToken},
		{method: http.MethodPut, path: "/oauth/register/0190f1a2b3c47d8e9fa0b1c2d3e4f5a6", token: e.adminToken, body: map[string]any{}},
		{method: http.MethodDelete, path: "/oauth/register/0190f1a2b3c47d8e9fa0b1c2d3e4f5a6", token: e.adminToken},
	} {
		l.do(r).wantError(http.StatusNotFound, apierrors.CodeNotFound, "")
	}
	meta := l.do(request{method: http.MethodGet, path: "/.well-known/oauth-authorization-server", token: "-"}).object()
	if _, ok := meta["registration_endpoint"]; ok {
		t.Errorf("registration is off, but the metadata names a registration_endpoint: %v", meta)
	}
}

func TestRegistrationWithInitialAccessToken(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			o := envOptions{registration: registration.Token}
			if backend == "postgres" {
				o.dbURL = pgtest.URL(t)
			}
			testRegistrationLifecycle(t, newEnvWith(t, o))
		})
	}
}

func testRegistrationLifecycle(t *testing.T, e *env) {
	l := e.live()
	readerID, readerSecret := e.seedClient(t, "reader", []string{models.ScopeRead})
	managerID, managerSecret := e.seedClient(t, "manager", []string{models.ScopeManage, models.ScopeRead})
	readerToken, managerToken := e.token(readerID, readerSecret, ""), e.token(managerID, managerSecret, "")
	meta := l.do(request{method: http.MethodGet, path: "/.well-known/oauth-authorization-server", token: "-"}).object()
	if meta["registration_endpoint"] != testIssuer+"/oauth/register" {
		t.Errorf("registration_endpoint = %v", meta["registration_endpoint"])
	}

	// Every refusal of the initial access token changes nothing.
	before := e.lastSeq()
	body := map[string]any{"client_name": "CI", "scope": "sp:oauth-client:read"}
	l.register("-", body).wantRFCError(http.StatusUnauthorized, "invalid_token", "initial access token is required")
	l.register("not-a-token", body).wantRFCError(http.StatusUnauthorized, "invalid_token", "invalid initial access token")
	l.register(readerToken, body).wantRFCError(http.StatusForbidden, "insufficient_scope", models.ScopeManage)
	l.register(managerToken, map[string]any{"client_name": "CI", "scope": "sp:oauth-client:read sp:scopes:all"}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", `scope: the initial access token does not hold "sp:scopes:all"`)
	// A token narrowed to read holds no manage scope, whatever its client holds.
	narrowed := e.token(managerID, managerSecret, models.ScopeRead)
	l.register(narrowed, body).wantRFCError(http.StatusForbidden, "insufficient_scope", models.ScopeManage)
	if after := e.lastSeq(); after != before {
		t.Errorf("refused registrations recorded events: seq %d -> %d", before, after)
	}

	// A registration: unknown metadata ignored, the rest stored.
	r := l.register(managerToken, map[string]any{"client_name": "CI", "grant_types": []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic", "scope": "sp:oauth-client:read",
		"software_id": "4NRB1-0XZABZI9E6-5SM3R", "logo_uri": "https://ci.example/logo.png"})
	reg := r.registered()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(reg.Secret) || len(reg.AccessToken) < 43 || reg.URI != testIssuer+reg.path() {
		t.Fatalf("registration answer %s", r.Body)
	}
	if r.Header().Get("Location") != reg.URI || r.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Location %q, Cache-Control %q", r.Header().Get("Location"), r.Header().Get("Cache-Control"))
	}
	for k, want := range map[string]any{"client_name": "CI", "scope": "sp:oauth-client:read", "client_secret_expires_at": 0.0,
		"token_endpoint_auth_method": "client_secret_basic"} {
		if reg.body[k] != want {
			t.Errorf("%s = %v, want %v", k, reg.body[k], want)
		}
	}
	if _, ok := reg.body["software_id"]; ok {
		t.Errorf("unknown metadata came back: %s", r.Body)
	}
	if typ, actor := e.newestEvent(reg.ID); typ != "created" || actor != managerID {
		t.Errorf("created event: %s by %s, want created by %s", typ, actor, managerID)
	}

	// An ordinary client: it gets tokens by its one method, the management
	// API shows and patches it.
	clientToken := e.token(reg.ID, reg.Secret, "")
	e.tokenRequest(form("grant_type", "client_credentials", "client_id", reg.ID, "client_secret", reg.Secret), nil).
		wantStatus(http.StatusUnauthorized) // client_secret_post was not registered
	got := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + reg.ID}).object()
	if got["name"] != "CI" || got["type"] != "CONFIDENTIAL" {
		t.Errorf("management view %v", got)
	}
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + reg.ID, contentType: "application/merge-patch+json",
		body: `{"description":"patched by an admin"}`}).wantStatus(http.StatusOK)

	// RFC 7592 read, only with this client's registration access token.
	read := l.do(request{method: http.MethodGet, path: reg.path(), token: reg.AccessToken})
	read.wantStatus(http.StatusOK)
	if m := read.object(); m["client_name"] != "CI" || m["client_secret"] != nil || m["registration_access_token"] != nil {
		t.Errorf("read %s", read.Body)
	}
	other := l.register(managerToken, map[string]any{"client_name": "other"}).registered()
	before = e.lastSeq()
	for name, r := range map[string]request{
		"no token":                   {method: http.MethodGet, path: reg.path(), token: "-"},
		"a wrong token":              {method: http.MethodGet, path: reg.path(), token: "d3JvbmctdG9rZW4"},
		"another client's token":     {method: http.MethodGet, path: reg.path(), token: other.AccessToken},
		"its token on another":       {method: http.MethodGet, path: other.path(), token: reg.AccessToken},
		"an unknown client":          {method: http.MethodGet, path: "/oauth/register/0190f1a2b3c47d8e9fa0b1c2d3e4f5a6", token: reg.AccessToken},
		"an access token":            {method: http.MethodGet, path: reg.path(), token: e.adminToken},
		"the client's own token":     {method: http.MethodGet, path: reg.path(), token: clientToken},
		"a delete with another's":    {method: http.MethodDelete, path: reg.path(), token: other.AccessToken},
		"a replace with no token":    {method: http.MethodPut, path: reg.path(), token: "-", body: map[string]any{"client_id": reg.ID}},
		"a replace with an admin's":  {method: http.MethodPut, path: reg.path(), token: e.adminToken, body: map[string]any{"client_id": reg.ID}},
		"the registration as admin":  {method: http.MethodPost, path: "/oauth/register", token: reg.AccessToken, body: body},
		"the management API as it":   {method: http.MethodGet, path: "/oauth-clients/" + reg.ID, token: reg.AccessToken},
		"the management list as it":  {method: http.MethodGet, path: "/oauth-clients", token: reg.AccessToken},
		"a management delete as it":  {method: http.MethodDelete, path: "/oauth-clients/" + reg.ID, token: reg.AccessToken},
		"the signing keys as it":     {method: http.MethodGet, path: "/signing-keys", token: reg.AccessToken},
		"the event feed as it":       {method: http.MethodGet, path: "/oauth-client-events", token: reg.AccessToken},
		"the webhooks as it":         {method: http.MethodGet, path: "/webhooks", token: reg.AccessToken},
		"the secrets as it":          {method: http.MethodGet, path: "/oauth-clients/" + reg.ID + "/secrets", token: reg.AccessToken},
		"a management create as it":  {method: http.MethodPost, path: "/oauth-clients", token: reg.AccessToken, body: basicClient("x")},
		"the /v3 management API":     {method: http.MethodGet, path: "/v3/oauth-clients/" + reg.ID, token: reg.AccessToken},
		"a registration read of it ": {method: http.MethodGet, path: other.path(), token: reg.AccessToken},
	} {
		res := l.do(r)
		if res.Code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401; body %s", name, res.Code, res.Body)
		}
		if !strings.HasPrefix(res.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate = %q", name, res.Header().Get("WWW-Authenticate"))
		}
	}
	intro := l.do(request{method: http.MethodPost, path: "/oauth/introspect", token: "-", contentType: "application/x-www-form-urlencoded",
		body: form("token", reg.AccessToken), header: basicAuth(e.adminID, e.adminSecret)})
	if intro.wantStatus(http.StatusOK); intro.object()["active"] != false {
		t.Errorf("a registration access token introspects as %s", intro.Body)
	}

	// Replacement refusals leave the client and its token as they were.
	put := func(tok string, body any) response {
		return l.do(request{method: http.MethodPut, path: reg.path(), token: tok, body: body})
	}
	put(reg.AccessToken, map[string]any{"client_id": other.ID, "client_name": "x"}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "client_id")
	put(reg.AccessToken, map[string]any{"client_name": "x"}).wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "client_id: is required")
	put(reg.AccessToken, map[string]any{"client_id": reg.ID, "client_secret": strings.Repeat("0", 64)}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "client_secret")
	put(reg.AccessToken, map[string]any{"client_id": reg.ID, "client_secret": other.Secret}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "client_secret")
	put(reg.AccessToken, map[string]any{"client_id": reg.ID, "scope": "sp:oauth-client:read sp:oauth-client:manage"}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "scope")
	put(reg.AccessToken, map[string]any{"client_id": reg.ID, "token_endpoint_auth_method": "none"}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "token_endpoint_auth_method")
	put(reg.AccessToken, map[string]any{"client_id": reg.ID, "redirect_uris": []string{"http://ci.example/cb"}}).
		wantRFCError(http.StatusBadRequest, "invalid_redirect_uri", "redirect_uris/0")
	if after := e.lastSeq(); after != before {
		t.Errorf("refused requests recorded events: seq %d -> %d", before, after)
	}

	// A replacement rotates the registration access token.
	r = put(reg.AccessToken, map[string]any{"client_id": reg.ID, "client_secret": reg.Secret, "client_name": "CI renamed",
		"scope": "sp:oauth-client:read", "token_endpoint_auth_method": "client_secret_post",
		"registration_access_token": "ignored", "client_id_issued_at": 1})
	rotated := r.registered()
	if rotated.AccessToken == "" || rotated.AccessToken == reg.AccessToken || rotated.Secret != "" ||
		rotated.body["client_name"] != "CI renamed" || rotated.body["client_secret_expires_at"] != 0.0 {
		t.Fatalf("replacement answer %s", r.Body)
	}
	l.do(request{method: http.MethodGet, path: reg.path(), token: reg.AccessToken}).
		wantRFCError(http.StatusUnauthorized, "invalid_token", "no longer valid")
	put(reg.AccessToken, map[string]any{"client_id": reg.ID}).wantRFCError(http.StatusUnauthorized, "invalid_token", "")
	l.do(request{method: http.MethodGet, path: reg.path(), token: rotated.AccessToken}).wantStatus(http.StatusOK)
	if typ, actor := e.newestEvent(reg.ID); typ != "replaced" || actor != reg.ID {
		t.Errorf("replacement event: %s by %s, want replaced by the client itself", typ, actor)
	}
	got = e.do(request{method: http.MethodGet, path: "/oauth-clients/" + reg.ID}).object()
	if got["description"] != "patched by an admin" || got["name"] != "CI renamed" {
		t.Errorf("after the replacement the management view is %v", got)
	}
	// The secret lives on, now by client_secret_post.
	e.tokenRequest(form("grant_type", "client_credentials", "client_id", reg.ID, "client_secret", reg.Secret), nil).wantStatus(http.StatusOK)

	// Delete, by the client itself.
	l.do(request{method: http.MethodDelete, path: reg.path(), token: reg.AccessToken}).wantStatus(http.StatusUnauthorized)
	l.do(request{method: http.MethodDelete, path: reg.path(), token: rotated.AccessToken}).wantStatus(http.StatusNoContent)
	l.do(request{method: http.MethodGet, path: reg.path(), token: rotated.AccessToken}).wantRFCError(http.StatusUnauthorized, "invalid_token", "")
	e.do(request{method: http.MethodGet, path: "/oauth-clients/" + reg.ID}).wantError(http.StatusNotFound, apierrors.CodeNotFound, "")
	if typ, actor := e.newestEvent(reg.ID); typ != "deleted" || actor != reg.ID {
		t.Errorf("delete event: %s by %s, want deleted by the client itself", typ, actor)
	}
	if e.works(clientToken) {
		t.Error("a deleted client's token still works")
	}
}

func TestOpenRegistrationGrantsOnlyTheDefaultScope(t *testing.T) {
	e := newEnvWith(t, envOptions{registration: registration.Open})
	l := e.live()
	l.register("-", map[string]any{"client_name": "anon", "scope": "sp:oauth-client:read"}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "open registration grants only sp:scopes:default")
	// An initial access token changes nothing in open mode.
	l.register(e.adminToken, map[string]any{"client_name": "anon", "scope": "sp:scopes:all"}).
		wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "scope")
	for _, body := range []map[string]any{{"client_name": "anon"}, {"client_name": "anon", "scope": "sp:scopes:default"}} {
		reg := l.register("-", body).registered()
		if reg.body["scope"] != models.ScopeDefault || reg.Secret == "" {
			t.Errorf("open registration answered %v", reg.body)
		}
		if typ, actor := e.newestEvent(reg.ID); typ != "created" || actor != registration.OpenActor {
			t.Errorf("created event: %s by %s, want by %s", typ, actor, registration.OpenActor)
		}
		tok := e.token(reg.ID, reg.Secret, "")
		e.do(request{method: http.MethodGet, path: "/oauth-clients", token: tok}).wantError(http.StatusForbidden, apierrors.CodeForbidden, "")
	}
}

func TestRegistrationMetadata(t *testing.T) {
	e := newEnvWith(t, envOptions{registration: registration.Open})
	l := e.live()
	key := newJWTKey(t, "k1")
	private := json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256","kid":"p","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}`)
	for _, tc := range []struct {
		name          string
		body          any
		code, mention string
	}{
		{"a bad redirect URI", map[string]any{"grant_types": []string{"authorization_code"},
			"redirect_uris": []string{"https://app.example/cb", "http://app.example/cb"}}, "invalid_redirect_uri", "redirect_uris/1"},
		{"a fragment", map[string]any{"grant_types": []string{"authorization_code"},
			"redirect_uris": []string{"https://app.example/cb#x"}}, "invalid_redirect_uri", "redirect_uris/0: must not contain a fragment"},
		{"an unsupported grant", map[string]any{"grant_types": []string{"implicit"}}, "invalid_client_metadata", "grant_types/0"},
		{"a code grant without redirect URIs", map[string]any{"grant_types": []string{"authorization_code"}}, "invalid_client_metadata", "grant_types"},
		{"a name of the wrong type", map[string]any{"client_name": 42}, "invalid_client_metadata", "client_name: must be a string"},
		{"a long name", map[string]any{"client_name": strings.Repeat("n", 129)}, "invalid_client_metadata", "client_name"},
		{"a bad client_uri", map[string]any{"client_uri": "ftp://app.example"}, "invalid_client_metadata", "client_uri"},
		{"an unknown method", map[string]any{"token_endpoint_auth_method": "tls_client_auth"}, "invalid_client_metadata", "token_endpoint_auth_method"},
		{"private_key_jwt without keys", map[string]any{"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata",
			"token_endpoint_auth_method: private_key_jwt needs jwks or jwksUri"},
		{"a private key", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": private}, "invalid_client_metadata", "jwks/keys/0"},
		{"jwks and jwks_uri", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": key.set(t),
			"jwks_uri": "https://app.example/jwks"}, "invalid_client_metadata", "jwks_uri"},
		{"an empty scope", map[string]any{"scope": " "}, "invalid_client_metadata", "scope"},
		{"a duplicated grant", map[string]any{"grant_types": []string{"client_credentials", "client_credentials"}}, "invalid_client_metadata", "grant_types/1"},
		{"a public client with client credentials", map[string]any{"token_endpoint_auth_method": "none", "grant_types": []string{"client_credentials"}},
			"invalid_client_metadata", "grant_types"},
		{"an array", []any{}, "invalid_client_metadata", "JSON object"},
		{"not JSON", "{", "invalid_client_metadata", "JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l.register("-", tc.body).wantRFCError(http.StatusBadRequest, tc.code, tc.mention)
		})
	}
	r := l.do(request{method: http.MethodPost, path: "/oauth/register", token: "-", body: `{"client_name":"x"}`, contentType: "text/plain"})
	r.wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "application/json")
	big := map[string]any{"client_name": "x", "padding": strings.Repeat("p", 70<<10)}
	l.register("-", big).wantError(http.StatusRequestEntityTooLarge, apierrors.CodePayloadTooLarge, "")

	// Nulls are left-out fields; a public client gets no secret.
	reg := l.register("-", map[string]any{"client_name": nil, "jwks": nil, "token_endpoint_auth_method": "none",
		"redirect_uris": []string{"https://spa.example/cb"}}).registered()
	if reg.body["client_name"] != reg.ID || reg.Secret != "" || reg.body["client_secret_expires_at"] != nil ||
		reg.body["token_endpoint_auth_method"] != "none" || !equalJSON(reg.body["grant_types"], []any{"authorization_code"}) {
		t.Errorf("public registration answered %v", reg.body)
	}
	if got := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + reg.ID}).object(); got["type"] != "PUBLIC" {
		t.Errorf("a none client is %v", got["type"])
	}
}

// TestRegistrationPrivateKeyJWT registers a client that authenticates with
// its key: it gets no secret, and its assertion gets a token.
func TestRegistrationPrivateKeyJWT(t *testing.T) {
	e := newEnvWith(t, envOptions{registration: registration.Token})
	l := e.live()
	key := newJWTKey(t, "k1")
	r := l.register(e.adminToken, map[string]any{"client_name": "signer", "token_endpoint_auth_method": "private_key_jwt",
		"jwks": key.set(t), "scope": "sp:oauth-client:read", "client_uri": "https://signer.example"})
	reg := r.registered()
	if reg.Secret != "" || reg.body["client_secret_expires_at"] != nil || reg.body["jwks"] == nil || reg.body["client_uri"] != "https://signer.example" {
		t.Fatalf("private_key_jwt registration answered %s", r.Body)
	}
	got := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + reg.ID}).object()
	if secrets, _ := got["secrets"].([]any); len(secrets) != 0 || got["homepageUrl"] != "https://signer.example" {
		t.Errorf("management view %v", got)
	}
	now := time.Now()
	a := key.assertion(t, map[string]any{"iss": reg.ID, "sub": reg.ID, "aud": testIssuer + "/oauth/token", "jti": "reg-1",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	tr := e.tokenRequest(assertionForm(reg.ID, a), nil)
	tr.wantStatus(http.StatusOK)
	var tb tokenBody
	tr.json(&tb)
	if !e.works(tb.AccessToken) {
		t.Error("the token of a registered private_key_jwt client does not work")
	}
	// It holds no secret, so it keeps private_key_jwt; a replacement that
	// keeps its keys passes.
	put := func(body map[string]any) response {
		return l.do(request{method: http.MethodPut, path: reg.path(), token: reg.AccessToken, body: body})
	}
	put(map[string]any{"client_id": reg.ID, "client_name": "signer", "token_endpoint_auth_method": "client_secret_basic",
		"scope": "sp:oauth-client:read"}).wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "token_endpoint_auth_method")
	put(map[string]any{"client_id": reg.ID, "client_name": "signer", "token_endpoint_auth_method": "private_key_jwt",
		"scope": "sp:oauth-client:read"}).wantRFCError(http.StatusBadRequest, "invalid_client_metadata", "private_key_jwt needs jwks or jwksUri")
	kept := put(map[string]any{"client_id": reg.ID, "client_name": "signer 2", "token_endpoint_auth_method": "private_key_jwt",
		"jwks": key.set(t), "scope": "sp:oauth-client:read"}).registered()
	if kept.body["client_name"] != "signer 2" || kept.body["client_uri"] != nil || kept.Secret != "" {
		t.Errorf("replacement answered %v", kept.body)
	}
	reg.AccessToken = kept.AccessToken
	// Its registration access token is no client credential either.
	e.tokenRequest(form("grant_type", "client_credentials", "client_id", reg.ID, "client_secret", reg.AccessToken), nil).
		wantStatus(http.StatusUnauthorized)
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestOpenRegistrationIsLimitedPerAddress: with no caller to count against,
// open registrations are counted per remote address by --rate-limit.
func TestOpenRegistrationIsLimitedPerAddress(t *testing.T) {
	e := newEnvWith(t, envOptions{registration: registration.Open, rateLimit: "2/1m"})
	l := e.live()
	for i := 0; i < 2; i++ {
		l.register("-", map[string]any{"client_name": "anon"}).wantStatus(http.StatusCreated)
	}
	r := l.register("-", map[string]any{"client_name": "anon"})
	r.wantStatus(http.StatusTooManyRequests)
	if r.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
