package handlers

import (
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/internal/jsonx"
	"github.com/clientele/clientele/webhooks"
)

// webhookResponse is a webhook on the wire; secret only in create's answer.
type webhookResponse struct {
	ID            string   `json:"id"`
	URL           string   `json:"url"`
	EventTypes    []string `json:"eventTypes"`
	ExcludeActors []string `json:"excludeActors"`
	Created       string   `json:"created"`
	Secret        *string  `json:"secret,omitempty"`
}

func newWebhookResponse(w *webhooks.Subscription) webhookResponse {
	return webhookResponse{ID: w.ID, URL: w.URL, EventTypes: nonNil(w.EventTypes), ExcludeActors: nonNil(w.ExcludeActors),
		Created: formatTime(w.Created)}
}

// Limits of a webhook's lists.
const maxWebhookList = 64

// decodeWebhookRequest reads {url, eventTypes, excludeActors} strictly.
func decodeWebhookRequest(c echo.Context) (webhooks.Subscription, error) {
	var w webhooks.Subscription
	if _, err := requireMediaType(c, echo.MIMEApplicationJSON); err != nil {
		return w, err
	}
	body, err := readBody(c, maxBodyBytes)
	if err != nil {
		return w, err
	}
	names, values, err := jsonx.Object(body)
	if err != nil {
		return w, err
	}
	var causes []apierrors.Cause
	for i, name := range names {
		switch name {
		case "url":
			if json.Unmarshal(values[i], &w.URL) != nil {
				causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "url", Reason: "must be a string"})
			}
		case "eventTypes":
			if json.Unmarshal(values[i], &w.EventTypes) != nil {
				causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "eventTypes", Reason: "must be an array of strings"})
			}
		case "excludeActors":
			if json.Unmarshal(values[i], &w.ExcludeActors) != nil {
				causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "excludeActors", Reason: "must be an array of strings"})
			}
		default:
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: name, Reason: "unknown member"})
		}
	}
	if w.URL == "" && len(causes) == 0 {
		causes = append(causes, apierrors.Cause{Kind: apierrors.KindRequired, Field: "url", Reason: "is required"})
	}
	for i, t := range w.EventTypes {
		if !events.Type(t).Valid() || slices.Index(w.EventTypes, t) != i {
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "eventTypes", Reason: "must hold distinct event types, not " + t})
		}
	}
	for _, a := range w.ExcludeActors {
		if a == "" || len(a) > 255 {
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "excludeActors", Reason: "must hold client ids"})
		}
	}
	tooLong := "must hold at most " + strconv.Itoa(maxWebhookList) + " entries"
	if len(w.EventTypes) > maxWebhookList {
		causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "eventTypes", Reason: tooLong})
	}
	if len(w.ExcludeActors) > maxWebhookList {
		causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: "excludeActors", Reason: tooLong})
	}
	return w, apierrors.NewInvalid(causes...)
}

// createWebhook answers POST /webhooks: 201, and the signing secret, once.
func (s *Server) createWebhook(c echo.Context) error {
	w, err := decodeWebhookRequest(c)
	if err != nil {
		return err
	}
	if err := webhooks.CheckTarget(c.Request().Context(), w.URL, s.allowPrivateWebhooks, net.DefaultResolver); err != nil {
		return apierrors.NewIllegalValue("url: " + err.Error())
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	w.ID = hex.EncodeToString(id[:])
	if w.Secret, err = webhooks.NewSecret(); err != nil {
		return err
	}
	w.Created = s.now().UTC().Truncate(1e6)
	if err := s.store.CreateWebhook(c.Request().Context(), w); err != nil {
		return err
	}
	out := newWebhookResponse(&w)
	out.Secret = &w.Secret
	c.Response().Header().Set(echo.HeaderLocation, "/webhooks/"+w.ID)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return writeJSON(c, http.StatusCreated, out)
}

// listWebhooks answers GET /webhooks.
func (s *Server) listWebhooks(c echo.Context) error {
	ws, err := s.store.Webhooks(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]webhookResponse, len(ws))
	for i := range ws {
		out[i] = newWebhookResponse(&ws[i])
	}
	return writeJSON(c, http.StatusOK, out)
}

// getWebhook answers GET /webhooks/{id}.
func (s *Server) getWebhook(c echo.Context) error {
	w, err := s.store.Webhook(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, newWebhookResponse(&w))
}

// deleteWebhook answers DELETE /webhooks/{id}: 204; its pending deliveries
// are dropped.
func (s *Server) deleteWebhook(c echo.Context) error {
	if err := s.store.DeleteWebhook(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
