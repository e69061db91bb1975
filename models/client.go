// Package models holds Clientele's domain: the OAuth client, its defaults,
// the table of its members (members.go), from which the wire, patch and the
// store derive their handling of each member, and Validate. It knows
// nothing of HTTP or storage.
package models

import (
	"slices"
	"time"
)

// GrantType is an OAuth grant a client may use.
type GrantType string

// Grant types, exact and case-sensitive.
const (
	GrantClientCredentials GrantType = "CLIENT_CREDENTIALS"
	GrantAuthorizationCode GrantType = "AUTHORIZATION_CODE"
	GrantRefreshToken      GrantType = "REFRESH_TOKEN"
)

// GrantTypes lists every grant type in a stable order.
var GrantTypes = []GrantType{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken}

// AccessType says whether a client is used with or without a user present.
type AccessType string

// Access types.
const (
	AccessOnline  AccessType = "ONLINE"
	AccessOffline AccessType = "OFFLINE"
)

// ClientType is RFC 6749 §2.1's client type.
type ClientType string

// Client types. A public client has no secret.
const (
	TypeConfidential ClientType = "CONFIDENTIAL"
	TypePublic       ClientType = "PUBLIC"
)

// Scopes with a meaning in Clientele.
const (
	// ScopeAll holds every scope.
	ScopeAll = "sp:scopes:all"
	// ScopeDefault grants nothing here and may always be granted.
	ScopeDefault = "sp:scopes:default"
	// ScopeRead allows reading OAuth clients.
	ScopeRead = "sp:oauth-client:read"
	// ScopeManage allows reading and changing OAuth clients.
	ScopeManage = "sp:oauth-client:manage"
)

// Defaults of a new client (SPEC §2).
const (
	DefaultAccessTokenValiditySeconds  = 3600
	DefaultRefreshTokenValiditySeconds = 86400
)

// OAuthClient is an OAuth 2.0 client as Clientele stores it. The secret
// itself is never held: only its hash.
type OAuthClient struct {
	ID                          string
	Name                        string
	Description                 *string
	BusinessName                *string
	HomepageURL                 *string
	Tenant                      *string
	AccessTokenValiditySeconds  int
	RefreshTokenValiditySeconds int
	RedirectURIs                []string
	GrantTypes                  []GrantType
	AccessType                  AccessType
	Type                        ClientType
	Internal                    bool
	Enabled                     bool
	StrongAuthSupported         bool
	ClaimsSupported             bool
	Scope                       []string
	// Audience holds the aud values this client's tokens may carry
	// (SPEC §6); empty, its tokens are for the issuer.
	Audience []string
	Created  time.Time
	Modified time.Time
	LastUsed *time.Time
	// Secrets are the client's secrets (SPEC §9), live or past their
	// expiry; empty for a public client.
	Secrets                  []Secret
	TokenEndpointAuthMethods []AuthMethod
	// JWKS is the client's public JWK Set as JSON; nil for none.
	JWKS    KeySet
	JWKSURI *string
	// TokenGeneration changes whenever the client's existing tokens must stop
	// working: secret rotation, disabling, losing CLIENT_CREDENTIALS.
	TokenGeneration int64
	// RegistrationTokenHash is the hash of the client's RFC 7592
	// registration access token, nil when it was not registered
	// dynamically (SPEC §12). It is no member: no representation, event or
	// restore ever holds it.
	RegistrationTokenHash []byte `json:"-"`
}

// NewClient returns a client holding every create default of SPEC §2. The
// caller sets the name, grant types and whatever else the request carries.
func NewClient() OAuthClient {
	return OAuthClient{
		AccessTokenValiditySeconds:  DefaultAccessTokenValiditySeconds,
		RefreshTokenValiditySeconds: DefaultRefreshTokenValiditySeconds,
		RedirectURIs:                []string{},
		GrantTypes:                  []GrantType{},
		AccessType:                  AccessOnline,
		Type:                        TypeConfidential,
		Enabled:                     true,
		Scope:                       []string{ScopeDefault},
		Audience:                    []string{},
		Secrets:                     []Secret{},
		TokenEndpointAuthMethods:    DefaultAuthMethods(TypeConfidential),
	}
}

// AuthMethod is a client authentication method at the token endpoint, by
// its RFC 7591 name.
type AuthMethod string

// Client authentication methods (SPEC §2, §6).
const (
	AuthSecretBasic   AuthMethod = "client_secret_basic"
	AuthSecretPost    AuthMethod = "client_secret_post"
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthNone is a PUBLIC client's only method, and only a PUBLIC
	// client's.
	AuthNone AuthMethod = "none"
)

// DefaultAuthMethods is the create default of tokenEndpointAuthMethods for
// a client of type t.
func DefaultAuthMethods(t ClientType) []AuthMethod {
	if t == TypePublic {
		return []AuthMethod{AuthNone}
	}
	return []AuthMethod{AuthSecretBasic, AuthSecretPost}
}

// HasAuthMethod reports whether c may authenticate by m.
func (c *OAuthClient) HasAuthMethod(m AuthMethod) bool {
	return slices.Contains(c.TokenEndpointAuthMethods, m)
}

// Clone returns a deep copy of c. Nil arrays become empty ones.
func (c *OAuthClient) Clone() OAuthClient {
	d := *c
	for i := range members {
		members[i].codec.copy(&d, c)
	}
	d.RegistrationTokenHash = slices.Clone(c.RegistrationTokenHash)
	return d
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// HasGrant reports whether c holds grant g.
func (c *OAuthClient) HasGrant(g GrantType) bool { return slices.Contains(c.GrantTypes, g) }

// CanGetTokens reports whether c may be issued client-credentials tokens:
// enabled, confidential and holding CLIENT_CREDENTIALS.
func (c *OAuthClient) CanGetTokens() bool {
	return c.Enabled && c.Type == TypeConfidential && c.HasGrant(GrantClientCredentials)
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// InvalidatesTokens reports whether changing a client from before to after
// must end every token issued before the change: it is disabled or loses
// CLIENT_CREDENTIALS. Secret rotation without grace ends them too, by
// bumping TokenGeneration itself; adding or dropping one secret ends no
// other secret's tokens: a token names its secret and dies with it (§9).
func InvalidatesTokens(before, after *OAuthClient) bool {
	return (before.Enabled && !after.Enabled) ||
		(before.HasGrant(GrantClientCredentials) && !after.HasGrant(GrantClientCredentials))
}

// TokenStateChanged reports whether changing a client from before to after
// changes what a check of its tokens reads of it (token.Tracker's state):
// whether it can get tokens, its TokenGeneration, its secrets and their
// expiry. Both ways: a change that ends tokens, and one that lets them live
// again (enabled again, CLIENT_CREDENTIALS back, a secret added or given
// longer).
func TokenStateChanged(before, after *OAuthClient) bool {
	if after.TokenGeneration != before.TokenGeneration || after.CanGetTokens() != before.CanGetTokens() ||
		len(after.Secrets) != len(before.Secrets) {
		return true
	}
	for _, b := range before.Secrets {
		i := after.FindSecret(b.ID)
		if i < 0 {
			return true
		}
		if a := after.Secrets[i].Expires; (a == nil) != (b.Expires == nil) || (a != nil && !a.Equal(*b.Expires)) {
			return true
		}
	}
	return false
}
