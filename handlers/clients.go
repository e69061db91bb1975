package handlers

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/patch"
	"github.com/clientele/clientele/query"
)

// listOauthClients answers GET /oauth-clients with SailPoint's collection
// parameters.
func (s *Server) listOauthClients(c echo.Context) error {
	q, err := query.ParseList(c.QueryParams())
	if err != nil {
		return err
	}
	clients, total, err := s.store.ListClients(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if q.Count {
		c.Response().Header().Set(headerTotalCount, strconv.FormatInt(total, 10))
	}
	return c.JSONBlob(http.StatusOK, renderClients(clients, s.now()))
}

// createOauthClient answers POST /oauth-clients: 201, Location, and the
// secret, this once. A dry run answers the same without storing anything
// and without a secret, since none was made.
// A JSON array is a bulk create (createOauthClients).
func (s *Server) createOauthClient(c echo.Context) error {
	opts, err := writeOptions(c)
	if err != nil {
		return err
	}
	if _, err := requireMediaType(c, echo.MIMEApplicationJSON); err != nil {
		return err
	}
	body, err := readBody(c, maxBulkBodyBytes)
	if err != nil {
		return err
	}
	if isJSONArray(body) {
		return s.createOauthClients(c, body, opts)
	}
	if len(body) > maxBodyBytes {
		return apierrors.NewPayloadTooLarge(maxBodyBytes)
	}
	req, err := parseClientRequest(body, createBody)
	if err != nil {
		return err
	}
	cl, secret, err := s.newClient(c, req, opts)
	if err != nil {
		return err
	}
	stored, err := s.store.CreateClient(c.Request().Context(), cl, opts)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, pathPrefix(c)+"/oauth-clients/"+stored.ID)
	return writeClientWithSecret(c, http.StatusCreated, &stored, secret, s.now())
}

// newClient makes the client a create body asks for: valid, with scopes
// the caller may grant, a new id and, unless opts.DryRun, a secret for a
// client that authenticates by secret, returned in the clear this once. A
// client of private_key_jwt alone gets none (SPEC §9): nil.
func (s *Server) newClient(c echo.Context, req clientRequest, opts models.WriteOptions) (models.OAuthClient, *string, error) {
	cl := req.client
	if err := cl.Validate(); err != nil {
		return cl, nil, err
	}
	if err := checkGrantableScopes(callerOf(c), cl.Scope); err != nil {
		return cl, nil, err
	}
	id, err := newClientID()
	if err != nil {
		return cl, nil, err
	}
	cl.ID = id
	var secret *string
	if cl.AuthenticatesBySecret() && !opts.DryRun {
		value, record, err := authserver.MintSecret(s.now(), nil)
		if err != nil {
			return cl, nil, err
		}
		cl.Secrets = []models.Secret{record}
		secret = &value
	}
	return cl, secret, nil
}

// newClientID returns the id of a new client: a UUIDv7 as 32 lowercase hex.
func newClientID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(id[:]), nil
}

// getOauthClient answers GET /oauth-clients/{id} with an ETag, or 304 when
// If-None-Match holds it.
func (s *Server) getOauthClient(c echo.Context) error {
	cl, err := s.store.GetClient(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	r := renderPooled(&cl, s.now())
	defer r.release()
	c.Response().Header().Set(headerETag, r.etag)
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && matchesETag(inm, r.etag, false) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.JSONBlob(http.StatusOK, r.body)
}

// patchOauthClient answers PATCH /oauth-clients/{id} with JSON Patch or JSON
// merge patch (SPEC §4). The store serialises the updates of one client, so
// concurrent patches never lose each other; the patch is applied outside
// its writer, so a costly one holds up no other client's writes.
func (s *Server) patchOauthClient(c echo.Context) error {
	opts, err := writeOptions(c)
	if err != nil {
		return err
	}
	mediaType, err := requireMediaType(c, patch.MediaJSONPatch, patch.MediaMergePatch)
	if err != nil {
		return err
	}
	body, err := readBody(c, patch.MaxBodyBytes)
	if err != nil {
		return err
	}
	who := ""
	if cl := callerOf(c); cl != nil {
		who = cl.ClientID
	}
	turn, err := s.costly.enter(c.Request().Context(), who, patch.Costly(mediaType, body))
	if err != nil {
		return err
	}
	defer turn.leave()
	ifMatch := c.Request().Header.Get("If-Match")
	updated, err := s.store.UpdateClient(c.Request().Context(), c.Param("id"), func(cur *models.OAuthClient) error {
		return turn.run(func() error {
			if err := checkIfMatch(ifMatch, cur, s.now()); err != nil {
				return err
			}
			next, err := patch.Apply(cur, mediaType, body)
			if err != nil {
				return err
			}
			if err := models.CheckSecretKept(cur, &next, s.now()); err != nil {
				return err
			}
			*cur = next
			return nil
		})
	}, opts)
	if err != nil {
		return err
	}
	if !opts.DryRun {
		s.tracker.ClientChanged(updated)
	}
	return writeClient(c, http.StatusOK, &updated, s.now())
}

// replaceOauthClient answers PUT /oauth-clients/{id} by Reltio's rule:
// members left out go back to their create defaults.
func (s *Server) replaceOauthClient(c echo.Context) error {
	opts, err := writeOptions(c)
	if err != nil {
		return err
	}
	req, err := decodeClientRequest(c, replaceBody)
	if err != nil {
		return err
	}
	id := c.Param("id")
	if raw, sent := req.sent["id"]; sent {
		var bodyID string
		if err := json.Unmarshal(raw, &bodyID); err != nil || bodyID != id {
			return apierrors.NewIllegalUpdate("id: must equal the id of the path")
		}
	}
	ifMatch := c.Request().Header.Get("If-Match")
	ctx := events.WithType(c.Request().Context(), events.Replaced)
	updated, err := s.store.UpdateClient(ctx, id, func(cur *models.OAuthClient) error {
		if err := checkIfMatch(ifMatch, cur, s.now()); err != nil {
			return err
		}
		if err := req.checkFixedMembers(cur); err != nil {
			return err
		}
		next := req.replaced(cur)
		if err := next.Validate(); err != nil {
			return err
		}
		if err := models.CheckSecretKept(cur, &next, s.now()); err != nil {
			return err
		}
		*cur = next
		return nil
	}, opts)
	if err != nil {
		return err
	}
	if !opts.DryRun {
		s.tracker.ClientChanged(updated)
	}
	return writeClient(c, http.StatusOK, &updated, s.now())
}

// deleteOauthClient answers DELETE /oauth-clients/{id}: 204, and the
// client's tokens stop working.
func (s *Server) deleteOauthClient(c echo.Context) error {
	id := c.Param("id")
	ifMatch := c.Request().Header.Get("If-Match")
	err := s.store.DeleteClient(c.Request().Context(), id, func(cur *models.OAuthClient) error {
		return checkIfMatch(ifMatch, cur, s.now())
	})
	if err != nil {
		return err
	}
	s.tracker.ClientDeleted(id)
	return c.NoContent(http.StatusNoContent)
}

// checkGrantableScopes refuses scopes the caller does not hold itself.
func checkGrantableScopes(cl *caller, scopes []string) error {
	if cl == nil {
		return nil
	}
	return authserver.CheckGrantableScopes(cl.Scope, scopes)
}

// pathPrefix is "/v3" when the request came through the SailPoint alias.
func pathPrefix(c echo.Context) string {
	if strings.HasPrefix(c.Path(), "/v3/") {
		return "/v3"
	}
	return ""
}

// writeOptions reads ?dryRun of a create, PATCH or PUT (SPEC §4 rule 10):
// "true" or "false", once; anything else is a 400 naming the parameter.
func writeOptions(c echo.Context) (models.WriteOptions, error) {
	if c.Request().URL.RawQuery == "" {
		return models.WriteOptions{}, nil // spares parsing an empty query into a map
	}
	v, ok := c.QueryParams()["dryRun"]
	switch {
	case !ok:
		return models.WriteOptions{}, nil
	case len(v) == 1 && v[0] == "true":
		return models.WriteOptions{DryRun: true}, nil
	case len(v) == 1 && v[0] == "false":
		return models.WriteOptions{}, nil
	}
	return models.WriteOptions{}, apierrors.NewIllegalValue(`dryRun: must be "true" or "false"`)
}
