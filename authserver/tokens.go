package authserver

import (
	"context"
	"errors"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/token"
)

// InvalidTokenError says an access token is not, or no longer, valid: a
// bad signature, another issuer, expired, revoked, or its client changed
// (SPEC §6). Error is the reason, safe to show the caller.
type InvalidTokenError struct{ Err error }

func (e *InvalidTokenError) Error() string { return e.Err.Error() }
func (e *InvalidTokenError) Unwrap() error { return e.Err }

// ValidateToken returns the claims of a live access token of this server.
// A dead token is *InvalidTokenError; when whether it lives cannot be found
// out (the store is down), the error is 503 Unavailable, never a verdict.
func (s *Server) ValidateToken(ctx context.Context, raw string) (token.Claims, error) {
	claims, err := s.tokens.Verify(ctx, raw, s.now())
	if err != nil {
		return token.Claims{}, &InvalidTokenError{Err: err}
	}
	if err := s.tracker.Check(ctx, claims); err != nil {
		if errors.Is(err, token.ErrRevoked) || errors.Is(err, token.ErrClientInvalid) || errors.Is(err, token.ErrSecretGone) {
			return token.Claims{}, &InvalidTokenError{Err: err}
		}
		return token.Claims{}, apierrors.NewUnavailable(err)
	}
	return claims, nil
}

// Introspect answers RFC 7662 for an authenticated client: the claims and
// true for a live token, false for any other. Errors are the client's
// authentication's, invalid_request without a token, or Unavailable.
func (s *Server) Introspect(ctx context.Context, a ClientAuth, raw string) (token.Claims, bool, error) {
	if _, err := s.Authenticate(ctx, a); err != nil {
		return token.Claims{}, false, err
	}
	if raw == "" {
		return token.Claims{}, false, NewError(InvalidRequest, "token is required")
	}
	claims, err := s.ValidateToken(ctx, raw)
	var invalid *InvalidTokenError
	if errors.As(err, &invalid) {
		return token.Claims{}, false, nil
	}
	return claims, err == nil, err
}

// Revoke answers RFC 7009 for an authenticated client. A client may revoke
// only its own tokens; other clients' tokens and invalid tokens are
// ignored without error, as §2.2 requires.
func (s *Server) Revoke(ctx context.Context, a ClientAuth, raw string) error {
	auth, err := s.Authenticate(ctx, a)
	if err != nil {
		return err
	}
	cl := auth.Client
	if raw == "" {
		return NewError(InvalidRequest, "token is required")
	}
	now := s.now()
	claims, err := s.tokens.Verify(ctx, raw, now)
	if err != nil || claims.ClientID != cl.ID {
		return nil
	}
	ev := models.TokenEvent{ClientID: claims.ClientID, JTI: claims.JTI, ExpiresAt: claims.ExpiresAt, Created: now}
	if err := s.store.RevokeToken(ctx, ev); err != nil {
		return err
	}
	s.tracker.Revoked(claims.JTI, claims.ExpiresAt)
	return nil
}
