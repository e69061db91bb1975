package registration

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clientele/clientele/authserver"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// field is one RFC 7591 client metadata field and the member of a client
// (models' table of members) that stores it. A field whose JSON value is
// the member's own needs no functions: the member's decoder and encoder
// serve it.
type field struct {
	// name is the RFC 7591 name; member the member's wire name.
	name, member string
	// decode sets c from the field's JSON value (never null); nil uses the
	// member's decoder.
	decode func(c *models.OAuthClient, raw []byte) error
	// encode is the field's value of c, nil for none (the field is left
	// out); nil uses the member's encoder, leaving out a null.
	encode func(c *models.OAuthClient) any
	// absent sets c's value when the request leaves the field out or sends
	// null: the registration default, or for a replacement (RFC 7592 §2.2,
	// where an omitted field is deleted) the same default; base is the
	// client before (a new one for a registration).
	absent func(c, base *models.OAuthClient)
	// single fields hold one value of an array member: a cause naming an
	// index of the member names the field alone.
	single bool
}

// fields is the mapping of SPEC §12, in the order a request is read: the
// authentication method first, since it decides the client's type and so
// the default grant types. README's table of the mapping is this one.
// Unknown metadata is ignored (RFC 7591 §2).
var fields = []field{
	{name: "token_endpoint_auth_method", member: "tokenEndpointAuthMethods", single: true,
		decode: decodeAuthMethod, encode: encodeAuthMethod,
		absent: func(c, base *models.OAuthClient) {
			// A public client stays public: its only method is none.
			c.Type = base.Type
			c.TokenEndpointAuthMethods = []models.AuthMethod{defaultAuthMethod(base.Type)}
		}},
	{name: "client_name", member: "name",
		// RFC 7591 makes every field optional; a client needs a name.
		absent: func(c, _ *models.OAuthClient) { c.Name = c.ID }},
	{name: "client_uri", member: "homepageUrl",
		absent: func(c, _ *models.OAuthClient) { c.HomepageURL = nil }},
	{name: "redirect_uris", member: "redirectUris",
		absent: func(c, _ *models.OAuthClient) { c.RedirectURIs = []string{} }},
	{name: "grant_types", member: "grantTypes",
		decode: decodeGrantTypes, encode: encodeGrantTypes,
		// Clientele issues client-credentials tokens: a confidential
		// client's default is that grant, a public one's RFC 7591's.
		absent: func(c, _ *models.OAuthClient) {
			c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
			if c.Type == models.TypePublic {
				c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode}
			}
		}},
	{name: "jwks", member: "jwks",
		absent: func(c, _ *models.OAuthClient) { c.JWKS = nil }},
	{name: "jwks_uri", member: "jwksUri",
		absent: func(c, _ *models.OAuthClient) { c.JWKSURI = nil }},
	{name: "scope", member: "scope", single: true,
		decode: decodeScope, encode: func(c *models.OAuthClient) any { return strings.Join(c.Scope, " ") },
		// A registration gets sp:scopes:default; a replacement keeps the
		// scope, which only the management API changes.
		absent: func(c, base *models.OAuthClient) { c.Scope = slices.Clone(base.Scope) }},
}

// byMember finds the field of a member, to name it in a cause.
var byMember = func() map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		if _, ok := models.LookupMember(fields[i].member); !ok {
			panic("registration: no member " + fields[i].member)
		}
		m[fields[i].member] = &fields[i]
	}
	return m
}()

// Names returns the table as RFC 7591 name and member name pairs, in
// order, for documentation and tests.
func Names() [][2]string {
	out := make([][2]string, len(fields))
	for i, f := range fields {
		out[i] = [2]string{f.name, f.member}
	}
	return out
}

// Request is an RFC 7591 registration or RFC 7592 replacement body: its
// fields by name, unknown ones included (and ignored).
type Request struct {
	sent map[string]json.RawMessage
}

// ParseRequest reads a body that must be a JSON object.
func ParseRequest(body []byte) (Request, error) {
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(body, &sent); err != nil || sent == nil {
		return Request{}, invalid("the body must be a JSON object of RFC 7591 client metadata")
	}
	return Request{sent: sent}, nil
}

// value returns a field's JSON value; a null counts as left out.
func (r Request) value(name string) ([]byte, bool) {
	raw, ok := r.sent[name]
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, false
	}
	return raw, true
}

// String returns a string field's value and whether it was sent (a null
// counts as left out); a value of another type is invalid_client_metadata.
func (r Request) String(name string) (string, bool, error) {
	raw, ok := r.value(name)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, invalid(name + ": must be a string")
	}
	return s, true, nil
}

// NewClient is the client a registration asks for, with id: the defaults
// of a create (SPEC §2), then every field of the table, sent or defaulted.
// It is valid, or the error is RFC 7591's naming the field.
func (r Request) NewClient(id string) (models.OAuthClient, error) {
	base := models.NewClient()
	base.ID = id
	c, err := r.apply(&base)
	if err != nil {
		return c, err
	}
	return c, invalidMetadata(c.Causes())
}

// Replaced is cur with the fields of an RFC 7592 replacement: those sent
// replace the stored values, those left out go back to their defaults
// (except scope, which is kept), and every other member is kept. The
// client's type and scope cannot change here. Checking client_id and
// client_secret is the caller's (CheckReplacement). A client holding no
// live secret at now cannot move to secret methods only.
func (r Request) Replaced(cur *models.OAuthClient, now time.Time) (models.OAuthClient, error) {
	next, err := r.apply(cur)
	if err != nil {
		return next, err
	}
	if next.Type != cur.Type {
		return next, invalid("token_endpoint_auth_method: cannot turn a client with a secret into a public one or back")
	}
	if !slices.Equal(next.Scope, cur.Scope) {
		return next, invalid("scope: cannot be changed by its client; send the scope it holds, or none")
	}
	if err := invalidMetadata(next.Causes()); err != nil {
		return next, err
	}
	if models.CheckSecretKept(cur, &next, now) != nil {
		return next, invalid("token_endpoint_auth_method: the client holds no client secret, so it must keep private_key_jwt")
	}
	return next, nil
}

// apply sets every field of the table on a copy of base, from the request
// or by its absent rule. The result is not validated yet.
func (r Request) apply(base *models.OAuthClient) (models.OAuthClient, error) {
	c := base.Clone()
	for i := range fields {
		f := &fields[i]
		raw, ok := r.value(f.name)
		if !ok {
			f.absent(&c, base)
			continue
		}
		var err error
		if f.decode != nil {
			err = f.decode(&c, raw)
		} else {
			m, _ := models.LookupMember(f.member)
			if err = m.DecodeJSON(&c, raw); err != nil {
				err = invalid(f.name + ": must be " + strings.TrimSuffix(m.TypePhrase(), " or null"))
			}
		}
		if err != nil {
			return c, err
		}
	}
	return c, nil
}

// invalidMetadata turns the causes of models' Validate into RFC 7591's
// error, each naming the field: invalid_redirect_uri when a redirect URI is
// one of them, else invalid_client_metadata. nil for none.
func invalidMetadata(causes []apierrors.Cause) error {
	if len(causes) == 0 {
		return nil
	}
	code := authserver.InvalidClientMetadata
	texts := make([]string, len(causes))
	for i, c := range causes {
		member, rest, _ := strings.Cut(c.Field, "/")
		name := c.Field
		if f, ok := byMember[member]; ok {
			name = f.name
			if rest != "" && !f.single {
				name += "/" + rest
			}
		}
		if member == "redirectUris" {
			code = authserver.InvalidRedirectURI
		}
		texts[i] = name + ": " + c.Reason
	}
	return authserver.NewError(code, strings.Join(texts, "; "))
}

// Issued is what a registration or replacement answer shows beside the
// metadata: the credentials made by this request.
type Issued struct {
	// Secret is a new client secret, shown this once; "" for none.
	Secret string
	// AccessToken is a new registration access token; "" for none (a
	// read shows none).
	AccessToken string
	// ClientURI is the client's registration_client_uri.
	ClientURI string
}

// Response is the answer of RFC 7591 §3.2.1 and RFC 7592 §3: client_id,
// client_id_issued_at, registration_client_uri, the credentials issued,
// client_secret_expires_at (0 for never) while the client holds a live
// secret at now, and every field of the table as stored.
func Response(c *models.OAuthClient, issued Issued, now time.Time) map[string]any {
	out := map[string]any{
		"client_id":               c.ID,
		"client_id_issued_at":     c.Created.Unix(),
		"registration_client_uri": issued.ClientURI,
	}
	if issued.Secret != "" {
		out["client_secret"] = issued.Secret
	}
	if issued.AccessToken != "" {
		out["registration_access_token"] = issued.AccessToken
	}
	if live := c.LiveSecrets(now); len(live) > 0 {
		newest := slices.MaxFunc(live, func(a, b models.Secret) int { return a.Created.Compare(b.Created) })
		var expires int64
		if newest.Expires != nil {
			expires = newest.Expires.Unix()
		}
		out["client_secret_expires_at"] = expires
	}
	for i := range fields {
		f := &fields[i]
		if f.encode != nil {
			if v := f.encode(c); v != nil {
				out[f.name] = v
			}
			continue
		}
		m, _ := models.LookupMember(f.member)
		if raw := m.AppendJSON(nil, c); !bytes.Equal(raw, []byte("null")) {
			out[f.name] = json.RawMessage(raw)
		}
	}
	return out
}

// CheckReplacement enforces RFC 7592 §2.2 on a replacement of cur: the
// body's client_id must be cur's, and a client_secret, when sent, must be
// a live secret of cur at now (a client cannot choose its secret).
func (r Request) CheckReplacement(cur *models.OAuthClient, now time.Time) error {
	id, sent, err := r.String("client_id")
	switch {
	case err != nil:
		return err
	case !sent:
		return invalid("client_id: is required, and must be the client's id")
	case id != cur.ID:
		return invalid("client_id: must be the client's id, the one of the registration_client_uri")
	}
	secret, sent, err := r.String("client_secret")
	if err != nil {
		return err
	}
	if _, ok := authserver.SecretMatches(cur, secret, now); sent && !ok {
		return invalid("client_secret: must be a live secret of the client; a client cannot choose its secret")
	}
	return nil
}

var grantNames = map[string]models.GrantType{
	"client_credentials": models.GrantClientCredentials,
	"authorization_code": models.GrantAuthorizationCode,
	"refresh_token":      models.GrantRefreshToken,
}

func decodeGrantTypes(c *models.OAuthClient, raw []byte) error {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return invalid("grant_types: must be an array of strings")
	}
	out := make([]models.GrantType, len(names))
	for i, n := range names {
		g, ok := grantNames[n]
		if !ok {
			return invalid("grant_types/" + strconv.Itoa(i) + ": " + n + " is not supported; use client_credentials, authorization_code or refresh_token")
		}
		out[i] = g
	}
	c.GrantTypes = out
	return nil
}

func encodeGrantTypes(c *models.OAuthClient) any {
	out := make([]string, len(c.GrantTypes))
	for i, g := range c.GrantTypes {
		out[i] = strings.ToLower(string(g))
	}
	return out
}

func decodeAuthMethod(c *models.OAuthClient, raw []byte) error {
	var m models.AuthMethod
	if err := json.Unmarshal(raw, &m); err != nil {
		return invalid("token_endpoint_auth_method: must be a string")
	}
	switch m {
	case models.AuthSecretBasic, models.AuthSecretPost, models.AuthPrivateKeyJWT:
		c.Type = models.TypeConfidential
	case models.AuthNone:
		c.Type = models.TypePublic
	default:
		return invalid("token_endpoint_auth_method: must be client_secret_basic, client_secret_post, private_key_jwt or none")
	}
	c.TokenEndpointAuthMethods = []models.AuthMethod{m}
	return nil
}

// encodeAuthMethod shows the first of the client's methods: RFC 7591 has
// room for one, and the management API may have given it more.
func encodeAuthMethod(c *models.OAuthClient) any {
	if len(c.TokenEndpointAuthMethods) == 0 {
		return nil
	}
	return string(c.TokenEndpointAuthMethods[0])
}

// defaultAuthMethod is RFC 7591 §2's default, none for a public client.
func defaultAuthMethod(t models.ClientType) models.AuthMethod {
	if t == models.TypePublic {
		return models.AuthNone
	}
	return models.AuthSecretBasic
}

func decodeScope(c *models.OAuthClient, raw []byte) error {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return invalid("scope: must be a string of space-separated scopes")
	}
	if strings.TrimSpace(s) == "" {
		return invalid("scope: must name at least one scope; leave it out for the default")
	}
	c.Scope = strings.Fields(s)
	return nil
}
