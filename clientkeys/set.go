// Package clientkeys holds what Clientele knows of its clients' public keys:
// the rules a client's JWK Set must follow (SPEC §2 `jwks`), the
// verification of RFC 7523 client assertions signed with those keys, and
// the guarded fetch of a client's `jwksUri` (SPEC §6). It knows nothing of
// Clientele's HTTP server or store.
//
// Parsing and verifying keys and signatures is left to lestrrat-go/jwx: a
// well-kept JOSE library, not code of ours.
package clientkeys

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// MaxKeys is the most keys a client's set may hold (SPEC §2).
const MaxKeys = 10

// privateMembers are the JWK members (RFC 7518 §6) that carry private or
// symmetric key material; a client's set holds public keys only.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "oth"}

// Problem is one broken rule of a key set, at a path relative to the set
// (`keys/0/kty`).
type Problem struct {
	Path string
	Text string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Text
	}
	return p.Path + ": " + p.Text
}

// Check returns every rule of SPEC §2 that the JWK Set raw breaks: a JSON
// object whose `keys` is an array of at most MaxKeys public keys, each EC
// P-256/P-384, RSA of at least 2048 bits or OKP Ed25519, with unique `kid`s.
// It returns nil for a good set and never changes raw.
func Check(raw []byte) []Problem {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil || top == nil {
		return []Problem{{Text: "must be a JWK Set: a JSON object with a \"keys\" array"}}
	}
	keysRaw, ok := top["keys"]
	if !ok || json.Unmarshal(keysRaw, &set.Keys) != nil || set.Keys == nil {
		return []Problem{{Path: "keys", Text: "must be an array of JWKs"}}
	}
	if len(set.Keys) > MaxKeys {
		return []Problem{{Path: "keys", Text: fmt.Sprintf("must hold at most %d keys", MaxKeys)}}
	}
	var problems []Problem
	var kids []string
	for i, k := range set.Keys {
		at := fmt.Sprintf("keys/%d", i)
		kid, p := checkKey(k)
		if p != "" {
			problems = append(problems, Problem{Path: at, Text: p})
			continue
		}
		if kid != "" {
			if slices.Contains(kids, kid) {
				problems = append(problems, Problem{Path: at + "/kid", Text: "must be unique in the set"})
			}
			kids = append(kids, kid)
		}
	}
	return problems
}

// checkKey returns the key's kid, or why it is not an acceptable public key.
func checkKey(raw json.RawMessage) (string, string) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return "", "must be a JWK object"
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return "", "must be a public key: member \"" + m + "\" holds private or symmetric key material"
		}
	}
	if p := rsaSize(members); p != "" {
		return "", p // checked first: jwx refuses small RSA keys with a vaguer error
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return "", "is not a valid JWK"
	}
	if p := keyShape(key); p != "" {
		return "", p
	}
	kid, _ := key.KeyID()
	return kid, ""
}

// rsaSize returns why an RSA key's modulus is too small.
func rsaSize(members map[string]json.RawMessage) string {
	var kty, n string
	if json.Unmarshal(members["kty"], &kty) != nil || kty != "RSA" || json.Unmarshal(members["n"], &n) != nil {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return ""
	}
	if new(big.Int).SetBytes(b).BitLen() < 2048 {
		return "RSA keys must have at least 2048 bits"
	}
	return ""
}

// keyShape returns why key is not of a type and size SPEC §2 allows.
func keyShape(key jwk.Key) string {
	switch k := key.(type) {
	case jwk.ECDSAPublicKey:
		crv, _ := k.Crv()
		if name := crv.String(); name != "P-256" && name != "P-384" {
			return "EC keys must be on P-256 or P-384"
		}
	case jwk.RSAPublicKey:
		n, _ := k.N()
		if new(big.Int).SetBytes(n).BitLen() < 2048 {
			return "RSA keys must have at least 2048 bits"
		}
	case jwk.OKPPublicKey:
		crv, _ := k.Crv()
		if crv.String() != "Ed25519" {
			return "OKP keys must be Ed25519"
		}
	default:
		return "must be an EC, RSA or OKP public key"
	}
	return ""
}

// Parse returns the set raw holds, for verifying signatures. It fails when
// Check finds a problem.
func Parse(raw []byte) (jwk.Set, error) {
	if problems := Check(raw); len(problems) > 0 {
		return nil, refuse("the client's jwks is not acceptable: " + problems[0].String())
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, refuse("the client's jwks is not a JWK Set")
	}
	return set, nil
}

// setCacheSize bounds the sets a SetCache keeps: up to MaxKeys keys each.
const setCacheSize = 512

// SetCache keeps the sets Parse returned, by the SHA-256 of the bytes they
// were parsed from. A client's assertions are verified against the same
// jwks again and again, and parsing it cost as much CPU as checking the
// signature (a fifth of a private_key_jwt token request). The same bytes
// always parse to the same set, so an entry never goes stale: a changed
// jwks is other bytes. A refused jwks is not kept. The sets are shared and
// only read (jwx's sets and keys lock themselves). The zero value is ready
// to use.
type SetCache struct {
	mu   sync.Mutex
	sets map[[sha256.Size]byte]jwk.Set
}

// Parse is Parse(raw), from the cache when it holds raw's set.
func (c *SetCache) Parse(raw []byte) (jwk.Set, error) {
	sum := sha256.Sum256(raw)
	c.mu.Lock()
	set, ok := c.sets[sum]
	c.mu.Unlock()
	if ok {
		return set, nil
	}
	set, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sets == nil {
		c.sets = map[[sha256.Size]byte]jwk.Set{}
	}
	if len(c.sets) >= setCacheSize {
		// Full: drop one set, whichever the map yields first. A client
		// whose set is dropped pays one parse on its next assertion.
		for k := range c.sets {
			delete(c.sets, k)
			break
		}
	}
	c.sets[sum] = set
	return set, nil
}
