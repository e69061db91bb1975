package authserver

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/clientele/clientele/clientkeys"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// Methods returns the names of the methods Authenticate accepts, for RFC
// 8414 metadata.
func Methods() []string {
	return []string{string(models.AuthSecretBasic), string(models.AuthSecretPost), string(models.AuthPrivateKeyJWT)}
}

// ClientAuth is what a request to a token, introspection or revocation
// endpoint says about its client, as the HTTP layer read it.
type ClientAuth struct {
	// Authorization is the Authorization header; "" when absent.
	Authorization string
	// ClientID and ClientSecret are the form's client_id and client_secret.
	ClientID, ClientSecret string
	// AssertionType and Assertion are the form's client_assertion_type and
	// client_assertion (RFC 7523 §2.2).
	AssertionType, Assertion string
	// RemoteAddr is the address the request came from, as far as trusted
	// proxies say; failed attempts are counted against it and the client id.
	RemoteAddr string
}

// Authenticated is a client that proved who it is, and how.
type Authenticated struct {
	Client models.OAuthClient
	Method models.AuthMethod
	// SecretID is the secret it authenticated with; "" for a key.
	SecretID string
}

// credentials are the client's claim, once its method is known.
type credentials struct {
	method   models.AuthMethod
	clientID string
	secret   string
	// assertion is the client assertion, parsed once (private_key_jwt).
	assertion clientkeys.Unverified
}

// credentials picks the one authentication method a request uses: HTTP
// Basic (with RFC 6749 §2.3.1's form-encoding), client_secret in the form,
// or a client assertion in the form — never two at once.
func (a ClientAuth) credentials() (credentials, error) {
	if a.AssertionType != "" || a.Assertion != "" {
		if a.Authorization != "" || a.ClientSecret != "" {
			return credentials{}, NewError(InvalidRequest, "use one client authentication method, not both")
		}
		if a.AssertionType != clientkeys.AssertionType {
			return credentials{}, NewError(InvalidClient, "client_assertion_type must be "+clientkeys.AssertionType)
		}
		u := clientkeys.Inspect(a.Assertion)
		if u.Issuer == "" || (a.ClientID != "" && a.ClientID != u.Issuer) {
			return credentials{}, NewError(InvalidClient, "the client assertion's iss must be the client id")
		}
		return credentials{method: models.AuthPrivateKeyJWT, clientID: u.Issuer, assertion: u}, nil
	}
	if a.Authorization != "" {
		scheme, payload, _ := strings.Cut(a.Authorization, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return credentials{}, invalidClient()
		}
		if a.ClientSecret != "" {
			return credentials{}, NewError(InvalidRequest, "use one client authentication method, not both")
		}
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
		if err != nil {
			return credentials{}, invalidClient()
		}
		rawID, rawSecret, ok := strings.Cut(string(dec), ":")
		if !ok {
			return credentials{}, invalidClient()
		}
		id, err1 := url.QueryUnescape(rawID)
		secret, err2 := url.QueryUnescape(rawSecret)
		if err1 != nil || err2 != nil || id == "" || (a.ClientID != "" && a.ClientID != id) {
			return credentials{}, invalidClient()
		}
		return credentials{method: models.AuthSecretBasic, clientID: id, secret: secret}, nil
	}
	if a.ClientID == "" || a.ClientSecret == "" {
		return credentials{}, invalidClient()
	}
	return credentials{method: models.AuthSecretPost, clientID: a.ClientID, secret: a.ClientSecret}, nil
}

// Authenticate returns the enabled client a request authenticates as, by
// a method in the client's tokenEndpointAuthMethods and only by those.
// Refusals are *Error (invalid_client; invalid_request for two methods at
// once) or, while this client id has failed too often from this address,
// *TooManyFailuresError; a store failure is returned as it is.
//
// Failures are counted per (client id, remote address), so that failures
// from one address lock out neither another client there nor the same
// client elsewhere. Requests naming no client id, or one no client can
// have, protect no client and are not counted.
func (s *Server) Authenticate(ctx context.Context, a ClientAuth) (Authenticated, error) {
	cr, err := a.credentials()
	if err != nil {
		return Authenticated{}, err
	}
	key := a.RemoteAddr + " " + cr.clientID
	if blocked, retry := s.failures.Blocked(key); blocked {
		return Authenticated{}, &TooManyFailuresError{RetryAfter: retry}
	}
	out, err := s.authenticate(ctx, cr)
	var refused *Error
	if errors.As(err, &refused) && models.ValidID(cr.clientID) {
		s.failures.Allow(key)
	}
	return out, err
}

func (s *Server) authenticate(ctx context.Context, cr credentials) (Authenticated, error) {
	cl, err := s.store.GetClient(ctx, cr.clientID)
	if err != nil && !apierrors.IsNotFound(err) {
		return Authenticated{}, err
	}
	found := err == nil
	out := Authenticated{Client: cl, Method: cr.method}
	if cr.method == models.AuthPrivateKeyJWT {
		if !found || !cl.Enabled || !cl.HasAuthMethod(models.AuthPrivateKeyJWT) {
			return Authenticated{}, invalidClient()
		}
		return out, s.verifyAssertion(ctx, &cl, cr.assertion)
	}
	var ok bool
	out.SecretID, ok = s.secretMatches(&cl, cr.secret)
	if !ok || !found || !cl.Enabled || !cl.HasAuthMethod(cr.method) {
		return Authenticated{}, invalidClient()
	}
	return out, nil
}

// secretMatches compares secret with the live secrets of cl at the
// server's now; see SecretMatches.
func (s *Server) secretMatches(cl *models.OAuthClient, secret string) (string, bool) {
	return SecretMatches(cl, secret, s.now())
}

// SecretMatches compares secret with the live secrets of cl at now in
// constant time, always as many comparisons (unknown and public clients
// too), so that timing tells neither ids nor secrets apart. It returns the
// id of the secret that matched.
func SecretMatches(cl *models.OAuthClient, secret string, now time.Time) (string, bool) {
	hash := HashSecret(secret)
	var matched string
	zero := make([]byte, len(hash))
	for i := range models.MaxLiveSecrets {
		stored, live := zero, false
		if i < len(cl.Secrets) && cl.Secrets[i].LiveAt(now) && len(cl.Secrets[i].Hash) == len(hash) {
			stored, live = cl.Secrets[i].Hash, true
		}
		if subtle.ConstantTimeCompare(hash, stored) == 1 && live {
			matched = cl.Secrets[i].ID
		}
	}
	return matched, matched != ""
}

// verifyAssertion checks a client assertion of cl (RFC 7523, SPEC §6):
// signed by a key of its jwks or jwksUri and never seen before by any
// server sharing the store.
func (s *Server) verifyAssertion(ctx context.Context, cl *models.OAuthClient, a clientkeys.Unverified) error {
	kid, err := a.KeyID()
	if err != nil {
		return assertionError(err)
	}
	var set clientkeys.Set
	switch {
	case cl.JWKS != nil:
		set, err = s.sets.Parse(cl.JWKS)
	case cl.JWKSURI != nil && s.fetcher != nil:
		set, err = s.fetcher.Keys(ctx, *cl.JWKSURI, kid)
	default:
		return NewError(InvalidClient, "the client has no keys: set jwks or jwksUri")
	}
	if err != nil {
		return assertionError(err)
	}
	got, err := a.Verify(cl.ID, s.audiences, set, s.now())
	if err != nil {
		return assertionError(err)
	}
	if err := s.store.RecordAssertion(ctx, cl.ID, got.JTI, got.Expires); err != nil {
		if errors.Is(err, clientkeys.ErrReplayed) {
			return NewError(InvalidClient, "the client assertion was used before (jti)")
		}
		return err
	}
	return nil
}

// assertionError is invalid_client naming the reason of a refused
// assertion or key set.
func assertionError(err error) error {
	var ke *clientkeys.Error
	if errors.As(err, &ke) {
		return NewError(InvalidClient, ke.Reason)
	}
	return NewError(InvalidClient, "the client's keys cannot be read")
}
