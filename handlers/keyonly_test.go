package handlers_test

import (
	"net/http"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// keyOnlyClient is a create body of a client that authenticates by
// private_key_jwt alone.
func keyOnlyClient(t *testing.T, name string) map[string]any {
	return map[string]any{"name": name, "grantTypes": []string{"CLIENT_CREDENTIALS"},
		"tokenEndpointAuthMethods": []string{"private_key_jwt"}, "jwks": newJWTKey(t, "k1").set(t)}
}

// wantNoSecret fails unless the client body shows a null secret (when
// withMember) and no secret metadata.
func wantNoSecret(t *testing.T, what string, cl map[string]any, withMember bool) {
	t.Helper()
	secret, shown := cl["secret"]
	if withMember && (!shown || secret != nil) || !withMember && shown {
		t.Errorf("%s: secret = %v (member shown: %v)", what, secret, shown)
	}
	if secrets, _ := cl["secrets"].([]any); len(secrets) != 0 {
		t.Errorf("%s: secrets = %v, want none", what, cl["secrets"])
	}
}

// TestKeyOnlyClientHasNoSecret: a client whose tokenEndpointAuthMethods
// are private_key_jwt alone gets no secret from create, bulk create, PUT
// or the restore of a deleted client (SPEC §9); one that also lists a
// secret method gets one.
func TestKeyOnlyClientHasNoSecret(t *testing.T) {
	e := newEnv(t)
	cl := e.create(keyOnlyClient(t, "keys"))
	wantNoSecret(t, "create", cl, true)
	id := cl["id"].(string)
	path := "/oauth-clients/" + id
	var listed []wireSecret
	e.do(request{method: http.MethodGet, path: path + "/secrets"}).json(&listed)
	if len(listed) != 0 {
		t.Errorf("GET …/secrets = %+v", listed)
	}

	mixed := keyOnlyClient(t, "mixed")
	mixed["tokenEndpointAuthMethods"] = []string{"private_key_jwt", "client_secret_basic"}
	if s, _ := e.create(mixed)["secret"].(string); len(s) != 64 {
		t.Errorf("a client with private_key_jwt and client_secret_basic got secret %q", s)
	}

	r := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: []any{keyOnlyClient(t, "bulk-keys"), basicClient("bulk-secret")}})
	r.wantStatus(http.StatusCreated)
	var bulk []map[string]any
	r.json(&bulk)
	wantNoSecret(t, "bulk create", bulk[0], true)
	if s, _ := bulk[1]["secret"].(string); len(s) != 64 {
		t.Errorf("bulk create: the secret client got secret %q", s)
	}

	put := keyOnlyClient(t, "keys, replaced")
	r = e.do(request{method: http.MethodPut, path: path, body: put})
	r.wantStatus(http.StatusOK)
	wantNoSecret(t, "PUT", r.object(), false)

	e.do(request{method: http.MethodDelete, path: path}).wantStatus(http.StatusNoContent)
	var h []wireEvent
	e.do(request{method: http.MethodGet, path: path + "/history"}).json(&h)
	r = e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": h[1].Seq}})
	r.wantStatus(http.StatusOK)
	restored := r.object()
	wantNoSecret(t, "restore of a deleted client", restored, true)
	if restored["name"] != "keys, replaced" {
		t.Errorf("restored %s", r.Body)
	}
}

// TestKeyOnlyClientMovesToSecrets: a secret-less private_key_jwt client
// may add a secret method and stays secret-less until POST …/secrets; a
// write that would leave it needing a secret it does not hold (PATCH, PUT
// or restore dropping private_key_jwt) is 400.1.1 naming that way out,
// and changes nothing.
func TestKeyOnlyClientMovesToSecrets(t *testing.T) {
	e := newEnv(t)
	cl := e.create(keyOnlyClient(t, "keys"))
	id := cl["id"].(string)
	path := "/oauth-clients/" + id
	jsonPatch := func(ops string) request {
		return request{method: http.MethodPatch, path: path, contentType: "application/json-patch+json", body: ops}
	}

	r := e.do(jsonPatch(`[{"op":"add","path":"/tokenEndpointAuthMethods/-","value":"client_secret_basic"}]`))
	r.wantStatus(http.StatusOK)
	wantNoSecret(t, "PATCH adding client_secret_basic", r.object(), false)
	etag := r.Header().Get("ETag")

	refused := []request{
		jsonPatch(`[{"op":"remove","path":"/tokenEndpointAuthMethods/0"}]`),
		{method: http.MethodPatch, path: path, contentType: "application/merge-patch+json", body: `{"tokenEndpointAuthMethods":["client_secret_post"]}`},
		// PUT without the member goes back to the secret methods.
		{method: http.MethodPut, path: path, body: map[string]any{"name": "keys", "grantTypes": []string{"CLIENT_CREDENTIALS"}}},
	}
	for _, req := range refused {
		e.do(req).wantError(http.StatusBadRequest, apierrors.CodeIllegalUpdate, "POST "+path+"/secrets")
	}
	if got := e.do(request{method: http.MethodGet, path: path}); got.Header().Get("ETag") != etag {
		t.Errorf("a refused write changed the client: %s", got.Body)
	}

	var added wireSecret
	r = e.do(request{method: http.MethodPost, path: path + "/secrets", body: "{}"})
	r.wantStatus(http.StatusCreated)
	r.json(&added)
	e.do(jsonPatch(`[{"op":"remove","path":"/tokenEndpointAuthMethods/0"}]`)).wantStatus(http.StatusOK)
	if e.tokenFor(id, added.Secret) == "" {
		t.Error("the added secret gets no token once the client authenticates by secret")
	}

	// Back to private_key_jwt alone, the secret deleted: restoring the
	// secret-only state is refused the same way.
	var h []wireEvent
	e.do(request{method: http.MethodGet, path: path + "/history"}).json(&h)
	secretOnly := h[0].Seq
	e.do(jsonPatch(`[{"op":"replace","path":"/tokenEndpointAuthMethods","value":["private_key_jwt"]}]`)).wantStatus(http.StatusOK)
	e.do(request{method: http.MethodDelete, path: path + "/secrets/" + added.ID}).wantStatus(http.StatusNoContent)
	e.do(request{method: http.MethodPost, path: path + "/restore", body: map[string]any{"seq": secretOnly}}).
		wantError(http.StatusBadRequest, apierrors.CodeIllegalUpdate, "POST "+path+"/secrets")

	// A client that authenticates by secret keeps its old rule: its last
	// secret cannot go.
	sec := e.create(basicClient("secret"))
	var secrets []wireSecret
	e.do(request{method: http.MethodGet, path: "/oauth-clients/" + sec["id"].(string) + "/secrets"}).json(&secrets)
	e.do(request{method: http.MethodDelete, path: "/oauth-clients/" + sec["id"].(string) + "/secrets/" + secrets[0].ID}).
		wantError(http.StatusBadRequest, apierrors.CodeIllegalUpdate, "")
}
