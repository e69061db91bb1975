package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/registration"
)

// The endpoints of dynamic client registration (SPEC §12): RFC 7591's
// register and RFC 7592's read, replace and delete, served only when
// --registration is not off. Their refusals are RFC-shaped: 400 with
// {error, error_description} (RFC 7591 §3.2.2), 401 and 403 with
// WWW-Authenticate: Bearer (RFC 6750 §3); only 413 and the store's faults
// keep the envelope.

// registerOauthClient answers POST /oauth/register (RFC 7591): 201 with
// the client's credentials, its registration access token and its
// metadata as stored.
func (s *Server) registerOauthClient(c echo.Context) error {
	ctx := c.Request().Context()
	actor, limitKey := registration.OpenActor, "register "+c.RealIP()
	var held []string
	if s.registration == registration.Token {
		claims, err := s.initialAccessToken(c)
		if err != nil {
			return err
		}
		actor, limitKey, held = claims.ClientID, claims.ClientID, claims.Scope
	}
	if s.rateLimit != nil {
		if ok, retry := s.rateLimit.Allow(limitKey); !ok {
			return &rateLimitedError{retryAfter: retry}
		}
	}
	req, err := registrationRequest(c)
	if err != nil {
		return err
	}
	id, err := newClientID()
	if err != nil {
		return err
	}
	cl, err := req.NewClient(id)
	if err != nil {
		return err
	}
	if err := registration.CheckScope(&cl, s.registration, held); err != nil {
		return err
	}
	issued := registration.Issued{ClientURI: s.registrationURI(id)}
	if cl.AuthenticatesBySecret() {
		value, record, err := authserver.MintSecret(s.now(), nil)
		if err != nil {
			return err
		}
		cl.Secrets, issued.Secret = []models.Secret{record}, value
	}
	if issued.AccessToken, cl.RegistrationTokenHash, err = registration.NewAccessToken(); err != nil {
		return err
	}
	ctx = events.WithOrigin(ctx, events.Origin{Actor: actor, TrackingID: trackingID(c)})
	stored, err := s.store.CreateClient(ctx, cl, models.WriteOptions{})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, issued.ClientURI)
	return s.writeRegistration(c, http.StatusCreated, &stored, issued)
}

// getRegisteredOauthClient answers GET /oauth/register/{id} (RFC 7592
// §2.1) for the holder of the client's registration access token.
func (s *Server) getRegisteredOauthClient(c echo.Context) error {
	cl, _, err := s.registeredClient(c)
	if err != nil {
		return err
	}
	return s.writeRegistration(c, http.StatusOK, &cl, registration.Issued{ClientURI: s.registrationURI(cl.ID)})
}

// replaceRegisteredOauthClient answers PUT /oauth/register/{id} (RFC 7592
// §2.2): the registration metadata replaced, and a new registration access
// token, which ends the one the request was made with.
func (s *Server) replaceRegisteredOauthClient(c echo.Context) error {
	cl, tok, err := s.registeredClient(c)
	if err != nil {
		return err
	}
	req, err := registrationRequest(c)
	if err != nil {
		return err
	}
	issued := registration.Issued{ClientURI: s.registrationURI(cl.ID)}
	var hash []byte
	if issued.AccessToken, hash, err = registration.NewAccessToken(); err != nil {
		return err
	}
	ctx := events.WithType(c.Request().Context(), events.Replaced)
	updated, err := s.store.UpdateClient(ctx, cl.ID, func(cur *models.OAuthClient) error {
		// A concurrent replacement may have rotated the token meanwhile.
		if !registration.AccessTokenMatches(cur, tok) {
			return wrongRegistrationToken()
		}
		if err := req.CheckReplacement(cur, s.now()); err != nil {
			return err
		}
		next, err := req.Replaced(cur, s.now())
		if err != nil {
			return err
		}
		next.RegistrationTokenHash = hash
		*cur = next
		return nil
	}, models.WriteOptions{})
	if apierrors.IsNotFound(err) {
		return wrongRegistrationToken()
	}
	if err != nil {
		return err
	}
	s.tracker.ClientChanged(updated)
	return s.writeRegistration(c, http.StatusOK, &updated, issued)
}

// deleteRegisteredOauthClient answers DELETE /oauth/register/{id} (RFC
// 7592 §2.3): 204, and the client, its tokens and its registration access
// token are gone.
func (s *Server) deleteRegisteredOauthClient(c echo.Context) error {
	cl, tok, err := s.registeredClient(c)
	if err != nil {
		return err
	}
	err = s.store.DeleteClient(c.Request().Context(), cl.ID, func(cur *models.OAuthClient) error {
		if !registration.AccessTokenMatches(cur, tok) {
			return wrongRegistrationToken()
		}
		return nil
	})
	if apierrors.IsNotFound(err) {
		return wrongRegistrationToken()
	}
	if err != nil {
		return err
	}
	s.tracker.ClientDeleted(cl.ID)
	return c.NoContent(http.StatusNoContent)
}

// initialAccessToken admits a registration in token mode: a live Clientele
// access token with sp:oauth-client:manage (RFC 7591 §3). The caller is
// the token's client, with the scopes the token holds.
func (s *Server) initialAccessToken(c echo.Context) (caller, error) {
	raw, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
	if !ok {
		return caller{}, &bearerError{status: http.StatusUnauthorized, code: "invalid_token",
			description: "an initial access token is required: a Clientele access token with " + models.ScopeManage}
	}
	claims, err := s.auth.ValidateToken(c.Request().Context(), raw)
	var invalid *authserver.InvalidTokenError
	if errors.As(err, &invalid) {
		return caller{}, &bearerError{status: http.StatusUnauthorized, code: "invalid_token",
			description: "invalid initial access token: " + invalid.Error()}
	}
	if err != nil {
		return caller{}, err
	}
	if !authserver.Holds(claims.Scope, models.ScopeManage) {
		return caller{}, &bearerError{status: http.StatusForbidden, code: "insufficient_scope",
			description: "the initial access token needs the scope " + models.ScopeManage + " or " + models.ScopeAll}
	}
	return caller{ClientID: claims.ClientID, Scope: claims.Scope}, nil
}

// registeredClient authorises an RFC 7592 request: the bearer token must
// be the registration access token of the client of the path. An unknown
// client is the same 401 as a wrong token (RFC 7592 §3), so the answer
// tells nothing about which clients exist. Writes that follow record the
// client itself as their actor.
func (s *Server) registeredClient(c echo.Context) (models.OAuthClient, string, error) {
	raw, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
	if !ok {
		return models.OAuthClient{}, "", &bearerError{status: http.StatusUnauthorized, code: "invalid_token",
			description: "the client's registration access token is required"}
	}
	cl, err := s.store.GetClient(c.Request().Context(), c.Param("id"))
	if apierrors.IsNotFound(err) || (err == nil && !registration.AccessTokenMatches(&cl, raw)) {
		return models.OAuthClient{}, "", wrongRegistrationToken()
	}
	if err != nil {
		return models.OAuthClient{}, "", err
	}
	ctx := events.WithOrigin(c.Request().Context(), events.Origin{Actor: cl.ID, TrackingID: trackingID(c)})
	c.SetRequest(c.Request().WithContext(ctx))
	return cl, raw, nil
}

func wrongRegistrationToken() error {
	return &bearerError{status: http.StatusUnauthorized, code: "invalid_token",
		description: "not the registration access token of this client, or no longer valid"}
}

// registrationRequest reads an RFC 7591 body: application/json, at most
// 64 KiB (more is 413), a JSON object.
func registrationRequest(c echo.Context) (registration.Request, error) {
	if _, err := requireMediaType(c, echo.MIMEApplicationJSON); err != nil {
		return registration.Request{}, authserver.NewError(authserver.InvalidClientMetadata,
			"the body must be client metadata as application/json")
	}
	body, err := readBody(c, maxBodyBytes)
	if apiErr, ok := apierrors.From(err); ok && apiErr.Status == http.StatusRequestEntityTooLarge {
		return registration.Request{}, err
	}
	if err != nil {
		return registration.Request{}, authserver.NewError(authserver.InvalidClientMetadata, "the body could not be read as UTF-8 JSON")
	}
	return registration.ParseRequest(body)
}

// registrationURI is a client's registration_client_uri.
func (s *Server) registrationURI(id string) string {
	return strings.TrimSuffix(s.issuer, "/") + "/oauth/register/" + id
}

// writeRegistration answers with the registration response; it may hold
// credentials, so no cache keeps it (RFC 7591 §3.2.1).
func (s *Server) writeRegistration(c echo.Context, status int, cl *models.OAuthClient, issued registration.Issued) error {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	return writeJSON(c, status, registration.Response(cl, issued, s.now()))
}

// bearerError is RFC 6750 §3's refusal of a bearer token: 401 or 403, the
// code in WWW-Authenticate and {error, error_description} in the body.
type bearerError struct {
	status            int
	code, description string
}

func (e *bearerError) Error() string { return e.code + ": " + e.description }

func (e *bearerError) write(c echo.Context) {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="clientele", error="`+e.code+
		`", error_description="`+strings.ReplaceAll(e.description, `"`, `'`)+`"`)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	_ = c.JSON(e.status, map[string]string{"error": e.code, "error_description": e.description})
}
