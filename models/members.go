package models

import (
	"bytes"
	"encoding/json"
	"time"
)

// JSONType is the JSON type of a member's value on the wire. Error causes
// name it ("name: must be a string").
type JSONType uint8

// The JSON types of members.
const (
	String JSONType = iota + 1
	Integer
	Boolean
	// DateTime is an RFC 3339 UTC string with milliseconds (SPEC §2).
	DateTime
	// StringArray is an array of strings, enum values included.
	StringArray
	Object
	ObjectArray
)

var jsonTypePhrases = map[JSONType]string{
	String: "a string", Integer: "an integer", Boolean: "a boolean", DateTime: "a date-time string",
	StringArray: "an array of strings", Object: "an object", ObjectArray: "an array of objects",
}

// Access says who sets a member, and through which requests.
type Access uint8

const (
	// Mutable members are set by create, set back to their default by a PUT
	// that leaves them out, and changed by PATCH: SPEC §4.1's allowlist.
	Mutable Access = iota + 1
	// Immutable members are set by create; a PUT may hold only their current
	// value; PATCH cannot reach them.
	Immutable
	// ServerSet members are the server's: a create body may not hold them
	// and a PUT's are ignored.
	ServerSet
)

// Member describes one member of an OAuth client. The wire decoder and
// encoder, patch's projection and null rules, the store's row mapping and
// SameStoredValues all iterate the table of members, so a member described
// here is a member of every layer.
type Member struct {
	// Name is the member's JSON name, exact and case-sensitive.
	Name string
	Type JSONType
	// Nullable members may be null (a PUT or create may send null; if
	// Mutable, a patch may remove or null them). Null stores NULL.
	Nullable bool
	// Required members must be in a create or PUT body; Validate refuses
	// their zero value.
	Required bool
	Access   Access
	// Column is the member's column in oauth_clients, or "" when the store
	// keeps the member elsewhere.
	Column string

	key   []byte // `"name":`
	codec codec
}

// Patchable reports whether PATCH may change m (SPEC §4.1).
func (m *Member) Patchable() bool { return m.Access == Mutable }

// TypePhrase names m's JSON type for an error cause: "a string or null".
func (m *Member) TypePhrase() string {
	if m.Nullable {
		return jsonTypePhrases[m.Type] + " or null"
	}
	return jsonTypePhrases[m.Type]
}

// AppendKey appends `"name":` to dst.
func (m *Member) AppendKey(dst []byte) []byte { return append(dst, m.key...) }

// AppendJSON appends c's value of m to dst, exactly as encoding/json would
// write it.
func (m *Member) AppendJSON(dst []byte, c *OAuthClient) []byte { return m.codec.appendJSON(dst, c) }

// DecodeJSON sets c's value of m from raw, one JSON value. A value of the
// wrong type is an error and leaves c as it was.
func (m *Member) DecodeJSON(c *OAuthClient, raw []byte) error { return m.codec.decodeJSON(c, raw) }

// CheckJSON reports whether raw is of m's JSON type (null only when m is
// Nullable), without reading it into a client: a server-set member in a
// PUT body is checked this way and then ignored.
func (m *Member) CheckJSON(raw []byte) bool {
	if bytes.Equal(raw, []byte("null")) {
		return m.Nullable
	}
	var err error
	switch m.Type {
	case String, DateTime:
		err = json.Unmarshal(raw, new(string))
	case Integer:
		err = json.Unmarshal(raw, new(int))
	case Boolean:
		err = json.Unmarshal(raw, new(bool))
	case StringArray:
		err = json.Unmarshal(raw, new([]string))
	case Object:
		err = json.Unmarshal(raw, new(map[string]json.RawMessage))
	case ObjectArray:
		err = json.Unmarshal(raw, new([]map[string]json.RawMessage))
	}
	return err == nil
}

// Field returns a pointer to c's field of m (a *string for name, a
// **string for description), for a decoder that fills many members in one
// pass.
func (m *Member) Field(c *OAuthClient) any { return m.codec.field(c) }

// Equal reports whether a and b hold the same value of m.
func (m *Member) Equal(a, b *OAuthClient) bool { return m.codec.equal(a, b) }

// Copy sets dst's value of m to a deep copy of src's.
func (m *Member) Copy(dst, src *OAuthClient) { m.codec.copy(dst, src) }

// ColumnKind is the SQL type class of m's column.
func (m *Member) ColumnKind() ColumnKind { return m.codec.columnKind() }

// ColumnValue is c's value of m as its column stores it: a string, an
// int64, a bool, or nil (or a nil *string) for NULL.
func (m *Member) ColumnValue(c *OAuthClient) any { return m.codec.columnValue(c) }

// LoadColumn sets c's value of m from its column's value.
func (m *Member) LoadColumn(c *OAuthClient, v Cell) error { return m.codec.load(c, v) }

// ColumnKind is how a member's column stores it.
type ColumnKind uint8

// Column kinds. Arrays and objects are stored as JSON text, times as Unix
// milliseconds.
const (
	ColumnText ColumnKind = iota + 1
	ColumnInteger
	ColumnBoolean
)

// Cell is one column's value as read from the store: Valid is false for
// NULL; the field of the column's kind holds the value.
type Cell struct {
	Valid bool
	Text  string
	Int   int64
	Bool  bool
}

// members is the table: every member of a client, in the order of the wire
// representation (SailPoint's). A new member is a row here and a field of
// OAuthClient, its rules in Validate, a migration adding its column, its
// schema in openapi.yaml, and sample values in the round-trip test
// (handlers/members_test.go); tests fail until each of these is there.
var members = []Member{
	{Name: "id", Type: String, Access: ServerSet, Column: "id",
		codec: text[string](func(c *OAuthClient) *string { return &c.ID })},
	{Name: "businessName", Type: String, Nullable: true, Access: Mutable, Column: "business_name",
		codec: optText(func(c *OAuthClient) **string { return &c.BusinessName })},
	{Name: "homepageUrl", Type: String, Nullable: true, Access: Mutable, Column: "homepage_url",
		codec: optText(func(c *OAuthClient) **string { return &c.HomepageURL })},
	{Name: "name", Type: String, Required: true, Access: Mutable, Column: "name",
		codec: text[string](func(c *OAuthClient) *string { return &c.Name })},
	{Name: "description", Type: String, Nullable: true, Access: Mutable, Column: "description",
		codec: optText(func(c *OAuthClient) **string { return &c.Description })},
	{Name: "tenant", Type: String, Nullable: true, Access: Mutable, Column: "tenant",
		codec: optText(func(c *OAuthClient) **string { return &c.Tenant })},
	{Name: "accessTokenValiditySeconds", Type: Integer, Access: Mutable, Column: "access_token_validity_seconds",
		codec: integer(func(c *OAuthClient) *int { return &c.AccessTokenValiditySeconds })},
	{Name: "refreshTokenValiditySeconds", Type: Integer, Access: Mutable, Column: "refresh_token_validity_seconds",
		codec: integer(func(c *OAuthClient) *int { return &c.RefreshTokenValiditySeconds })},
	{Name: "redirectUris", Type: StringArray, Access: Mutable, Column: "redirect_uris",
		codec: texts[string](func(c *OAuthClient) *[]string { return &c.RedirectURIs })},
	{Name: "grantTypes", Type: StringArray, Required: true, Access: Mutable, Column: "grant_types",
		codec: texts[GrantType](func(c *OAuthClient) *[]GrantType { return &c.GrantTypes })},
	{Name: "accessType", Type: String, Access: Mutable, Column: "access_type",
		codec: text[AccessType](func(c *OAuthClient) *AccessType { return &c.AccessType })},
	{Name: "type", Type: String, Access: Immutable, Column: "type",
		codec: text[ClientType](func(c *OAuthClient) *ClientType { return &c.Type })},
	{Name: "internal", Type: Boolean, Access: Immutable, Column: "internal",
		codec: boolean(func(c *OAuthClient) *bool { return &c.Internal })},
	{Name: "enabled", Type: Boolean, Access: Mutable, Column: "enabled",
		codec: boolean(func(c *OAuthClient) *bool { return &c.Enabled })},
	{Name: "strongAuthSupported", Type: Boolean, Access: Mutable, Column: "strong_auth_supported",
		codec: boolean(func(c *OAuthClient) *bool { return &c.StrongAuthSupported })},
	{Name: "claimsSupported", Type: Boolean, Access: Mutable, Column: "claims_supported",
		codec: boolean(func(c *OAuthClient) *bool { return &c.ClaimsSupported })},
	{Name: "created", Type: DateTime, Access: ServerSet, Column: "created",
		codec: instant(func(c *OAuthClient) *time.Time { return &c.Created })},
	{Name: "modified", Type: DateTime, Access: ServerSet, Column: "modified",
		codec: instant(func(c *OAuthClient) *time.Time { return &c.Modified })},
	{Name: "lastUsed", Type: DateTime, Nullable: true, Access: ServerSet, Column: "last_used",
		codec: optInstant(func(c *OAuthClient) **time.Time { return &c.LastUsed })},
	{Name: "scope", Type: StringArray, Access: Immutable, Column: "scope",
		codec: texts[string](func(c *OAuthClient) *[]string { return &c.Scope })},
	{Name: "secrets", Type: ObjectArray, Access: ServerSet, Column: "secrets",
		codec: secretList(func(c *OAuthClient) *[]Secret { return &c.Secrets })},
	{Name: "tokenEndpointAuthMethods", Type: StringArray, Access: Mutable, Column: "token_endpoint_auth_methods",
		codec: texts[AuthMethod](func(c *OAuthClient) *[]AuthMethod { return &c.TokenEndpointAuthMethods })},
	{Name: "jwks", Type: Object, Nullable: true, Access: Mutable, Column: "jwks",
		codec: rawJSON(func(c *OAuthClient) *KeySet { return &c.JWKS })},
	{Name: "jwksUri", Type: String, Nullable: true, Access: Mutable, Column: "jwks_uri",
		codec: optText(func(c *OAuthClient) **string { return &c.JWKSURI })},
	{Name: "audience", Type: StringArray, Access: Mutable, Column: "audience",
		codec: texts[string](func(c *OAuthClient) *[]string { return &c.Audience })},
}

var (
	byName = func() map[string]*Member {
		m := make(map[string]*Member, len(members))
		for i := range members {
			members[i].key = append(appendString(nil, members[i].Name), ':')
			m[members[i].Name] = &members[i]
		}
		return m
	}()
	patchable = func() []*Member {
		var out []*Member
		for i := range members {
			if members[i].Patchable() {
				out = append(out, &members[i])
			}
		}
		return out
	}()
)

// Members returns the table of members in wire order. The caller must not
// change it.
func Members() []Member { return members }

// PatchableMembers returns the members of SPEC §4.1's allowlist, in wire
// order. The caller must not change it.
func PatchableMembers() []*Member { return patchable }

// LookupMember returns the member named name (exact, case-sensitive).
func LookupMember(name string) (*Member, bool) {
	m, ok := byName[name]
	return m, ok
}

// IsPatchable reports whether member is in the allowlist (exact, case-sensitive).
func IsPatchable(member string) bool {
	m, ok := byName[member]
	return ok && m.Patchable()
}

// IsArrayMember reports whether member is a patchable array, whose elements
// a patch path may address by index.
func IsArrayMember(member string) bool {
	m, ok := byName[member]
	return ok && m.Patchable() && (m.Type == StringArray || m.Type == ObjectArray)
}

// SameStoredValues reports whether a and b hold the same values, ignoring
// the timestamps (the DateTime members). It decides whether an update
// really changes the client, so that modified moves only then; a new
// registration access token is such a change.
func SameStoredValues(a, b *OAuthClient) bool {
	for i := range members {
		if members[i].Type != DateTime && !members[i].codec.equal(a, b) {
			return false
		}
	}
	return a.TokenGeneration == b.TokenGeneration && bytes.Equal(a.RegistrationTokenHash, b.RegistrationTokenHash)
}
