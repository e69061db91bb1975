package authserver

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// Method is a client authentication method, as RFC 8414's
// token_endpoint_auth_methods_supported names it. Authenticate picks the
// method a request uses and checks the credentials by that method alone.
type Method string

// The client authentication methods the server accepts.
const (
	// MethodSecretBasic is the secret in HTTP Basic (RFC 6749 §2.3.1).
	MethodSecretBasic Method = "client_secret_basic"
	// MethodSecretPost is client_id and client_secret in the form.
	MethodSecretPost Method = "client_secret_post"
)

// Methods returns the names of the methods Authenticate accepts, for RFC
// 8414 metadata.
func Methods() []string {
	return []string{string(MethodSecretBasic), string(MethodSecretPost)}
}

// ClientAuth is what a request to a token, introspection or revocation
// endpoint says about its client, as the HTTP layer read it.
type ClientAuth struct {
	// Authorization is the Authorization header; "" when absent.
	Authorization string
	// ClientID and ClientSecret are the form's client_id and client_secret.
	ClientID, ClientSecret string
	// RemoteAddr is the address the request came from, as far as trusted
	// proxies say; failed attempts are counted against it and the client id.
	RemoteAddr string
}

// credentials are the client's claim, once its method is known.
type credentials struct {
	method   Method
	clientID string
	secret   string
}

// credentials picks the one authentication method a request uses: HTTP
// Basic, with RFC 6749 §2.3.1's form-encoding, or the form, never both.
func (a ClientAuth) credentials() (credentials, error) {
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
		return credentials{method: MethodSecretBasic, clientID: id, secret: secret}, nil
	}
	if a.ClientID == "" || a.ClientSecret == "" {
		return credentials{}, invalidClient()
	}
	return credentials{method: MethodSecretPost, clientID: a.ClientID, secret: a.ClientSecret}, nil
}

// Authenticate returns the enabled client a request authenticates as.
// Refusals are *Error (invalid_client; invalid_request for two methods at
// once) or, while this client id has failed too often from this address,
// *TooManyFailuresError; a store failure is returned as it is.
//
// Failures are counted per (client id, remote address), so that failures
// from one address lock out neither another client there nor the same
// client elsewhere. Requests naming no client id, or one no client can
// have, protect no client and are not counted.
func (s *Server) Authenticate(ctx context.Context, a ClientAuth) (models.OAuthClient, error) {
	cr, err := a.credentials()
	if err != nil {
		return models.OAuthClient{}, err
	}
	key := a.RemoteAddr + " " + cr.clientID
	if blocked, retry := s.failures.Blocked(key); blocked {
		return models.OAuthClient{}, &TooManyFailuresError{RetryAfter: retry}
	}
	cl, err := s.store.GetClient(ctx, cr.clientID)
	if err != nil && !apierrors.IsNotFound(err) {
		return models.OAuthClient{}, err
	}
	found := err == nil
	var ok bool
	switch cr.method {
	case MethodSecretBasic, MethodSecretPost:
		ok = secretMatches(&cl, cr.secret) && found
	}
	if !ok || !cl.Enabled {
		if models.ValidID(cr.clientID) {
			s.failures.Allow(key)
		}
		return models.OAuthClient{}, invalidClient()
	}
	return cl, nil
}

// secretMatches compares secret with every live secret of cl in constant
// time, and compares even when cl has none (an unknown or public client),
// so that timing tells neither ids nor secrets apart.
func secretMatches(cl *models.OAuthClient, secret string) bool {
	hash := HashSecret(secret)
	stored := cl.SecretHash
	live := len(stored) > 0
	if !live {
		stored = make([]byte, len(hash))
	}
	return subtle.ConstantTimeCompare(hash, stored) == 1 && live
}
