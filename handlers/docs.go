package handlers

import (
	"github.com/labstack/echo/v4"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// docsHandler serves Swagger UI for the embedded spec. Every asset comes
// from the binary, so the page works without internet access; a reader can
// authorize with the client-credentials flow and try every call.
func docsHandler() echo.HandlerFunc {
	h := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Clientele API",
		SwaggerJSON: "/openapi.yaml",
		BasePath:    "/docs/",
		SettingsUI: map[string]string{
			"persistAuthorization":     "true",
			"defaultModelsExpandDepth": "0",
			"tryItOutEnabled":          "true",
		},
	})
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// getApiDocs answers GET /docs (and its assets) with the interactive API
// reference.
func (s *Server) getApiDocs(c echo.Context) error { return s.docs(c) }
