package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/clientele/clientele/internal/worstcase"
)

// TestCostlyPatches: the worst-case bodies, sent at once from several
// connections, each get a 4xx and change nothing, while an ordinary PATCH
// of another client is answered; legitimate costly bodies (64 redirect
// URIs at once, past the costly lane's 2 KiB; a copy) are applied. A body
// the lane refused with 429 (its wait bound passed: the race detector
// slows the work, and the rest with it) is sent again alone, so every
// worst-case body is seen refused in the envelope.
func TestCostlyPatches(t *testing.T) {
	e := newEnv(t)
	target := e.create(basicClient("target"))["id"].(string)
	other := e.create(basicClient("other"))["id"].(string)
	before := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + target}).Header().Get("ETag")

	refused := func(w worstcase.Body) (limited bool) {
		r := e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + target, contentType: w.Media, body: w.Body})
		if r.Code == http.StatusTooManyRequests && r.Header().Get("Retry-After") != "" {
			return true
		}
		if r.Code < 400 || r.Code >= 500 {
			t.Errorf("%s: %d %s", w.Name, r.Code, r.Body)
			return false
		}
		var env envelope
		r.json(&env)
		if env.DetailCode == "" || len(env.Causes) == 0 {
			t.Errorf("%s: %s", w.Name, r.Body)
		}
		return false
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var again []worstcase.Body
	for _, w := range worstcase.Bodies() {
		wg.Add(1)
		go func(w worstcase.Body) {
			defer wg.Done()
			if refused(w) {
				mu.Lock()
				again = append(again, w)
				mu.Unlock()
			}
		}(w)
	}
	r := e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + other, contentType: "application/json-patch+json",
		body: `[{"op":"replace","path":"/description","value":"ordinary"}]`})
	r.wantStatus(http.StatusOK)
	wg.Wait()
	for _, w := range again {
		if refused(w) {
			t.Errorf("%s: 429 when sent alone", w.Name)
		}
	}
	if got := e.do(request{method: http.MethodGet, path: "/oauth-clients/" + target}).Header().Get("ETag"); got != before {
		t.Error("a refused worst-case body changed the client")
	}

	uris := make([]string, 64)
	for i := range uris {
		uris[i] = fmt.Sprintf(`"https://app%02d.example/callback/%s"`, i, strings.Repeat("p", 20))
	}
	body := `[{"op":"replace","path":"/redirectUris","value":[` + strings.Join(uris, ",") + `]}]`
	if len(body) <= 2<<10 {
		t.Fatalf("the costly body is only %d bytes", len(body))
	}
	r = e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + other, contentType: "application/json-patch+json", body: body})
	r.wantStatus(http.StatusOK)
	if got, _ := r.object()["redirectUris"].([]any); len(got) != 64 {
		t.Errorf("redirectUris = %v", got)
	}
	// A small copy takes the lane too, and is applied.
	r = e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + other, contentType: "application/json-patch+json",
		body: `[{"op":"copy","from":"/name","path":"/description"}]`})
	r.wantStatus(http.StatusOK)
	if got := r.object()["description"]; got != "other" {
		t.Errorf("description = %v", got)
	}
}
