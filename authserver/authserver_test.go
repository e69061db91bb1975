package authserver_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/clientkeys"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/token"
)

// fakeStore keeps clients, signing keys and token events in memory: it is
// the authorization server's Store and the token package's KeyStore and
// StateStore.
type fakeStore struct {
	mu       sync.Mutex
	clients  map[string]models.OAuthClient
	keys     []models.SigningKey
	events   []models.TokenEvent
	touched  []time.Time
	down     bool // GetClient fails as a store that is unreachable
	touchErr error
	jtis     map[string]bool
}

func newFakeStore() *fakeStore { return &fakeStore{clients: map[string]models.OAuthClient{}} }

func (f *fakeStore) GetClient(_ context.Context, id string) (models.OAuthClient, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return models.OAuthClient{}, errors.New("connection refused")
	}
	c, ok := f.clients[id]
	if !ok {
		return models.OAuthClient{}, apierrors.NewNotFound("oauth client " + id)
	}
	return c.Clone(), nil
}

func (f *fakeStore) TouchLastUsed(_ context.Context, id string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.touchErr != nil {
		return f.touchErr
	}
	c := f.clients[id]
	c.LastUsed = &now
	f.clients[id] = c
	f.touched = append(f.touched, now)
	return nil
}

func (f *fakeStore) RevokeToken(_ context.Context, ev models.TokenEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	return nil
}

// RecordAssertion keeps jtis for the life of the store.
func (f *fakeStore) RecordAssertion(_ context.Context, clientID, jti string, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jtis == nil {
		f.jtis = map[string]bool{}
	}
	if f.jtis[clientID+" "+jti] {
		return clientkeys.ErrReplayed
	}
	f.jtis[clientID+" "+jti] = true
	return nil
}

func (f *fakeStore) TouchSecret(_ context.Context, id, secretID string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.clients[id]
	if i := c.FindSecret(secretID); i >= 0 {
		c.Secrets[i].LastUsed = &now
	}
	f.clients[id] = c
	return nil
}

func (f *fakeStore) SigningKeys(context.Context) ([]models.SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.keys), nil
}

func (f *fakeStore) AddSigningKey(_ context.Context, k models.SigningKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, k)
	return nil
}

// AdvanceSigningKeys and SealSigningKey complete token.KeyStore: these
// tests never rotate or seal a key.
func (f *fakeStore) AdvanceSigningKeys(context.Context, time.Time, time.Time) (bool, error) {
	return false, nil
}

func (f *fakeStore) SealSigningKey(context.Context, string, []byte) error { return nil }

func (f *fakeStore) TokenEvents(_ context.Context, since time.Time) ([]models.TokenEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []models.TokenEvent
	for _, e := range f.events {
		if !e.Created.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) PurgeTokenEvents(context.Context, time.Time) error { return nil }

func (f *fakeStore) put(c models.OAuthClient) {
	f.mu.Lock()
	f.clients[c.ID] = c
	f.mu.Unlock()
}

func (f *fakeStore) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// clock is an injected clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	issuer    = "http://clientele.test"
	secret    = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	otherAddr = "192.0.2.2"
	addr      = "192.0.2.1"
)

type fixture struct {
	store *fakeStore
	clock *clock
	srv   *authserver.Server
}

// newFixture serves the clients "reader" (sp:oauth-client:read), "admin"
// (sp:scopes:all), "off" (disabled), "public" (PUBLIC, no secret) and
// "nogrant" (no CLIENT_CREDENTIALS), all with secret; failures limited to
// failLimit a minute per address (0: off).
func newFixture(t testing.TB, failLimit int) *fixture {
	t.Helper()
	f := &fixture{store: newFakeStore(), clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	add := func(id string, scope []string, edit func(*models.OAuthClient)) {
		c := models.NewClient()
		c.ID, c.Name = id, id
		c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
		c.Scope = scope
		c.AccessTokenValiditySeconds = 600
		c.Secrets = []models.Secret{{ID: "s-" + id, Hash: authserver.HashSecret(secret), Created: f.clock.t}}
		if edit != nil {
			edit(&c)
		}
		f.store.put(c)
	}
	add("reader", []string{models.ScopeRead}, nil)
	add("admin", []string{models.ScopeAll}, nil)
	add("off", []string{models.ScopeRead}, func(c *models.OAuthClient) { c.Enabled = false })
	add("public", []string{models.ScopeRead}, func(c *models.OAuthClient) {
		c.Type = models.TypePublic
		c.Secrets = []models.Secret{}
		c.TokenEndpointAuthMethods = models.DefaultAuthMethods(models.TypePublic)
	})
	add("nogrant", []string{models.ScopeRead}, func(c *models.OAuthClient) {
		c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode}
	})
	keys, err := token.LoadKeys(context.Background(), f.store, token.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := authserver.Config{
		Store:   f.store,
		Tokens:  token.NewIssuer(issuer, keys),
		Tracker: token.NewTracker(f.store, token.TrackerOptions{Clock: f.clock.now}),
		Now:     f.clock.now,
	}
	if failLimit > 0 {
		cfg.FailureLimit = ratelimit.New(ratelimit.Rate{Limit: failLimit, Window: time.Minute}, f.clock.now)
	}
	f.srv = authserver.New(cfg)
	return f
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// code is the RFC 6749 code of err, "" when it is no *authserver.Error.
func code(err error) authserver.Code {
	var e *authserver.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, 0)
	tests := []struct {
		name   string
		auth   authserver.ClientAuth
		wantID string
		want   authserver.Code
	}{
		{"basic", authserver.ClientAuth{Authorization: basic("reader", secret)}, "reader", ""},
		{"basic, scheme in any case", authserver.ClientAuth{Authorization: "bAsIc " + strings.TrimPrefix(basic("reader", secret), "Basic ")}, "reader", ""},
		{"basic with the same client_id in the form", authserver.ClientAuth{Authorization: basic("reader", secret), ClientID: "reader"}, "reader", ""},
		{"post", authserver.ClientAuth{ClientID: "reader", ClientSecret: secret}, "reader", ""},
		{"wrong secret", authserver.ClientAuth{Authorization: basic("reader", strings.Repeat("0", 64))}, "", authserver.InvalidClient},
		{"empty secret", authserver.ClientAuth{Authorization: basic("reader", "")}, "", authserver.InvalidClient},
		{"unknown client", authserver.ClientAuth{ClientID: "nobody", ClientSecret: secret}, "", authserver.InvalidClient},
		{"disabled client", authserver.ClientAuth{Authorization: basic("off", secret)}, "", authserver.InvalidClient},
		{"public client has no secret", authserver.ClientAuth{ClientID: "public", ClientSecret: secret}, "", authserver.InvalidClient},
		{"no credentials", authserver.ClientAuth{}, "", authserver.InvalidClient},
		{"id without secret", authserver.ClientAuth{ClientID: "reader"}, "", authserver.InvalidClient},
		{"both methods", authserver.ClientAuth{Authorization: basic("reader", secret), ClientSecret: secret}, "", authserver.InvalidRequest},
		{"bearer instead of basic", authserver.ClientAuth{Authorization: "Bearer abc"}, "", authserver.InvalidClient},
		{"basic not base64", authserver.ClientAuth{Authorization: "Basic !!!"}, "", authserver.InvalidClient},
		{"basic without colon", authserver.ClientAuth{Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("reader"))}, "", authserver.InvalidClient},
		{"basic with a bad escape", authserver.ClientAuth{Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("reader:%zz"))}, "", authserver.InvalidClient},
		{"basic with an empty id", authserver.ClientAuth{Authorization: basic("", secret)}, "", authserver.InvalidClient},
		{"basic and another client_id", authserver.ClientAuth{Authorization: basic("reader", secret), ClientID: "admin"}, "", authserver.InvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.auth.RemoteAddr = addr
			auth, err := f.srv.Authenticate(context.Background(), tt.auth)
			cl := auth.Client
			if got := code(err); got != tt.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.want)
			}
			if cl.ID != tt.wantID {
				t.Errorf("client = %q, want %q", cl.ID, tt.wantID)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error %q holds the secret", err)
			}
		})
	}
}

func TestAuthenticateReturnsStoreFailures(t *testing.T) {
	f := newFixture(t, 1)
	f.store.setDown(true)
	_, err := f.srv.Authenticate(context.Background(), authserver.ClientAuth{Authorization: basic("reader", secret), RemoteAddr: addr})
	if err == nil || code(err) != "" {
		t.Fatalf("err = %v, want the store's failure, not a refusal", err)
	}
	f.store.setDown(false)
	// A store failure is no failed authentication: the one allowed failure
	// is still there.
	if _, err := f.srv.Authenticate(context.Background(), authserver.ClientAuth{Authorization: basic("reader", secret), RemoteAddr: addr}); err != nil {
		t.Fatalf("after the store came back: %v", err)
	}
}

func TestFailedAuthenticationsAreLimitedPerClientAndAddress(t *testing.T) {
	f := newFixture(t, 3)
	ctx := context.Background()
	auth := func(id, secret, from string) error {
		_, err := f.srv.Authenticate(ctx, authserver.ClientAuth{Authorization: basic(id, secret), RemoteAddr: from})
		return err
	}
	for i := 0; i < 3; i++ {
		if err := auth("reader", "wrong", addr); code(err) != authserver.InvalidClient {
			t.Fatalf("attempt %d: %v, want invalid_client", i+1, err)
		}
	}
	var limited *authserver.TooManyFailuresError
	if err := auth("reader", secret, addr); !errors.As(err, &limited) || limited.RetryAfter <= 0 || limited.RetryAfter > 2*time.Minute {
		t.Fatalf("after 3 failures: %v, want TooManyFailuresError with a retry within two windows", err)
	}
	tests := []struct {
		name, id, secret, from string
		want                   authserver.Code
	}{
		{"the same client from another address", "reader", secret, otherAddr, ""},
		{"another client from the same address", "admin", secret, addr, ""},
		{"another client failing from the same address", "admin", "wrong", addr, authserver.InvalidClient},
		{"malformed credentials are no guess and not limited", "", "x", addr, authserver.InvalidClient},
	}
	for _, tt := range tests {
		if err := auth(tt.id, tt.secret, tt.from); code(err) != tt.want || (tt.want == "" && err != nil) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	// Ids no client can have protect no one: failing with them does not
	// fill the limiter.
	long := strings.Repeat("x", 65)
	for i := 0; i < 5; i++ {
		if err := auth(long, "wrong", addr); code(err) != authserver.InvalidClient {
			t.Fatalf("an impossible id, attempt %d: %v", i+1, err)
		}
	}
	f.clock.advance(3 * time.Minute)
	if err := auth("reader", secret, addr); err != nil {
		t.Fatalf("three minutes later: %v", err)
	}
}

func TestGrant(t *testing.T) {
	tests := []struct {
		name      string
		req       authserver.TokenRequest
		want      authserver.Code
		wantScope []string
	}{
		{"all of the client's scope", authserver.TokenRequest{GrantType: "client_credentials", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}, "", []string{models.ScopeRead}},
		{"a blank scope is all of it", authserver.TokenRequest{GrantType: "client_credentials", Scope: "  ", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}, "", []string{models.ScopeRead}},
		{"a held scope, repeated", authserver.TokenRequest{GrantType: "client_credentials", Scope: "sp:oauth-client:read sp:oauth-client:read", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}, "", []string{models.ScopeRead}},
		{"the default scope is always held", authserver.TokenRequest{GrantType: "client_credentials", Scope: "sp:scopes:default", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}, "", []string{models.ScopeDefault}},
		{"sp:scopes:all holds any scope", authserver.TokenRequest{GrantType: "client_credentials", Scope: "sp:oauth-client:manage", Client: authserver.ClientAuth{Authorization: basic("admin", secret)}}, "", []string{models.ScopeManage}},
		{"no grant_type, before authentication", authserver.TokenRequest{Client: authserver.ClientAuth{Authorization: basic("reader", "wrong")}}, authserver.InvalidRequest, nil},
		{"authentication before the grant type", authserver.TokenRequest{GrantType: "password", Client: authserver.ClientAuth{Authorization: basic("reader", "wrong")}}, authserver.InvalidClient, nil},
		{"unsupported grant type", authserver.TokenRequest{GrantType: "password", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}, authserver.UnsupportedGrantType, nil},
		{"client without CLIENT_CREDENTIALS", authserver.TokenRequest{GrantType: "client_credentials", Client: authserver.ClientAuth{Authorization: basic("nogrant", secret)}}, authserver.UnauthorizedClient, nil},
		{"scope not held", authserver.TokenRequest{GrantType: "client_credentials", Scope: "sp:oauth-client:manage", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}, authserver.InvalidScope, nil},
		{"malformed scope token", authserver.TokenRequest{GrantType: "client_credentials", Scope: "sp:oauth-client:read \"x\"", Client: authserver.ClientAuth{Authorization: basic("admin", secret)}}, authserver.InvalidScope, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 0)
			issued, err := f.srv.Grant(context.Background(), tt.req)
			if got := code(err); got != tt.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.want)
			}
			if err != nil {
				return
			}
			c := issued.Claims
			if !slices.Equal(c.Scope, tt.wantScope) {
				t.Errorf("scope = %q, want %q", c.Scope, tt.wantScope)
			}
			if c.ClientID != issued.Client.ID || c.Issuer != issuer || c.ExpiresAt.Sub(c.IssuedAt) != 600*time.Second {
				t.Errorf("claims = %+v", c)
			}
			if _, err := f.srv.ValidateToken(context.Background(), issued.Token); err != nil {
				t.Errorf("the issued token does not validate: %v", err)
			}
		})
	}
}

func TestGrantRecordsLastUsedAtMostDaily(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	req := authserver.TokenRequest{GrantType: "client_credentials", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}}
	for _, step := range []time.Duration{0, time.Hour, 23 * time.Hour} {
		f.clock.advance(step)
		if _, err := f.srv.Grant(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.store.touched) != 2 {
		t.Fatalf("lastUsed written at %v, want at the first grant and 24 h later", f.store.touched)
	}
	f.clock.advance(24 * time.Hour)
	f.store.touchErr = errors.New("disk full")
	issued, err := f.srv.Grant(ctx, req)
	if err != nil || issued.Token == "" {
		t.Fatalf("a failure to record lastUsed refused the token: %v", err)
	}
	if issued.LastUsedErr == nil {
		t.Error("LastUsedErr is nil, want the store's failure")
	}
}

func TestHoldsAndGrantableScopes(t *testing.T) {
	tests := []struct {
		held  []string
		scope string
		want  bool
	}{
		{nil, models.ScopeDefault, true},
		{nil, models.ScopeRead, false},
		{[]string{models.ScopeRead}, models.ScopeRead, true},
		{[]string{models.ScopeRead}, models.ScopeManage, false},
		{[]string{models.ScopeAll}, models.ScopeManage, true},
		{[]string{models.ScopeAll}, "anything:else", true},
		{[]string{models.ScopeManage}, models.ScopeAll, false},
	}
	for _, tt := range tests {
		if got := authserver.Holds(tt.held, tt.scope); got != tt.want {
			t.Errorf("Holds(%q, %q) = %v, want %v", tt.held, tt.scope, got, tt.want)
		}
	}
	if err := authserver.CheckGrantableScopes([]string{models.ScopeManage}, []string{models.ScopeManage, models.ScopeDefault}); err != nil {
		t.Errorf("granting held scopes: %v", err)
	}
	err := authserver.CheckGrantableScopes([]string{models.ScopeManage}, []string{models.ScopeAll, models.ScopeRead})
	var apiErr *apierrors.Error
	if !apierrors.IsForbidden(err) || !errors.As(err, &apiErr) || len(apiErr.Causes) != 2 {
		t.Fatalf("granting unheld scopes: %#v, want 403 with one cause each", err)
	}
}

func TestNewSecret(t *testing.T) {
	hexRe := regexp.MustCompile(`^[0-9a-f]{64}$`)
	a, hashA, err := authserver.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := authserver.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !hexRe.MatchString(a) || !hexRe.MatchString(b) || a == b {
		t.Errorf("secrets %q and %q: want two different 64 lowercase hex", a, b)
	}
	if string(hashA) != string(authserver.HashSecret(a)) || len(hashA) != 32 {
		t.Errorf("hash of the new secret is not HashSecret's")
	}
	if string(authserver.HashSecret(a)) == string(authserver.HashSecret(b)) {
		t.Error("two secrets hash alike")
	}
}

func TestIntrospectAndRevoke(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	reader := authserver.ClientAuth{Authorization: basic("reader", secret)}
	admin := authserver.ClientAuth{Authorization: basic("admin", secret)}
	issued, err := f.srv.Grant(ctx, authserver.TokenRequest{GrantType: "client_credentials", Client: reader})
	if err != nil {
		t.Fatal(err)
	}
	claims, active, err := f.srv.Introspect(ctx, admin, issued.Token)
	if err != nil || !active || claims.JTI != issued.Claims.JTI {
		t.Fatalf("introspecting a live token: %v, active %v", err, active)
	}
	if _, active, err := f.srv.Introspect(ctx, admin, "not.a.token"); err != nil || active {
		t.Errorf("introspecting garbage: %v, active %v", err, active)
	}
	if _, _, err := f.srv.Introspect(ctx, admin, ""); code(err) != authserver.InvalidRequest {
		t.Errorf("introspecting nothing: %v", err)
	}
	if _, _, err := f.srv.Introspect(ctx, authserver.ClientAuth{Authorization: basic("admin", "wrong")}, issued.Token); code(err) != authserver.InvalidClient {
		t.Errorf("introspecting unauthenticated: %v", err)
	}
	// Another client's revocation is ignored (RFC 7009 §2.2).
	if err := f.srv.Revoke(ctx, admin, issued.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.ValidateToken(ctx, issued.Token); err != nil {
		t.Fatalf("revoked by another client: %v", err)
	}
	if err := f.srv.Revoke(ctx, reader, issued.Token); err != nil {
		t.Fatal(err)
	}
	_, err = f.srv.ValidateToken(ctx, issued.Token)
	var invalid *authserver.InvalidTokenError
	if !errors.As(err, &invalid) || !errors.Is(err, token.ErrRevoked) {
		t.Fatalf("after revocation: %v, want InvalidTokenError for a revoked token", err)
	}
	if _, active, err := f.srv.Introspect(ctx, admin, issued.Token); err != nil || active {
		t.Errorf("introspecting a revoked token: %v, active %v", err, active)
	}
	if len(f.store.events) != 1 || f.store.events[0].JTI != issued.Claims.JTI {
		t.Errorf("stored events %+v, want the one revocation", f.store.events)
	}
	if err := f.srv.Revoke(ctx, reader, ""); code(err) != authserver.InvalidRequest {
		t.Errorf("revoking nothing: %v", err)
	}
}

func TestValidateToken(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	issued, err := f.srv.Grant(ctx, authserver.TokenRequest{GrantType: "client_credentials", Client: authserver.ClientAuth{Authorization: basic("reader", secret)}})
	if err != nil {
		t.Fatal(err)
	}
	var invalid *authserver.InvalidTokenError
	if _, err := f.srv.ValidateToken(ctx, issued.Token+"x"); !errors.As(err, &invalid) {
		t.Errorf("a forged signature: %v, want InvalidTokenError", err)
	}
	// The tracker has not seen the client: with the store down, whether
	// the token lives cannot be found out, which is no verdict.
	f.store.setDown(true)
	if _, err := f.srv.ValidateToken(ctx, issued.Token); !apierrors.IsUnavailable(err) {
		t.Errorf("with the store down: %v, want Unavailable", err)
	}
	f.store.setDown(false)
	if _, err := f.srv.ValidateToken(ctx, issued.Token); err != nil {
		t.Errorf("a live token: %v", err)
	}
	f.clock.advance(601 * time.Second)
	if _, err := f.srv.ValidateToken(ctx, issued.Token); !errors.As(err, &invalid) || !errors.Is(err, token.ErrExpired) {
		t.Errorf("an expired token: %v, want InvalidTokenError wrapping ErrExpired", err)
	}
}

// BenchmarkGrant is a client-credentials grant with a secret in HTTP Basic
// on an in-memory store: authentication, the scope rule and signing,
// without HTTP.
func BenchmarkGrant(b *testing.B) {
	f := newFixture(b, 20)
	req := authserver.TokenRequest{GrantType: "client_credentials", Client: authserver.ClientAuth{Authorization: basic("reader", secret), RemoteAddr: addr}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.srv.Grant(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
