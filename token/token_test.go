package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// memStore is a KeyStore and StateStore in memory, counting its calls.
type memStore struct {
	mu      sync.Mutex
	keys    []models.SigningKey
	clients map[string]models.OAuthClient
	events  []models.TokenEvent
	gets    atomic.Int64
	fail    atomic.Bool
	delay   time.Duration
}

func newMemStore() *memStore { return &memStore{clients: map[string]models.OAuthClient{}} }

func (m *memStore) SigningKeys(context.Context) ([]models.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]models.SigningKey(nil), m.keys...), nil
}

func (m *memStore) AddSigningKey(_ context.Context, k models.SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.keys {
		if e.KID == k.KID || e.State == k.State {
			return apierrors.NewConflict("exists")
		}
	}
	m.keys = append(m.keys, k)
	return nil
}

func (m *memStore) AdvanceSigningKeys(_ context.Context, now, removeBefore time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for i, k := range m.keys {
		if k.State == models.KeyNext && !k.Activates.After(now) {
			for j := range m.keys {
				if m.keys[j].State == models.KeyActive {
					m.keys[j].State, m.keys[j].Retires = models.KeyRetired, k.Activates
				}
			}
			m.keys[i].State = models.KeyActive
			changed = true
		}
	}
	kept := m.keys[:0]
	for _, k := range m.keys {
		if k.State == models.KeyRetired && k.Retires.Before(removeBefore) {
			changed = true
			continue
		}
		kept = append(kept, k)
	}
	m.keys = kept
	return changed, nil
}

func (m *memStore) SealSigningKey(_ context.Context, kid string, sealed []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.keys {
		if m.keys[i].KID == kid && !m.keys[i].Encrypted {
			m.keys[i].PrivateKey, m.keys[i].Encrypted = sealed, true
		}
	}
	return nil
}

func (m *memStore) GetClient(_ context.Context, id string) (models.OAuthClient, error) {
	m.gets.Add(1)
	if m.delay > 0 {
		time.Sleep(m.delay)
	}
	if m.fail.Load() {
		return models.OAuthClient{}, errors.New("store down")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[id]
	if !ok {
		return models.OAuthClient{}, apierrors.NewNotFound("oauth client " + id)
	}
	return c.Clone(), nil
}

func (m *memStore) TokenEvents(_ context.Context, since time.Time) ([]models.TokenEvent, error) {
	if m.fail.Load() {
		return nil, errors.New("store down")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []models.TokenEvent
	for _, e := range m.events {
		if !e.Created.Before(since) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) PurgeTokenEvents(context.Context, time.Time) error { return nil }

func (m *memStore) put(c models.OAuthClient) {
	m.mu.Lock()
	m.clients[c.ID] = c
	m.mu.Unlock()
}

func (m *memStore) event(ev models.TokenEvent) {
	m.mu.Lock()
	m.events = append(m.events, ev)
	m.mu.Unlock()
}

const iss = "http://clientele.test"

func client(id string) models.OAuthClient {
	c := models.NewClient()
	c.ID = id
	c.Name = id
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	c.Scope = []string{"sp:oauth-client:read"}
	c.AccessTokenValiditySeconds = 600
	return c
}

func setup(t *testing.T) (*memStore, *Keys, *Issuer) {
	t.Helper()
	s := newMemStore()
	k, err := LoadKeys(context.Background(), s, KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s, k, NewIssuer(iss, k)
}

func TestIssueAndVerify(t *testing.T) {
	_, k, i := setup(t)
	c := client("c1")
	c.TokenGeneration = 7
	now := time.Now()
	raw, claims, err := i.Issue(&c, []string{"a", "b"}, nil, "", now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := i.Verify(context.Background(), raw, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "c1" || got.ClientID != "c1" || got.Issuer != iss || strings.Join(got.Scope, " ") != "a b" ||
		got.Generation != 7 || got.JTI != claims.JTI || len(got.JTI) != 32 ||
		got.ExpiresAt.Sub(got.IssuedAt) != 600*time.Second {
		t.Errorf("claims %+v", got)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if jwks, _ := k.JWKS(); json.Unmarshal(jwks, &set) != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s", jwks)
	}
	for _, private := range []string{"d", "p", "q"} {
		if _, ok := set.Keys[0][private]; ok {
			t.Errorf("JWKS publishes %q", private)
		}
	}
	if _, err := i.Verify(context.Background(), raw, now.Add(601*time.Second)); !errors.Is(err, ErrExpired) {
		t.Errorf("after expiry: %v", err)
	}
}

func seg(v any) string {
	b, _ := json.Marshal(v)
	return b64.EncodeToString(b)
}

func sign(t *testing.T, key *ecdsa.PrivateKey, h, c any) string {
	t.Helper()
	input := seg(h) + "." + seg(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

func TestVerifyRefusesForgeries(t *testing.T) {
	s, k, i := setup(t)
	c := client("c1")
	now := time.Now()
	good, _, err := i.Issue(&c, []string{"sp:oauth-client:read"}, nil, "", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	var h map[string]any
	var cl map[string]any
	hb, _ := b64.DecodeString(parts[0])
	cb, _ := b64.DecodeString(parts[1])
	_ = json.Unmarshal(hb, &h)
	_ = json.Unmarshal(cb, &cl)
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range m {
			out[kk] = vv
		}
		out[k] = v
		return out
	}
	ours, _ := x509.ParsePKCS8PrivateKey(s.keys[0].PrivateKey)
	own := ours.(*ecdsa.PrivateKey)
	foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hmacWith := func(secret []byte) string {
		input := seg(with(h, "alg", "HS256")) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + b64.EncodeToString(m.Sum(nil))
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	jwks, _ := k.JWKS()
	_ = json.Unmarshal(jwks, &set)
	jwkJSON, _ := json.Marshal(set.Keys[0])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, sv, _ := ecdsa.Sign(rand.Reader, own, sum[:])
	asn1Sig, _ := asn1.Marshal(struct{ R, S *big.Int }{r, sv})

	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"alg none", seg(with(h, "alg", "none")) + "." + parts[1] + ".", ErrAlgorithm},
		{"HS256 with the JWK as secret", hmacWith(jwkJSON), ErrAlgorithm},
		{"HS256 with x as secret", hmacWith([]byte(set.Keys[0]["x"].(string))), ErrAlgorithm},
		{"RS256", sign(t, foreign, with(h, "alg", "RS256"), cl), ErrAlgorithm},
		{"foreign key, same kid", sign(t, foreign, h, cl), ErrSignature},
		{"unknown kid", sign(t, foreign, with(h, "kid", "nope"), cl), ErrUnknownKey},
		{"tampered payload", parts[0] + "." + seg(with(cl, "scope", "sp:scopes:all")) + "." + parts[2], ErrSignature},
		{"wrong issuer", sign(t, own, h, with(cl, "iss", "http://evil.example")), ErrIssuer},
		{"expired", sign(t, own, h, with(with(cl, "exp", now.Unix()-1), "iat", now.Unix()-100)), ErrExpired},
		{"issued in the future", sign(t, own, h, with(cl, "iat", now.Unix()+3600)), ErrNotYet},
		{"typ JWT", sign(t, own, with(h, "typ", "JWT"), cl), ErrType},
		{"embedded jwk", sign(t, foreign, with(h, "jwk", set.Keys[0]), cl), ErrMalformed},
		{"jku", sign(t, foreign, with(h, "jku", "http://evil.example/jwks"), cl), ErrMalformed},
		{"ASN.1 signature", parts[0] + "." + parts[1] + "." + b64.EncodeToString(asn1Sig), ErrSignature},
		{"sub differs from client_id", sign(t, own, h, with(cl, "sub", "other")), ErrMalformed},
		{"no jti", sign(t, own, h, with(cl, "jti", "")), ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
		{"garbage", "a.b.c", ErrMalformed},
		{"padded signature", good + "=", ErrSignature},
		{"oversized", parts[0] + "." + strings.Repeat("A", MaxTokenBytes) + "." + parts[2], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := i.Verify(context.Background(), tt.tok, now); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	// Our own key signing well-formed claims is accepted: the refusals
	// above are not a side effect of the test's signing.
	if _, err := i.Verify(context.Background(), sign(t, own, h, cl), now); err != nil {
		t.Errorf("re-signed good token: %v", err)
	}
}

// TestInteroperability checks our tokens with an independent JOSE
// implementation, as a resource server would: keys fetched over HTTP.
func TestInteroperability(t *testing.T) {
	s, k, i := setup(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		jwks, _ := k.JWKS()
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	c := client("interop")
	raw, _, err := i.Issue(&c, []string{"sp:oauth-client:read"}, nil, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Fetch(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithIssuer(iss), jwt.WithValidate(true))
	if err != nil {
		t.Fatalf("jwx refuses our token: %v", err)
	}
	if sub, _ := tok.Subject(); sub != "interop" {
		t.Errorf("sub = %q", sub)
	}
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if typ, _ := msg.Signatures()[0].ProtectedHeaders().Type(); typ != "at+jwt" {
		t.Errorf("typ = %q", typ)
	}

	// And the other way: a token jwx signs with our key verifies in ours.
	parsed, _ := x509.ParsePKCS8PrivateKey(s.keys[0].PrivateKey)
	hdr := jws.NewHeaders()
	_ = hdr.Set("kid", s.keys[0].KID)
	_ = hdr.Set("typ", "at+jwt")
	now := time.Now()
	t2, _ := jwt.NewBuilder().Issuer(iss).Subject("interop").Claim("client_id", "interop").
		Claim("scope", "x").JwtID("0123456789abcdef0123456789abcdef").IssuedAt(now).Expiration(now.Add(time.Minute)).Build()
	signed, err := jwt.Sign(t2, jwt.WithKey(jwa.ES256(), parsed, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := i.Verify(context.Background(), string(signed), now); err != nil || got.ClientID != "interop" {
		t.Errorf("our Verify refuses a jwx token: %+v %v", got, err)
	}
}

func TestServersStartingAtOnceShareOneKey(t *testing.T) {
	s := newMemStore()
	var wg sync.WaitGroup
	kids := make([]string, 4)
	for n := range kids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadKeys(context.Background(), s, KeyOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			kids[n] = k.signer(time.Now()).kid
		}()
	}
	wg.Wait()
	// Every server reloads once the last key is in; the oldest signs.
	for n := range kids {
		k, _ := LoadKeys(context.Background(), s, KeyOptions{})
		kids[n] = k.signer(time.Now()).kid
	}
	for _, kid := range kids {
		if kid != kids[0] {
			t.Fatalf("servers sign with different keys: %v", kids)
		}
	}
	// A server that started before another added a key learns it on an
	// unknown kid.
	other := newMemStore()
	k1, _ := LoadKeys(context.Background(), other, KeyOptions{})
	other.mu.Lock()
	other.keys = nil
	other.mu.Unlock()
	k2, _ := LoadKeys(context.Background(), other, KeyOptions{})
	other.mu.Lock()
	other.keys = append(other.keys, s.keys...)
	other.mu.Unlock()
	_ = k1
	c := client("x")
	raw, _, _ := NewIssuer(iss, k2).Issue(&c, nil, nil, "", time.Now())
	k1.mu.Lock()
	k1.lastReload = time.Time{}
	k1.mu.Unlock()
	if _, err := NewIssuer(iss, k1).Verify(context.Background(), raw, time.Now()); err != nil {
		t.Errorf("a key added by another server is not picked up: %v", err)
	}
}

func TestTrackerInvalidation(t *testing.T) {
	ctx := context.Background()
	s, _, i := setup(t)
	tr := NewTracker(s, TrackerOptions{})
	issue := func(c models.OAuthClient) Claims {
		_, cl, err := i.Issue(&c, c.Scope, nil, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	c := client("live")
	s.put(c)
	cl := issue(c)
	if err := tr.Check(ctx, cl); err != nil {
		t.Fatal(err)
	}
	gets := s.gets.Load()
	for n := 0; n < 100; n++ {
		if err := tr.Check(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}
	if s.gets.Load() != gets {
		t.Errorf("checks of a known client read the store %d times", s.gets.Load()-gets)
	}

	locals := map[string]func(id string, cl Claims){
		"disabled": func(id string, _ Claims) {
			c := client(id)
			c.Enabled = false
			c.TokenGeneration = 1
			s.put(c)
			tr.ClientChanged(c)
		},
		"rotated": func(id string, _ Claims) {
			c := client(id)
			c.TokenGeneration = 1
			s.put(c)
			tr.ClientChanged(c)
		},
		"lost CLIENT_CREDENTIALS": func(id string, _ Claims) {
			c := client(id)
			c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode}
			c.RedirectURIs = []string{"https://x.example"}
			c.TokenGeneration = 1
			s.put(c)
			tr.ClientChanged(c)
		},
		"deleted": func(id string, _ Claims) {
			s.mu.Lock()
			delete(s.clients, id)
			s.mu.Unlock()
			tr.ClientDeleted(id)
		},
		"revoked": func(_ string, cl Claims) { tr.Revoked(cl.JTI, cl.ExpiresAt) },
	}
	for name, change := range locals {
		t.Run("local "+name, func(t *testing.T) {
			c := client("local-" + strings.ReplaceAll(name, " ", "-"))
			s.put(c)
			cl := issue(c)
			if err := tr.Check(ctx, cl); err != nil {
				t.Fatal(err)
			}
			change(c.ID, cl)
			if err := tr.Check(ctx, cl); !errors.Is(err, ErrClientInvalid) && !errors.Is(err, ErrRevoked) {
				t.Errorf("after %s: %v", name, err)
			}
		})
	}

	// Changes made by another server arrive as events.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr2 := NewTracker(s, TrackerOptions{PollInterval: 10 * time.Millisecond})
	go func() { _ = tr2.Run(runCtx) }()
	remote := client("remote")
	s.put(remote)
	rcl := issue(remote)
	other := client("remote-revoked")
	s.put(other)
	ocl := issue(other)
	for _, x := range []Claims{rcl, ocl} {
		if err := tr2.Check(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	remote.Enabled = false
	remote.TokenGeneration++
	s.put(remote)
	s.event(models.TokenEvent{ClientID: remote.ID, Created: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	s.event(models.TokenEvent{ClientID: other.ID, JTI: ocl.JTI, Created: time.Now(), ExpiresAt: ocl.ExpiresAt})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (tr2.Check(ctx, rcl) == nil || tr2.Check(ctx, ocl) == nil) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := tr2.Check(ctx, rcl); !errors.Is(err, ErrClientInvalid) {
		t.Errorf("remote disable: %v", err)
	}
	if err := tr2.Check(ctx, ocl); !errors.Is(err, ErrRevoked) {
		t.Errorf("remote revocation: %v", err)
	}
	if !tr2.Ready() {
		t.Error("not ready after polling")
	}
}

func TestTrackerLoadsOnceAndSurfacesFailures(t *testing.T) {
	ctx := context.Background()
	s, _, i := setup(t)
	s.delay = 20 * time.Millisecond
	c := client("busy")
	s.put(c)
	_, cl, _ := i.Issue(&c, nil, nil, "", time.Now())
	tr := NewTracker(s, TrackerOptions{})
	var wg sync.WaitGroup
	for n := 0; n < 20; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tr.Check(ctx, cl); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := s.gets.Load(); got != 1 {
		t.Errorf("20 concurrent first checks read the store %d times, want 1", got)
	}
	s.fail.Store(true)
	c2 := client("unknown-while-down")
	_, cl2, _ := i.Issue(&c2, nil, nil, "", time.Now())
	err := tr.Check(ctx, cl2)
	if err == nil || errors.Is(err, ErrClientInvalid) {
		t.Errorf("store failure reported as %v", err)
	}
	// A missing client is remembered as missing.
	s.fail.Store(false)
	s.delay = 0
	gone := client("gone")
	_, gcl, _ := i.Issue(&gone, nil, nil, "", time.Now())
	for n := 0; n < 3; n++ {
		if err := tr.Check(ctx, gcl); !errors.Is(err, ErrClientInvalid) {
			t.Fatalf("unknown client: %v", err)
		}
	}
	if got := s.gets.Load(); got != 3 {
		t.Errorf("store reads = %d, want 3", got)
	}
}

func TestTrackerIsBounded(t *testing.T) {
	s, _, i := setup(t)
	tr := NewTracker(s, TrackerOptions{MaxClients: 50})
	for n := 0; n < 500; n++ {
		c := client("c" + string(rune('a'+n%26)) + strings.Repeat("x", n/26))
		s.put(c)
		_, cl, _ := i.Issue(&c, nil, nil, "", time.Now())
		if err := tr.Check(context.Background(), cl); err != nil {
			t.Fatal(err)
		}
	}
	tr.mu.RLock()
	n := len(tr.clients)
	tr.mu.RUnlock()
	if n > 50 {
		t.Errorf("cache holds %d clients, bound 50", n)
	}
}

func BenchmarkIssue(b *testing.B) {
	s := newMemStore()
	k, _ := LoadKeys(context.Background(), s, KeyOptions{})
	i := NewIssuer(iss, k)
	c := client("bench")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.Issue(&c, c.Scope, nil, "", now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s := newMemStore()
	k, _ := LoadKeys(context.Background(), s, KeyOptions{})
	i := NewIssuer(iss, k)
	c := client("bench")
	now := time.Now()
	raw, _, _ := i.Issue(&c, c.Scope, nil, "", now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Verify(context.Background(), raw, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrackerCheck(b *testing.B) {
	s := newMemStore()
	c := client("bench")
	s.put(c)
	tr := NewTracker(s, TrackerOptions{})
	cl := Claims{ClientID: c.ID, JTI: "x"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := tr.Check(context.Background(), cl); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVerifySignature measures a first sight of a token: the full
// ECDSA verification that BenchmarkVerify's cache hits skip.
func BenchmarkVerifySignature(b *testing.B) {
	s := newMemStore()
	k, _ := LoadKeys(context.Background(), s, KeyOptions{})
	i := NewIssuer(iss, k)
	c := client("bench")
	raw, _, _ := i.Issue(&c, c.Scope, nil, "", time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := i.verify(context.Background(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
