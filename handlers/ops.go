package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// readinessTimeout bounds the store check of /readyz.
const readinessTimeout = 2 * time.Second

type status struct {
	Status string `json:"status"`
}

// getHealth answers GET /healthz: the process is up.
func (s *Server) getHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, status{Status: "ok"})
}

// getReadiness answers GET /readyz: the store answers and the token state
// has been loaded.
func (s *Server) getReadiness(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readinessTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil || !s.tracker.Ready() {
		return c.JSON(http.StatusServiceUnavailable, status{Status: "unavailable"})
	}
	return c.JSON(http.StatusOK, status{Status: "ok"})
}

// getOpenApiSpec answers GET /openapi.yaml with the embedded spec.
func (s *Server) getOpenApiSpec(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", s.spec)
}
