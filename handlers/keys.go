package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/token"
)

// maxJWKSAge caps how long caches may keep the JWKS. It is also capped by
// half the publish lead, so that a cache sees a next key before it signs.
const maxJWKSAge = 5 * time.Minute

// signingKeyResponse is one key of GET /signing-keys: never private
// material.
type signingKeyResponse struct {
	KID       string  `json:"kid"`
	Alg       string  `json:"alg"`
	State     string  `json:"state"`
	Created   string  `json:"created"`
	Activates string  `json:"activates"`
	Retires   *string `json:"retires"`
}

func toKeyResponse(ki token.KeyInfo) signingKeyResponse {
	r := signingKeyResponse{KID: ki.KID, Alg: ki.Algorithm, State: ki.State,
		Created: formatTime(ki.Created), Activates: formatTime(ki.Activates)}
	if !ki.Retires.IsZero() {
		s := formatTime(ki.Retires)
		r.Retires = &s
	}
	return r
}

// listSigningKeys answers GET /signing-keys: the published keys, in the
// order they activate.
func (s *Server) listSigningKeys(c echo.Context) error {
	infos, err := s.keys.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]signingKeyResponse, len(infos))
	for i, ki := range infos {
		out[i] = toKeyResponse(ki)
	}
	return writeJSON(c, http.StatusOK, out)
}

// rotateSigningKeys answers POST /signing-keys/rotate: 201 with the new
// next key; 409 while a rotation is pending.
func (s *Server) rotateSigningKeys(c echo.Context) error {
	ki, err := s.keys.Rotate(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/signing-keys")
	return writeJSON(c, http.StatusCreated, toKeyResponse(ki))
}

// getJwks answers GET /.well-known/jwks.json with the published keys, an
// ETag (If-None-Match answers 304) and a max-age short enough that a cache
// fetches a next key before it starts signing.
func (s *Server) getJwks(c echo.Context) error {
	body, etag := s.keys.JWKS()
	age := min(maxJWKSAge, s.keys.PublishLead()/2)
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "public, max-age="+strconv.Itoa(int(age/time.Second)))
	h.Set("ETag", etag)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && matchesETag(inm, etag, false) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSONBlob(http.StatusOK, body)
}
