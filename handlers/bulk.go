package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

const (
	// maxBulkBodyBytes bounds a bulk create's body (SPEC §3); a single
	// create body keeps maxBodyBytes.
	maxBulkBodyBytes = 2 << 20
	// maxBulkClients is the most clients one bulk create may hold.
	maxBulkClients = 1000
)

// isJSONArray reports whether body's first non-blank byte opens an array.
func isJSONArray(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '['
}

// createOauthClients answers a bulk create (SPEC §3): every element is read
// and checked as a single create body is, and then all are stored in one
// transaction, or none. The answer is 201 with the created clients, each
// with its secret, in the order given. The first element with a problem
// fails the whole call, its causes named by its index ("[3].name: …").
func (s *Server) createOauthClients(c echo.Context, body []byte, opts models.WriteOptions) error {
	var elems []json.RawMessage
	if err := json.Unmarshal(body, &elems); err != nil {
		return apierrors.NewBadSyntax("body: must be a JSON object or an array of JSON objects")
	}
	switch {
	case len(elems) == 0:
		return apierrors.NewRequiredMissing("body: must hold at least one client")
	case len(elems) > maxBulkClients:
		return apierrors.NewLimitViolation("body: at most " + strconv.Itoa(maxBulkClients) + " clients in one call, not " + strconv.Itoa(len(elems)))
	}
	clients := make([]models.OAuthClient, len(elems))
	secrets := make([]*string, len(elems))
	for i, raw := range elems {
		req, err := parseClientRequest(raw, createBody)
		if err == nil {
			clients[i], secrets[i], err = s.newClient(c, req, opts)
		}
		if err != nil {
			return elementError(i, err)
		}
	}
	stored, err := s.store.CreateClients(c.Request().Context(), clients, opts)
	if err != nil {
		return err
	}
	now := s.now()
	out := append(make([]byte, 0, 2+len(stored)*900), '[')
	for i := range stored {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendSecret(appendClient(out, &stored[i], now), secrets[i])
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSONBlob(http.StatusCreated, append(out, ']'))
}

// elementError names element i in every cause of err: "name: …" becomes
// "[i].name: …", and a cause about the whole body "[i]: …".
func elementError(i int, err error) error {
	e, ok := apierrors.From(err)
	if !ok {
		return err
	}
	prefix := "[" + strconv.Itoa(i) + "]"
	named := *e
	named.Causes = make([]apierrors.Message, len(e.Causes))
	for j, m := range e.Causes {
		if rest, whole := strings.CutPrefix(m.Text, "body: "); whole {
			m.Text = prefix + ": " + rest
		} else {
			m.Text = prefix + "." + m.Text
		}
		named.Causes[j] = m
	}
	return &named
}
