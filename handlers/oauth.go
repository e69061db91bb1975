package handlers

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

const (
	grantClientCredentials = "client_credentials"
	// maxFormBytes bounds the body of the OAuth endpoints.
	maxFormBytes = 16 << 10
	// lastUsedEvery is how often lastUsed is written per client, at most.
	lastUsedEvery = 24 * time.Hour
)

// oauthError is RFC 6749 §5.2's error response.
type oauthError struct {
	status      int
	code        string
	description string
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func (e *oauthError) write(c echo.Context) {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	if e.status == http.StatusUnauthorized {
		h.Set(echo.HeaderWWWAuthenticate, `Basic realm="clientele"`)
	}
	_ = c.JSON(e.status, map[string]string{"error": e.code, "error_description": e.description})
}

func invalidRequest(desc string) error {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", description: desc}
}

// invalidClient is the 401 of a failed client authentication; write adds
// the Basic challenge RFC 6749 §5.2 asks for.
func invalidClient() error {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client",
		description: "client authentication failed"}
}

// tokenResponse is RFC 6749 §5.1's successful response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// createToken answers POST /oauth/token for the client-credentials grant
// (RFC 6749 §4.4).
func (s *Server) createToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	grant := form.Get("grant_type")
	if grant == "" {
		return invalidRequest("grant_type is required")
	}
	cl, err := s.authenticateClient(c, form)
	if err != nil {
		return err
	}
	if grant != grantClientCredentials {
		return &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type",
			description: "only client_credentials is supported"}
	}
	if cl.Type != models.TypeConfidential || !cl.HasGrant(models.GrantClientCredentials) {
		return &oauthError{status: http.StatusBadRequest, code: "unauthorized_client",
			description: "the client may not use the client_credentials grant"}
	}
	scope, err := grantedScope(&cl, form.Get("scope"))
	if err != nil {
		return err
	}
	now := s.now()
	raw, claims, err := s.tokens.Issue(&cl, scope, now)
	if err != nil {
		return err
	}
	if s.metrics != nil {
		s.metrics.tokensIssued.Inc()
	}
	if cl.LastUsed == nil || now.Sub(*cl.LastUsed) >= lastUsedEvery {
		if err := s.store.TouchLastUsed(c.Request().Context(), cl.ID, now); err != nil {
			s.log.Warn("recording lastUsed", "trackingId", trackingID(c), "clientId", cl.ID, "error", err.Error())
		}
	}
	c.Set(ctxCaller, &caller{ClientID: cl.ID})
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	return writeJSON(c, http.StatusOK, tokenResponse{
		AccessToken: raw,
		TokenType:   "Bearer",
		ExpiresIn:   int(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second),
		Scope:       strings.Join(claims.Scope, " "),
	})
}

// grantedScope is the requested scope when the client holds all of it, else
// invalid_scope; with none requested, all of the client's scope.
func grantedScope(cl *models.OAuthClient, requested string) ([]string, error) {
	if strings.TrimSpace(requested) == "" {
		return cl.Scope, nil
	}
	holder := caller{ClientID: cl.ID, Scope: cl.Scope}
	var out []string
	for _, sc := range strings.Fields(requested) {
		if !models.ValidScopeToken(sc) || !holder.Holds(sc) {
			return nil, &oauthError{status: http.StatusBadRequest, code: "invalid_scope",
				description: "the client does not hold the scope " + sc}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// introspectResponse is RFC 7662 §2.2's response.
type introspectResponse struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Subject   string `json:"sub,omitempty"`
	ExpiresAt int64  `json:"exp,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
	TokenType string `json:"token_type,omitempty"`
}

// introspectToken answers POST /oauth/introspect (RFC 7662) for an
// authenticated client.
func (s *Server) introspectToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	if _, err := s.authenticateClient(c, form); err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return invalidRequest("token is required")
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	ctx := c.Request().Context()
	claims, err := s.tokens.Verify(ctx, raw, s.now())
	if err == nil {
		err = s.tracker.Check(ctx, claims)
		if err != nil && !isTokenRejection(err) {
			return apierrors.NewUnavailable(err)
		}
	}
	if err != nil {
		return writeJSON(c, http.StatusOK, introspectResponse{Active: false})
	}
	return writeJSON(c, http.StatusOK, introspectResponse{
		Active:    true,
		Scope:     strings.Join(claims.Scope, " "),
		ClientID:  claims.ClientID,
		Subject:   claims.Subject,
		ExpiresAt: claims.ExpiresAt.Unix(),
		IssuedAt:  claims.IssuedAt.Unix(),
		Issuer:    claims.Issuer,
		JTI:       claims.JTI,
		TokenType: "Bearer",
	})
}

// revokeToken answers POST /oauth/revoke (RFC 7009). A client may revoke
// only its own tokens; anything else, and invalid tokens, are answered 200
// and ignored, as §2.2 requires.
func (s *Server) revokeToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	cl, err := s.authenticateClient(c, form)
	if err != nil {
		return err
	}
	raw := form.Get("token")
	if raw == "" {
		return invalidRequest("token is required")
	}
	ctx := c.Request().Context()
	claims, err := s.tokens.Verify(ctx, raw, s.now())
	if err != nil || claims.ClientID != cl.ID {
		return c.NoContent(http.StatusOK)
	}
	ev := models.TokenEvent{ClientID: claims.ClientID, JTI: claims.JTI, ExpiresAt: claims.ExpiresAt, Created: s.now()}
	if err := s.store.RevokeToken(ctx, ev); err != nil {
		return err
	}
	s.tracker.Revoked(claims.JTI, claims.ExpiresAt)
	return c.NoContent(http.StatusOK)
}

// authenticateClient authenticates the calling client by HTTP Basic
// (client_secret_basic, with RFC 6749 §2.3.1's form-encoding) or by the form
// (client_secret_post), never both. Failures are counted per remote address.
func (s *Server) authenticateClient(c echo.Context, form url.Values) (models.OAuthClient, error) {
	addr := c.RealIP()
	if s.authFailures != nil {
		if blocked, retry := s.authFailures.Blocked(addr); blocked {
			return models.OAuthClient{}, &rateLimitedError{retryAfter: retry}
		}
	}
	id, secret, err := clientCredentials(c.Request(), form)
	if err != nil {
		return models.OAuthClient{}, err
	}
	cl, err := s.store.GetClient(c.Request().Context(), id)
	if err != nil && !apierrors.IsNotFound(err) {
		return models.OAuthClient{}, err
	}
	// Compare even for an unknown id, so timing does not tell ids apart.
	stored := cl.SecretHash
	if len(stored) == 0 {
		stored = make([]byte, 32)
	}
	ok := err == nil && len(cl.SecretHash) > 0 &&
		subtle.ConstantTimeCompare(HashSecret(secret), stored) == 1 && cl.Enabled
	if !ok {
		if s.authFailures != nil {
			s.authFailures.Allow(addr)
		}
		return models.OAuthClient{}, invalidClient()
	}
	return cl, nil
}

// clientCredentials extracts the client id and secret of a request.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, err error) {
	h := r.Header.Get(echo.HeaderAuthorization)
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if h != "" {
		scheme, payload, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Basic") {
			return "", "", invalidClient()
		}
		if formSecret != "" {
			return "", "", invalidRequest("use one client authentication method, not both")
		}
		dec, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
		if derr != nil {
			return "", "", invalidClient()
		}
		rawID, rawSecret, ok := strings.Cut(string(dec), ":")
		if !ok {
			return "", "", invalidClient()
		}
		id, err1 := url.QueryUnescape(rawID)
		secret, err2 := url.QueryUnescape(rawSecret)
		if err1 != nil || err2 != nil || id == "" || (formID != "" && formID != id) {
			return "", "", invalidClient()
		}
		return id, secret, nil
	}
	if formID == "" || formSecret == "" {
		return "", "", invalidClient()
	}
	return formID, formSecret, nil
}

// readForm reads the form of an OAuth endpoint: urlencoded or, as
// SailPoint's SDKs send it, multipart. A parameter sent twice is an error
// (RFC 6749 §3.2).
func readForm(c echo.Context) (url.Values, error) {
	r := c.Request()
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded or multipart/form-data")
	}
	var form url.Values
	switch mt {
	case echo.MIMEApplicationForm:
		body, err := readBody(c, maxFormBytes)
		if err != nil {
			if apierrors.IsPayloadTooLarge(err) {
				return nil, invalidRequest("the body is too large")
			}
			return nil, invalidRequest("the body could not be read")
		}
		form, err = url.ParseQuery(string(body))
		if err != nil {
			return nil, invalidRequest("the form is not valid")
		}
	case echo.MIMEMultipartForm:
		if params["boundary"] == "" {
			return nil, invalidRequest("the multipart form has no boundary")
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxFormBytes)
		if err := r.ParseMultipartForm(maxFormBytes); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, invalidRequest("the body is too large")
			}
			return nil, invalidRequest("the multipart form is not valid")
		}
		defer r.MultipartForm.RemoveAll()
		if len(r.MultipartForm.File) > 0 {
			return nil, invalidRequest("files are not accepted")
		}
		form = url.Values(r.MultipartForm.Value)
	default:
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded or multipart/form-data")
	}
	for name, vs := range form {
		if len(vs) > 1 {
			return nil, invalidRequest(name + " is sent more than once")
		}
	}
	return form, nil
}

// getJwks answers GET /.well-known/jwks.json with the public signing keys.
func (s *Server) getJwks(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.JSONBlob(http.StatusOK, s.keys.JWKS())
}

// authorizationServerMetadata is RFC 8414's document.
type authorizationServerMetadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
}

// getAuthorizationServerMetadata answers GET
// /.well-known/oauth-authorization-server (RFC 8414).
func (s *Server) getAuthorizationServerMetadata(c echo.Context) error {
	base := strings.TrimSuffix(s.issuer, "/")
	methods := []string{"client_secret_basic", "client_secret_post"}
	return writeJSON(c, http.StatusOK, authorizationServerMetadata{
		Issuer:                            s.issuer,
		TokenEndpoint:                     base + "/oauth/token",
		JWKSURI:                           base + "/.well-known/jwks.json",
		IntrospectionEndpoint:             base + "/oauth/introspect",
		RevocationEndpoint:                base + "/oauth/revoke",
		GrantTypesSupported:               []string{grantClientCredentials},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: methods,
		IntrospectionAuthMethodsSupported: methods,
		RevocationAuthMethodsSupported:    methods,
		ScopesSupported:                   []string{models.ScopeAll, models.ScopeDefault, models.ScopeRead, models.ScopeManage},
	})
}
