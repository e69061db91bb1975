package clientkeys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Assertions in these tests are made by go-jose, a JOSE library
// independent of the jwx that verifies them.

type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newKeys(t testing.TB) []testKey {
	t.Helper()
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return []testKey{
		{"es256", jose.ES256, ec256},
		{"es384", jose.ES384, ec384},
		{"rs256", jose.RS256, rsaKey},
		{"ps256", jose.PS256, rsaKey},
		{"eddsa", jose.EdDSA, ed},
	}
}

func publicSet(t testing.TB, keys ...testKey) []byte {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig"})
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func sign(t testing.TB, k testKey, claims map[string]any, withKid bool) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if withKid {
		opts = opts.WithHeader("kid", k.kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	clientID = "c0ffee"
	endpoint = "https://as.example/oauth/token"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func goodClaims() map[string]any {
	return map[string]any{
		"iss": clientID, "sub": clientID, "aud": endpoint, "jti": "j-1",
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}
}

func parseSet(t testing.TB, raw []byte) jwk.Set {
	t.Helper()
	set, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return set
}

func TestVerifyAcceptsEveryAllowedAlgorithm(t *testing.T) {
	keys := newKeys(t)
	set := parseSet(t, publicSet(t, keys...))
	for _, k := range keys {
		for _, withKid := range []bool{true, false} {
			got, err := Inspect(sign(t, k, goodClaims(), withKid)).Verify(clientID, []string{endpoint, "https://as.example"}, set, now)
			if err != nil {
				t.Errorf("%s (kid %v): %v", k.alg, withKid, err)
				continue
			}
			if got.JTI != "j-1" || !got.Expires.Equal(now.Add(2*time.Minute)) {
				t.Errorf("%s: got %+v", k.alg, got)
			}
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	keys := newKeys(t)
	es := keys[0]
	set := parseSet(t, publicSet(t, es))
	other := newKeys(t)[0]
	other.kid = "other"
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(goodClaims())
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(payload) + "."

	// HS256 keyed with the public key's JSON: the classic confusion attack.
	pubJSON := publicSet(t, es)
	hsSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pubJSON}, nil)
	hsObj, _ := hsSigner.Sign(payload)
	hs, _ := hsObj.CompactSerialize()

	with := func(k string, v any) string {
		c := goodClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return sign(t, es, c, true)
	}
	cases := []struct {
		name, raw, reason string
	}{
		{"alg none", none, "not allowed"},
		{"HS256 with the public key as secret", hs, "not allowed"},
		{"wrong aud", with("aud", "https://elsewhere.example/token"), "aud"},
		{"aud array without ours", with("aud", []string{"a", "b"}), "aud"},
		{"wrong iss", with("iss", "someone"), "iss"},
		{"wrong sub", with("sub", "someone"), "sub"},
		{"no jti", with("jti", nil), "jti"},
		{"no exp", with("exp", nil), "exp"},
		{"expired", with("exp", now.Add(-time.Second).Unix()), "expired"},
		{"exp now", with("exp", now.Unix()), "expired"},
		{"far-future exp", with("exp", now.Add(MaxLifetime+time.Second).Unix()), "5 minutes"},
		{"exp long after iat", with("iat", now.Add(-4*time.Minute).Unix()), "after iat"},
		{"iat in the future", with("iat", now.Add(time.Hour).Unix()), "iat"},
		{"nbf in the future", with("nbf", now.Add(time.Hour).Unix()), "nbf"},
		{"kid not in the set", sign(t, other, goodClaims(), true), "kid"},
		{"signed by another key, no kid", sign(t, other, goodClaims(), false), "signature"},
		{"not a JWS", "a.b", "compact JWS"},
		{"huge", strings.Repeat("a", maxAssertion+1), "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(tc.raw).Verify(clientID, []string{endpoint}, set, now)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("reason %q does not mention %q", e.Reason, tc.reason)
			}
		})
	}
	_, err := Inspect(sign(t, other, goodClaims(), true)).Verify(clientID, []string{endpoint}, set, now)
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("an unknown kid: %v does not match ErrUnknownKey", err)
	}
}

func TestCheck(t *testing.T) {
	keys := newKeys(t)
	good := publicSet(t, keys[0], keys[1], keys[2], keys[4])
	if p := Check(good); p != nil {
		t.Fatalf("a good set: %v", p)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	private, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: keys[0].priv, KeyID: "p"}}})
	tooSmall, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &small.PublicKey}}})
	wrongCurve, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p521.PublicKey}}})
	dup := publicSet(t, keys[0], testKey{kid: "es256", priv: keys[1].priv})
	var many jose.JSONWebKeySet
	for range MaxKeys + 1 {
		many.Keys = append(many.Keys, jose.JSONWebKey{Key: keys[0].priv.Public()})
	}
	tooMany, _ := json.Marshal(many)
	cases := []struct {
		name string
		raw  string
		want string
	}{
		{"private EC key", string(private), `keys/0: must be a public key: member "d"`},
		{"symmetric key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, `member "k"`},
		{"RSA 1024", string(tooSmall), "keys/0: RSA keys must have at least 2048 bits"},
		{"P-521", string(wrongCurve), "keys/0: EC keys must be on P-256 or P-384"},
		{"duplicate kid", string(dup), "keys/1/kid: must be unique"},
		{"too many", string(tooMany), "at most 10 keys"},
		{"not an object", `[1]`, "JWK Set"},
		{"no keys", `{}`, "keys: must be an array"},
		{"garbage key", `{"keys":[{"kty":"EC","crv":"P-256","x":"!!"}]}`, "not a valid JWK"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := Check([]byte(tc.raw))
			if len(p) == 0 || !strings.Contains(p[0].String(), tc.want) {
				t.Errorf("got %v, want a problem with %q", p, tc.want)
			}
		})
	}
}

// The cache hands back the set parsed from the same bytes, another set for
// other bytes (a client's changed jwks), refuses what Parse refuses every
// time, and keeps at most setCacheSize sets.
func TestSetCache(t *testing.T) {
	keys := newKeys(t)
	var c SetCache
	rawA, rawB := publicSet(t, keys[0]), publicSet(t, keys[1])
	a1, err := c.Parse(rawA)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := c.Parse(append([]byte(nil), rawA...))
	if err != nil || a2 != a1 {
		t.Fatalf("the same jwks again: %p, %v; want the cached %p", a2, err, a1)
	}
	b, err := c.Parse(rawB)
	if err != nil || b == a1 {
		t.Fatalf("another jwks: %p, %v; want a set of its own", b, err)
	}
	if _, ok := b.LookupKeyID(keys[1].kid); !ok {
		t.Errorf("the second set lacks its key %q", keys[1].kid)
	}
	// The cached set verifies as a fresh one does.
	if _, err := Inspect(sign(t, keys[0], goodClaims(), true)).Verify(clientID, []string{endpoint}, a2, now); err != nil {
		t.Errorf("verifying with the cached set: %v", err)
	}
	bad := []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
	for range 2 {
		if _, err := c.Parse(bad); err == nil {
			t.Fatal("a symmetric key was accepted")
		}
	}
	for i := range setCacheSize + 10 {
		raw := []byte(fmt.Sprintf(`{"keys":[],"n":%d}`, i))
		if _, err := c.Parse(raw); err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
	}
	if n := len(c.sets); n != setCacheSize {
		t.Errorf("the cache holds %d sets, want at most %d", n, setCacheSize)
	}
}

// TestInspectReadsOnceWhatVerifyNeeds: Inspect gives the iss and kid of an
// assertion without verifying it, and its Verify verifies from that one
// parse, twice alike; a malformed assertion has no issuer, or a KeyID
// error that Verify repeats.
func TestInspectReadsOnceWhatVerifyNeeds(t *testing.T) {
	keys := newKeys(t)
	set := parseSet(t, publicSet(t, keys[0]))
	raw := sign(t, keys[0], goodClaims(), true)
	u := Inspect(raw)
	if kid, err := u.KeyID(); u.Issuer != clientID || kid != keys[0].kid || err != nil {
		t.Fatalf("Inspect: issuer %q, kid %q, %v", u.Issuer, kid, err)
	}
	got, err := u.Verify(clientID, []string{endpoint}, set, now)
	again, againErr := u.Verify(clientID, []string{endpoint}, set, now)
	if err != nil || againErr != nil || got != again || got.JTI != "j-1" {
		t.Fatalf("Verify %+v, %v; again %+v, %v", got, err, again, againErr)
	}
	// Signed by a key the set lacks: refused, as a kid to fetch again for.
	other := Inspect(sign(t, keys[1], goodClaims(), true))
	_, err = other.Verify(clientID, []string{endpoint}, set, now)
	var ke *Error
	if !errors.As(err, &ke) || !errors.Is(err, ErrUnknownKey) {
		t.Errorf("a key the set lacks: %v, want an *Error matching ErrUnknownKey", err)
	}
	for name, bad := range map[string]string{
		"not a JWS": "a.b",
		"too large": strings.Repeat("a", maxAssertion+1),
	} {
		u := Inspect(bad)
		_, kidErr := u.KeyID()
		_, verifyErr := u.Verify(clientID, []string{endpoint}, set, now)
		var ke *Error
		if u.Issuer != "" || !errors.As(kidErr, &ke) || verifyErr != kidErr {
			t.Errorf("%s: issuer %q, KeyID error %v, Verify error %v", name, u.Issuer, kidErr, verifyErr)
		}
	}
}

// BenchmarkInspectAndVerify is the token endpoint's work on an ES256
// assertion: one parse for the iss and kid, then the verification.
func BenchmarkInspectAndVerify(b *testing.B) {
	keys := newKeys(b)
	set := parseSet(b, publicSet(b, keys[0]))
	raw := sign(b, keys[0], goodClaims(), true)
	b.ReportAllocs()
	for b.Loop() {
		u := Inspect(raw)
		if _, err := u.Verify(clientID, []string{endpoint}, set, now); err != nil {
			b.Fatal(err)
		}
	}
}
