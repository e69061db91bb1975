package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// corsMiddleware lets browser tools on origins call the API: preflights are
// answered without a token, and the headers a client needs are exposed.
func corsMiddleware(origins []string) echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: origins,
		AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType, "If-Match", "If-None-Match",
			headerRequestID, "Accept-Language"},
		ExposeHeaders: []string{headerRequestID, headerETag, headerTotalCount, echo.HeaderRetryAfter, echo.HeaderLocation},
		MaxAge:        600,
	})
}
