package handlers_test

import (
	"net/http"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// SPEC §4 rule 10: a dry run runs every check and answers as the request
// would, and stores nothing.
func TestDryRun(t *testing.T) {
	e := newEnv(t)
	created := e.create(basicClient("dry"))
	id := created["id"].(string)
	path := "/oauth-clients/" + id
	get := e.do(request{method: http.MethodGet, path: path})
	before, etag := get.Body.String(), get.Header().Get("ETag")
	unchanged := func(t *testing.T) {
		t.Helper()
		if after := e.do(request{method: http.MethodGet, path: path}).Body.String(); after != before {
			t.Errorf("a dry run changed the client:\n%s\n%s", before, after)
		}
	}

	t.Run("PATCH", func(t *testing.T) {
		r := e.do(request{method: http.MethodPatch, path: path + "?dryRun=true", contentType: "application/json-patch+json",
			body: `[{"op":"replace","path":"/description","value":"would be"}]`, header: map[string]string{"If-Match": etag}})
		r.wantStatus(http.StatusOK)
		if got := r.object(); got["description"] != "would be" || got["id"] != id {
			t.Errorf("dry-run answer: %s", r.Body)
		}
		if r.Header().Get("ETag") == etag {
			t.Error("the dry run's answer carries the old ETag")
		}
		unchanged(t)
		// The checks still run: a stale If-Match, a failing test, a bad value.
		e.do(request{method: http.MethodPatch, path: path + "?dryRun=true", contentType: "application/json-patch+json",
			body: `[]`, header: map[string]string{"If-Match": `"stale"`}}).wantError(412, apierrors.CodePreconditionFailed, "")
		e.do(request{method: http.MethodPatch, path: path + "?dryRun=true", contentType: "application/json-patch+json",
			body: `[{"op":"test","path":"/name","value":"wet"}]`}).wantError(409, apierrors.CodeConflict, "")
		e.do(request{method: http.MethodPatch, path: path + "?dryRun=true", contentType: "application/merge-patch+json",
			body: `{"accessTokenValiditySeconds":1}`}).wantError(400, apierrors.CodeIllegalValue, "accessTokenValiditySeconds")
		unchanged(t)
	})

	t.Run("PUT", func(t *testing.T) {
		r := e.do(request{method: http.MethodPut, path: path + "?dryRun=true", body: basicClient("replaced"),
			header: map[string]string{"If-Match": etag}})
		r.wantStatus(http.StatusOK)
		if got := r.object(); got["name"] != "replaced" {
			t.Errorf("dry-run answer: %s", r.Body)
		}
		e.do(request{method: http.MethodPut, path: path + "?dryRun=true", body: basicClient("replaced"),
			header: map[string]string{"If-Match": `"stale"`}}).wantError(412, apierrors.CodePreconditionFailed, "")
		unchanged(t)
	})

	t.Run("create", func(t *testing.T) {
		r := e.do(request{method: http.MethodPost, path: "/oauth-clients?dryRun=true", body: basicClient("never stored")})
		r.wantStatus(http.StatusCreated)
		got := r.object()
		if got["secret"] != nil {
			t.Errorf("a dry-run create shows a secret: %s", r.Body)
		}
		newID, _ := got["id"].(string)
		if !hex32.MatchString(newID) || got["name"] != "never stored" {
			t.Errorf("dry-run answer: %s", r.Body)
		}
		e.do(request{method: http.MethodGet, path: "/oauth-clients/" + newID}).wantError(404, apierrors.CodeNotFound, "")
		// Scopes are checked: a reader cannot grant sp:scopes:all, dry or not.
		readerID, readerSecret := e.seedClient(t, "manager", []string{"sp:oauth-client:manage"})
		body := basicClient("greedy")
		body["scope"] = []string{"sp:scopes:all"}
		e.do(request{method: http.MethodPost, path: "/oauth-clients?dryRun=true", body: body,
			token: e.token(readerID, readerSecret, "")}).wantError(403, apierrors.CodeForbidden, "")
	})

	t.Run("bad value", func(t *testing.T) {
		for _, q := range []string{"?dryRun=yes", "?dryRun=true&dryRun=false", "?dryRun="} {
			e.do(request{method: http.MethodPatch, path: path + q, contentType: "application/json-patch+json",
				body: `[]`}).wantError(400, apierrors.CodeIllegalValue, "dryRun")
		}
		unchanged(t)
	})
}
