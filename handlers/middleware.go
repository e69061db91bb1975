package handlers

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	apierrors "github.com/clientele/clientele/errors"
)

const (
	headerRequestID = "X-Request-ID"
	ctxRequest      = "clientele.request"
)

// requestState is what the middleware learns about a request, held as one
// value of the echo context: its trackingId and, once authenticated, who
// is calling.
type requestState struct {
	trackingID string
	caller     caller
	hasCaller  bool
}

func stateOf(c echo.Context) *requestState {
	st, _ := c.Get(ctxRequest).(*requestState)
	return st
}

// setCaller records who is calling.
func setCaller(c echo.Context, cl caller) {
	st := stateOf(c)
	if st == nil {
		st = &requestState{}
		c.Set(ctxRequest, st)
	}
	st.caller, st.hasCaller = cl, true
}

// everyRequest is the middleware every request passes, outermost first:
// requestID, logRequests, recoverPanics, limitQuery. They run in one
// closure, not as four middleware, because echo wraps its middleware
// around the matched handler anew on every request.
func (s *Server) everyRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s.requestID(c)
		return s.logRequests(c, next)
	}
}

// requestID gives every request a trackingId: the caller's X-Request-ID when
// it is 32 lowercase hex, else a new one. Every response carries it.
func (s *Server) requestID(c echo.Context) {
	id := c.Request().Header.Get(headerRequestID)
	if !isTrackingID(id) {
		id = newTrackingID()
	}
	c.Set(ctxRequest, &requestState{trackingID: id})
	c.Response().Header().Set(headerRequestID, id)
}

// recoverPanics turns a panic in a handler into a 500.0 whose cause, with
// the stack, goes only to the log.
func (s *Server) recoverPanics(c echo.Context, next echo.HandlerFunc) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			err = apierrors.NewInternal(fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	return s.limitQuery(c, next)
}

// maxQueryBytes bounds the query string; the longest legitimate one, a list
// with a 4 KiB filter, is far shorter.
const maxQueryBytes = 16 << 10

// limitQuery refuses an oversized query string before any work is done.
func (s *Server) limitQuery(c echo.Context, next echo.HandlerFunc) error {
	if len(c.Request().URL.RawQuery) > maxQueryBytes {
		return apierrors.NewLimitViolation(fmt.Sprintf("the query string exceeds %d bytes", maxQueryBytes))
	}
	return next(c)
}

func isTrackingID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// newTrackingID returns 32 lowercase hex. Tracking ids correlate logs; they
// need to be unique, not secret.
func newTrackingID() string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

func trackingID(c echo.Context) string {
	if st := stateOf(c); st != nil {
		return st.trackingID
	}
	return ""
}

// logRequests writes one structured line per request. It never logs bodies,
// query strings, secrets or tokens.
func (s *Server) logRequests(c echo.Context, next echo.HandlerFunc) error {
	start := time.Now()
	err := s.recoverPanics(c, next)
	if err != nil {
		// Let the error handler write the response now, so that the
		// logged status is the one the client sees.
		c.Error(err)
	}
	status := c.Response().Status
	if s.metrics != nil {
		s.metrics.observe(c.Request().Method, routeOf(c), status, time.Since(start))
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if !s.log.Enabled(c.Request().Context(), level) {
		return nil
	}
	clientID := ""
	if cl := callerOf(c); cl != nil {
		clientID = cl.ClientID
	}
	s.log.LogAttrs(c.Request().Context(), level, "request",
		slog.String("trackingId", trackingID(c)),
		slog.String("method", c.Request().Method),
		slog.String("route", routeOf(c)),
		slog.Int("status", status),
		slog.Float64("latencyMs", float64(time.Since(start).Microseconds())/1000),
		slog.String("clientId", clientID),
	)
	return nil
}

// routeOf is the route template, never the raw path, so logs and metrics do
// not grow with ids.
func routeOf(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}
