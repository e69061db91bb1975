package token

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func jwksKids(t *testing.T, k *Keys) []string {
	t.Helper()
	body, _ := k.JWKS()
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	var kids []string
	for i := range set.Len() {
		key, _ := set.Key(i)
		kid, _ := key.KeyID()
		kids = append(kids, kid)
	}
	return kids
}

func kidOf(t *testing.T, raw string) string {
	t.Helper()
	hb, _ := b64.DecodeString(strings.Split(raw, ".")[0])
	var h header
	_ = json.Unmarshal(hb, &h)
	return h.Kid
}

func states(infos []KeyInfo) map[string]string {
	out := map[string]string{}
	for _, ki := range infos {
		out[ki.KID] = ki.State
	}
	return out
}

// TestKeyLifecycle drives a key through next, active, retired and removed
// with an injected clock.
func TestKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := newMemStore()
	const lead = 10 * time.Minute
	k, err := LoadKeys(ctx, s, KeyOptions{PublishLead: lead, Clock: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	i := NewIssuer(iss, k)
	c := client("c1")
	c.AccessTokenValiditySeconds = 86400
	old, _, _ := i.Issue(&c, nil, nil, "", clock.now())
	oldKid := kidOf(t, old)

	next, err := k.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if next.State != models.KeyNext || !next.Activates.Equal(clock.now().Add(lead)) || next.KID == oldKid {
		t.Fatalf("rotated key %+v", next)
	}
	if _, err := k.Rotate(ctx); !apierrors.IsConflict(err) {
		t.Errorf("second rotation while one is pending: %v, want Conflict", err)
	}
	// Published before it signs anything.
	if kids := jwksKids(t, k); len(kids) != 2 {
		t.Fatalf("JWKS kids %v, want the active and the next key", kids)
	}
	clock.advance(lead - time.Second)
	if raw, _, _ := i.Issue(&c, nil, nil, "", clock.now()); kidOf(t, raw) != oldKid {
		t.Errorf("the next key signs before it activates")
	}
	// At the instant it activates it signs, before any store round trip.
	clock.advance(time.Second)
	raw, _, _ := i.Issue(&c, nil, nil, "", clock.now())
	if kidOf(t, raw) != next.KID {
		t.Errorf("the next key does not sign once due")
	}
	if got := states(k.list(clock.now())); got[oldKid] != models.KeyRetired || got[next.KID] != models.KeyActive {
		t.Errorf("listed states %v", got)
	}
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	listed, _ := k.List(ctx)
	if got := states(listed); got[oldKid] != models.KeyRetired || got[next.KID] != models.KeyActive {
		t.Errorf("stored states %v", got)
	}
	for _, ki := range listed {
		if ki.KID == oldKid && !ki.Retires.Equal(next.Activates) {
			t.Errorf("retires %v, want %v", ki.Retires, next.Activates)
		}
	}
	// A retired key's token verifies until it expires.
	if _, err := i.Verify(ctx, old, clock.now()); err != nil {
		t.Errorf("token of the retired key: %v", err)
	}
	clock.advance(24*time.Hour - lead)
	if _, err := i.Verify(ctx, old, clock.now()); !errors.Is(err, ErrExpired) {
		t.Errorf("token of the retired key after expiry: %v", err)
	}
	// Removed once every token it signed has expired; not before.
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(t, k); len(kids) != 2 {
		t.Errorf("retired key removed too early: %v", kids)
	}
	clock.advance(removeAfter)
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if kids := jwksKids(t, k); len(kids) != 1 || kids[0] != next.KID {
		t.Errorf("JWKS after removal %v", kids)
	}
	// Even at a time it had not expired, its token no longer verifies,
	// cached or not.
	issuedAt := clock.now().Add(-24*time.Hour - removeAfter)
	if _, err := i.Verify(ctx, old, issuedAt); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of a removed key: %v, want ErrUnknownKey", err)
	}
	if _, err := NewIssuer(iss, k).Verify(ctx, old, issuedAt); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of a removed key, uncached: %v", err)
	}
}

func TestAutomaticRotation(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := newMemStore()
	opts := KeyOptions{PublishLead: time.Hour, RotationInterval: 720 * time.Hour, Clock: clock.now}
	k, err := LoadKeys(ctx, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	first := k.signer(clock.now()).kid
	clock.advance(719*time.Hour - time.Second)
	_ = k.Maintain(ctx)
	if n := len(jwksKids(t, k)); n != 1 {
		t.Fatalf("rotated early: %d keys", n)
	}
	clock.advance(time.Second)
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(jwksKids(t, k)); n != 2 {
		t.Fatalf("not rotated a publish lead before the interval: %d keys", n)
	}
	clock.advance(time.Hour)
	if err := k.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := k.signer(clock.now()).kid; got == first {
		t.Errorf("still signing with the first key after the interval")
	}
	// Off when zero.
	clock2 := newClock()
	k2, _ := LoadKeys(ctx, newMemStore(), KeyOptions{Clock: clock2.now})
	clock2.advance(10000 * time.Hour)
	_ = k2.Maintain(ctx)
	if n := len(jwksKids(t, k2)); n != 1 {
		t.Errorf("rotation interval 0 rotated")
	}
}

// TestConcurrentRotationLeavesOneNext: servers rotating at once leave one
// next key; the others are told of the pending rotation.
func TestConcurrentRotationLeavesOneNext(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	var servers []*Keys
	for range 4 {
		k, err := LoadKeys(ctx, s, KeyOptions{PublishLead: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, k)
	}
	var wg sync.WaitGroup
	var ok, conflicts atomic.Int32
	for _, k := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := k.Rotate(ctx)
			switch {
			case err == nil:
				ok.Add(1)
			case apierrors.IsConflict(err):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	next, active := 0, 0
	for _, sk := range s.keys {
		switch sk.State {
		case models.KeyNext:
			next++
		case models.KeyActive:
			active++
		}
	}
	if ok.Load() != 1 || conflicts.Load() != 3 || next != 1 || active != 1 {
		t.Errorf("rotations ok %d conflicts %d; next keys %d active %d", ok.Load(), conflicts.Load(), next, active)
	}
}

// TestAlgorithms: every algorithm of --signing-alg signs tokens that an
// independent JOSE implementation accepts with our JWKS, and an older key
// keeps its algorithm.
func TestAlgorithms(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := newMemStore()
	var tokens []string
	for _, alg := range Algorithms {
		k, err := LoadKeys(ctx, s, KeyOptions{Algorithm: alg, Clock: clock.now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := k.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
		c := client("alg")
		raw, _, err := NewIssuer(iss, k).Issue(&c, nil, nil, "", clock.now())
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := b64.DecodeString(strings.Split(raw, ".")[0])
		if !bytes.Contains(hb, []byte(`"alg":"`+alg+`"`)) {
			t.Errorf("%s: header %s", alg, hb)
		}
		tokens = append(tokens, raw)
		clock.advance(time.Minute)
	}
	k, _ := LoadKeys(ctx, s, KeyOptions{Clock: clock.now})
	body, _ := k.JWKS()
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	for n, raw := range tokens {
		if _, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithIssuer(iss), jwt.WithClock(jwt.ClockFunc(clock.now))); err != nil {
			t.Errorf("%s: jwx refuses our token: %v", Algorithms[n], err)
		}
		if _, err := NewIssuer(iss, k).Verify(ctx, raw, clock.now()); err != nil {
			t.Errorf("%s: our Verify refuses it: %v", Algorithms[n], err)
		}
	}
	if _, err := LoadKeys(ctx, s, KeyOptions{Algorithm: "HS256"}); err == nil {
		t.Error("HS256 accepted for new keys")
	}
}

func TestKeysEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	// A plain key from before the variable was set is sealed at start-up.
	if _, err := LoadKeys(ctx, s, KeyOptions{}); err != nil {
		t.Fatal(err)
	}
	const secret = "a-long-key-encryption-secret-0123456789"
	k, err := LoadKeys(ctx, s, KeyOptions{EncryptionKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	c := client("enc")
	raw, _, err := NewIssuer(iss, k).Issue(&c, nil, nil, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range s.keys {
		if !sk.Encrypted {
			t.Errorf("key %s stored plain", sk.KID)
		}
		if _, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey); err == nil {
			t.Errorf("key %s readable without the secret", sk.KID)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k.verifying[sk.KID].private)
		if bytes.Contains(sk.PrivateKey, der[len(der)-32:]) {
			t.Errorf("key %s: the sealed form contains the private key", sk.KID)
		}
	}
	// Another server with the same secret verifies; without it, or with
	// another, start-up fails with a clear message and no material.
	k2, err := LoadKeys(ctx, s, KeyOptions{EncryptionKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewIssuer(iss, k2).Verify(ctx, raw, time.Now()); err != nil {
		t.Errorf("second server: %v", err)
	}
	if _, err := LoadKeys(ctx, s, KeyOptions{}); err == nil || !strings.Contains(err.Error(), "set CLIENTELE_KEY_ENCRYPTION_KEY") {
		t.Errorf("without the secret: %v", err)
	}
	if _, err := LoadKeys(ctx, s, KeyOptions{EncryptionKey: "another-secret-of-enough-length"}); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Errorf("with another secret: %v", err)
	}
	if _, err := LoadKeys(ctx, s, KeyOptions{EncryptionKey: "short"}); err == nil {
		t.Error("a short secret is accepted")
	}
	// A sealed key cannot be moved to another kid.
	s.keys[0].PrivateKey, s.keys[1].PrivateKey = s.keys[1].PrivateKey, s.keys[0].PrivateKey
	if _, err := LoadKeys(ctx, s, KeyOptions{EncryptionKey: secret}); err == nil {
		t.Error("swapped sealed keys load")
	}
}

// TestNoPrivateMaterialShown: the JWKS and the listing carry public parts
// only.
func TestNoPrivateMaterialShown(t *testing.T) {
	ctx := context.Background()
	s := newMemStore()
	for _, alg := range Algorithms {
		k, err := LoadKeys(ctx, s, KeyOptions{Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		_, _ = s.AdvanceSigningKeys(ctx, time.Now(), time.Time{})
	}
	k, _ := LoadKeys(ctx, s, KeyOptions{})
	body, _ := k.JWKS()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != len(Algorithms)+1 {
		t.Fatalf("JWKS %s", body)
	}
	for _, key := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := key[private]; ok {
				t.Errorf("JWKS publishes %q of %v", private, key["kid"])
			}
		}
		if key["use"] != "sig" || key["alg"] == nil || key["kid"] == nil {
			t.Errorf("JWK %v lacks use, alg or kid", key)
		}
	}
}

// TestTrackerWakes: an announced change is read at once, not at the next
// poll.
func TestTrackerWakes(t *testing.T) {
	s := newMemStore()
	tr := NewTracker(s, TrackerOptions{PollInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = tr.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for !tr.Ready() {
		time.Sleep(time.Millisecond)
	}
	c := client("w")
	s.put(c)
	s.event(models.TokenEvent{ClientID: "w", JTI: "j", ExpiresAt: time.Now().Add(time.Hour), Created: time.Now()})
	tr.Wake()
	deadline := time.Now().Add(10 * time.Second)
	for tr.Check(context.Background(), Claims{ClientID: "w", JTI: "j"}) == nil {
		if time.Now().After(deadline) {
			t.Fatal("a woken tracker did not read the revocation")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAudienceClaim: aud is what the caller names, else the client's
// audience, else the issuer; one value is a string, several an array, and
// an independent implementation checks it.
func TestAudienceClaim(t *testing.T) {
	_, k, i := setup(t)
	c := client("aud")
	cases := []struct {
		audience, named []string
		want            string
	}{
		{nil, nil, `"` + iss + `"`},
		{[]string{"https://a.example", "urn:b"}, nil, `["https://a.example","urn:b"]`},
		{[]string{"https://a.example", "urn:b"}, []string{"urn:b"}, `"urn:b"`},
	}
	body, _ := k.JWKS()
	set, _ := jwk.Parse(body)
	for _, tt := range cases {
		c.Audience = tt.audience
		raw, claims, err := i.Issue(&c, nil, tt.named, "", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pb, _ := b64.DecodeString(strings.Split(raw, ".")[1])
		var m map[string]json.RawMessage
		_ = json.Unmarshal(pb, &m)
		if string(m["aud"]) != tt.want {
			t.Errorf("aud %s, want %s", m["aud"], tt.want)
		}
		got, err := i.Verify(context.Background(), raw, time.Now())
		if err != nil || strings.Join(got.Audience, " ") != strings.Join(claims.Audience, " ") {
			t.Errorf("verified aud %v (%v), issued %v", got.Audience, err, claims.Audience)
		}
		first := claims.Audience[0]
		if _, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithAudience(first)); err != nil {
			t.Errorf("jwx refuses aud %s: %v", first, err)
		}
		if _, err := jwt.Parse([]byte(raw), jwt.WithKeySet(set), jwt.WithAudience("https://wrong.example")); err == nil {
			t.Errorf("jwx accepts a wrong audience")
		}
	}
}
