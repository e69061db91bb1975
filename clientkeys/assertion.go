package clientkeys

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// AssertionType is RFC 7523 §2.2's client_assertion_type.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Algorithms are the signature algorithms a client assertion may use
// (SPEC §6): asymmetric only, never `none` or HMAC, whose "secret" could be
// a public key.
var Algorithms = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}

// MaxLifetime is how far in the future an assertion's exp may lie, from
// now and from its iat (SPEC §6).
const MaxLifetime = 5 * time.Minute

// maxAssertion bounds the assertion read; keys and claims are small.
const maxAssertion = 16 << 10

// skew is the clock difference between client and server tolerated for
// iat and nbf; exp gets none, as SPEC §6 asks for it to be in the future.
const skew = 30 * time.Second

// Error is a refused assertion. Reason names what is wrong without key
// material; it is safe to show the client.
type Error struct {
	Reason     string
	unknownKey bool
}

func (e *Error) Error() string { return "client assertion: " + e.Reason }

// Unwrap makes an Error for a kid the set lacks match ErrUnknownKey.
func (e *Error) Unwrap() error {
	if e.unknownKey {
		return ErrUnknownKey
	}
	return nil
}

func refuse(reason string) error { return &Error{Reason: reason} }

// ErrUnknownKey is wrapped by the Error returned when the assertion names a
// kid the set does not hold: the caller may fetch the set again and retry.
var ErrUnknownKey = errors.New("unknown key")

// ErrReplayed is returned by a store that finds an assertion's jti
// recorded already.
var ErrReplayed = errors.New("the client assertion's jti was used before")

// Set is a parsed JWK Set.
type Set = jwk.Set

// Unverified is an assertion parsed once, before anything in it is
// verified: the token endpoint reads its iss to find the client, its kid to
// find the key, and then verifies it, from this one parse (the compact
// JWS's parse, with its protected header's JSON, is about a tenth of
// verifying an ES256 assertion).
type Unverified struct {
	raw string
	// Issuer is the iss claim, or "" when none can be read: it says only
	// which client's keys to verify with.
	Issuer string
	alg    string
	kid    string
	// err is why the assertion cannot be verified at all (its size, its
	// form, its signatures), or nil.
	err error
}

// Inspect parses raw without verifying anything. A malformed assertion is
// not an error here: its Issuer is "", or KeyID and Verify say what is
// wrong.
func Inspect(raw string) Unverified {
	u := Unverified{raw: raw}
	if len(raw) > maxAssertion {
		u.err = refuse("the assertion is too large")
		return u
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil {
		u.err = refuse("the assertion is not a compact JWS")
		return u
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(msg.Payload(), &c) == nil {
		u.Issuer = c.Iss
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 || sigs[0].ProtectedHeaders() == nil {
		u.err = refuse("the assertion must carry exactly one signature")
		return u
	}
	h := sigs[0].ProtectedHeaders()
	a, _ := h.Algorithm()
	u.alg = a.String()
	u.kid, _ = h.KeyID()
	return u
}

// KeyID is the kid the assertion names ("" for none), or why it cannot be
// verified.
func (u Unverified) KeyID() (string, error) { return u.kid, u.err }

// Assertion is what a verified assertion tells: the jti to be recorded
// against replay until Expires.
type Assertion struct {
	JTI     string
	Expires time.Time
}

// Verify checks the assertion u was parsed from, as client clientID's,
// against its key set (RFC 7523 §3, SPEC §6), without parsing its header
// again: the signature by a key of set with an allowed algorithm, iss and
// sub equal to clientID, an aud holding one of audiences, exp in the future
// and at most MaxLifetime after now and iat, and a jti. Replay of the jti
// is the caller's to check. Every failure is an *Error; one for a kid the
// set lacks also matches ErrUnknownKey.
func (u Unverified) Verify(clientID string, audiences []string, set jwk.Set, now time.Time) (Assertion, error) {
	if u.err != nil {
		return Assertion{}, u.err
	}
	if !slices.Contains(Algorithms, u.alg) {
		return Assertion{}, refuse("algorithm " + quote(u.alg) + " is not allowed; use one of " + strings.Join(Algorithms, ", "))
	}
	alg, _ := jwa.LookupSignatureAlgorithm(u.alg)
	keys, err := candidates(set, u.kid)
	if err != nil {
		return Assertion{}, err
	}
	var payload []byte
	for _, k := range keys {
		if payload, err = jws.Verify([]byte(u.raw), jws.WithKey(alg, k)); err == nil {
			break
		}
	}
	if payload == nil {
		return Assertion{}, refuse("the signature does not verify with the client's keys")
	}
	return checkClaims(payload, clientID, audiences, now)
}

// candidates returns the keys of set that may have signed an assertion
// naming kid: that key alone, or every key when the assertion names none.
func candidates(set jwk.Set, kid string) ([]jwk.Key, error) {
	if set == nil || set.Len() == 0 {
		return nil, refuse("the client has no keys")
	}
	if kid != "" {
		k, ok := set.LookupKeyID(kid)
		if !ok {
			return nil, &Error{Reason: "no key with kid " + quote(kid) + " in the client's key set", unknownKey: true}
		}
		return []jwk.Key{k}, nil
	}
	out := make([]jwk.Key, 0, set.Len())
	for i := range set.Len() {
		k, _ := set.Key(i)
		out = append(out, k)
	}
	return out, nil
}

type claims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *json.Number    `json:"exp"`
	Iat *json.Number    `json:"iat"`
	Nbf *json.Number    `json:"nbf"`
	JTI string          `json:"jti"`
}

func checkClaims(payload []byte, clientID string, audiences []string, now time.Time) (Assertion, error) {
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Assertion{}, refuse("the assertion's claims are not a JSON object")
	}
	if c.Iss != clientID {
		return Assertion{}, refuse("iss must be the client id")
	}
	if c.Sub != clientID {
		return Assertion{}, refuse("sub must be the client id")
	}
	if !audienceHolds(c.Aud, audiences) {
		return Assertion{}, refuse("aud must hold the token endpoint URL or the issuer")
	}
	if c.JTI == "" {
		return Assertion{}, refuse("jti is required")
	}
	exp, ok := seconds(c.Exp)
	if !ok {
		return Assertion{}, refuse("exp is required and must be a number")
	}
	if !exp.After(now) {
		return Assertion{}, refuse("the assertion has expired")
	}
	if exp.Sub(now) > MaxLifetime {
		return Assertion{}, refuse("exp must be at most 5 minutes from now")
	}
	if c.Iat != nil {
		iat, ok := seconds(c.Iat)
		if !ok || iat.After(now.Add(skew)) {
			return Assertion{}, refuse("iat must be a number not in the future")
		}
		if exp.Sub(iat) > MaxLifetime {
			return Assertion{}, refuse("exp must be at most 5 minutes after iat")
		}
	}
	if c.Nbf != nil {
		nbf, ok := seconds(c.Nbf)
		if !ok || nbf.After(now.Add(skew)) {
			return Assertion{}, refuse("the assertion is not valid yet (nbf)")
		}
	}
	return Assertion{JTI: c.JTI, Expires: exp}, nil
}

// audienceHolds reports whether aud (a string or an array of strings) holds
// one of want.
func audienceHolds(aud json.RawMessage, want []string) bool {
	var one string
	if json.Unmarshal(aud, &one) == nil {
		return slices.Contains(want, one)
	}
	var many []string
	if json.Unmarshal(aud, &many) != nil {
		return false
	}
	for _, a := range many {
		if slices.Contains(want, a) {
			return true
		}
	}
	return false
}

// seconds reads a NumericDate (RFC 7519 §2), fractions allowed.
func seconds(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1<<33 {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*float64(time.Second))).UTC(), true
}

// quote bounds and quotes client-chosen text placed in an error.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
