package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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
