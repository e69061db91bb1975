package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// restoreRequest is the body of POST /oauth-clients/{id}/restore.
type restoreRequest struct {
	Seq int64 `json:"seq"`
}

func decodeRestoreRequest(c echo.Context) (restoreRequest, error) {
	var req restoreRequest
	raw, err := readOneMember(c, "seq", false)
	if err != nil {
		return req, err
	}
	if raw == nil {
		return req, apierrors.NewRequiredMissing("seq: is required")
	}
	// An int64 takes neither a string, a fraction nor an exponent; null
	// leaves it 0.
	if err := json.Unmarshal(raw, &req.Seq); err != nil || req.Seq < 1 {
		return restoreRequest{}, apierrors.NewIllegalValue("seq: must be a positive integer")
	}
	return req, nil
}

// restored returns cur with the members a restore brings back taken from
// state: the patchable ones, type, internal and scope. Secrets, the token
// generation, id and timestamps stay cur's.
func restored(cur, state *models.OAuthClient) models.OAuthClient {
	next := cur.Clone()
	for _, m := range models.PatchableMembers() {
		m.Copy(&next, state)
	}
	for _, name := range restoredFixedMembers {
		m, _ := models.LookupMember(name)
		m.Copy(&next, state)
	}
	return next
}

// restoredFixedMembers are the members PATCH may not change that a restore
// brings back (SPEC §10).
var restoredFixedMembers = []string{"type", "internal", "scope"}

// restoreOauthClient answers POST /oauth-clients/{id}/restore: the client's
// members become what they were right after event seq (SPEC §10). A deleted
// client comes back with the same id and, if it authenticates by secret,
// one new secret; its old tokens stay dead, as its token generation moves
// past theirs.
func (s *Server) restoreOauthClient(c echo.Context) error {
	req, err := decodeRestoreRequest(c)
	if err != nil {
		return err
	}
	opts, err := writeOptions(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	ctx := events.WithType(c.Request().Context(), events.Restored)
	ev, err := s.store.ClientEvent(ctx, id, req.Seq)
	if err != nil {
		return err
	}
	state := ev.State()
	ifMatch := c.Request().Header.Get("If-Match")
	updated, err := s.store.UpdateClient(ctx, id, func(cur *models.OAuthClient) error {
		if err := checkIfMatch(ifMatch, cur, s.now()); err != nil {
			return err
		}
		next := restored(cur, state)
		if models.SameStoredValues(cur, &next) {
			return apierrors.NewConflict(fmt.Sprintf("oauth client %s is already in the state of event %d", id, req.Seq))
		}
		if err := checkGrantableScopes(callerOf(c), next.Scope); err != nil {
			return err
		}
		if err := next.Validate(); err != nil {
			return err
		}
		if err := models.CheckSecretKept(cur, &next, s.now()); err != nil {
			return err
		}
		*cur = next
		return nil
	}, opts)
	switch {
	case apierrors.IsNotFound(err):
		return s.restoreDeleted(c, ctx, state, ifMatch, opts)
	case err != nil:
		return err
	}
	if !opts.DryRun {
		s.tracker.ClientChanged(updated)
	}
	return writeClient(c, http.StatusOK, &updated, s.now())
}

// restoreDeleted creates the deleted client again from state.
func (s *Server) restoreDeleted(c echo.Context, ctx context.Context, state *models.OAuthClient, ifMatch string, opts models.WriteOptions) error {
	if ifMatch != "" {
		return apierrors.NewPreconditionFailed("If-Match: the client does not exist")
	}
	// Tokens issued before the deletion carry at most the generation the
	// client had last, which the newest event holds (generations only
	// grow): the restored client starts past it and accepts none of them.
	last, err := s.store.ClientHistory(ctx, state.ID, 1, 0)
	if err != nil {
		return err
	}
	generation := state.TokenGeneration
	if len(last) > 0 && last[0].State().TokenGeneration > generation {
		generation = last[0].State().TokenGeneration
	}
	base := models.NewClient()
	base.ID = state.ID
	cl := restored(&base, state)
	cl.TokenGeneration = generation + 1
	if err := cl.Validate(); err != nil {
		return err
	}
	if err := checkGrantableScopes(callerOf(c), cl.Scope); err != nil {
		return err
	}
	var secret *string
	cl.Secrets = []models.Secret{}
	if cl.AuthenticatesBySecret() && !opts.DryRun {
		value, record, err := authserver.MintSecret(s.now(), nil)
		if err != nil {
			return err
		}
		cl.Secrets, secret = []models.Secret{record}, &value
	}
	stored, err := s.store.CreateClient(ctx, cl, opts)
	if err != nil {
		return err
	}
	if opts.DryRun {
		return writeClient(c, http.StatusOK, &stored, s.now())
	}
	s.tracker.ClientChanged(stored)
	return writeClientWithSecret(c, http.StatusOK, &stored, secret, s.now())
}
