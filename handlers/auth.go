package handlers

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// caller is the authenticated client of a management request: the one place
// that knows who is calling.
type caller struct {
	ClientID string
	Scope    []string
}

// Holds reports whether the caller holds scope, by authserver's rule.
func (c *caller) Holds(scope string) bool { return authserver.Holds(c.Scope, scope) }

func callerOf(c echo.Context) *caller {
	if st := stateOf(c); st != nil && st.hasCaller {
		return &st.caller
	}
	return nil
}

// authenticate accepts only Clientele's own valid, live access tokens, sent
// as RFC 6750 bearer tokens in the Authorization header.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
		if !ok {
			return &unauthorizedError{text: "missing bearer token"}
		}
		claims, err := s.auth.ValidateToken(c.Request().Context(), raw)
		var invalid *authserver.InvalidTokenError
		if errors.As(err, &invalid) {
			return &unauthorizedError{code: "invalid_token", text: "invalid token: " + invalid.Error()}
		}
		if err != nil {
			return err
		}
		setCaller(c, caller{ClientID: claims.ClientID, Scope: claims.Scope})
		// The store's event writer records who asked for a write.
		c.SetRequest(c.Request().WithContext(events.WithOrigin(c.Request().Context(),
			events.Origin{Actor: claims.ClientID, TrackingID: trackingID(c)})))
		return next(c)
	}
}

// bearerToken extracts the token of "Bearer <token>" (scheme case-insensitive).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// requireScope admits callers holding any one of scopes (or sp:scopes:all).
func (s *Server) requireScope(scopes ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			cl := callerOf(c)
			if cl == nil {
				return &unauthorizedError{text: "missing bearer token"}
			}
			for _, sc := range scopes {
				if cl.Holds(sc) {
					return next(c)
				}
			}
			if len(scopes) == 1 && scopes[0] == models.ScopeAll {
				return apierrors.NewForbidden("the token needs the scope " + models.ScopeAll)
			}
			return apierrors.NewForbidden("the token needs one of the scopes " + strings.Join(scopes, ", ") + " or " + models.ScopeAll)
		}
	}
}

// limitRate limits management requests per client id.
func (s *Server) limitRate(next echo.HandlerFunc) echo.HandlerFunc {
	if s.rateLimit == nil {
		return next
	}
	return func(c echo.Context) error {
		if cl := callerOf(c); cl != nil {
			if ok, retry := s.rateLimit.Allow(cl.ClientID); !ok {
				return &rateLimitedError{retryAfter: retry}
			}
		}
		return next(c)
	}
}

// unauthorizedError is RFC 6750's 401: {"error": text} and WWW-Authenticate.
type unauthorizedError struct {
	code string // RFC 6750 error code for WWW-Authenticate; "" when no token was sent
	text string
}

func (e *unauthorizedError) Error() string { return "unauthorized: " + e.text }

func (e *unauthorizedError) write(c echo.Context) {
	challenge := `Bearer realm="clientele"`
	if e.code != "" {
		challenge += `, error="` + e.code + `", error_description="` + strings.ReplaceAll(e.text, `"`, `'`) + `"`
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
	_ = c.JSON(http.StatusUnauthorized, map[string]string{"error": e.text})
}

// rateLimitedError is SailPoint's 429: {"message":"Rate Limit Exceeded"} and
// Retry-After in whole seconds.
type rateLimitedError struct{ retryAfter time.Duration }

func (e *rateLimitedError) Error() string { return "rate limit exceeded" }

func retryAfterSeconds(d time.Duration) string {
	secs := int(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}

func (e *rateLimitedError) write(c echo.Context) {
	c.Response().Header().Set(echo.HeaderRetryAfter, retryAfterSeconds(e.retryAfter))
	_ = c.JSON(http.StatusTooManyRequests, map[string]string{"message": "Rate Limit Exceeded"})
}
