package models

import "time"

// Signing-key states (SPEC §6): a key is published while next, signs while
// active (one at a time across every server), stays published while
// retired until every token it signed has expired, and is then removed.
const (
	KeyNext    = "next"
	KeyActive  = "active"
	KeyRetired = "retired"
)

// SigningKey is one token-signing key as the store keeps it, so that every
// server sharing the store signs and verifies with the same keys.
type SigningKey struct {
	// KID is the JWS key id ("kid"), the key's RFC 7638 thumbprint.
	KID string
	// Algorithm is the JWS algorithm: ES256, ES384, RS256 or EdDSA.
	Algorithm string
	// PrivateKey is the PKCS #8 DER encoding of the private key, sealed
	// with AES-GCM when Encrypted.
	PrivateKey []byte
	Encrypted  bool
	State      string
	Created    time.Time
	// Activates is when the key starts (or started) signing.
	Activates time.Time
	// Retires is when the key stopped signing; zero unless retired.
	Retires time.Time
}

// Public returns k without its private material.
func (k SigningKey) Public() SigningKey {
	k.PrivateKey = nil
	return k
}

// TokenEvent tells every server that tokens must be checked again: either
// one token was revoked (JTI set) or one client's token state changed
// (deleted, disabled, secret rotated, CLIENT_CREDENTIALS removed; JTI empty).
type TokenEvent struct {
	ClientID string
	// JTI is the revoked token's id; empty for a client change.
	JTI string
	// ExpiresAt is when a revoked token would have expired anyway; events
	// may be forgotten after it. For a client change it is Created plus the
	// longest access-token lifetime.
	ExpiresAt time.Time
	Created   time.Time
}
