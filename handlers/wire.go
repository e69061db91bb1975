package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/jsonx"
	"github.com/clientele/clientele/models"
)

const (
	headerTotalCount = "X-Total-Count"
	headerETag       = "ETag"
	// maxBodyBytes bounds every JSON request body (SPEC §4.3).
	maxBodyBytes = 64 << 10
)

// appendClient appends c as the wire shows it at the instant at: every
// member of the table, in its order (SailPoint's), without the secrets
// expired by then. It has no secret value: writeClientWithSecret is the
// one writer that adds one.
func appendClient(dst []byte, c *models.OAuthClient, at time.Time) []byte {
	c = c.AsOf(at)
	members := models.Members()
	dst = append(dst, '{')
	for i := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = members[i].AppendJSON(members[i].AppendKey(dst), c)
	}
	return append(dst, '}')
}

// formatTime writes a date-time as every member of the wire does.
func formatTime(t time.Time) string { return t.UTC().Format(models.TimeLayout) }

// renderClient returns c's JSON at the instant at and its strong ETag, a
// digest of exactly that representation. A secret passing its expiry
// leaves the representation, so the ETag changes at that instant, for
// every reader and for If-Match alike, though nothing stored changed.
func renderClient(c *models.OAuthClient, at time.Time) ([]byte, string) {
	body := appendClient(make([]byte, 0, 1024), c, at)
	return body, etagOf(body)
}

// A rendering is written and forgotten: its buffer is taken from
// renderBuffers and given back once the answer holds the bytes (echo's
// Blob writes them to the ResponseWriter, which copies them, before it
// returns). Buffers grown past maxPooledRender are left to the collector.
var renderBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledRender = 16 << 10

// rendering is renderClient into a pooled buffer; release gives it back,
// after which body must not be used.
type rendering struct {
	body []byte
	etag string
	buf  *[]byte
}

func renderPooled(c *models.OAuthClient, at time.Time) rendering {
	buf := renderBuffers.Get().(*[]byte)
	body := appendClient((*buf)[:0], c, at)
	return rendering{body: body, etag: etagOf(body), buf: buf}
}

func (r *rendering) release() {
	if cap(r.body) <= maxPooledRender {
		*r.buf = r.body[:0]
		renderBuffers.Put(r.buf)
	}
	r.body, r.buf = nil, nil
}

// renderClients returns the JSON array of clients at the instant at.
func renderClients(clients []models.OAuthClient, at time.Time) []byte {
	body := append(make([]byte, 0, 2+len(clients)*768), '[')
	for i := range clients {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendClient(body, &clients[i], at)
	}
	return append(body, ']')
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	var quoted [2 + 2*16]byte
	quoted[0], quoted[len(quoted)-1] = '"', '"'
	hex.Encode(quoted[1:len(quoted)-1], sum[:16])
	return string(quoted[:])
}

func writeClient(c echo.Context, status int, cl *models.OAuthClient, at time.Time) error {
	r := renderPooled(cl, at)
	defer r.release()
	c.Response().Header().Set(headerETag, r.etag)
	return c.JSONBlob(status, r.body)
}

// secretMember is the one member of the wire that is not in the table of
// members: only the answers of create and of secret rotation show it (null
// for a PUBLIC client), and no request body may hold it.
const secretMember = "secret"

// writeClientWithSecret answers with cl and its secret. The ETag is that of
// cl without the secret, as a GET shows it.
func writeClientWithSecret(c echo.Context, status int, cl *models.OAuthClient, secret *string, at time.Time) error {
	body, etag := renderClient(cl, at)
	body = appendSecret(body, secret)
	c.Response().Header().Set(headerETag, etag)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSONBlob(status, body)
}

// appendSecret adds the secret (null for none) as the last member of the
// client that dst ends with.
func appendSecret(dst []byte, secret *string) []byte {
	dst = append(dst[:len(dst)-1], `,"`+secretMember+`":`...)
	if secret == nil {
		dst = append(dst, "null"...)
	} else {
		value, _ := json.Marshal(*secret) // a string always encodes
		dst = append(dst, value...)
	}
	return append(dst, '}')
}

func writeJSON(c echo.Context, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.JSONBlob(status, body)
}

// checkIfMatch applies If-Match (RFC 9110 §13.1.1, strong comparison) to
// the current client as it shows at the instant at; "" always matches.
func checkIfMatch(header string, cur *models.OAuthClient, at time.Time) error {
	if header == "" {
		return nil
	}
	r := renderPooled(cur, at)
	etag := r.etag
	r.release()
	if !matchesETag(header, etag, true) {
		return apierrors.NewPreconditionFailed("If-Match: the client has changed; its current ETag is " + etag)
	}
	return nil
}

// matchesETag reports whether a comma-separated If-Match / If-None-Match
// list holds etag or "*". Strong comparison never matches a weak tag.
func matchesETag(list, etag string, strong bool) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if weak, ok := strings.CutPrefix(t, "W/"); ok {
			if strong {
				continue
			}
			t = weak
		}
		if t == etag {
			return true
		}
	}
	return false
}

// requireMediaType returns the request's media type (parameters dropped)
// when it is one of allowed, else 415.
func requireMediaType(c echo.Context, allowed ...string) (string, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if i := slices.Index(allowed, ct); i >= 0 {
		return allowed[i], nil // what parsing it would give, without a map of parameters
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && slices.Contains(allowed, strings.ToLower(mt)) {
		return strings.ToLower(mt), nil
	}
	return "", apierrors.NewUnsupportedMediaType(ct, allowed...)
}

// readBody reads at most limit bytes of the body; more is 413.
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, apierrors.NewPayloadTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apierrors.NewPayloadTooLarge(limit)
		}
		return nil, apierrors.NewBadSyntax("the body could not be read")
	}
	if !utf8.Valid(body) {
		return nil, apierrors.NewBadSyntax("body: not valid UTF-8")
	}
	return body, nil
}

// clientRequest is a create or PUT body, decoded strictly.
type clientRequest struct {
	// sent holds the members of the body, by name.
	sent map[string]json.RawMessage
	// client holds the values of the body's Mutable and Immutable members,
	// and the create defaults of the others.
	client models.OAuthClient
}

// bodyKind says which members a body may not hold: on create every
// server-set member; on PUT only the secret (id and timestamps may come
// back from a GET body, and are then ignored).
type bodyKind int

const (
	createBody bodyKind = iota
	replaceBody
)

func (k bodyKind) readOnly(name string, m *models.Member) bool {
	return name == secretMember || k == createBody && m != nil && m.Access == models.ServerSet
}

// decodeClientRequest reads a create or PUT body strictly: JSON only, one
// object, no duplicate, unknown or read-only member, no null where a value
// is required, every member of its type.
func decodeClientRequest(c echo.Context, kind bodyKind) (clientRequest, error) {
	if _, err := requireMediaType(c, echo.MIMEApplicationJSON); err != nil {
		return clientRequest{}, err
	}
	body, err := readBody(c, maxBodyBytes)
	if err != nil {
		return clientRequest{}, err
	}
	return parseClientRequest(body, kind)
}

// parseClientRequest is decodeClientRequest's reading of one body.
func parseClientRequest(body []byte, kind bodyKind) (clientRequest, error) {
	names, values, err := jsonx.Object(body)
	if err != nil {
		return clientRequest{}, err
	}
	req := clientRequest{sent: make(map[string]json.RawMessage, len(names)), client: models.NewClient()}
	for i, name := range names {
		req.sent[name] = values[i]
	}
	var causes []apierrors.Cause
	for _, name := range slices.Sorted(maps.Keys(req.sent)) {
		m, known := models.LookupMember(name)
		switch {
		case kind.readOnly(name, m):
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalUpdate, Field: name, Reason: "is read-only"})
		case !known:
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: name, Reason: "unknown member"})
		case bytes.Equal(req.sent[name], []byte("null")) && !m.Nullable:
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindRequired, Field: name, Reason: "must not be null"})
		}
	}
	if err := apierrors.NewInvalid(causes...); err != nil {
		return clientRequest{}, err
	}
	// Every member of a wrong type is named, in the body's order.
	var wrong []string
	for i, name := range names {
		m, _ := models.LookupMember(name)
		var ok bool
		if m.Access == models.ServerSet {
			ok = m.CheckJSON(values[i])
		} else {
			ok = m.DecodeJSON(&req.client, values[i]) == nil
		}
		if !ok {
			wrong = append(wrong, name+": must be "+m.TypePhrase())
		}
	}
	if len(wrong) > 0 {
		return clientRequest{}, apierrors.NewIllegalValue(wrong...)
	}
	req.defaultAuthMethods(&req.client)
	return req, nil
}

// replaced returns cur replaced by the body as PUT does (Reltio's rule):
// every Mutable member takes the body's value, or its create default when
// the body leaves it out; everything else stays cur's.
func (r *clientRequest) replaced(cur *models.OAuthClient) models.OAuthClient {
	next := cur.Clone()
	for _, m := range models.PatchableMembers() {
		m.Copy(&next, &r.client)
	}
	r.defaultAuthMethods(&next)
	return next
}

// defaultAuthMethods gives c the create default of tokenEndpointAuthMethods
// for its type when the body left the member out: a PUBLIC client's is
// ["none"], which no other client may have (SPEC §2).
func (r *clientRequest) defaultAuthMethods(c *models.OAuthClient) {
	if _, sent := r.sent["tokenEndpointAuthMethods"]; !sent {
		c.TokenEndpointAuthMethods = models.DefaultAuthMethods(c.Type)
	}
}

// checkFixedMembers enforces PUT's rule that the Immutable members (type,
// internal, scope) may be sent only with their current values.
func (r *clientRequest) checkFixedMembers(cur *models.OAuthClient) error {
	var causes []string
	members := models.Members()
	for i := range members {
		m := &members[i]
		if _, sent := r.sent[m.Name]; sent && m.Access == models.Immutable && !m.Equal(&r.client, cur) {
			causes = append(causes, m.Name+": cannot be changed")
		}
	}
	if len(causes) > 0 {
		return apierrors.NewIllegalUpdate(causes...)
	}
	return nil
}
