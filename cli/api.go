package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/clientele/clientele/sdk/clientele"
)

// api is the generated SDK client with a client-credentials token on every
// request. It is safe for concurrent use.
type api struct {
	c        *clientele.ClientWithResponses
	tokens   oauth2.TokenSource
	tokenURL string
}

const (
	// requestTimeout bounds one HTTP exchange.
	requestTimeout = 60 * time.Second
	// maxRateLimitWaits is how many 429 answers one request waits out
	// before it fails.
	maxRateLimitWaits = 10
	// listPage is the largest page the API serves (SPEC §3).
	listPage = 250
)

func newAPI(ctx context.Context, base, id, secret string) (*api, error) {
	base = strings.TrimRight(base, "/")
	hc := &http.Client{Timeout: requestTimeout}
	cc := clientcredentials.Config{
		ClientID:     id,
		ClientSecret: secret,
		TokenURL:     base + "/oauth/token",
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	a := &api{tokenURL: cc.TokenURL, tokens: cc.TokenSource(context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc))}
	c, err := clientele.NewClientWithResponses(base,
		clientele.WithHTTPClient(rateLimitWaiter{hc}),
		clientele.WithRequestEditorFn(a.authorize))
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", base, err)
	}
	a.c = c
	return a, nil
}

// authorize puts the current access token on req; the token source fetches
// a new one when it expires.
func (a *api) authorize(_ context.Context, req *http.Request) error {
	tok, err := a.tokens.Token()
	if err != nil {
		return fmt.Errorf("getting a token from %s: %w", a.tokenURL, err)
	}
	tok.SetAuthHeader(req)
	return nil
}

// rateLimitWaiter sends requests and waits out 429 answers for as long as
// Retry-After says: a 429 is answered before the request does anything,
// so sending it again is safe. Nothing else is retried.
type rateLimitWaiter struct{ hc *http.Client }

func (w rateLimitWaiter) Do(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := w.hc.Do(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == maxRateLimitWaits || (req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = body
		}
	}
}

// APIError is a refused request: the status and, for the management API,
// SailPoint's envelope (SPEC §5).
type APIError struct {
	Status     int
	Envelope   clientele.ErrorResponse
	TrackingID string
	// Body is the answer when it is not an envelope (401, 429, a proxy's page).
	Body string
}

func (e *APIError) Error() string {
	if e.Envelope.DetailCode != "" {
		msg := e.Envelope.DetailCode
		if len(e.Envelope.Messages) > 0 {
			msg += ": " + e.Envelope.Messages[0].Text
		}
		for _, c := range e.Envelope.Causes {
			msg += "; " + c.Text
		}
		return msg
	}
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// Report is the error as the command line prints it: detailCode and
// message, one line per cause, and the trackingId to quote to an operator.
func (e *APIError) Report() string {
	var b strings.Builder
	if e.Envelope.DetailCode != "" {
		fmt.Fprintf(&b, "clientele: %s", e.Envelope.DetailCode)
		if len(e.Envelope.Messages) > 0 {
			fmt.Fprintf(&b, ": %s", e.Envelope.Messages[0].Text)
		}
		b.WriteByte('\n')
		for _, c := range e.Envelope.Causes {
			fmt.Fprintf(&b, "  cause: %s\n", c.Text)
		}
	} else {
		fmt.Fprintf(&b, "clientele: %d %s: %s\n", e.Status, http.StatusText(e.Status), e.Body)
	}
	if e.TrackingID != "" {
		fmt.Fprintf(&b, "  trackingId: %s\n", e.TrackingID)
	}
	return b.String()
}

// check returns nil when resp has one of the wanted statuses, else the
// APIError it carries.
func check(resp *http.Response, body []byte, want ...int) error {
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	e := &APIError{Status: resp.StatusCode, TrackingID: resp.Header.Get("X-Request-ID")}
	if json.Unmarshal(body, &e.Envelope) == nil && e.Envelope.DetailCode != "" {
		if e.Envelope.TrackingId != "" {
			e.TrackingID = e.Envelope.TrackingId
		}
		return e
	}
	e.Envelope = clientele.ErrorResponse{}
	e.Body = strings.TrimSpace(string(body))
	if len(e.Body) > 300 {
		e.Body = e.Body[:300] + "…"
	}
	return e
}

// isStatus reports whether err is an APIError with that status.
func isStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// list returns every client matching filters (all of them when empty), page
// by page in the server's stable order, each as its raw JSON object.
func (a *api) list(ctx context.Context, filters, sorters string, max int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for offset := 0; ; {
		limit := listPage
		if max > 0 && max-len(out) < limit {
			limit = max - len(out)
		}
		p := &clientele.ListOauthClientsParams{Limit: &limit, Offset: &offset}
		if filters != "" {
			p.Filters = &filters
		}
		if sorters != "" {
			p.Sorters = &sorters
		}
		resp, err := a.c.ListOauthClientsWithResponse(ctx, p)
		if err != nil {
			return nil, err
		}
		if err := check(resp.HTTPResponse, resp.Body, http.StatusOK); err != nil {
			return nil, err
		}
		var page []json.RawMessage
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, fmt.Errorf("listing clients: %w", err)
		}
		out = append(out, page...)
		offset += len(page)
		if len(page) < limit || (max > 0 && len(out) >= max) {
			return out, nil
		}
	}
}

// get returns one client and its ETag.
func (a *api) get(ctx context.Context, id string) (json.RawMessage, string, error) {
	resp, err := a.c.GetOauthClientWithResponse(ctx, id, &clientele.GetOauthClientParams{})
	if err != nil {
		return nil, "", err
	}
	if err := check(resp.HTTPResponse, resp.Body, http.StatusOK); err != nil {
		return nil, "", err
	}
	return resp.Body, resp.HTTPResponse.Header.Get("ETag"), nil
}

// create creates one client from a create body and returns the answer,
// secret included.
func (a *api) create(ctx context.Context, body []byte) (json.RawMessage, error) {
	resp, err := a.c.CreateOauthClientWithBodyWithResponse(ctx, &clientele.CreateOauthClientParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if err := check(resp.HTTPResponse, resp.Body, http.StatusCreated); err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// createMany creates the clients of bodies in one bulk create, all or
// none, and returns the answers, secrets included, in order.
func (a *api) createMany(ctx context.Context, bodies [][]byte) ([]json.RawMessage, error) {
	body := append(append([]byte{'['}, bytes.Join(bodies, []byte{','})...), ']')
	resp, err := a.c.CreateOauthClientWithBodyWithResponse(ctx, &clientele.CreateOauthClientParams{}, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if err := check(resp.HTTPResponse, resp.Body, http.StatusCreated); err != nil {
		return nil, err
	}
	var out []json.RawMessage
	if err := json.Unmarshal(resp.Body, &out); err != nil || len(out) != len(bodies) {
		return nil, fmt.Errorf("creating clients: %d answers for %d bodies (%v)", len(out), len(bodies), err)
	}
	return out, nil
}

// patch sends an RFC 6902 patch; ifMatch may be empty.
func (a *api) patch(ctx context.Context, id string, ops []byte, ifMatch string) (json.RawMessage, error) {
	p := &clientele.PatchOauthClientParams{}
	if ifMatch != "" {
		p.IfMatch = &ifMatch
	}
	resp, err := a.c.PatchOauthClientWithBodyWithResponse(ctx, id, p, "application/json-patch+json", bytes.NewReader(ops))
	if err != nil {
		return nil, err
	}
	if err := check(resp.HTTPResponse, resp.Body, http.StatusOK); err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// delete deletes one client; ifMatch may be empty.
func (a *api) delete(ctx context.Context, id, ifMatch string) error {
	p := &clientele.DeleteOauthClientParams{}
	if ifMatch != "" {
		p.IfMatch = &ifMatch
	}
	resp, err := a.c.DeleteOauthClientWithResponse(ctx, id, p)
	if err != nil {
		return err
	}
	return check(resp.HTTPResponse, resp.Body, http.StatusNoContent)
}

// rotate replaces the client's secret and returns the client with the new one.
// A grace of 0 ends the old secrets at once.
func (a *api) rotate(ctx context.Context, id, ifMatch string, grace int) (json.RawMessage, error) {
	p := &clientele.RotateOauthClientSecretParams{}
	if ifMatch != "" {
		p.IfMatch = &ifMatch
	}
	var body clientele.RotateOauthClientSecretJSONRequestBody
	if grace > 0 {
		body.GraceSeconds = &grace
	}
	resp, err := a.c.RotateOauthClientSecretWithResponse(ctx, id, p, body)
	if err != nil {
		return nil, err
	}
	if err := check(resp.HTTPResponse, resp.Body, http.StatusOK); err != nil {
		return nil, err
	}
	return resp.Body, nil
}
