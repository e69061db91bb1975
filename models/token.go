package models

import "time"

// SigningKey is one token-signing key as the store keeps it, so that every
// server sharing the store signs and verifies with the same keys.
type SigningKey struct {
	// KID is the JWS key id ("kid").
	KID string
	// Algorithm is the JWS algorithm, "ES256".
	Algorithm string
	// PrivateKey is the PKCS #8 DER encoding of the private key.
	PrivateKey []byte
	Created    time.Time
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
