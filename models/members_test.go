package models

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"
)

// TestFullSetsEveryField keeps the tests below honest: they compare
// clients built by full, which must give every field a value.
func TestFullSetsEveryField(t *testing.T) {
	v := reflect.ValueOf(full())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("full() leaves %s zero: give the new field a value there", v.Type().Field(i).Name)
		}
	}
}

// full returns a client in which every field holds a value other than its
// zero value and its create default.
func full() OAuthClient {
	s := func(v string) *string { return &v }
	used := time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)
	return OAuthClient{
		ID: "0123456789abcdef0123456789abcdef", Name: "Acme <&> \"ops\"",
		Description: s("line\nbreak é \u2028"), BusinessName: s("Acme Inc"),
		HomepageURL: s("https://acme.example/?a=1&b=2"), Tenant: s("t1"),
		AccessTokenValiditySeconds: 120, RefreshTokenValiditySeconds: 7200,
		RedirectURIs: []string{"https://a.example/cb", "http://127.0.0.1/cb"},
		GrantTypes:   []GrantType{GrantAuthorizationCode, GrantRefreshToken},
		AccessType:   AccessOffline, Type: TypePublic, Internal: true, Enabled: true,
		StrongAuthSupported: true, ClaimsSupported: true, Scope: []string{"a", "b"},
		Audience: []string{"https://api.example", "urn:example:billing"},
		Created:  used.Add(-time.Hour), Modified: used.Add(-time.Minute), LastUsed: &used,
		Secrets:                  []Secret{{ID: "5ec", Hash: []byte{1, 2}, Created: used, Expires: &used, Hint: "abcd"}},
		TokenEndpointAuthMethods: []AuthMethod{AuthNone},
		JWKS:                     KeySet(`{"keys":[]}`), JWKSURI: s("https://acme.example/jwks"),
		TokenGeneration:       3,
		RegistrationTokenHash: []byte{7, 8, 9},
	}
}

// change sets v, a field of OAuthClient, to a different value.
func change(t *testing.T, v reflect.Value) {
	if v.Type() == reflect.TypeFor[KeySet]() {
		v.SetBytes([]byte(`{"other":true}`))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.Set(reflect.Zero(v.Type()))
		}
	case reflect.Struct:
		tm := v.Addr().Interface().(*time.Time)
		*tm = tm.Add(time.Second)
	default:
		t.Fatalf("no way to change a %s", v.Type())
	}
}

// The store's own fields, which are not members of the wire.
var storeFields = []string{"TokenGeneration", "RegistrationTokenHash"}

// TestEveryFieldIsAMember fails when OAuthClient gains a field that no
// member of the table reads: such a field would be lost by the wire, the
// store and the change comparison alike.
func TestEveryFieldIsAMember(t *testing.T) {
	base := full()
	typ := reflect.TypeFor[OAuthClient]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		c := base.Clone()
		change(t, reflect.ValueOf(&c).Elem().Field(i))
		var changed []string
		for _, m := range Members() {
			if !m.Equal(&base, &c) {
				changed = append(changed, m.Name)
			}
		}
		store := slices.Contains(storeFields, f.Name)
		switch {
		case store && len(changed) > 0:
			t.Errorf("%s: a store field, but members %v see it", f.Name, changed)
		case !store && len(changed) != 1:
			t.Errorf("%s: seen by members %v, want exactly one", f.Name, changed)
		}
		timestamp := len(changed) == 1 && mustLookup(t, changed[0]).Type == DateTime
		if got := SameStoredValues(&base, &c); got != timestamp {
			t.Errorf("%s changed: SameStoredValues = %v", f.Name, got)
		}
	}
}

func mustLookup(t *testing.T, name string) *Member {
	m, ok := LookupMember(name)
	if !ok {
		t.Fatalf("no member %q", name)
	}
	return m
}

func TestCloneIsDeep(t *testing.T) {
	c := full()
	d := c.Clone()
	if !reflect.DeepEqual(c, d) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, d)
	}
	*d.Description, *d.LastUsed = "changed", time.Time{}
	d.RedirectURIs[0], d.GrantTypes[0], d.Scope[0], d.Secrets[0].Hash[0] = "x", "x", "x", 9
	*d.Secrets[0].Expires = time.Time{}
	d.JWKS[2] = 'x'
	if !reflect.DeepEqual(c, full()) {
		t.Error("changing a clone changed the original")
	}
	var empty OAuthClient
	e := empty.Clone()
	if e.RedirectURIs == nil || e.GrantTypes == nil || e.Scope == nil {
		t.Error("Clone left a nil array")
	}
}

// TestMembersRoundTrip sends every member of a full client through JSON
// and through its column, into a client holding other values.
func TestMembersRoundTrip(t *testing.T) {
	src := full()
	for _, m := range Members() {
		dst := NewClient()
		raw := m.AppendJSON(nil, &src)
		if !m.CheckJSON(raw) {
			t.Errorf("%s: CheckJSON refuses its own %s", m.Name, raw)
		}
		// The wire form may be a projection (secrets show no hash): what
		// decodes must encode to the same JSON.
		if err := m.DecodeJSON(&dst, raw); err != nil || string(m.AppendJSON(nil, &dst)) != string(raw) {
			t.Errorf("%s: JSON %s decoded to %v (%v)", m.Name, raw, reflect.ValueOf(dst), err)
		}
		if m.Column == "" {
			continue
		}
		dst = NewClient()
		if err := m.LoadColumn(&dst, cellOf(t, m.ColumnKind(), m.ColumnValue(&src))); err != nil || !m.Equal(&src, &dst) {
			t.Errorf("%s: column value %v loaded to a different value (%v)", m.Name, m.ColumnValue(&src), err)
		}
		if m.Type != Integer && m.Type != Boolean && !m.Nullable && m.CheckJSON([]byte("null")) {
			t.Errorf("%s: CheckJSON accepts null", m.Name)
		}
	}
}

// cellOf is what a driver hands back for v, a column value.
func cellOf(t *testing.T, k ColumnKind, v any) Cell {
	switch v := v.(type) {
	case nil:
		return Cell{}
	case *string:
		if v == nil {
			return Cell{}
		}
		return Cell{Valid: true, Text: *v}
	case string:
		return Cell{Valid: k == ColumnText, Text: v}
	case int64:
		return Cell{Valid: k == ColumnInteger, Int: v}
	case bool:
		return Cell{Valid: k == ColumnBoolean, Bool: v}
	}
	t.Fatalf("unexpected column value %T", v)
	return Cell{}
}

func TestDecodeJSONRefusesWrongTypes(t *testing.T) {
	wrong := map[JSONType]string{
		String: `1`, Integer: `1.5`, Boolean: `"true"`, DateTime: `"yesterday"`, StringArray: `[1]`,
	}
	for _, m := range Members() {
		c := full()
		before := c.Clone()
		if err := m.DecodeJSON(&c, []byte(wrong[m.Type])); err == nil {
			t.Errorf("%s: decoded %s", m.Name, wrong[m.Type])
		}
		if !reflect.DeepEqual(c, before) {
			t.Errorf("%s: a failed decode changed the client", m.Name)
		}
		if m.Type != DateTime && m.CheckJSON([]byte(wrong[m.Type])) {
			t.Errorf("%s: CheckJSON accepts %s", m.Name, wrong[m.Type])
		}
	}
}

// TestObjectMember shows that the table holds a nullable JSON object stored
// as a JSON column (a JWK Set, say).
func TestObjectMember(t *testing.T) {
	type set struct {
		Keys []map[string]string `json:"keys"`
	}
	// The test keeps each client's value beside it: OAuthClient has no such
	// field yet.
	store := map[*OAuthClient]**set{}
	m := Member{Name: "jwks", Type: Object, Nullable: true, Access: Mutable, Column: "jwks",
		codec: object[*set](func(c *OAuthClient) **set {
			if store[c] == nil {
				store[c] = new(*set)
			}
			return store[c]
		})}
	a, b := &OAuthClient{}, &OAuthClient{}
	if got := string(m.AppendJSON(nil, a)); got != "null" || m.ColumnValue(a) != nil {
		t.Errorf("nil object: JSON %s, column %v", got, m.ColumnValue(a))
	}
	raw := []byte(`{"keys":[{"kid":"k1","kty":"EC"}]}`)
	if err := m.DecodeJSON(a, raw); err != nil {
		t.Fatal(err)
	}
	if got := string(m.AppendJSON(nil, a)); got != string(raw) {
		t.Errorf("got %s, want %s", got, raw)
	}
	if m.Equal(a, b) {
		t.Error("a set equals null")
	}
	m.Copy(b, a)
	if !m.Equal(a, b) {
		t.Error("a copy differs")
	}
	(*store[b]).Keys[0]["kid"] = "other"
	if m.Equal(a, b) {
		t.Error("a copy shares memory")
	}
	c := &OAuthClient{}
	if err := m.LoadColumn(c, cellOf(t, m.ColumnKind(), m.ColumnValue(a))); err != nil || !m.Equal(a, c) {
		t.Errorf("column round trip: %v", err)
	}
	if err := m.DecodeJSON(c, []byte(`[1]`)); err == nil {
		t.Error("decoded an array into an object")
	}
	if !m.CheckJSON([]byte(`null`)) || m.CheckJSON([]byte(`[]`)) {
		t.Error("CheckJSON of an object")
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	check := func(s string) bool {
		want, _ := json.Marshal(s)
		return string(appendString([]byte("x"), s)) == "x"+string(want)
	}
	for _, s := range []string{"", "plain", `q"b\`, "<a&b>", "\x00\x1f\x7f", "\u2028\u2029", "é", "\xff\xfe", "tab\there"} {
		if !check(s) {
			t.Errorf("appendString(%q) differs from encoding/json", s)
		}
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
}

func TestPredicates(t *testing.T) {
	var names []string
	for _, m := range PatchableMembers() {
		names = append(names, m.Name)
	}
	want := "businessName homepageUrl name description tenant accessTokenValiditySeconds " +
		"refreshTokenValiditySeconds redirectUris grantTypes accessType enabled strongAuthSupported claimsSupported " +
		"tokenEndpointAuthMethods jwks jwksUri audience"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("patchable members:\n got %s\nwant %s", got, want)
	}
	for _, name := range []string{"id", "secret", "scope", "Name", "type", "internal", "created"} {
		if IsPatchable(name) {
			t.Errorf("IsPatchable(%s) = true", name)
		}
	}
	for name, want := range map[string]bool{"tenant": true, "lastUsed": true, "name": false, "nope": false} {
		if m, ok := LookupMember(name); (ok && m.Nullable) != want {
			t.Errorf("%s nullable: %v", name, !want)
		}
	}
	for name, want := range map[string]bool{"redirectUris": true, "grantTypes": true, "scope": false, "name": false} {
		if IsArrayMember(name) != want {
			t.Errorf("IsArrayMember(%s) = %v", name, !want)
		}
	}
}

// TestSecretsEqualAsStored holds the comparison of the secrets member to
// the column text it stands for: two lists are equal exactly when the store
// would write the same JSON for them, hashes included.
func TestSecretsEqualAsStored(t *testing.T) {
	at := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.UTC)
	later, sameMilli := at.Add(time.Millisecond), at.Add(400*time.Nanosecond).In(time.FixedZone("x", 3600))
	base := Secret{ID: "s1", Hash: []byte{1, 2, 3}, Created: at, Expires: &later, Hint: "ab"}
	variants := map[string]func(*Secret){
		"same":              func(*Secret) {},
		"id":                func(s *Secret) { s.ID = "s2" },
		"hash":              func(s *Secret) { s.Hash = []byte{1, 2, 4} },
		"hash nil":          func(s *Secret) { s.Hash = nil },
		"hint":              func(s *Secret) { s.Hint = "" },
		"created +1ms":      func(s *Secret) { s.Created = later },
		"created same ms":   func(s *Secret) { s.Created = sameMilli },
		"expires nil":       func(s *Secret) { s.Expires = nil },
		"expires same ms":   func(s *Secret) { s.Expires = &sameMilli },
		"lastUsed set":      func(s *Secret) { s.LastUsed = &at },
		"expires other ms":  func(s *Secret) { s.Expires = &at },
		"hash empty vs nil": func(s *Secret) { s.Hash = []byte{} },
	}
	m, _ := LookupMember("secrets")
	for name, mutate := range variants {
		for _, lists := range [][2][]Secret{{{base}, {base}}, {{base, base}, {base}}, {{}, nil}} {
			b := slices.Clone(lists[1])
			if len(b) > 0 {
				mutate(&b[0])
			}
			x, y := OAuthClient{Secrets: lists[0]}, OAuthClient{Secrets: b}
			want := string(marshalSecrets(x.Secrets, true)) == string(marshalSecrets(y.Secrets, true))
			if got := m.Equal(&x, &y); got != want {
				t.Errorf("%s, %d vs %d secrets: Equal = %v, the column text says %v", name, len(x.Secrets), len(y.Secrets), got, want)
			}
		}
	}
}
