package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/clientele/clientele/models"
)

// NewSecret returns a new client secret (64 lowercase hex from crypto/rand)
// and the hash the store keeps.
func NewSecret() (secret string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	secret = hex.EncodeToString(b[:])
	return secret, HashSecret(secret), nil
}

// HashSecret is the stored form of a secret. Minted secrets are 256 random
// bits, so a fast hash is as strong as a slow one and keeps token issuance
// cheap; configured admin secrets are held to at least 32 characters.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// MintSecret returns a new secret's value, shown to the client once, and
// the record the store keeps (SPEC §9): a random 32-hex id, the hash, the
// value's last four characters as hint, created at now and expiring at
// expires (nil for never).
func MintSecret(now time.Time, expires *time.Time) (string, models.Secret, error) {
	value, hash, err := NewSecret()
	if err != nil {
		return "", models.Secret{}, err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", models.Secret{}, err
	}
	now = now.UTC().Truncate(time.Millisecond)
	return value, models.Secret{
		ID: hex.EncodeToString(id[:]), Hash: hash, Created: now, Expires: expires, Hint: value[len(value)-4:],
	}, nil
}
