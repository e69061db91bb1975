//go:build unix

package handlers_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/internal/cputime"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/token"
)

// BenchmarkPatchRoute is one PATCH /oauth-clients/{id} through the whole
// stack as the server runs by default (router, middleware, token check,
// metrics, a JSON log line, the store on SQLite, rendering), driven
// through ServeHTTP without a network. cpu-ns/op is the process's CPU,
// the store's writer included, which is what bounds throughput on a
// machine of few cores.
func BenchmarkPatchRoute(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	store, err := db.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "clientele.db"))
	if err != nil {
		b.Fatal(err)
	}
	keys, err := token.LoadKeys(ctx, store, token.KeyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tracker := token.NewTracker(store, token.TrackerOptions{PollInterval: time.Second})
	done := make(chan struct{})
	go func() { defer close(done); _ = tracker.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; store.Close() })
	authRate, _ := ratelimit.ParseRate("20/1m")
	e := handlers.New(handlers.Config{
		Store: store, Tokens: token.NewIssuer(testIssuer, keys), Keys: keys, Tracker: tracker,
		Issuer: testIssuer, Spec: []byte("openapi: 3.0.3\n"), Metrics: true,
		Logger:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		AuthFailures: ratelimit.New(authRate, time.Now),
	})
	for !tracker.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	admin := models.NewClient()
	admin.ID, admin.Name, admin.Scope = "bench-admin", "admin", []string{models.ScopeAll}
	admin.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	secret, hash, err := authserver.NewSecret()
	if err != nil {
		b.Fatal(err)
	}
	admin.Secrets = []models.Secret{{ID: hex.EncodeToString(hash[:16]), Hash: hash, Created: time.Now().UTC().Truncate(time.Millisecond)}}
	if _, err := store.CreateClient(ctx, admin, models.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	serve := func(method, path, ct, auth, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	rec := serve(http.MethodPost, "/oauth/token", "application/x-www-form-urlencoded",
		"Basic "+basic(admin.ID, secret), "grant_type=client_credentials")
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || rec.Code != http.StatusOK {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	bearer := "Bearer " + tr.AccessToken
	rec = serve(http.MethodPost, "/oauth-clients", "application/json", bearer,
		`{"name":"Acme deploy bot","description":"Deploys Acme","grantTypes":["CLIENT_CREDENTIALS"],"redirectUris":["https://a.example/cb"]}`)
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || rec.Code != http.StatusCreated {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	path := "/oauth-clients/" + created.ID
	bodies := []string{
		`[{"op":"replace","path":"/description","value":"Deploys Acme, blue"}]`,
		`[{"op":"replace","path":"/description","value":"Deploys Acme, green"}]`,
	}
	b.ReportAllocs()
	cpu := cputime.Process()
	i := 0
	for b.Loop() {
		rec := serve(http.MethodPatch, path, "application/json-patch+json", bearer, bodies[i%2])
		if rec.Code != http.StatusOK {
			b.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
		}
		i++
	}
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
}

func basic(id, secret string) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}
