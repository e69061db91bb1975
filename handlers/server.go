// Package handlers is Clientele's HTTP layer: Echo routes, request and
// response types, authentication, and the one error handler that turns every
// failure into SailPoint's envelope. Handler names are the operationIds of
// openapi.yaml.
package handlers

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	"github.com/clientele/clientele/clientkeys"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
	"github.com/clientele/clientele/ratelimit"
	"github.com/clientele/clientele/registration"
	"github.com/clientele/clientele/token"
	"github.com/clientele/clientele/webhooks"
)

// Store is what the HTTP layer needs of the store. db.Store implements it.
type Store interface {
	CreateClient(ctx context.Context, c models.OAuthClient, opts models.WriteOptions) (models.OAuthClient, error)
	// CreateClients creates all of cs or none, in one transaction.
	CreateClients(ctx context.Context, cs []models.OAuthClient, opts models.WriteOptions) ([]models.OAuthClient, error)
	GetClient(ctx context.Context, id string) (models.OAuthClient, error)
	ListClients(ctx context.Context, q query.List) ([]models.OAuthClient, int64, error)
	UpdateClient(ctx context.Context, id string, fn func(*models.OAuthClient) error, opts models.WriteOptions) (models.OAuthClient, error)
	DeleteClient(ctx context.Context, id string, check func(*models.OAuthClient) error) error
	TouchLastUsed(ctx context.Context, id string, now time.Time) error
	TouchSecret(ctx context.Context, clientID, secretID string, now time.Time) error
	RecordAssertion(ctx context.Context, clientID, jti string, expires time.Time) error
	RevokeToken(ctx context.Context, ev models.TokenEvent) error
	Ping(ctx context.Context) error
	// Events, EventsWritten, ClientHistory and ClientEvent read the record
	// of changes (SPEC §10).
	Events(ctx context.Context, after int64, limit int) ([]events.Event, error)
	EventsWritten() <-chan struct{}
	LastEventSeq(ctx context.Context) (int64, error)
	// CreateWebhook, Webhooks, Webhook and DeleteWebhook keep the webhooks.
	CreateWebhook(ctx context.Context, w webhooks.Subscription) error
	Webhooks(ctx context.Context) ([]webhooks.Subscription, error)
	Webhook(ctx context.Context, id string) (webhooks.Subscription, error)
	DeleteWebhook(ctx context.Context, id string) error
	ClientHistory(ctx context.Context, id string, limit, offset int) ([]events.Event, error)
	ClientEvent(ctx context.Context, id string, seq int64) (events.Event, error)
}

// Config holds the server's dependencies. Store, Tokens, Tracker and Keys
// are required.
type Config struct {
	Store   Store
	Tokens  *token.Issuer
	Keys    *token.Keys
	Tracker *token.Tracker
	// Issuer is the iss of every token and the base of the metadata URLs.
	Issuer string
	// RateLimit limits management requests per client id; nil turns it off.
	RateLimit *ratelimit.Limiter
	// AuthFailures limits failed client authentications at the OAuth
	// endpoints per (client id, remote address); nil turns it off.
	AuthFailures *ratelimit.Limiter
	// TrustedProxies are the peers whose X-Forwarded-For is believed: the
	// remote address of a request from one of them is the last address of
	// the header outside these ranges. None: the peer's address.
	TrustedProxies []*net.IPNet
	// JWKSFetcher fetches clients' jwksUri key sets for private_key_jwt;
	// nil refuses that method for clients with a jwksUri.
	JWKSFetcher *clientkeys.Fetcher
	// Spec is the OpenAPI document served at /openapi.yaml.
	Spec []byte
	// Metrics serves /metrics and measures requests, tokens and the store.
	Metrics bool
	// CORSOrigins enables CORS for these origins ("*" for any); none, off.
	CORSOrigins []string
	// Logger receives one line per request and every internal fault.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Stop, when closed, ends the event streams, which would otherwise keep
	// a graceful shutdown waiting; nil for never.
	Stop <-chan struct{}
	// AllowPrivateWebhooks accepts webhooks on private and loopback
	// addresses.
	AllowPrivateWebhooks bool
	// WebhookCounters, when set and Metrics is on, is filled with the hooks
	// that measure webhook deliveries in /metrics, for the Dispatcher.
	WebhookCounters *webhooks.Counters
	// Renders renders each event once for the feed, the history and, when
	// the webhook dispatcher shares it, the deliveries; a fresh one if nil.
	Renders *EventRenders
	// Registration serves dynamic client registration (SPEC §12) in this
	// mode; "" is registration.Off.
	Registration registration.Mode
}

// Server holds the dependencies every handler uses.
type Server struct {
	store     Store
	auth      *authserver.Server
	keys      *token.Keys
	tracker   *token.Tracker
	issuer    string
	rateLimit *ratelimit.Limiter
	spec      []byte
	docs      echo.HandlerFunc
	metrics   *metrics
	log       *slog.Logger
	now       func() time.Time
	stop      <-chan struct{}
	feed      *feedHub
	renders   *EventRenders
	costly    *costlyLane

	allowPrivateWebhooks bool
	registration         registration.Mode
}

// New returns the Echo instance serving the whole API.
func New(cfg Config) *echo.Echo {
	s := &Server{
		store:     cfg.Store,
		keys:      cfg.Keys,
		tracker:   cfg.Tracker,
		issuer:    cfg.Issuer,
		rateLimit: cfg.RateLimit,
		spec:      cfg.Spec,
		docs:      docsHandler(),
		log:       cfg.Logger,
		now:       cfg.Now,
		stop:      cfg.Stop,

		allowPrivateWebhooks: cfg.AllowPrivateWebhooks,
		registration:         cfg.Registration,
	}
	if s.registration == "" {
		s.registration = registration.Off
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.costly = newCostlyLane(s.now, realAfter)
	s.renders = cfg.Renders
	if s.renders == nil {
		s.renders = NewEventRenders()
	}
	s.feed = newFeedHub(s.store, s.renders, s.log, s.stop)
	if cfg.Metrics {
		s.metrics = newMetrics()
		if cfg.WebhookCounters != nil {
			*cfg.WebhookCounters = s.metrics.webhookCounters()
		}
		s.store = timedStore{Store: s.store, m: s.metrics}
	}
	s.auth = authserver.New(authserver.Config{
		Store:        s.store,
		Tokens:       cfg.Tokens,
		Tracker:      cfg.Tracker,
		FailureLimit: cfg.AuthFailures,
		Fetcher:      cfg.JWKSFetcher,
		// RFC 7523 §3: the assertion's aud names the token endpoint; the
		// issuer is accepted too, as RFC 7523bis and most clients do.
		Audiences: []string{strings.TrimSuffix(cfg.Issuer, "/") + "/oauth/token", cfg.Issuer},
		Now:       cfg.Now,
	})
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.Use(s.everyRequest)
	if len(cfg.CORSOrigins) > 0 {
		e.Use(corsMiddleware(cfg.CORSOrigins))
	}
	s.routes(e)
	return e
}

// ipExtractor believes X-Forwarded-For only from the trusted proxies, and
// trusts nothing else: Echo's defaults would also trust every loopback,
// link-local and private peer.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// routes lists the whole API surface, in the order of openapi.yaml. The
// management API is also served under /v3, as SailPoint's SDKs expect.
func (s *Server) routes(e *echo.Echo) {
	// Authentication is per route, not per group: a group's middleware
	// would also answer unknown paths under it with 401 instead of 404.
	read := []echo.MiddlewareFunc{s.authenticate, s.limitRate, s.requireScope(models.ScopeRead, models.ScopeManage)}
	manage := []echo.MiddlewareFunc{s.authenticate, s.limitRate, s.requireScope(models.ScopeManage)}
	for _, prefix := range []string{"", "/v3"} {
		e.GET(prefix+"/oauth-clients", chain(s.listOauthClients, read...))
		e.POST(prefix+"/oauth-clients", chain(s.createOauthClient, manage...))
		e.GET(prefix+"/oauth-clients/:id", chain(s.getOauthClient, read...))
		e.PATCH(prefix+"/oauth-clients/:id", chain(s.patchOauthClient, manage...))
		e.PUT(prefix+"/oauth-clients/:id", chain(s.replaceOauthClient, manage...))
		e.DELETE(prefix+"/oauth-clients/:id", chain(s.deleteOauthClient, manage...))
		e.POST(prefix+"/oauth-clients/:id/secret", chain(s.rotateOauthClientSecret, manage...))
		e.GET(prefix+"/oauth-clients/:id/history", chain(s.getOauthClientHistory, read...))
		e.POST(prefix+"/oauth-clients/:id/restore", chain(s.restoreOauthClient, manage...))
		e.GET(prefix+"/oauth-client-events", chain(s.listOauthClientEvents, read...))
		e.GET(prefix+"/oauth-clients/:id/secrets", chain(s.listOauthClientSecrets, read...))
		e.POST(prefix+"/oauth-clients/:id/secrets", chain(s.addOauthClientSecret, manage...))
		e.DELETE(prefix+"/oauth-clients/:id/secrets/:secretId", chain(s.deleteOauthClientSecret, manage...))
	}
	all := []echo.MiddlewareFunc{s.authenticate, s.limitRate, s.requireScope(models.ScopeAll)}
	e.GET("/webhooks", chain(s.listWebhooks, all...))
	e.POST("/webhooks", chain(s.createWebhook, all...))
	e.GET("/webhooks/:id", chain(s.getWebhook, all...))
	e.DELETE("/webhooks/:id", chain(s.deleteWebhook, all...))
	e.POST("/oauth/token", s.createToken)
	e.POST("/oauth/introspect", s.introspectToken)
	e.POST("/oauth/revoke", s.revokeToken)
	// Off, the registration endpoints are unknown routes: 404.
	if s.registration != registration.Off {
		e.POST("/oauth/register", s.registerOauthClient)
		e.GET("/oauth/register/:id", s.getRegisteredOauthClient)
		e.PUT("/oauth/register/:id", s.replaceRegisteredOauthClient)
		e.DELETE("/oauth/register/:id", s.deleteRegisteredOauthClient)
	}
	e.GET("/.well-known/jwks.json", s.getJwks)
	keys := []echo.MiddlewareFunc{s.authenticate, s.limitRate, s.requireScope(models.ScopeAll)}
	e.GET("/signing-keys", chain(s.listSigningKeys, keys...))
	e.POST("/signing-keys/rotate", chain(s.rotateSigningKeys, keys...))
	e.GET("/.well-known/oauth-authorization-server", s.getAuthorizationServerMetadata)
	e.GET("/healthz", s.getHealth)
	e.GET("/readyz", s.getReadiness)
	e.GET("/openapi.yaml", s.getOpenApiSpec)
	e.GET("/docs", s.getApiDocs)
	e.GET("/docs/*", s.getApiDocs)
	if s.metrics != nil {
		e.GET("/metrics", s.metrics.handler())
	}
}

// chain wraps h in middleware once, as echo would on every request when
// given them per route: the first is outermost.
func chain(h echo.HandlerFunc, middleware ...echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(middleware) - 1; i >= 0; i-- {
		h = middleware[i](h)
	}
	return h
}

// handleError is the one place where errors become responses. API errors
// keep their status; Echo's own errors get the envelope; anything else is
// logged with the trackingId and answered 500.0 without internals.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		unauthorized *unauthorizedError
		limited      *rateLimitedError
		failures     *authserver.TooManyFailuresError
		oauth        *authserver.Error
		bearer       *bearerError
	)
	switch {
	case errors.As(err, &bearer):
		bearer.write(c)
		return
	case errors.As(err, &unauthorized):
		unauthorized.write(c)
		return
	case errors.As(err, &limited):
		limited.write(c)
		return
	case errors.As(err, &failures):
		(&rateLimitedError{retryAfter: failures.RetryAfter}).write(c)
		return
	case errors.As(err, &oauth):
		writeOAuthError(c, oauth)
		return
	}

	apiErr := s.toAPIError(err, c)
	if apiErr.Status >= 500 {
		s.log.Error("request failed", "trackingId", trackingID(c),
			"method", c.Request().Method, "route", c.Path(),
			"detailCode", apiErr.DetailCode, "error", err.Error())
	}
	if apiErr.Allow != "" {
		c.Response().Header().Set(echo.HeaderAllow, apiErr.Allow)
	}
	body := localize(apiErr, c.Request().Header.Get("Accept-Language")).WithTrackingID(trackingID(c))
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(body.Status)
		return
	}
	if werr := c.JSON(body.Status, body); werr != nil {
		s.log.Warn("writing error response", "trackingId", trackingID(c), "error", werr.Error())
	}
}

func (s *Server) toAPIError(err error, c echo.Context) *apierrors.Error {
	if apiErr, ok := apierrors.From(err); ok {
		return apiErr
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return apierrors.NewNotFound("resource " + c.Request().URL.Path)
		case http.StatusMethodNotAllowed:
			allow, _ := c.Get(echo.ContextKeyHeaderAllow).(string)
			return apierrors.NewMethodNotAllowed(c.Request().Method, allow)
		case http.StatusRequestEntityTooLarge:
			return apierrors.NewPayloadTooLarge(maxBodyBytes)
		case http.StatusUnsupportedMediaType:
			return apierrors.NewUnsupportedMediaType(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON)
		case http.StatusBadRequest:
			return apierrors.NewBadSyntax("the request could not be parsed")
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewUnavailable(err)
	}
	return apierrors.NewInternal(err)
}
