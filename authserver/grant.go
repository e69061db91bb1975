package authserver

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/token"
)

// GrantClientCredentials is RFC 6749 §4.4's grant_type, the only one served.
const GrantClientCredentials = "client_credentials"

// lastUsedEvery is how often a client's lastUsed is written, at most.
const lastUsedEvery = 24 * time.Hour

// TokenRequest is a request of the token endpoint (RFC 6749 §4.4.2).
type TokenRequest struct {
	Client    ClientAuth
	GrantType string
	// Scope is the requested scope, space-separated; "" asks for all of
	// the client's scope.
	Scope string
	// Resources are the RFC 8707 resource parameters, absolute URIs, and
	// Audiences the audience parameters; none asks for all of the client's
	// audience.
	Resources, Audiences []string
}

// Issued is a granted access token.
type Issued struct {
	Token  string
	Claims token.Claims
	// Client is the authenticated client the token was issued to.
	Client models.OAuthClient
	// LastUsedErr is a failure to record the client's lastUsed. The token
	// stands; the caller may log it.
	LastUsedErr error
}

// Grant answers a token request: grant_type present, the client
// authenticated, the grant supported and allowed to the client (an enabled
// CONFIDENTIAL client holding CLIENT_CREDENTIALS), the scope granted by
// GrantedScope. Refusals are *Error or *TooManyFailuresError, checked in
// that order.
func (s *Server) Grant(ctx context.Context, req TokenRequest) (Issued, error) {
	if req.GrantType == "" {
		return Issued{}, NewError(InvalidRequest, "grant_type is required")
	}
	auth, err := s.Authenticate(ctx, req.Client)
	if err != nil {
		return Issued{}, err
	}
	cl := auth.Client
	if req.GrantType != GrantClientCredentials {
		return Issued{}, NewError(UnsupportedGrantType, "only client_credentials is supported")
	}
	if cl.Type != models.TypeConfidential || !cl.HasGrant(models.GrantClientCredentials) {
		return Issued{}, NewError(UnauthorizedClient, "the client may not use the client_credentials grant")
	}
	scope, err := GrantedScope(&cl, req.Scope)
	if err != nil {
		return Issued{}, err
	}
	aud, err := GrantedAudience(&cl, req.Resources, req.Audiences)
	if err != nil {
		return Issued{}, err
	}
	now := s.now()
	raw, claims, err := s.tokens.Issue(&cl, scope, aud, auth.SecretID, now)
	if err != nil {
		return Issued{}, err
	}
	out := Issued{Token: raw, Claims: claims, Client: cl}
	if cl.LastUsed == nil || now.Sub(*cl.LastUsed) >= lastUsedEvery {
		out.LastUsedErr = s.store.TouchLastUsed(ctx, cl.ID, now)
	}
	if i := cl.FindSecret(auth.SecretID); i >= 0 && out.LastUsedErr == nil {
		if last := cl.Secrets[i].LastUsed; last == nil || now.Sub(*last) >= models.SecretLastUsedEvery {
			out.LastUsedErr = s.store.TouchSecret(ctx, cl.ID, auth.SecretID, now)
		}
	}
	return out, nil
}

// Holds reports whether a holder of held holds scope: sp:scopes:all holds
// every scope and sp:scopes:default is held by everyone.
func Holds(held []string, scope string) bool {
	return scope == models.ScopeDefault || slices.Contains(held, models.ScopeAll) || slices.Contains(held, scope)
}

// GrantedScope is the requested scope (space-separated, duplicates
// dropped) when the client holds all of it, else invalid_scope; with none
// requested, all of the client's scope.
func GrantedScope(cl *models.OAuthClient, requested string) ([]string, error) {
	if strings.TrimSpace(requested) == "" {
		return cl.Scope, nil
	}
	var out []string
	for _, sc := range strings.Fields(requested) {
		if !models.ValidScopeToken(sc) || !Holds(cl.Scope, sc) {
			return nil, NewError(InvalidScope, "the client does not hold the scope "+sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// GrantedAudience is the aud of a token (SPEC §6): the requested resources
// and audiences (duplicates dropped), each of which must be in the client's
// audience, else invalid_target; a resource must also be an absolute URI
// without a fragment (RFC 8707 §2). None requested is nil: the token carries
// the client's whole audience, or the issuer.
func GrantedAudience(cl *models.OAuthClient, resources, audiences []string) ([]string, error) {
	var out []string
	for _, r := range resources {
		if u, err := url.Parse(r); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(r, "#") {
			return nil, NewError(InvalidTarget, "resource must be an absolute URI without a fragment")
		}
	}
	for _, a := range slices.Concat(resources, audiences) {
		if !slices.Contains(cl.Audience, a) {
			return nil, NewError(InvalidTarget, "the client's audience does not hold "+strconv.Quote(a))
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// CheckGrantableScopes refuses, with 403 and one cause per scope, giving a
// client scopes that the caller, holding held, does not hold itself.
func CheckGrantableScopes(held, scopes []string) error {
	var refused []string
	for _, sc := range scopes {
		if !Holds(held, sc) {
			refused = append(refused, "scope: the caller cannot grant "+sc+", which it does not hold")
		}
	}
	if len(refused) > 0 {
		return apierrors.NewForbidden(refused...)
	}
	return nil
}
