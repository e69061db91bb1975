// Package authserver is Clientele's authorization server without HTTP: it
// authenticates clients, grants client-credentials tokens under the scope
// rule, introspects and revokes tokens, mints and hashes client secrets and
// limits failed client authentications. Its failures are the RFC 6749 §5.2
// errors as *Error values (and *TooManyFailuresError); the HTTP layer parses
// forms into its inputs and renders its answers.
package authserver

import (
	"context"
	"time"

	"github.com/clientele/clientele/clientkeys"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/token"
)

// Store is what the authorization server needs of the store. db.Store
// implements it.
type Store interface {
	// GetClient returns the client, or an error apierrors.IsNotFound sees.
	GetClient(ctx context.Context, id string) (models.OAuthClient, error)
	// TouchLastUsed records that the client got a token at now.
	TouchLastUsed(ctx context.Context, id string, now time.Time) error
	// RevokeToken records a revoked token for every server sharing the store.
	RevokeToken(ctx context.Context, ev models.TokenEvent) error
	// RecordAssertion records a client assertion's jti until expires, or
	// returns clientkeys.ErrReplayed when it was recorded before.
	RecordAssertion(ctx context.Context, clientID, jti string, expires time.Time) error
	// TouchSecret records that a client's secret authenticated at now.
	TouchSecret(ctx context.Context, clientID, secretID string, now time.Time) error
}

// Config holds the server's dependencies. Store, Tokens and Tracker are
// required.
type Config struct {
	Store   Store
	Tokens  *token.Issuer
	Tracker *token.Tracker
	// FailureLimit limits failed client authentications per (client id,
	// remote address); nil turns it off.
	FailureLimit *ratelimit.Limiter
	// Fetcher fetches clients' jwksUri key sets; nil refuses private_key_jwt
	// for clients with a jwksUri.
	Fetcher *clientkeys.Fetcher
	// Audiences are the values a client assertion's aud may name: the token
	// endpoint's URL and the issuer (RFC 7523 §3).
	Audiences []string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Server is the authorization server. It is safe for concurrent use.
type Server struct {
	store    Store
	tokens   *token.Issuer
	tracker  *token.Tracker
	failures *ratelimit.Limiter
	fetcher  *clientkeys.Fetcher
	// sets are the parsed inline jwks of the clients that sent assertions.
	sets      clientkeys.SetCache
	audiences []string
	now       func() time.Time
}

// New returns the authorization server of cfg.
func New(cfg Config) *Server {
	s := &Server{
		store:     cfg.Store,
		tokens:    cfg.Tokens,
		tracker:   cfg.Tracker,
		failures:  cfg.FailureLimit,
		fetcher:   cfg.Fetcher,
		audiences: cfg.Audiences,
		now:       cfg.Now,
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}
