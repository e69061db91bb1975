package handlers

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/clientkeys"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/registration"
)

// maxFormBytes bounds the body of the OAuth endpoints.
const maxFormBytes = 16 << 10

// writeOAuthError renders a refusal of the authorization server as RFC 6749
// §5.2's answer: 401 with a Basic challenge for invalid_client, 400 for
// every other code.
func writeOAuthError(c echo.Context, e *authserver.Error) {
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	status := http.StatusBadRequest
	if e.Code == authserver.InvalidClient {
		status = http.StatusUnauthorized
		h.Set(echo.HeaderWWWAuthenticate, `Basic realm="clientele"`)
	}
	_ = c.JSON(status, map[string]string{"error": string(e.Code), "error_description": e.Description})
}

func invalidRequest(desc string) error {
	return authserver.NewError(authserver.InvalidRequest, desc)
}

// clientAuth is what a request says about its client, for the
// authorization server to check.
func clientAuth(c echo.Context, form url.Values) authserver.ClientAuth {
	return authserver.ClientAuth{
		Authorization: c.Request().Header.Get(echo.HeaderAuthorization),
		ClientID:      form.Get("client_id"),
		ClientSecret:  form.Get("client_secret"),
		AssertionType: form.Get("client_assertion_type"),
		Assertion:     form.Get("client_assertion"),
		RemoteAddr:    c.RealIP(),
	}
}

// tokenResponse is RFC 6749 §5.1's successful response.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
}

// repeatable are the form parameters that may be sent more than once: RFC
// 8707's resource, and audience alike.
var repeatable = map[string]bool{"resource": true, "audience": true}

// createToken answers POST /oauth/token (RFC 6749 §4.4).
func (s *Server) createToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	issued, err := s.auth.Grant(c.Request().Context(), authserver.TokenRequest{
		Client:    clientAuth(c, form),
		GrantType: form.Get("grant_type"),
		Scope:     form.Get("scope"),
		Resources: form["resource"],
		Audiences: form["audience"],
	})
	if err != nil {
		return err
	}
	if s.metrics != nil {
		s.metrics.tokensIssued.Inc()
	}
	if issued.LastUsedErr != nil {
		s.log.Warn("recording lastUsed", "trackingId", trackingID(c), "clientId", issued.Client.ID, "error", issued.LastUsedErr.Error())
	}
	setCaller(c, caller{ClientID: issued.Client.ID})
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Pragma", "no-cache")
	claims := issued.Claims
	return writeJSON(c, http.StatusOK, tokenResponse{
		AccessToken: issued.Token,
		TokenType:   "Bearer",
		ExpiresIn:   int(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second),
		Scope:       strings.Join(claims.Scope, " "),
	})
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
	// Audience is aud: one string, or an array when there are several.
	Audience  any    `json:"aud,omitempty"`
	JTI       string `json:"jti,omitempty"`
	TokenType string `json:"token_type,omitempty"`
}

// introspectToken answers POST /oauth/introspect (RFC 7662).
func (s *Server) introspectToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	// Every answer about a token, a 503 included, is no-store.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	claims, active, err := s.auth.Introspect(c.Request().Context(), clientAuth(c, form), form.Get("token"))
	if err != nil {
		return err
	}
	if !active {
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
		Audience:  audValue(claims.Audience),
		JTI:       claims.JTI,
		TokenType: "Bearer",
	})
}

// audValue is aud as RFC 7519 §4.1.3 writes it: a string for one value, an
// array for several, nothing for none (a token issued before aud was).
func audValue(aud []string) any {
	switch len(aud) {
	case 0:
		return nil
	case 1:
		return aud[0]
	}
	return aud
}

// revokeToken answers POST /oauth/revoke (RFC 7009): 200 whether or not
// there was a token of the client's to revoke.
func (s *Server) revokeToken(c echo.Context) error {
	form, err := readForm(c)
	if err != nil {
		return err
	}
	if err := s.auth.Revoke(c.Request().Context(), clientAuth(c, form), form.Get("token")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
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
		if len(vs) > 1 && !repeatable[name] {
			return nil, invalidRequest(name + " is sent more than once")
		}
	}
	return form, nil
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
	// The algorithms of private_key_jwt client assertions (RFC 8414 §2).
	TokenEndpointAuthSigningAlgs []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthSigningAlgs []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevocationAuthSigningAlgs    []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	// RegistrationEndpoint is RFC 7591's, only when registration is on.
	RegistrationEndpoint string `json:"registration_endpoint,omitempty"`
}

// getAuthorizationServerMetadata answers GET
// /.well-known/oauth-authorization-server (RFC 8414).
func (s *Server) getAuthorizationServerMetadata(c echo.Context) error {
	base := strings.TrimSuffix(s.issuer, "/")
	methods := authserver.Methods()
	algs := clientkeys.Algorithms
	var registrationEndpoint string
	if s.registration != registration.Off {
		registrationEndpoint = base + "/oauth/register"
	}
	return writeJSON(c, http.StatusOK, authorizationServerMetadata{
		RegistrationEndpoint:              registrationEndpoint,
		Issuer:                            s.issuer,
		TokenEndpoint:                     base + "/oauth/token",
		JWKSURI:                           base + "/.well-known/jwks.json",
		IntrospectionEndpoint:             base + "/oauth/introspect",
		RevocationEndpoint:                base + "/oauth/revoke",
		GrantTypesSupported:               []string{authserver.GrantClientCredentials},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: methods,
		IntrospectionAuthMethodsSupported: methods,
		RevocationAuthMethodsSupported:    methods,
		ScopesSupported:                   []string{models.ScopeAll, models.ScopeDefault, models.ScopeRead, models.ScopeManage},
		TokenEndpointAuthSigningAlgs:      algs,
		IntrospectionAuthSigningAlgs:      algs,
		RevocationAuthSigningAlgs:         algs,
	})
}
