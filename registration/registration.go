// Package registration is dynamic client registration without HTTP (SPEC
// §12): RFC 7591 client metadata mapped onto the members of a client by one
// table (metadata.go), the RFC 7592 registration access token, and the rule
// of which scopes a registration may ask for. Its refusals are
// *authserver.Error values with the codes of RFC 7591 §3.2.2; the HTTP
// layer authenticates callers, stores clients and renders answers.
package registration

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/models"
)

// Mode is the --registration setting.
type Mode string

// The modes of SPEC §12.
const (
	// Off serves no registration endpoint: they answer 404 as any unknown
	// route does.
	Off Mode = "off"
	// Token registers clients for holders of an initial access token, a
	// Clientele access token with sp:oauth-client:manage, who may give the
	// new client only scopes the token holds.
	Token Mode = "token"
	// Open registers a client for anyone, with only sp:scopes:default.
	Open Mode = "open"
)

// ParseMode reads a --registration value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Off, Token, Open:
		return m, nil
	}
	return "", fmt.Errorf("%q: want off, token or open", s)
}

// OpenActor is the actor of the created event of a client registered in
// open mode, where no caller is known (SPEC §10).
const OpenActor = "open-registration"

// NewAccessToken returns a new registration access token, 256 random bits
// as 43 characters of base64url, and the hash the store keeps.
func NewAccessToken() (string, []byte, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, HashAccessToken(tok), nil
}

// HashAccessToken is the stored form of a registration access token. A
// token is 256 random bits, so a fast hash is as strong as a slow one.
func HashAccessToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// AccessTokenMatches reports, in constant time, whether tok is cl's
// registration access token. A client registered otherwise has none and
// matches nothing.
func AccessTokenMatches(cl *models.OAuthClient, tok string) bool {
	want := cl.RegistrationTokenHash
	if len(want) != sha256.Size {
		want = make([]byte, sha256.Size)
		subtle.ConstantTimeCompare(HashAccessToken(tok), want)
		return false
	}
	return subtle.ConstantTimeCompare(HashAccessToken(tok), want) == 1
}

// CheckScope refuses scopes a registration may not give: in Open mode any
// but sp:scopes:default, in Token mode any the initial access token, whose
// scopes are held, does not hold.
func CheckScope(cl *models.OAuthClient, mode Mode, held []string) error {
	for _, sc := range cl.Scope {
		switch {
		case mode == Open && sc != models.ScopeDefault:
			return invalid("scope: open registration grants only " + models.ScopeDefault + "; " +
				strconv.Quote(sc) + " needs an initial access token")
		case mode != Open && !authserver.Holds(held, sc):
			return invalid("scope: the initial access token does not hold " + strconv.Quote(sc))
		}
	}
	return nil
}

func invalid(description string) error {
	return authserver.NewError(authserver.InvalidClientMetadata, description)
}
