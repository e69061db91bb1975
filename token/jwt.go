// Package token issues and verifies Clientele's access tokens — JWTs after
// RFC 9068, signed with keys kept in the store that live through the
// next, active and retired states of SPEC §6 — and tracks whether
// an issued token is still alive (SPEC §6) without a database round trip on
// the hot path.
package token

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/clientele/clientele/models"
)

// Errors of Verify. Their texts are safe to show to the caller.
var (
	ErrMalformed  = errors.New("malformed token")
	ErrAlgorithm  = errors.New("unsupported signing algorithm, or not the algorithm of the key")
	ErrType       = errors.New("not an access token (typ must be at+jwt)")
	ErrUnknownKey = errors.New("unknown signing key")
	ErrSignature  = errors.New("bad signature")
	ErrIssuer     = errors.New("wrong issuer")
	ErrExpired    = errors.New("token expired")
	ErrNotYet     = errors.New("token issued in the future")
)

const (
	// MaxTokenBytes bounds what Verify decodes at all.
	MaxTokenBytes = 8 << 10
	// leeway tolerates clock differences between servers.
	leeway = 5 * time.Second
	typ    = "at+jwt"
)

// Claims of an access token (RFC 9068 §2.2).
type Claims struct {
	Issuer   string
	Subject  string
	ClientID string
	Scope    []string
	// Audience is the aud claim: the resource servers the token is for.
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time
	JTI       string
	// Generation is the client's TokenGeneration when the token was issued
	// (claim "gen"); a token of an older generation is dead.
	Generation int64
	// SecretID names the client secret the client authenticated with
	// (claim "client_secret_id"; "" for key-based authentication): the
	// token dies with that secret (SPEC §9).
	SecretID string
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope"`
	Aud      audience `json:"aud,omitempty"`
	Iat      int64    `json:"iat"`
	Exp      int64    `json:"exp"`
	Jti      string   `json:"jti"`
	Gen      int64    `json:"gen"`
	SecretID string   `json:"client_secret_id,omitempty"`
}

type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

var b64 = base64.RawURLEncoding

// audience is RFC 7519 §4.1.3's aud: one string, or an array of them.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// Issuer signs and verifies the tokens of one issuer.
type Issuer struct {
	issuer string
	keys   *Keys

	// verified remembers tokens whose signature and claims checked out, so
	// that a client calling again costs a map lookup, not an ECDSA
	// verification. The time checks are repeated on a hit, and the signing
	// key must still be published.
	mu       sync.RWMutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	claims Claims
	key    *loadedKey
}

// maxVerified bounds the verified-token memory.
const maxVerified = 4096

// NewIssuer returns an Issuer for iss signing with keys.
func NewIssuer(iss string, keys *Keys) *Issuer {
	return &Issuer{issuer: iss, keys: keys, verified: make(map[string]verifiedToken)}
}

// Issue signs a token for c with scope and aud, valid for c's
// AccessTokenValiditySeconds from now. An empty aud is c's whole Audience,
// or the issuer when c has none (SPEC §6); the caller checks that a named
// aud is among c's. secretID names the secret c authenticated with, ""
// for none.
func (i *Issuer) Issue(c *models.OAuthClient, scope, aud []string, secretID string, now time.Time) (string, Claims, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", Claims{}, err
	}
	k := i.keys.signer(now)
	if k == nil {
		return "", Claims{}, errors.New("no active signing key")
	}
	now = now.Truncate(time.Second)
	switch {
	case len(aud) > 0:
	case len(c.Audience) > 0:
		aud = c.Audience
	default:
		aud = []string{i.issuer}
	}
	cl := Claims{
		Issuer:     i.issuer,
		Subject:    c.ID,
		ClientID:   c.ID,
		Scope:      append([]string(nil), scope...),
		Audience:   append([]string(nil), aud...),
		IssuedAt:   now,
		ExpiresAt:  now.Add(time.Duration(c.AccessTokenValiditySeconds) * time.Second),
		JTI:        hex.EncodeToString(jti[:]),
		Generation: c.TokenGeneration,
		SecretID:   secretID,
	}
	payload, err := json.Marshal(wireClaims{
		Iss: cl.Issuer, Sub: cl.Subject, ClientID: cl.ClientID, Scope: strings.Join(cl.Scope, " "), Aud: cl.Audience,
		Iat: cl.IssuedAt.Unix(), Exp: cl.ExpiresAt.Unix(), Jti: cl.JTI, Gen: cl.Generation, SecretID: cl.SecretID,
	})
	if err != nil {
		return "", Claims{}, err
	}
	var b strings.Builder
	b.Grow(len(k.header) + b64.EncodedLen(len(payload)) + 520)
	b.WriteString(k.header)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(payload))
	sig, err := jwsbb.Sign(k.private, k.alg.String(), []byte(b.String()), nil)
	if err != nil {
		return "", Claims{}, err
	}
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(sig))
	return b.String(), cl, nil
}

// Verify checks a compact JWS access token: a published key and exactly
// its algorithm, typ at+jwt, a good signature, our issuer, not expired, and every
// claim present and well-typed. It never trusts a key named by the token.
func (i *Issuer) Verify(ctx context.Context, raw string, now time.Time) (Claims, error) {
	if len(raw) > MaxTokenBytes {
		return Claims{}, ErrMalformed
	}
	i.mu.RLock()
	v, ok := i.verified[raw]
	i.mu.RUnlock()
	if ok && i.keys.published(v.key) {
		return v.claims, checkTimes(v.claims, now)
	}
	c, key, err := i.verify(ctx, raw)
	if err != nil {
		return Claims{}, err
	}
	if err := checkTimes(c, now); err != nil {
		return Claims{}, err
	}
	i.mu.Lock()
	if len(i.verified) >= maxVerified {
		// Forget an arbitrary quarter: a forgotten token is verified again.
		n := maxVerified / 4
		for k := range i.verified {
			delete(i.verified, k)
			if n--; n == 0 {
				break
			}
		}
	}
	i.verified[raw] = verifiedToken{claims: c, key: key}
	i.mu.Unlock()
	return c, nil
}

// checkTimes refuses a token that has expired or was issued in the future.
func checkTimes(c Claims, now time.Time) error {
	if !now.Before(c.ExpiresAt) {
		return ErrExpired
	}
	if c.IssuedAt.After(now.Add(leeway)) {
		return ErrNotYet
	}
	return nil
}

// verify checks everything of a token but the times.
func (i *Issuer) verify(ctx context.Context, raw string) (Claims, *loadedKey, error) {
	h64, rest, ok := strings.Cut(raw, ".")
	_, s64, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(s64, ".") {
		return Claims{}, nil, ErrMalformed
	}
	hb, err := b64.DecodeString(h64)
	if err != nil {
		return Claims{}, nil, ErrMalformed
	}
	var hm map[string]json.RawMessage
	if err := json.Unmarshal(hb, &hm); err != nil {
		return Claims{}, nil, ErrMalformed
	}
	for _, forbidden := range []string{"jwk", "jku", "x5u", "x5c", "crit"} {
		if _, ok := hm[forbidden]; ok {
			return Claims{}, nil, fmt.Errorf("%w: header %q is not accepted", ErrMalformed, forbidden)
		}
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return Claims{}, nil, ErrMalformed
	}
	if _, ok := jwaAlgorithm(h.Alg); !ok {
		return Claims{}, nil, ErrAlgorithm
	}
	if t := strings.ToLower(h.Typ); t != typ && t != "application/"+typ {
		return Claims{}, nil, ErrType
	}
	k := i.keys.public(ctx, h.Kid)
	if k == nil {
		return Claims{}, nil, ErrUnknownKey
	}
	if h.Alg != k.alg.String() {
		return Claims{}, nil, ErrAlgorithm
	}
	pb, err := jws.VerifyCompactFast(k.public, []byte(raw), k.alg)
	if err != nil {
		return Claims{}, nil, ErrSignature
	}
	var w wireClaims
	dec := json.NewDecoder(bytes.NewReader(pb))
	if err := dec.Decode(&w); err != nil {
		return Claims{}, nil, ErrMalformed
	}
	if w.Sub == "" || w.ClientID != w.Sub || w.Jti == "" || w.Iat == 0 || w.Exp == 0 {
		return Claims{}, nil, fmt.Errorf("%w: required claims are missing", ErrMalformed)
	}
	if w.Iss != i.issuer {
		return Claims{}, nil, ErrIssuer
	}
	exp, iat := time.Unix(w.Exp, 0), time.Unix(w.Iat, 0)
	return Claims{
		Issuer: w.Iss, Subject: w.Sub, ClientID: w.ClientID, Scope: strings.Fields(w.Scope), Audience: w.Aud,
		IssuedAt: iat, ExpiresAt: exp, JTI: w.Jti, Generation: w.Gen, SecretID: w.SecretID,
	}, k, nil
}
