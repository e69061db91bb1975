package models

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clientele/clientele/clientkeys"
	apierrors "github.com/clientele/clientele/errors"
)

// Limits of SPEC §2.
const (
	MaxNameLength         = 128
	MaxDescriptionLength  = 2048
	MaxShortTextLength    = 255
	MaxURLLength          = 2048
	MaxRedirectURIs       = 64
	MaxScopes             = 64
	MaxAudiences          = 32
	MaxAudienceLength     = 2048
	MinAccessTokenSeconds = 60
	MaxAccessTokenSeconds = 86400
	MinRefreshSeconds     = 60
	MaxRefreshSeconds     = 31536000
)

// ValidID reports whether id can name a client: 32 lowercase hex, or a
// bootstrap id of 1–64 of A-Z a-z 0-9 _ -. The first are all of the
// second kind, so one loop over the bytes says (it runs on every
// validation, where two regular expressions cost more than the rest of
// the rules of a small client).
func ValidID(id string) bool { return ValidBootstrapID(id) }

// ValidBootstrapID reports whether id may be a bootstrap admin's id.
func ValidBootstrapID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks c against every rule of SPEC §2 and returns one cause per
// problem, naming the member (or member/index). It never changes c. The
// result is nil, or an *apierrors.Error built by apierrors.NewInvalid.
func (c *OAuthClient) Validate() error {
	return apierrors.NewInvalid(c.Causes()...)
}

// Causes lists every rule of SPEC §2 that c breaks.
func (c *OAuthClient) Causes() []apierrors.Cause {
	var v validator

	if c.ID != "" && !ValidID(c.ID) {
		v.illegal("id", "must be 32 lowercase hex characters")
	}

	switch n := utf8.RuneCountInString(strings.TrimSpace(c.Name)); {
	case n == 0:
		v.add(apierrors.KindRequired, "name", "must not be empty")
	case n > MaxNameLength:
		v.length("name", fmt.Sprintf("must be at most %d characters", MaxNameLength))
	}
	if strings.ContainsFunc(c.Name, unicode.IsControl) {
		v.illegal("name", "must not contain control characters")
	}
	v.text("description", c.Description, MaxDescriptionLength, true)
	v.text("businessName", c.BusinessName, MaxShortTextLength, false)
	v.text("tenant", c.Tenant, MaxShortTextLength, false)
	if c.HomepageURL != nil {
		u := *c.HomepageURL
		switch {
		case utf8.RuneCountInString(u) > MaxURLLength:
			v.length("homepageUrl", fmt.Sprintf("must be at most %d characters", MaxURLLength))
		case !isHTTPURL(u):
			v.illegal("homepageUrl", "must be an absolute http or https URL")
		}
	}

	if c.AccessTokenValiditySeconds < MinAccessTokenSeconds || c.AccessTokenValiditySeconds > MaxAccessTokenSeconds {
		v.illegal("accessTokenValiditySeconds",
			fmt.Sprintf("must be between %d and %d", MinAccessTokenSeconds, MaxAccessTokenSeconds))
	}
	if c.RefreshTokenValiditySeconds < MinRefreshSeconds || c.RefreshTokenValiditySeconds > MaxRefreshSeconds {
		v.illegal("refreshTokenValiditySeconds",
			fmt.Sprintf("must be between %d and %d", MinRefreshSeconds, MaxRefreshSeconds))
	}

	if len(c.RedirectURIs) > MaxRedirectURIs {
		v.illegal("redirectUris", fmt.Sprintf("must hold at most %d URIs", MaxRedirectURIs))
	}
	seen := make(map[string]bool, len(c.RedirectURIs))
	for i, u := range c.RedirectURIs {
		if seen[u] {
			v.illegal(elementField("redirectUris", i), "duplicates an earlier URI")
			continue
		}
		seen[u] = true
		if utf8.RuneCountInString(u) > MaxURLLength {
			v.length(elementField("redirectUris", i), fmt.Sprintf("must be at most %d characters", MaxURLLength))
			continue
		}
		if reason := redirectURIProblem(u); reason != "" {
			v.illegal(elementField("redirectUris", i), reason)
		}
	}

	if len(c.GrantTypes) == 0 {
		v.add(apierrors.KindRequired, "grantTypes", "must hold at least one grant type")
	}
	seenGrant := map[GrantType]bool{}
	for i, g := range c.GrantTypes {
		switch {
		case g != GrantClientCredentials && g != GrantAuthorizationCode && g != GrantRefreshToken:
			v.illegal(elementField("grantTypes", i), "must be one of CLIENT_CREDENTIALS, AUTHORIZATION_CODE, REFRESH_TOKEN")
		case seenGrant[g]:
			v.illegal(elementField("grantTypes", i), "duplicates an earlier grant type")
		}
		seenGrant[g] = true
	}
	if seenGrant[GrantAuthorizationCode] && len(c.RedirectURIs) == 0 {
		v.illegal("grantTypes", "AUTHORIZATION_CODE needs at least one redirect URI")
	}
	if seenGrant[GrantRefreshToken] && !seenGrant[GrantAuthorizationCode] {
		v.illegal("grantTypes", "REFRESH_TOKEN needs AUTHORIZATION_CODE")
	}
	if c.Type == TypePublic && seenGrant[GrantClientCredentials] {
		v.illegal("grantTypes", "a PUBLIC client cannot have CLIENT_CREDENTIALS")
	}

	if c.AccessType != AccessOnline && c.AccessType != AccessOffline {
		v.illegal("accessType", "must be ONLINE or OFFLINE")
	}
	if c.Type != TypeConfidential && c.Type != TypePublic {
		v.illegal("type", "must be CONFIDENTIAL or PUBLIC")
	}

	if len(c.Audience) > MaxAudiences {
		v.illegal("audience", fmt.Sprintf("must hold at most %d values", MaxAudiences))
	}
	seenAud := make(map[string]bool, len(c.Audience))
	for i, a := range c.Audience {
		switch n := utf8.RuneCountInString(a); {
		case seenAud[a]:
			v.illegal(elementField("audience", i), "duplicates an earlier value")
		case n == 0 || n > MaxAudienceLength:
			v.length(elementField("audience", i), fmt.Sprintf("must be 1 to %d characters", MaxAudienceLength))
		case strings.ContainsFunc(a, unicode.IsSpace):
			v.illegal(elementField("audience", i), "must not contain whitespace")
		}
		seenAud[a] = true
	}

	if len(c.Scope) > MaxScopes {
		v.illegal("scope", fmt.Sprintf("must hold at most %d scopes", MaxScopes))
	}
	seenScope := make(map[string]bool, len(c.Scope))
	for i, s := range c.Scope {
		switch {
		case !ValidScopeToken(s):
			v.illegal(elementField("scope", i), "must be an RFC 6749 scope token")
		case seenScope[s]:
			v.illegal(elementField("scope", i), "duplicates an earlier scope")
		}
		seenScope[s] = true
	}
	v.credentials(c)
	return v.causes
}

// credentials checks tokenEndpointAuthMethods, jwks and jwksUri, and that
// they fit together and with the client's type (SPEC §2).
func (v *validator) credentials(c *OAuthClient) {
	if len(c.TokenEndpointAuthMethods) == 0 {
		v.add(apierrors.KindRequired, "tokenEndpointAuthMethods", "must hold at least one method")
	}
	seen := map[AuthMethod]bool{}
	for i, m := range c.TokenEndpointAuthMethods {
		switch {
		case m != AuthSecretBasic && m != AuthSecretPost && m != AuthPrivateKeyJWT && m != AuthNone:
			v.illegal(elementField("tokenEndpointAuthMethods", i), "must be one of client_secret_basic, client_secret_post, private_key_jwt, none")
		case seen[m]:
			v.illegal(elementField("tokenEndpointAuthMethods", i), "duplicates an earlier method")
		}
		seen[m] = true
	}
	switch {
	case c.Type == TypePublic && (len(c.TokenEndpointAuthMethods) != 1 || !seen[AuthNone]):
		v.illegal("tokenEndpointAuthMethods", `a PUBLIC client authenticates by ["none"] only`)
	case c.Type != TypePublic && seen[AuthNone]:
		v.illegal("tokenEndpointAuthMethods", "none is only for a PUBLIC client")
	}
	if c.JWKS != nil {
		for _, p := range clientkeys.Check(c.JWKS) {
			field := "jwks"
			if p.Path != "" {
				field += "/" + p.Path
			}
			v.illegal(field, p.Text)
		}
	}
	if c.JWKSURI != nil {
		switch u := *c.JWKSURI; {
		case utf8.RuneCountInString(u) > MaxURLLength:
			v.length("jwksUri", fmt.Sprintf("must be at most %d characters", MaxURLLength))
		case !isJWKSURI(u):
			v.illegal("jwksUri", "must be an absolute https URL (http only on a loopback host)")
		}
	}
	if c.JWKS != nil && c.JWKSURI != nil {
		v.illegal("jwksUri", "a client has jwks or jwksUri, not both")
	}
	if seen[AuthPrivateKeyJWT] && c.JWKS == nil && c.JWKSURI == nil {
		v.illegal("tokenEndpointAuthMethods", "private_key_jwt needs jwks or jwksUri")
	}
}

// isJWKSURI reports whether u may be a jwksUri: https, or http on loopback.
func isJWKSURI(u string) bool {
	if !isHTTPURL(u) {
		return false
	}
	p, _ := url.Parse(u)
	return p.Scheme == "https" || isLoopback(p.Hostname())
}

type validator struct{ causes []apierrors.Cause }

func (v *validator) add(k apierrors.Kind, field, reason string) {
	v.causes = append(v.causes, apierrors.Cause{Kind: k, Field: field, Reason: reason})
}

// elementField names element i of an array member, built only for a
// cause: a valid client costs no formatting.
func elementField(member string, i int) string { return member + "/" + strconv.Itoa(i) }

func (v *validator) illegal(field, reason string) { v.add(apierrors.KindIllegalValue, field, reason) }
func (v *validator) length(field, reason string)  { v.add(apierrors.KindLength, field, reason) }

// text checks an optional free-text member. Multi-line members may hold tabs
// and line breaks; no member may hold any other control character.
func (v *validator) text(field string, s *string, max int, multiline bool) {
	if s == nil {
		return
	}
	if utf8.RuneCountInString(*s) > max {
		v.length(field, fmt.Sprintf("must be at most %d characters", max))
	}
	bad := func(r rune) bool {
		if multiline && (r == '\t' || r == '\n' || r == '\r') {
			return false
		}
		return unicode.IsControl(r)
	}
	if strings.ContainsFunc(*s, bad) {
		v.illegal(field, "must not contain control characters")
	}
}

// ValidScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func ValidScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == 0x22 || b == 0x5c {
			return false
		}
	}
	return true
}

func isHTTPURL(s string) bool {
	if strings.ContainsFunc(s, unicode.IsControl) || strings.ContainsAny(s, " ") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// redirectURIProblem returns why u is not an acceptable redirect URI, or "".
// RFC 6749 §3.1.2 and RFC 8252 §7: absolute, no fragment; https anywhere,
// http only on a loopback host, or a private-use scheme containing a dot.
func redirectURIProblem(u string) string {
	if strings.ContainsFunc(u, unicode.IsControl) || strings.ContainsAny(u, " ") {
		return "must not contain spaces or control characters"
	}
	p, err := url.Parse(u)
	if err != nil || !p.IsAbs() {
		return "must be an absolute URI"
	}
	if p.Fragment != "" || strings.Contains(u, "#") {
		return "must not contain a fragment"
	}
	switch p.Scheme {
	case "https":
		if p.Host == "" || p.Hostname() == "" {
			return "must be an absolute https URI with a host"
		}
	case "http":
		if !isLoopback(p.Hostname()) {
			return "must be an absolute https URI; http is allowed only on a loopback host"
		}
	default:
		if !strings.Contains(p.Scheme, ".") {
			return "must be an absolute https URI, a loopback http URI or a private-use scheme with a dot"
		}
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}
