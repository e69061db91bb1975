package token

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/clientele/clientele/models"
)

// Algorithms are the JWS algorithms of new signing keys (--signing-alg);
// the first is the default. Keys keep the algorithm they were made with.
var Algorithms = []string{"ES256", "ES384", "RS256", "EdDSA"}

// rsaBits is the size of new RS256 keys.
const rsaBits = 2048

// MinEncryptionKeyBytes is the shortest CLIENTELE_KEY_ENCRYPTION_KEY
// accepted, as Hydra asks of its system secret.
const MinEncryptionKeyBytes = 16

// jwaAlgorithm maps a supported algorithm name to jwx's value.
func jwaAlgorithm(name string) (jwa.SignatureAlgorithm, bool) {
	if !slices.Contains(Algorithms, name) {
		return jwa.SignatureAlgorithm{}, false
	}
	return jwa.LookupSignatureAlgorithm(name)
}

// newPrivateKey makes a private key for alg.
func newPrivateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "RS256":
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q; want one of %v", alg, Algorithms)
}

// keyMatches reports whether priv is a key of the kind alg signs with.
func keyMatches(alg string, priv crypto.Signer) bool {
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		return (alg == "ES256" && p.Curve == elliptic.P256()) || (alg == "ES384" && p.Curve == elliptic.P384())
	case *rsa.PrivateKey:
		return alg == "RS256" && p.N.BitLen() >= rsaBits
	case ed25519.PrivateKey:
		return alg == "EdDSA"
	}
	return false
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, the key's kid.
func thumbprint(pub crypto.PublicKey) (string, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return "", err
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return b64.EncodeToString(sum), nil
}

// publicJWK is pub as a JWK carrying kid, alg and use; never a private
// member.
func publicJWK(pub crypto.PublicKey, kid, alg string) (jwk.Key, error) {
	k, err := jwk.PublicKeyOf(pub)
	if err != nil {
		return nil, err
	}
	a, _ := jwaAlgorithm(alg)
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: a, jwk.KeyUsageKey: "sig"} {
		if err := k.Set(name, v); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// newSigningKey makes a key for alg in state, activating at activates,
// sealed when s is not nil.
func newSigningKey(alg, state string, now, activates time.Time, s *sealer) (models.SigningKey, error) {
	priv, err := newPrivateKey(alg)
	if err != nil {
		return models.SigningKey{}, err
	}
	kid, err := thumbprint(priv.Public())
	if err != nil {
		return models.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return models.SigningKey{}, err
	}
	k := models.SigningKey{KID: kid, Algorithm: alg, PrivateKey: der, State: state,
		Created: now.UTC().Truncate(time.Millisecond), Activates: activates.UTC().Truncate(time.Millisecond)}
	if s != nil {
		k.PrivateKey, k.Encrypted = s.seal(kid, der), true
	}
	return k, nil
}

// sealer encrypts private keys at rest with AES-256-GCM under a key
// derived by HKDF-SHA-256 from CLIENTELE_KEY_ENCRYPTION_KEY. The kid is the
// additional data, so a sealed key cannot be moved to another row.
type sealer struct{ aead cipher.AEAD }

const sealInfo = "clientele signing-key encryption v1"

func newSealer(secret string) (*sealer, error) {
	if len(secret) < MinEncryptionKeyBytes {
		return nil, fmt.Errorf("CLIENTELE_KEY_ENCRYPTION_KEY must be at least %d bytes", MinEncryptionKeyBytes)
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns nonce || ciphertext.
func (s *sealer) seal(kid string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(kid))
}

var errCannotOpen = errors.New("CLIENTELE_KEY_ENCRYPTION_KEY does not decrypt it")

func (s *sealer) open(kid string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errCannotOpen
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, errCannotOpen
	}
	return plain, nil
}

// parseKey turns a stored key into a loaded one, checking that its
// material fits its algorithm and its kid. Errors name the kid, never
// material.
func parseKey(sk models.SigningKey, s *sealer) (*loadedKey, error) {
	alg, ok := jwaAlgorithm(sk.Algorithm)
	if !ok {
		return nil, fmt.Errorf("signing key %s: unsupported algorithm %q", sk.KID, sk.Algorithm)
	}
	der := sk.PrivateKey
	if sk.Encrypted {
		if s == nil {
			return nil, fmt.Errorf("signing key %s is encrypted: set CLIENTELE_KEY_ENCRYPTION_KEY", sk.KID)
		}
		var err error
		if der, err = s.open(sk.KID, der); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: not a PKCS #8 private key", sk.KID)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || !keyMatches(sk.Algorithm, priv) {
		return nil, fmt.Errorf("signing key %s is not a %s key", sk.KID, sk.Algorithm)
	}
	h, err := json.Marshal(header{Alg: sk.Algorithm, Typ: typ, Kid: sk.KID})
	if err != nil {
		return nil, err
	}
	return &loadedKey{kid: sk.KID, alg: alg, private: priv, public: priv.Public(),
		header: b64.EncodeToString(h)}, nil
}
