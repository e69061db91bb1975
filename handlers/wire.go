package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
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
	timeLayout   = "2006-01-02T15:04:05.000Z"
)

// clientResponse is an OAuth client on the wire, in SailPoint's member
// order. It has no secret: clientWithSecret is the one type that does.
type clientResponse struct {
	ID                          string             `json:"id"`
	BusinessName                *string            `json:"businessName"`
	HomepageURL                 *string            `json:"homepageUrl"`
	Name                        string             `json:"name"`
	Description                 *string            `json:"description"`
	Tenant                      *string            `json:"tenant"`
	AccessTokenValiditySeconds  int                `json:"accessTokenValiditySeconds"`
	RefreshTokenValiditySeconds int                `json:"refreshTokenValiditySeconds"`
	RedirectURIs                []string           `json:"redirectUris"`
	GrantTypes                  []models.GrantType `json:"grantTypes"`
	AccessType                  models.AccessType  `json:"accessType"`
	Type                        models.ClientType  `json:"type"`
	Internal                    bool               `json:"internal"`
	Enabled                     bool               `json:"enabled"`
	StrongAuthSupported         bool               `json:"strongAuthSupported"`
	ClaimsSupported             bool               `json:"claimsSupported"`
	Created                     string             `json:"created"`
	Modified                    string             `json:"modified"`
	LastUsed                    *string            `json:"lastUsed"`
	Scope                       []string           `json:"scope"`
}

// clientWithSecret is the response of create and of secret rotation, the
// only two that show a secret. A PUBLIC client's secret is null.
type clientWithSecret struct {
	clientResponse
	Secret *string `json:"secret"`
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func newClientResponse(c *models.OAuthClient) clientResponse {
	r := clientResponse{
		ID:                          c.ID,
		BusinessName:                c.BusinessName,
		HomepageURL:                 c.HomepageURL,
		Name:                        c.Name,
		Description:                 c.Description,
		Tenant:                      c.Tenant,
		AccessTokenValiditySeconds:  c.AccessTokenValiditySeconds,
		RefreshTokenValiditySeconds: c.RefreshTokenValiditySeconds,
		RedirectURIs:                nonNil(c.RedirectURIs),
		GrantTypes:                  nonNil(c.GrantTypes),
		AccessType:                  c.AccessType,
		Type:                        c.Type,
		Internal:                    c.Internal,
		Enabled:                     c.Enabled,
		StrongAuthSupported:         c.StrongAuthSupported,
		ClaimsSupported:             c.ClaimsSupported,
		Created:                     formatTime(c.Created),
		Modified:                    formatTime(c.Modified),
		Scope:                       nonNil(c.Scope),
	}
	if c.LastUsed != nil {
		s := formatTime(*c.LastUsed)
		r.LastUsed = &s
	}
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// renderClient returns c's JSON and its strong ETag, a digest of exactly
// that representation.
func renderClient(c *models.OAuthClient) ([]byte, string, error) {
	body, err := json.Marshal(newClientResponse(c))
	if err != nil {
		return nil, "", err
	}
	return body, etagOf(body), nil
}

func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

func writeClient(c echo.Context, status int, cl *models.OAuthClient) error {
	body, etag, err := renderClient(cl)
	if err != nil {
		return err
	}
	c.Response().Header().Set(headerETag, etag)
	return c.JSONBlob(status, body)
}

func writeClientWithSecret(c echo.Context, status int, cl *models.OAuthClient, secret *string) error {
	_, etag, err := renderClient(cl)
	if err != nil {
		return err
	}
	c.Response().Header().Set(headerETag, etag)
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return writeJSON(c, status, clientWithSecret{clientResponse: newClientResponse(cl), Secret: secret})
}

func writeJSON(c echo.Context, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.JSONBlob(status, body)
}

// checkIfMatch applies If-Match (RFC 9110 §13.1.1, strong comparison) to
// the current client; "" always matches.
func checkIfMatch(header string, cur *models.OAuthClient) error {
	if header == "" {
		return nil
	}
	_, etag, err := renderClient(cur)
	if err != nil {
		return err
	}
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

// clientRequest is the body of create and of PUT. Pointers tell a member
// left out from one sent; null has been refused for the members that may
// not be null before decoding.
type clientRequest struct {
	ID                          *string            `json:"id"`
	Name                        *string            `json:"name"`
	Description                 *string            `json:"description"`
	BusinessName                *string            `json:"businessName"`
	HomepageURL                 *string            `json:"homepageUrl"`
	Tenant                      *string            `json:"tenant"`
	AccessTokenValiditySeconds  *int               `json:"accessTokenValiditySeconds"`
	RefreshTokenValiditySeconds *int               `json:"refreshTokenValiditySeconds"`
	RedirectURIs                []string           `json:"redirectUris"`
	GrantTypes                  []models.GrantType `json:"grantTypes"`
	AccessType                  *models.AccessType `json:"accessType"`
	Type                        *models.ClientType `json:"type"`
	Internal                    *bool              `json:"internal"`
	Enabled                     *bool              `json:"enabled"`
	StrongAuthSupported         *bool              `json:"strongAuthSupported"`
	ClaimsSupported             *bool              `json:"claimsSupported"`
	Scope                       []string           `json:"scope"`
	Created                     *string            `json:"created"`
	Modified                    *string            `json:"modified"`
	LastUsed                    *string            `json:"lastUsed"`
}

// memberTypes names the JSON type of every member a client body may hold,
// for error causes; it is also the set of known members.
var memberTypes = map[string]string{
	"id": "a string", "name": "a string", "description": "a string or null",
	"businessName": "a string or null", "homepageUrl": "a string or null", "tenant": "a string or null",
	"accessTokenValiditySeconds": "an integer", "refreshTokenValiditySeconds": "an integer",
	"redirectUris": "an array of strings", "grantTypes": "an array of strings",
	"accessType": "a string", "type": "a string", "internal": "a boolean", "enabled": "a boolean",
	"strongAuthSupported": "a boolean", "claimsSupported": "a boolean", "scope": "an array of strings",
	"created": "a date-time string", "modified": "a date-time string", "lastUsed": "a date-time string or null",
	"secret": "a string",
}

// Members a body may not carry: on create every server-set member; on PUT
// only the secret (id and timestamps may come back from a GET body).
var (
	createReadOnly  = []string{"id", "created", "modified", "lastUsed", "secret"}
	replaceReadOnly = []string{"secret"}
)

// decodeClientRequest reads a create or PUT body strictly: JSON only, one
// object, no duplicate, unknown or read-only member, no null where a value
// is required, every member of its type.
func decodeClientRequest(c echo.Context, req *clientRequest, readOnly []string) error {
	if _, err := requireMediaType(c, echo.MIMEApplicationJSON); err != nil {
		return err
	}
	body, err := readBody(c, maxBodyBytes)
	if err != nil {
		return err
	}
	members, err := objectMembers(body)
	if err != nil {
		return err
	}
	var causes []apierrors.Cause
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := members[name]
		switch {
		case slices.Contains(readOnly, name):
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalUpdate, Field: name, Reason: "is read-only"})
		case memberTypes[name] == "":
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindIllegalValue, Field: name, Reason: "unknown member"})
		case bytes.Equal(raw, []byte("null")) && !models.IsNullable(name) && name != "lastUsed":
			causes = append(causes, apierrors.Cause{Kind: apierrors.KindRequired, Field: name, Reason: "must not be null"})
		}
	}
	if err := apierrors.NewInvalid(causes...); err != nil {
		return err
	}
	if err := json.Unmarshal(body, req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field, _, _ := strings.Cut(typeErr.Field, ".")
			return apierrors.NewIllegalValue(field + ": must be " + memberTypes[field])
		}
		return apierrors.NewBadSyntax("body: " + err.Error())
	}
	return nil
}

// objectMembers splits a JSON object into its members, refusing anything
// but exactly one object and any duplicated member name.
func objectMembers(body []byte) (map[string]json.RawMessage, error) {
	names, values, err := jsonx.Object(body)
	if err != nil {
		return nil, err
	}
	members := make(map[string]json.RawMessage, len(names))
	for i, name := range names {
		members[name] = values[i]
	}
	return members, nil
}

// applyTo sets the members of c that create and PUT share; members left out
// keep c's (default) values.
func (r *clientRequest) applyTo(c *models.OAuthClient) {
	if r.Name != nil {
		c.Name = *r.Name
	}
	c.Description, c.BusinessName, c.HomepageURL, c.Tenant = r.Description, r.BusinessName, r.HomepageURL, r.Tenant
	if r.AccessTokenValiditySeconds != nil {
		c.AccessTokenValiditySeconds = *r.AccessTokenValiditySeconds
	}
	if r.RefreshTokenValiditySeconds != nil {
		c.RefreshTokenValiditySeconds = *r.RefreshTokenValiditySeconds
	}
	if r.RedirectURIs != nil {
		c.RedirectURIs = r.RedirectURIs
	}
	if r.GrantTypes != nil {
		c.GrantTypes = r.GrantTypes
	}
	if r.AccessType != nil {
		c.AccessType = *r.AccessType
	}
	if r.Enabled != nil {
		c.Enabled = *r.Enabled
	}
	if r.StrongAuthSupported != nil {
		c.StrongAuthSupported = *r.StrongAuthSupported
	}
	if r.ClaimsSupported != nil {
		c.ClaimsSupported = *r.ClaimsSupported
	}
}

// checkFixedMembers enforces PUT's rule that type, internal and scope may be
// sent only with their current values.
func (r *clientRequest) checkFixedMembers(cur *models.OAuthClient) error {
	var causes []string
	if r.Type != nil && *r.Type != cur.Type {
		causes = append(causes, "type: cannot be changed")
	}
	if r.Internal != nil && *r.Internal != cur.Internal {
		causes = append(causes, "internal: cannot be changed")
	}
	if r.Scope != nil && !slices.Equal(r.Scope, cur.Scope) {
		causes = append(causes, "scope: cannot be changed")
	}
	if len(causes) > 0 {
		return apierrors.NewIllegalUpdate(causes...)
	}
	return nil
}
