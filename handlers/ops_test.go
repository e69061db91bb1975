package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/models"
)

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		r := e.do(request{method: http.MethodGet, path: p, token: "-"})
		r.wantStatus(200)
		if r.object()["status"] != "ok" {
			t.Errorf("%s: %s", p, r.Body)
		}
	}
	r := e.do(request{method: http.MethodGet, path: "/openapi.yaml", token: "-"})
	r.wantStatus(200)
	if ct := r.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnvWith(t, envOptions{metrics: true})
	id := e.create(basicClient("measured"))["id"].(string)
	e.do(request{method: http.MethodGet, path: "/oauth-clients/" + id}).wantStatus(200)
	e.do(request{method: http.MethodGet, path: "/oauth-clients/0123456789abcdef0123456789abcdef"}).wantStatus(404)
	r := e.do(request{method: http.MethodGet, path: "/metrics", token: "-"})
	r.wantStatus(200)
	text := r.Body.String()
	for _, want := range []string{
		`clientele_http_requests_total{method="GET",route="/oauth-clients/:id",status="200"} 1`,
		`clientele_http_requests_total{method="GET",route="/oauth-clients/:id",status="404"} 1`,
		`clientele_http_requests_total{method="POST",route="/oauth/token",status="200"} 1`,
		`clientele_http_request_duration_seconds_bucket{method="POST",route="/oauth-clients",le="+Inf"} 1`,
		`clientele_tokens_issued_total 1`,
		`clientele_store_operation_duration_seconds_count{operation="get_client"}`,
		`clientele_store_operations_total{operation="create_client",outcome="ok"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, id) {
		t.Error("/metrics labels carry a raw path")
	}
	// Off by default.
	off := newEnv(t)
	off.do(request{method: http.MethodGet, path: "/metrics", token: "-"}).wantError(404, apierrors.CodeNotFound, "")
}

func TestRequestLogLines(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	e := newEnvWith(t, envOptions{logs: writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	})})
	created := e.create(basicClient("logged"))
	id, secret := created["id"].(string), created["secret"].(string)
	e.do(request{method: http.MethodPatch, path: "/oauth-clients/" + id, contentType: "application/merge-patch+json", body: `{"description":"x"}`}).wantStatus(200)
	tok := e.token(id, secret, "")
	mu.Lock()
	defer mu.Unlock()
	var lines []map[string]any
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %s", sc.Text())
		}
		lines = append(lines, m)
	}
	if len(lines) < 4 {
		t.Fatalf("%d log lines", len(lines))
	}
	for _, l := range lines {
		for _, k := range []string{"trackingId", "method", "route", "status", "latencyMs", "clientId"} {
			if _, ok := l[k]; !ok {
				t.Errorf("log line lacks %s: %v", k, l)
			}
		}
	}
	patchLine := lines[2]
	if patchLine["route"] != "/oauth-clients/:id" || patchLine["clientId"] != e.adminID || patchLine["status"] != 200.0 {
		t.Errorf("patch line %v", patchLine)
	}
	all := buf.String()
	for _, s := range []string{secret, e.adminSecret, tok, e.adminToken} {
		if strings.Contains(all, s) {
			t.Error("a secret or token is in the log")
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestErrorMessagesFollowAcceptLanguage(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		header, locale, origin, prefix string
	}{
		{"", "en-US", "DEFAULT", "The requested resource"},
		{"de-DE", "de-DE", "REQUEST", "Die angeforderte"},
		{"fr-FR,fr;q=0.9", "fr-FR", "REQUEST", "La ressource"},
		{"es", "es-ES", "REQUEST", "No se encontró"},
		{"ja-JP, de;q=0.5", "de-DE", "REQUEST", "Die angeforderte"},
		{"en-GB", "en-US", "REQUEST", "The requested resource"},
		{"ja-JP", "en-US", "DEFAULT", "The requested resource"},
		{"!!!", "en-US", "DEFAULT", "The requested resource"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			r := e.do(request{method: http.MethodGet, path: "/oauth-clients/0123456789abcdef0123456789abcdef",
				header: map[string]string{"Accept-Language": tt.header}})
			env := r.wantError(404, apierrors.CodeNotFound, "was not found")
			m := env.Messages[0]
			if m.Locale != tt.locale || m.LocaleOrigin != tt.origin || !strings.HasPrefix(m.Text, tt.prefix) {
				t.Errorf("messages[0] = %+v", m)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	off := newEnv(t)
	r := off.do(request{method: http.MethodGet, path: "/healthz", token: "-", header: map[string]string{"Origin": "https://tool.example"}})
	if r.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS headers while CORS is off")
	}
	on := newEnvWith(t, envOptions{cors: []string{"https://tool.example"}})
	pre := on.do(request{method: http.MethodOptions, path: "/oauth-clients/abc", token: "-", header: map[string]string{
		"Origin": "https://tool.example", "Access-Control-Request-Method": "PATCH",
		"Access-Control-Request-Headers": "authorization, content-type, if-match"}})
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != "https://tool.example" ||
		!strings.Contains(pre.Header().Get("Access-Control-Allow-Methods"), "PATCH") ||
		!strings.Contains(strings.ToLower(pre.Header().Get("Access-Control-Allow-Headers")), "if-match") {
		t.Errorf("preflight: %d %v", pre.Code, pre.Header())
	}
	real := on.do(request{method: http.MethodGet, path: "/oauth-clients?count=true", header: map[string]string{"Origin": "https://tool.example"}})
	real.wantStatus(200)
	exposed := real.Header().Get("Access-Control-Expose-Headers")
	for _, h := range []string{"X-Request-Id", "Etag", "X-Total-Count", "Retry-After", "Location"} {
		if !strings.Contains(strings.ToLower(exposed), strings.ToLower(h)) {
			t.Errorf("%s not exposed: %q", h, exposed)
		}
	}
	other := on.do(request{method: http.MethodGet, path: "/healthz", token: "-", header: map[string]string{"Origin": "https://evil.example"}})
	if other.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("an origin outside the list is allowed")
	}
}

func TestDocsServeEverythingLocally(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: http.MethodGet, path: "/docs", token: "-"})
	r.wantStatus(200)
	page := r.Body.String()
	if !strings.HasPrefix(r.Header().Get("Content-Type"), "text/html") || !strings.Contains(page, "/openapi.yaml") {
		t.Fatalf("docs page: %s %.300s", r.Header().Get("Content-Type"), page)
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], "://") {
			t.Errorf("the page loads %s from elsewhere", m[1])
		}
	}
	for path, ct := range map[string]string{
		"/docs/swagger-ui-bundle.js": "javascript", "/docs/swagger-ui.css": "text/css",
		"/docs/swagger-ui-standalone-preset.js": "javascript", "/docs/oauth2-redirect.html": "text/html",
	} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		rec := httptest.NewRecorder()
		e.e.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), ct) || rec.Body.Len() < 100 {
			t.Errorf("%s: %d %q %d bytes", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
}

// panicStore fails the way a bug would.
type panicStore struct{ handlers.Store }

func (panicStore) GetClient(context.Context, string) (models.OAuthClient, error) {
	panic("store exploded with password hunter2")
}

func TestPanicsAreInternalFaults(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	e := newEnv(t)
	srv := handlers.New(handlers.Config{Store: panicStore{e.store}, Tokens: e.issuer, Keys: e.keys, Tracker: e.tracker,
		Issuer: testIssuer, Logger: slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		}), nil))})
	req := httptest.NewRequest(http.MethodGet, "/oauth-clients/0123456789abcdef0123456789abcdef", nil)
	req.Header.Set("Authorization", "Bearer "+e.adminToken)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "500.0 Internal Fault") || strings.Contains(rec.Body.String(), "hunter2") {
		t.Fatalf("panic answered %d %s", rec.Code, rec.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), rec.Header().Get("X-Request-ID")) {
		t.Errorf("the panic is not in the log with its trackingId:\n%s", logs.String())
	}
}
