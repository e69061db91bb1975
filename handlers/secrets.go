package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/clientele/clientele/authserver"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/internal/jsonx"
	"github.com/clientele/clientele/models"
)

// readOneMember reads a JSON object body that may hold the member name
// and no other; it returns that member's value, nil when the object lacks
// it. With optional, an empty body (no Content-Type, no bytes) is nil too.
func readOneMember(c echo.Context, name string, optional bool) (json.RawMessage, error) {
	r := c.Request()
	if optional && r.ContentLength == 0 && r.Header.Get(echo.HeaderContentType) == "" {
		return nil, nil
	}
	if _, err := requireMediaType(c, echo.MIMEApplicationJSON); err != nil {
		return nil, err
	}
	body, err := readBody(c, maxBodyBytes)
	if err != nil {
		return nil, err
	}
	names, values, err := jsonx.Object(body)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	for i, n := range names {
		if n != name {
			return nil, apierrors.NewIllegalValue(n + ": unknown member")
		}
		raw = values[i]
	}
	return raw, nil
}

// readSecondsBody reads an optional JSON body holding at most the one
// integer member name, within [min, max]; an empty body is nil.
func readSecondsBody(c echo.Context, name string, min, max int) (*int, error) {
	raw, err := readOneMember(c, name, true)
	if err != nil || raw == nil {
		return nil, err
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, apierrors.NewIllegalValue(name + ": must be an integer")
	}
	if v < min || v > max {
		return nil, apierrors.NewIllegalValue(fmt.Sprintf("%s: must be between %d and %d", name, min, max))
	}
	return &v, nil
}

// changeSecrets runs fn, a change of the client's secrets recorded as an
// event of type typ, under the request's If-Match, and tells the tracker.
// fn may run more than once (UpdateClient's contract).
func (s *Server) changeSecrets(c echo.Context, typ events.Type, fn func(cur *models.OAuthClient) error) (models.OAuthClient, error) {
	ifMatch := c.Request().Header.Get("If-Match")
	ctx := events.WithType(c.Request().Context(), typ)
	updated, err := s.store.UpdateClient(ctx, c.Param("id"), func(cur *models.OAuthClient) error {
		if err := checkIfMatch(ifMatch, cur, s.now()); err != nil {
			return err
		}
		return fn(cur)
	}, models.WriteOptions{})
	if err == nil {
		s.tracker.ClientChanged(updated)
	}
	return updated, err
}

// secretResponse is a secret's metadata, and its value when just made.
type secretResponse struct {
	ID       string  `json:"id"`
	Created  string  `json:"created"`
	Expires  *string `json:"expires"`
	LastUsed *string `json:"lastUsed"`
	Hint     *string `json:"hint"`
	Secret   string  `json:"secret,omitempty"`
}

func newSecretResponse(s *models.Secret, value string) secretResponse {
	out := secretResponse{ID: s.ID, Created: formatTime(s.Created), Secret: value}
	if s.Expires != nil {
		t := formatTime(*s.Expires)
		out.Expires = &t
	}
	if s.LastUsed != nil {
		t := formatTime(*s.LastUsed)
		out.LastUsed = &t
	}
	if s.Hint != "" {
		out.Hint = &s.Hint
	}
	return out
}

// listOauthClientSecrets answers GET /oauth-clients/{id}/secrets with the
// metadata of the live secrets.
func (s *Server) listOauthClientSecrets(c echo.Context) error {
	cl, err := s.store.GetClient(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	live := cl.LiveSecrets(s.now())
	out := make([]secretResponse, len(live))
	for i := range live {
		out[i] = newSecretResponse(&live[i], "")
	}
	return writeJSON(c, http.StatusOK, out)
}

// addOauthClientSecret answers POST /oauth-clients/{id}/secrets: 201 with
// the new secret's value, this once. A third live secret is a conflict.
func (s *Server) addOauthClientSecret(c echo.Context) error {
	seconds, err := readSecondsBody(c, "expiresInSeconds", models.MinSecretSeconds, models.MaxSecretSeconds)
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	var expires *time.Time
	if seconds != nil {
		t := now.Add(time.Duration(*seconds) * time.Second)
		expires = &t
	}
	value, secret, err := authserver.MintSecret(now, expires)
	if err != nil {
		return err
	}
	updated, err := s.changeSecrets(c, events.SecretAdded, func(cur *models.OAuthClient) error {
		if cur.Type == models.TypePublic {
			return apierrors.NewIllegalUpdate("secrets: a PUBLIC client has no secret")
		}
		cur.DropExpiredSecrets(now)
		if len(cur.Secrets) >= models.MaxLiveSecrets {
			return apierrors.NewConflict(fmt.Sprintf("secrets: the client has %d live secrets already; delete one first", models.MaxLiveSecrets))
		}
		cur.Secrets = append(cur.Secrets, secret)
		return nil
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, pathPrefix(c)+"/oauth-clients/"+updated.ID+"/secrets/"+secret.ID)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return writeJSON(c, http.StatusCreated, newSecretResponse(&secret, value))
}

// deleteOauthClientSecret answers DELETE /oauth-clients/{id}/secrets/{secretId}:
// 204, and the tokens issued with that secret stop working.
func (s *Server) deleteOauthClientSecret(c echo.Context) error {
	secretID := c.Param("secretId")
	now := s.now()
	_, err := s.changeSecrets(c, events.SecretDeleted, func(cur *models.OAuthClient) error {
		i := cur.FindSecret(secretID)
		if i < 0 || !cur.Secrets[i].LiveAt(now) {
			return apierrors.NewNotFound("secret " + secretID)
		}
		cur.Secrets = append(cur.Secrets[:i:i], cur.Secrets[i+1:]...)
		cur.DropExpiredSecrets(now)
		if len(cur.Secrets) == 0 && cur.NeedsSecret() {
			return apierrors.NewIllegalUpdate("secrets: the client's last live secret cannot be deleted while it authenticates by secret only")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// rotateOauthClientSecret answers POST /oauth-clients/{id}/secret with a new
// secret (SPEC §9). Without a body every live secret and every token of
// the client ends at once. With graceSeconds the live secrets, and their
// tokens, last until then, and a client with two live secrets loses the
// older one at once.
func (s *Server) rotateOauthClientSecret(c echo.Context) error {
	grace, err := readSecondsBody(c, "graceSeconds", 1, models.MaxGraceSeconds)
	if err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	value, secret, err := authserver.MintSecret(now, nil)
	if err != nil {
		return err
	}
	updated, err := s.changeSecrets(c, events.SecretRotated, func(cur *models.OAuthClient) error {
		if cur.Type == models.TypePublic {
			return apierrors.NewIllegalUpdate("secret: a PUBLIC client has no secret")
		}
		cur.DropExpiredSecrets(now)
		if grace == nil {
			cur.Secrets = []models.Secret{secret}
			cur.TokenGeneration++
			return nil
		}
		if len(cur.Secrets) >= models.MaxLiveSecrets {
			// The oldest goes now; the newest stays for the grace.
			cur.Secrets = cur.Secrets[len(cur.Secrets)-models.MaxLiveSecrets+1:]
		}
		until := now.Add(time.Duration(*grace) * time.Second)
		for i := range cur.Secrets {
			if e := cur.Secrets[i].Expires; e == nil || e.After(until) {
				cur.Secrets[i].Expires = &until
			}
		}
		cur.Secrets = append(cur.Secrets, secret)
		return nil
	})
	if err != nil {
		return err
	}
	return writeClientWithSecret(c, http.StatusOK, &updated, &value, now)
}
