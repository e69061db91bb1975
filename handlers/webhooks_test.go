package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

func TestWebhooks(t *testing.T) {
	e := newEnv(t)
	// Private targets are refused without --allow-private-webhooks.
	for _, u := range []string{"http://127.0.0.1:9/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://[::1]/hook", "http://hooks.example.com/x",
		"https://198.18.0.1/hook", "https://[64:ff9b::a9fe:a9fe]/hook", "https://[2002:a00:1::1]/hook"} {
		e.do(request{method: http.MethodPost, path: "/webhooks", body: map[string]any{"url": u}}).wantError(400, apierrors.CodeIllegalValue, "url")
	}
	for _, bad := range []string{`{}`, `{"url":"https://8.8.8.8/h","eventTypes":["nope"]}`, `{"url":"https://8.8.8.8/h","x":1}`, `{"url":1}`,
		`{"url":"https://8.8.8.8/h","eventTypes":["created","created"]}`} {
		if r := e.do(request{method: http.MethodPost, path: "/webhooks", body: bad}); r.Code != 400 {
			t.Errorf("webhook %s: %d %s", bad, r.Code, r.Body)
		}
	}
	// A list over the limit is named itself.
	actors := make([]string, 65)
	for i := range actors {
		actors[i] = "c" + strconv.Itoa(i)
	}
	e.do(request{method: http.MethodPost, path: "/webhooks", body: map[string]any{"url": "https://8.8.8.8/h", "excludeActors": actors}}).
		wantError(400, apierrors.CodeIllegalValue, "excludeActors")
	// sp:scopes:all only.
	manager, secret := e.seedClient(t, "manager", []string{"sp:oauth-client:manage"})
	e.do(request{method: http.MethodGet, path: "/webhooks", token: e.token(manager, secret, "")}).wantError(403, apierrors.CodeForbidden, "")

	p := newEnvWith(t, envOptions{allowPrivateWebhooks: true})
	r := p.do(request{method: http.MethodPost, path: "/webhooks", body: map[string]any{"url": "http://127.0.0.1:9/hook",
		"eventTypes": []string{"patched", "deleted"}, "excludeActors": []string{"ci"}}})
	r.wantStatus(http.StatusCreated)
	created := r.object()
	id, _ := created["id"].(string)
	if s, _ := created["secret"].(string); !strings.HasPrefix(s, "whsec_") || r.Header().Get("Location") != "/webhooks/"+id {
		t.Fatalf("created %s", r.Body)
	}
	got := p.do(request{method: http.MethodGet, path: "/webhooks/" + id})
	got.wantStatus(http.StatusOK)
	if o := got.object(); o["secret"] != nil || o["url"] != "http://127.0.0.1:9/hook" {
		t.Errorf("get %s", got.Body)
	}
	list := p.do(request{method: http.MethodGet, path: "/webhooks"})
	list.wantStatus(http.StatusOK)
	if strings.Contains(list.Body.String(), "whsec_") || !strings.Contains(list.Body.String(), id) {
		t.Errorf("list %s", list.Body)
	}
	p.do(request{method: http.MethodDelete, path: "/webhooks/" + id}).wantStatus(http.StatusNoContent)
	p.do(request{method: http.MethodGet, path: "/webhooks/" + id}).wantError(404, apierrors.CodeNotFound, "")
	p.do(request{method: http.MethodDelete, path: "/webhooks/" + id}).wantError(404, apierrors.CodeNotFound, "")
}
