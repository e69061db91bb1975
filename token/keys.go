package token

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/clientele/clientele/models"
)

// KeyStore keeps the signing keys that every server sharing a store uses.
type KeyStore interface {
	// SigningKeys returns every key, oldest first.
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
	// AddSigningKey stores k; a kid that exists already is no error.
	AddSigningKey(ctx context.Context, k models.SigningKey) error
}

// reloadEvery bounds how often an unknown kid makes Keys look in the store.
const reloadEvery = 5 * time.Second

type signingKey struct {
	kid     string
	private *ecdsa.PrivateKey
	header  string // the encoded JWS header, the same for every token
}

// Keys is the loaded key set: it signs with the oldest key and verifies
// with any.
type Keys struct {
	store KeyStore

	mu         sync.RWMutex
	signing    *signingKey
	verifying  map[string]*ecdsa.PublicKey
	jwks       []byte
	lastReload time.Time
}

// LoadKeys loads the key set. When the store has none it generates a P-256
// key, stores it and loads again, so that servers starting at once on one
// database all end up signing with the same (oldest) key.
func LoadKeys(ctx context.Context, ks KeyStore) (*Keys, error) {
	k := &Keys{store: ks}
	stored, err := ks.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(stored) == 0 {
		nk, err := GenerateKey(time.Now())
		if err != nil {
			return nil, err
		}
		if err := ks.AddSigningKey(ctx, nk); err != nil {
			return nil, err
		}
	}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// GenerateKey makes a new ES256 signing key whose kid is its RFC 7638
// thumbprint.
func GenerateKey(now time.Time) (models.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return models.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return models.SigningKey{}, err
	}
	x, y, err := coordinates(&priv.PublicKey)
	if err != nil {
		return models.SigningKey{}, err
	}
	// RFC 7638: the thumbprint of the required members in lexical order.
	thumb := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return models.SigningKey{KID: b64.EncodeToString(thumb[:]), Algorithm: alg, PrivateKey: der, Created: now.UTC()}, nil
}

// coordinates returns the base64url x and y of an uncompressed P-256 point.
func coordinates(pub *ecdsa.PublicKey) (string, string, error) {
	ek, err := pub.ECDH()
	if err != nil {
		return "", "", err
	}
	raw := ek.Bytes() // 0x04 || X || Y
	if len(raw) != 65 || ek.Curve() != ecdh.P256() {
		return "", "", errors.New("not an uncompressed P-256 point")
	}
	return b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:]), nil
}

type jsonWebKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// Reload reads the key set from the store again, picking up keys that
// other servers added.
func (k *Keys) Reload(ctx context.Context) error {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(stored) == 0 {
		return errors.New("the store holds no signing key")
	}
	sort.SliceStable(stored, func(i, j int) bool {
		if !stored[i].Created.Equal(stored[j].Created) {
			return stored[i].Created.Before(stored[j].Created)
		}
		return stored[i].KID < stored[j].KID
	})
	public := make(map[string]*ecdsa.PublicKey, len(stored))
	var set struct {
		Keys []jsonWebKey `json:"keys"`
	}
	var signing *signingKey
	for _, sk := range stored {
		if sk.Algorithm != alg {
			continue
		}
		parsed, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			return fmt.Errorf("signing key %s is not a P-256 key", sk.KID)
		}
		x, y, err := coordinates(&priv.PublicKey)
		if err != nil {
			return err
		}
		public[sk.KID] = &priv.PublicKey
		set.Keys = append(set.Keys, jsonWebKey{Kty: "EC", Crv: "P-256", X: x, Y: y, Kid: sk.KID, Alg: alg, Use: "sig"})
		if signing == nil {
			h, _ := json.Marshal(header{Alg: alg, Typ: typ, Kid: sk.KID})
			signing = &signingKey{kid: sk.KID, private: priv, header: b64.EncodeToString(h)}
		}
	}
	if signing == nil {
		return errors.New("the store holds no ES256 signing key")
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.signing, k.verifying, k.jwks, k.lastReload = signing, public, jwks, time.Now()
	k.mu.Unlock()
	return nil
}

// JWKS returns the public keys as an RFC 7517 set; never a private part.
func (k *Keys) JWKS() []byte {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks
}

func (k *Keys) signer() *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.signing
}

// public returns the key named kid. An unknown kid makes it look in the
// store again, at most once per reloadEvery.
func (k *Keys) public(ctx context.Context, kid string) *ecdsa.PublicKey {
	k.mu.RLock()
	pub, last := k.verifying[kid], k.lastReload
	k.mu.RUnlock()
	if pub != nil || kid == "" || time.Since(last) < reloadEvery {
		return pub
	}
	if err := k.Reload(ctx); err != nil {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.verifying[kid]
}
