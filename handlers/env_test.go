package handlers_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/clientkeys"
	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/registration"
	"github.com/clientele/clientele/token"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

const testIssuer = "http://clientele.test"

// env is one Clientele HTTP stack on a real store, driven through
// e.ServeHTTP so that routing, middleware and the error handler all run.
type env struct {
	t       *testing.T
	e       *echo.Echo
	store   *db.Store
	keys    *token.Keys
	issuer  *token.Issuer
	tracker *token.Tracker
	// adminID and adminSecret belong to a client with sp:scopes:all.
	adminID, adminSecret string
	adminToken           string
}

type envOptions struct {
	dbURL     string
	rateLimit string
	metrics   bool
	cors      []string
	logs      io.Writer
	keys      token.KeyOptions
	// now is the clock of the whole stack (time.Now when nil).
	now func() time.Time
	// fetcher fetches clients' jwksUri (none when nil).
	fetcher *clientkeys.Fetcher
	// allowPrivateWebhooks accepts webhooks on loopback addresses.
	allowPrivateWebhooks bool
	// registration is the --registration mode (off when "").
	registration registration.Mode
}

func newEnv(t *testing.T) *env { return newEnvWith(t, envOptions{}) }

func sqliteURL(t *testing.T) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "clientele.db")
}

func newEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.dbURL == "" {
		o.dbURL = sqliteURL(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store, err := db.Open(ctx, o.dbURL)
	if err != nil {
		t.Fatalf("db.Open: %v", err)
	}
	keys, err := token.LoadKeys(ctx, store, o.keys)
	if err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	tracker := token.NewTracker(store, token.TrackerOptions{PollInterval: 100 * time.Millisecond, Clock: o.now})
	done := make(chan struct{})
	go func() { defer close(done); _ = tracker.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	cfg := handlers.Config{
		Store:       store,
		Tokens:      token.NewIssuer(testIssuer, keys),
		Keys:        keys,
		Tracker:     tracker,
		Issuer:      testIssuer,
		Spec:        []byte("openapi: 3.0.3\n"),
		Metrics:     o.metrics,
		CORSOrigins: o.cors,
		Now:         o.now,
		JWKSFetcher: o.fetcher,

		AllowPrivateWebhooks: o.allowPrivateWebhooks,
		Registration:         o.registration,
	}
	if o.logs != nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(o.logs, nil))
	}
	authRate, err := ratelimit.ParseRate("20/1m")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AuthFailures = ratelimit.New(authRate, time.Now)
	if o.rateLimit != "" {
		r, err := ratelimit.ParseRate(o.rateLimit)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RateLimit = ratelimit.New(r, time.Now)
	}
	e := &env{t: t, e: handlers.New(cfg), store: store, keys: keys, issuer: cfg.Tokens, tracker: tracker}
	// Runs before the store closes (cleanups run last first).
	t.Cleanup(func() { e.checkEvents(t) })
	deadline := time.Now().Add(5 * time.Second)
	for !tracker.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e.adminID, e.adminSecret = e.seedClient(t, "admin", []string{models.ScopeAll})
	e.adminToken = e.token(e.adminID, e.adminSecret, "")
	return e
}

// seedClient stores a confidential CLIENT_CREDENTIALS client with scope and
// returns its id and secret.
func (e *env) seedClient(t *testing.T, name string, scope []string) (string, string) {
	t.Helper()
	secret, _, err := authserver.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return e.seedClientWithSecret(t, name, scope, secret)
}

// seedClientWithSecret stores a client whose secret is chosen, as a
// bootstrap admin's is.
func (e *env) seedClientWithSecret(t *testing.T, name string, scope []string, secret string) (string, string) {
	t.Helper()
	rememberSecret(secret)
	hash := authserver.HashSecret(secret)
	c := models.NewClient()
	c.ID = strings.ReplaceAll(strings.ToLower(name), " ", "-") + "-" + fmt.Sprintf("%08x", rand.Uint32())
	c.Name = name
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	c.Scope = scope
	c.Secrets = []models.Secret{{ID: hex.EncodeToString(hash[:16]), Hash: hash, Created: time.Now().UTC().Truncate(time.Millisecond)}}
	if _, err := e.store.CreateClient(context.Background(), c, models.WriteOptions{}); err != nil {
		t.Fatalf("seeding %s: %v", name, err)
	}
	return c.ID, secret
}

// token fetches a token through POST /oauth/token with HTTP Basic.
func (e *env) token(id, secret, scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	e.e.ServeHTTP(rec, req)
	checkAgainstSpec(e.t, req, []byte(form.Encode()), rec)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("token for %s: status %d, body %s", id, rec.Code, rec.Body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		e.t.Fatal(err)
	}
	return tr.AccessToken
}

// request is one HTTP call of a test.
type request struct {
	method, path string
	body         any // string, []byte or a value to encode as JSON
	contentType  string
	token        string // "" uses the admin token; "-" sends none
	header       map[string]string
}

type response struct {
	*httptest.ResponseRecorder
	t *testing.T
}

func (e *env) do(r request) response {
	e.t.Helper()
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
			e.t.Fatal(err)
		}
	}
	req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	switch r.token {
	case "":
		req.Header.Set("Authorization", "Bearer "+e.adminToken)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.e.ServeHTTP(rec, req)
	checkAgainstSpec(e.t, req, body, rec)
	rememberSecretsIn(rec.Body.Bytes())
	if got := rec.Header().Get("X-Request-ID"); len(got) != 32 {
		e.t.Errorf("%s %s: X-Request-ID = %q, want 32 hex", r.method, r.path, got)
	}
	return response{rec, e.t}
}

func (r response) json(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		r.t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// client decodes a client body into a generic map.
func (r response) object() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.json(&m)
	return m
}

type envelope struct {
	DetailCode string `json:"detailCode"`
	TrackingID string `json:"trackingId"`
	Messages   []struct {
		Locale       string `json:"locale"`
		LocaleOrigin string `json:"localeOrigin"`
		Text         string `json:"text"`
	} `json:"messages"`
	Causes []struct {
		Text string `json:"text"`
	} `json:"causes"`
}

// wantError asserts status, envelope shape and detailCode, and that some
// cause mentions mention (when given).
func (r response) wantError(status int, detailCode, mention string) envelope {
	r.t.Helper()
	if r.Code != status {
		r.t.Fatalf("status = %d, want %d; body %s", r.Code, status, r.Body)
	}
	var env envelope
	r.json(&env)
	if env.DetailCode != detailCode {
		r.t.Errorf("detailCode = %q, want %q; body %s", env.DetailCode, detailCode, r.Body)
	}
	if env.TrackingID != r.Header().Get("X-Request-ID") {
		r.t.Errorf("trackingId = %q, X-Request-ID = %q", env.TrackingID, r.Header().Get("X-Request-ID"))
	}
	if len(env.Messages) == 0 || env.Messages[0].Text == "" || env.Messages[0].Locale == "" {
		r.t.Errorf("messages = %+v, want at least one", env.Messages)
	}
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		r.t.Errorf("Content-Type = %q", ct)
	}
	if mention != "" {
		found := false
		for _, c := range env.Causes {
			if strings.Contains(c.Text, mention) {
				found = true
			}
		}
		if !found {
			r.t.Errorf("no cause mentions %q: %s", mention, r.Body)
		}
	}
	return env
}

func (r response) wantStatus(status int) {
	r.t.Helper()
	if r.Code != status {
		r.t.Fatalf("status = %d, want %d; body %s", r.Code, status, r.Body)
	}
}

// create makes a client through the API and returns its body.
func (e *env) create(body map[string]any) map[string]any {
	e.t.Helper()
	r := e.do(request{method: http.MethodPost, path: "/oauth-clients", body: body})
	r.wantStatus(http.StatusCreated)
	return r.object()
}

func basicClient(name string) map[string]any {
	return map[string]any{"name": name, "grantTypes": []string{"CLIENT_CREDENTIALS"}}
}
