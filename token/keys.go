package token

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// KeyStore keeps the signing keys that every server sharing a store uses.
type KeyStore interface {
	// SigningKeys returns every key.
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
	// AddSigningKey stores a next or active key; a second key in that
	// state is a Conflict and stores nothing.
	AddSigningKey(ctx context.Context, k models.SigningKey) error
	// AdvanceSigningKeys activates a next key due at now (retiring the
	// active one) and deletes keys retired before removeBefore, in one
	// transaction; it reports whether anything changed.
	AdvanceSigningKeys(ctx context.Context, now, removeBefore time.Time) (bool, error)
	// SealSigningKey replaces a plain private key by its sealed form.
	SealSigningKey(ctx context.Context, kid string, sealed []byte) error
}

// KeyOptions configure Keys. Zero values: ES256, no publish lead, no
// automatic rotation, keys stored unencrypted, time.Now.
type KeyOptions struct {
	// Algorithm is the algorithm of new keys, one of Algorithms.
	Algorithm string
	// PublishLead is how long a new key is published before it signs
	// (--key-publish-lead).
	PublishLead time.Duration
	// RotationInterval rotates the active key once it has signed this
	// long; zero turns automatic rotation off.
	RotationInterval time.Duration
	// EncryptionKey, when set, seals private keys at rest.
	EncryptionKey string
	Clock         func() time.Time
}

const (
	// reloadEvery bounds how often an unknown kid makes Keys look in the
	// store.
	reloadEvery = 5 * time.Second
	// removeAfter is how long a retired key stays published: every token
	// it signed has expired by then, whatever the clocks of the servers.
	removeAfter = longestLifetime + time.Minute
)

// loadedKey is a parsed signing key.
type loadedKey struct {
	kid     string
	alg     jwa.SignatureAlgorithm
	private crypto.Signer
	public  crypto.PublicKey
	header  string // the encoded JWS header, the same for every token
}

// Keys is the loaded key set of SPEC §6: it signs with the active key (or
// with the next key from the instant it activates, so that every server
// switches together) and verifies with any published key.
type Keys struct {
	store  KeyStore
	opts   KeyOptions
	sealer *sealer

	mu         sync.RWMutex
	current    *loadedKey
	upcoming   *loadedKey
	upcomingAt time.Time
	verifying  map[string]*loadedKey
	stored     []models.SigningKey // without private material
	jwks       []byte
	etag       string
	lastReload time.Time
}

// LoadKeys loads the key set. When the store has no active key it makes
// one; servers starting at once on one database all end up with the one
// that was stored first. With opts.EncryptionKey set, keys stored plain
// are sealed.
func LoadKeys(ctx context.Context, ks KeyStore, opts KeyOptions) (*Keys, error) {
	if opts.Algorithm == "" {
		opts.Algorithm = Algorithms[0]
	}
	if _, ok := jwaAlgorithm(opts.Algorithm); !ok {
		return nil, fmt.Errorf("unsupported signing algorithm %q; want one of %s", opts.Algorithm, strings.Join(Algorithms, ", "))
	}
	if opts.PublishLead < 0 || opts.RotationInterval < 0 {
		return nil, errors.New("the key publish lead and rotation interval cannot be negative")
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	k := &Keys{store: ks, opts: opts}
	if opts.EncryptionKey != "" {
		s, err := newSealer(opts.EncryptionKey)
		if err != nil {
			return nil, err
		}
		k.sealer = s
	}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	if k.signer(opts.Clock()) == nil {
		now := opts.Clock()
		nk, err := newSigningKey(opts.Algorithm, models.KeyActive, now, now, k.sealer)
		if err != nil {
			return nil, err
		}
		if err := ks.AddSigningKey(ctx, nk); err != nil && !apierrors.IsConflict(err) {
			return nil, err
		}
		if err := k.Reload(ctx); err != nil {
			return nil, err
		}
		if k.signer(opts.Clock()) == nil {
			return nil, errors.New("the store holds no active signing key")
		}
	}
	if err := k.sealPlain(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// sealPlain seals the keys stored unencrypted, when a sealer is set.
func (k *Keys) sealPlain(ctx context.Context) error {
	if k.sealer == nil {
		return nil
	}
	k.mu.RLock()
	var plain []*loadedKey
	for _, sk := range k.stored {
		if !sk.Encrypted {
			plain = append(plain, k.verifying[sk.KID])
		}
	}
	k.mu.RUnlock()
	for _, l := range plain {
		der, err := x509.MarshalPKCS8PrivateKey(l.private)
		if err != nil {
			return err
		}
		if err := k.store.SealSigningKey(ctx, l.kid, k.sealer.seal(l.kid, der)); err != nil {
			return fmt.Errorf("encrypting signing key %s: %w", l.kid, err)
		}
	}
	if len(plain) > 0 {
		return k.Reload(ctx)
	}
	return nil
}

// Reload reads the key set from the store again, picking up what other
// servers changed. Keys parsed before are reused.
func (k *Keys) Reload(ctx context.Context) error {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	k.mu.RLock()
	old := k.verifying
	k.mu.RUnlock()
	verifying := make(map[string]*loadedKey, len(stored))
	set := jwk.NewSet()
	var current, upcoming *loadedKey
	var upcomingAt time.Time
	meta := make([]models.SigningKey, len(stored))
	for i, sk := range stored {
		l := old[sk.KID]
		if l == nil || l.alg.String() != sk.Algorithm {
			if l, err = parseKey(sk, k.sealer); err != nil {
				return err
			}
		}
		verifying[sk.KID] = l
		meta[i] = sk.Public()
		pub, err := publicJWK(l.public, l.kid, sk.Algorithm)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", sk.KID, err)
		}
		if err := set.AddKey(pub); err != nil {
			return err
		}
		switch sk.State {
		case models.KeyActive:
			current = l
		case models.KeyNext:
			upcoming, upcomingAt = l, sk.Activates
		}
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(jwks)
	k.mu.Lock()
	k.current, k.upcoming, k.upcomingAt = current, upcoming, upcomingAt
	k.verifying, k.stored, k.jwks = verifying, meta, jwks
	k.etag = `"` + b64.EncodeToString(sum[:16]) + `"`
	k.lastReload = time.Now()
	k.mu.Unlock()
	return nil
}

// JWKS returns the published keys as an RFC 7517 set, never a private
// part, and its entity tag.
func (k *Keys) JWKS() (body []byte, etag string) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.jwks, k.etag
}

// signer is the key that signs at now: the next key from the instant it
// activates, else the active key.
func (k *Keys) signer(now time.Time) *loadedKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.upcoming != nil && !now.Before(k.upcomingAt) {
		return k.upcoming
	}
	return k.current
}

// public returns the key named kid. An unknown kid makes it look in the
// store again, at most once per reloadEvery.
func (k *Keys) public(ctx context.Context, kid string) *loadedKey {
	k.mu.RLock()
	l, last := k.verifying[kid], k.lastReload
	k.mu.RUnlock()
	if l != nil || kid == "" || time.Since(last) < reloadEvery {
		return l
	}
	if err := k.Reload(ctx); err != nil {
		return nil
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.verifying[kid]
}

// published reports whether l is still one of the published keys.
func (k *Keys) published(l *loadedKey) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return l != nil && k.verifying[l.kid] == l
}

// PublishLead is how long a new key is published before it signs.
func (k *Keys) PublishLead() time.Duration { return k.opts.PublishLead }
