package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
)

// Limits of the event endpoints (SPEC §10).
const (
	defaultHistoryLimit = 250
	maxHistoryLimit     = 250
	defaultFeedLimit    = 100
	maxFeedLimit        = 1000
)

// eventResponse is an event on the wire (SPEC §10): the representation of
// the client before and after, as ETags and as the RFC 6902 patch between
// them. It never holds a secret: the representation has none.
type eventResponse struct {
	Seq        int64       `json:"seq"`
	ID         string      `json:"id"`
	Type       events.Type `json:"type"`
	ClientID   string      `json:"clientId"`
	Actor      string      `json:"actor"`
	TrackingID string      `json:"trackingId"`
	Time       string      `json:"time"`
	ETagBefore *string     `json:"etagBefore"`
	ETagAfter  *string     `json:"etagAfter"`
	Patch      []events.Op `json:"patch"`
}

// RenderEvent is ev's wire form. Its patch, applied to the representation
// the client had before (or to {} for none), gives the one after. Both
// are the representations at the event's time, as a reader then saw them
// (and If-Match compared against): without the secrets expired by then. A
// secret that expires between two events leaves the representation with
// no event of its own.
func RenderEvent(ev *events.Event) (eventResponse, error) {
	out := eventResponse{Seq: ev.Seq, ID: ev.ID, Type: ev.Type, ClientID: ev.ClientID, Actor: ev.Actor,
		TrackingID: ev.TrackingID, Time: formatTime(ev.Time)}
	var before, after []byte
	if ev.Before != nil {
		body, etag := renderClient(ev.Before, ev.Time)
		before, out.ETagBefore = body, &etag
	}
	if ev.After != nil {
		body, etag := renderClient(ev.After, ev.Time)
		after, out.ETagAfter = body, &etag
	}
	ops, err := events.Diff(before, after)
	if err != nil {
		return out, err
	}
	out.Patch = ops
	return out, nil
}

// intParam reads the query parameter name, given at most once, as an
// integer in [lo, hi]; def when absent.
func intParam(v url.Values, name string, def, lo, hi int64) (int64, error) {
	if len(v[name]) > 1 {
		return 0, apierrors.NewIllegalValue(name + ": may be given only once")
	}
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, apierrors.NewIllegalValue(fmt.Sprintf("%s: must be an integer between %d and %d", name, lo, hi))
	}
	return n, nil
}

// getOauthClientHistory answers GET /oauth-clients/{id}/history: the
// client's events, newest first, also after it was deleted.
func (s *Server) getOauthClientHistory(c echo.Context) error {
	q := c.QueryParams()
	limit, err := intParam(q, "limit", defaultHistoryLimit, 0, maxHistoryLimit)
	if err != nil {
		return err
	}
	offset, err := intParam(q, "offset", 0, 0, 1<<31-1)
	if err != nil {
		return err
	}
	evs, err := s.store.ClientHistory(c.Request().Context(), c.Param("id"), int(limit), int(offset))
	if err != nil {
		return err
	}
	out, err := s.renders.renderJSONArray(evs)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, out)
}

// listOauthClientEvents answers GET /oauth-client-events: the events after
// a seq, in seq order, as a JSON page or, for Accept: text/event-stream, as
// a Server-Sent Events stream that stays open.
func (s *Server) listOauthClientEvents(c echo.Context) error {
	q := c.QueryParams()
	after, err := intParam(q, "after", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", defaultFeedLimit, 1, maxFeedLimit)
	if err != nil {
		return err
	}
	if wantsEventStream(c.Request()) {
		if id := c.Request().Header.Get("Last-Event-ID"); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n < 0 {
				return apierrors.NewIllegalValue("Last-Event-ID: must be the seq of an event")
			}
			after = n
		}
		return s.streamEvents(c, after)
	}
	evs, err := s.store.Events(c.Request().Context(), after, int(limit))
	if err != nil {
		return err
	}
	out, err := s.renders.renderJSONArray(evs)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, out)
}
