package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/token"
)

func TestSigningKeysEndpoints(t *testing.T) {
	e := newEnvWith(t, envOptions{keys: token.KeyOptions{PublishLead: time.Minute}})
	var listed []map[string]any
	r := e.do(request{method: http.MethodGet, path: "/signing-keys"})
	r.wantStatus(http.StatusOK)
	r.json(&listed)
	if len(listed) != 1 || listed[0]["state"] != models.KeyActive || listed[0]["alg"] != "ES256" || listed[0]["retires"] != nil {
		t.Fatalf("keys %s", r.Body)
	}
	r = e.do(request{method: http.MethodPost, path: "/signing-keys/rotate"})
	r.wantStatus(http.StatusCreated)
	next := r.object()
	if next["state"] != models.KeyNext || next["kid"] == listed[0]["kid"] {
		t.Errorf("rotated %s", r.Body)
	}
	activates, _ := time.Parse(time.RFC3339, next["activates"].(string))
	created, _ := time.Parse(time.RFC3339, next["created"].(string))
	if d := activates.Sub(created); d != time.Minute {
		t.Errorf("activates %v after created, want the publish lead", d)
	}
	e.do(request{method: http.MethodPost, path: "/signing-keys/rotate"}).wantError(http.StatusConflict, "409.1 Conflict", "rotation is pending")

	r = e.do(request{method: http.MethodGet, path: "/signing-keys"})
	r.json(&listed)
	if len(listed) != 2 || listed[0]["retires"] != next["activates"] || listed[1]["state"] != models.KeyNext {
		t.Errorf("keys after rotation %s", r.Body)
	}
	for _, private := range []string{`"d"`, "private", "PRIVATE"} {
		if strings.Contains(r.Body.String(), private) {
			t.Errorf("listing shows %s: %s", private, r.Body)
		}
	}

	// Only sp:scopes:all may see or rotate keys.
	id, secret := e.seedClient(t, "manager", []string{models.ScopeManage})
	tok := e.token(id, secret, "")
	e.do(request{method: http.MethodGet, path: "/signing-keys", token: tok}).wantError(http.StatusForbidden, "403 Forbidden", "needs the scope sp:scopes:all")
	e.do(request{method: http.MethodPost, path: "/signing-keys/rotate", token: tok}).wantError(http.StatusForbidden, "403 Forbidden", "needs the scope sp:scopes:all")
	e.do(request{method: http.MethodGet, path: "/signing-keys", token: "-"}).wantStatus(http.StatusUnauthorized)
}

func TestJWKSCaching(t *testing.T) {
	for _, tt := range []struct {
		lead time.Duration
		want string
	}{{10 * time.Minute, "public, max-age=300"}, {time.Minute, "public, max-age=30"}, {0, "public, max-age=0"}} {
		e := newEnvWith(t, envOptions{keys: token.KeyOptions{PublishLead: tt.lead}})
		r := e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json", token: "-"})
		r.wantStatus(http.StatusOK)
		if got := r.Header().Get("Cache-Control"); got != tt.want {
			t.Errorf("lead %v: Cache-Control %q, want %q", tt.lead, got, tt.want)
		}
		etag := r.Header().Get("ETag")
		if len(etag) < 3 || etag[0] != '"' {
			t.Fatalf("ETag %q", etag)
		}
		e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json", token: "-",
			header: map[string]string{"If-None-Match": etag}}).wantStatus(http.StatusNotModified)
		// A rotation changes the set and its tag.
		e.do(request{method: http.MethodPost, path: "/signing-keys/rotate"}).wantStatus(http.StatusCreated)
		r = e.do(request{method: http.MethodGet, path: "/.well-known/jwks.json", token: "-",
			header: map[string]string{"If-None-Match": etag}})
		r.wantStatus(http.StatusOK)
		if r.Header().Get("ETag") == etag {
			t.Errorf("the ETag did not change with the key set")
		}
	}
}
