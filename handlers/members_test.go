package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/clientele/clientele/models"
)

// memberSamples holds, for every member a request may set, three values in
// the order create, PATCH, PUT: each differs from the one before it, and
// the create value from the create default. Every member of the table
// needs an entry; a new member fails TestEveryMemberRoundTrips until it
// has one. The values agree with each other under Validate (a PUBLIC
// client, AUTHORIZATION_CODE with redirect URIs).
var memberSamples = map[string][3]string{
	"name":                        {`"Round trip"`, `"Round trip, patched"`, `"Round trip, replaced"`},
	"description":                 {`"d1"`, `"d2"`, `"d3"`},
	"businessName":                {`"b1"`, `"b2"`, `"b3"`},
	"homepageUrl":                 {`"https://h1.example"`, `"https://h2.example"`, `"https://h3.example"`},
	"tenant":                      {`"t1"`, `"t2"`, `"t3"`},
	"accessTokenValiditySeconds":  {`120`, `240`, `360`},
	"refreshTokenValiditySeconds": {`1200`, `2400`, `3600`},
	"redirectUris":                {`["https://r1.example/cb"]`, `["https://r2.example/cb","http://127.0.0.1/cb"]`, `["com.example.app:/cb"]`},
	"grantTypes":                  {`["AUTHORIZATION_CODE"]`, `["AUTHORIZATION_CODE","REFRESH_TOKEN"]`, `["REFRESH_TOKEN","AUTHORIZATION_CODE"]`},
	"accessType":                  {`"OFFLINE"`, `"ONLINE"`, `"OFFLINE"`},
	"type":                        {`"PUBLIC"`},
	"internal":                    {`true`},
	"enabled":                     {`false`, `true`, `false`},
	"strongAuthSupported":         {`true`, `false`, `true`},
	"claimsSupported":             {`true`, `false`, `true`},
	"scope":                       {`["sp:oauth-client:read"]`},
	"audience":                    {`["https://a1.example"]`, `["urn:example:a2","https://a1.example"]`, `["a3"]`},
}

// credentialMembers cannot take samples on the PUBLIC client above (its
// only method is none, and jwks excludes jwksUri): TestCredentialMembersRoundTrip
// sends them through every layer on a CONFIDENTIAL client.
var credentialMembers = map[string]bool{"tokenEndpointAuthMethods": true, "jwks": true, "jwksUri": true}

// httpClient drives a server over real HTTP with the admin's token.
type httpClient struct {
	t     *testing.T
	url   string
	token string
}

func (h httpClient) call(method, path, contentType, body string, want int) map[string]json.RawMessage {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, resp.StatusCode, want, raw)
	}
	var out map[string]json.RawMessage
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return out
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// checkMembers fails unless got holds exactly the members of the table
// (plus extra) and each member named in want has the value given.
func checkMembers(t *testing.T, step string, got map[string]json.RawMessage, want map[string]string, extra ...string) {
	t.Helper()
	names := slices.Collect(maps.Keys(got))
	wantNames := extra
	for _, m := range models.Members() {
		wantNames = append(wantNames, m.Name)
	}
	slices.Sort(names)
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("%s: members %v, want %v", step, names, wantNames)
	}
	for name, v := range want {
		if !sameJSON(got[name], []byte(v)) {
			t.Errorf("%s: %s = %s, want %s", step, name, got[name], v)
		}
	}
}

func objectOf(members map[string]string) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(members)) {
		if i > 0 {
			b.WriteByte(',')
		}
		q, _ := json.Marshal(name)
		b.Write(q)
		b.WriteByte(':')
		b.WriteString(members[name])
	}
	b.WriteByte('}')
	return b.String()
}

// TestEveryMemberRoundTrips sends every member of the table through
// create, the store, GET, PATCH (each patchable member alone, by JSON Patch
// and by merge patch, and null for the nullable ones) and PUT, over real
// HTTP to the real router on a SQLite file. A member the wire decoder, the
// encoder, patch, the row mapping or the change comparison missed would
// come back with a value other than the one sent.
func TestEveryMemberRoundTrips(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.e)
	defer srv.Close()
	h := httpClient{t: t, url: srv.URL, token: e.adminToken}

	defaults := models.NewClient()
	sent := map[string]string{}
	for _, m := range models.Members() {
		if m.Access == models.ServerSet || credentialMembers[m.Name] {
			continue
		}
		s, ok := memberSamples[m.Name]
		if !ok {
			t.Fatalf("member %s has no sample values in memberSamples", m.Name)
		}
		if sameJSON([]byte(s[0]), m.AppendJSON(nil, &defaults)) {
			t.Fatalf("member %s: the create sample %s is its default", m.Name, s[0])
		}
		sent[m.Name] = s[0]
	}

	created := h.call(http.MethodPost, "/oauth-clients", "application/json", objectOf(sent), http.StatusCreated)
	checkMembers(t, "create", created, sent, "secret")
	var id string
	if err := json.Unmarshal(created["id"], &id); err != nil {
		t.Fatal(err)
	}
	path := "/oauth-clients/" + id
	checkMembers(t, "GET after create", h.call(http.MethodGet, path, "", "", http.StatusOK), sent)

	current := maps.Clone(sent)
	for _, m := range models.PatchableMembers() {
		if credentialMembers[m.Name] {
			continue
		}
		s := memberSamples[m.Name]
		for _, p := range []struct{ media, body, value string }{
			{"application/json-patch+json", `[{"op":"replace","path":"/` + m.Name + `","value":` + s[1] + `}]`, s[1]},
			{"application/merge-patch+json", `{"` + m.Name + `":` + s[0] + `}`, s[0]},
		} {
			current[m.Name] = p.value
			checkMembers(t, "PATCH "+p.body, h.call(http.MethodPatch, path, p.media, p.body, http.StatusOK), current)
			checkMembers(t, "GET after PATCH "+p.body, h.call(http.MethodGet, path, "", "", http.StatusOK), current)
		}
		if m.Nullable {
			body := `[{"op":"remove","path":"/` + m.Name + `"}]`
			current[m.Name] = "null"
			h.call(http.MethodPatch, path, "application/json-patch+json", body, http.StatusOK)
			checkMembers(t, "GET after PATCH "+body, h.call(http.MethodGet, path, "", "", http.StatusOK), current)
		}
	}

	// A PUT of a GET body with every settable member changed: the
	// server-set members ride along and are ignored, the Immutable ones
	// keep their values.
	got := h.call(http.MethodGet, path, "", "", http.StatusOK)
	put := map[string]string{}
	for _, m := range models.Members() {
		put[m.Name] = string(got[m.Name])
		if m.Patchable() && !credentialMembers[m.Name] {
			put[m.Name] = memberSamples[m.Name][2]
			current[m.Name] = put[m.Name]
		}
	}
	checkMembers(t, "PUT", h.call(http.MethodPut, path, "application/json", objectOf(put), http.StatusOK), current)
	checkMembers(t, "GET after PUT", h.call(http.MethodGet, path, "", "", http.StatusOK), current)

	// A PUT of the required members alone sets every other Mutable member
	// back to its create default.
	minimal := map[string]string{"redirectUris": current["redirectUris"]}
	for _, m := range models.Members() {
		if m.Required {
			minimal[m.Name] = current[m.Name]
		}
	}
	for _, m := range models.PatchableMembers() {
		if _, ok := minimal[m.Name]; !ok && !credentialMembers[m.Name] {
			current[m.Name] = string(m.AppendJSON(nil, &defaults))
		}
	}
	checkMembers(t, "PUT of the required members", h.call(http.MethodPut, path, "application/json", objectOf(minimal), http.StatusOK), current)
	checkMembers(t, "GET after that PUT", h.call(http.MethodGet, path, "", "", http.StatusOK), current)
}

// TestSpecDescribesEveryMember holds openapi.yaml's client schemas to the
// table of members: the representation shows every member; a create body
// may hold the members a request sets, a PUT body those and the server's;
// a merge patch the patchable ones. Types, nullability and the required
// members agree.
func TestSpecDescribesEveryMember(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all := func(*models.Member) bool { return true }
	settable := func(m *models.Member) bool { return m.Access != models.ServerSet }
	for _, tt := range []struct {
		schema   string
		includes func(*models.Member) bool
		required func(*models.Member) bool
	}{
		{"OAuthClient", all, all},
		{"CreateOAuthClientRequest", settable, func(m *models.Member) bool { return m.Required }},
		{"ReplaceOAuthClientRequest", all, func(m *models.Member) bool { return m.Required }},
		{"OAuthClientMergePatch", (*models.Member).Patchable, func(*models.Member) bool { return false }},
	} {
		ref := doc.Components.Schemas[tt.schema]
		if ref == nil {
			t.Fatalf("openapi.yaml has no schema %s", tt.schema)
		}
		s := ref.Value
		var want, wantRequired []string
		members := models.Members()
		for i := range members {
			m := &members[i]
			if !tt.includes(m) {
				continue
			}
			want = append(want, m.Name)
			if tt.required(m) {
				wantRequired = append(wantRequired, m.Name)
			}
			p := s.Properties[m.Name]
			if p == nil {
				continue
			}
			if p.Value.Nullable != m.Nullable {
				t.Errorf("%s.%s: nullable %v, the table says %v", tt.schema, m.Name, p.Value.Nullable, m.Nullable)
			}
			if got := specType(p.Value); got != m.Type {
				t.Errorf("%s.%s: type %v in openapi.yaml, %v in the table", tt.schema, m.Name, got, m.Type)
			}
		}
		got := slices.Sorted(maps.Keys(s.Properties))
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: properties %v, want the table's %v", tt.schema, got, want)
		}
		gotRequired := slices.Sorted(slices.Values(s.Required))
		slices.Sort(wantRequired)
		if !slices.Equal(gotRequired, wantRequired) {
			t.Errorf("%s: required %v, want %v", tt.schema, gotRequired, wantRequired)
		}
	}
}

// specType is the table's JSON type of an OpenAPI schema.
func specType(s *openapi3.Schema) models.JSONType {
	switch {
	case s.Type.Is("string") && s.Format == "date-time":
		return models.DateTime
	case s.Type.Is("string"):
		return models.String
	case s.Type.Is("integer"):
		return models.Integer
	case s.Type.Is("boolean"):
		return models.Boolean
	case s.Type.Is("object"):
		return models.Object
	case s.Type.Is("array") && s.Items != nil && s.Items.Value.Type.Is("string"):
		return models.StringArray
	case s.Type.Is("array") && s.Items != nil && s.Items.Value.Type.Is("object"):
		return models.ObjectArray
	}
	return 0
}

// TestCredentialMembersRoundTrip sends tokenEndpointAuthMethods, jwks and
// jwksUri through create, GET, PATCH (a key added and dropped by index, a
// switch from jwks to jwksUri in one patch) and PUT on a CONFIDENTIAL
// client, and checks a PUBLIC client's default.
func TestCredentialMembersRoundTrip(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.e)
	defer srv.Close()
	h := httpClient{t: t, url: srv.URL, token: e.adminToken}
	key := func(kid, x, y string) string {
		return `{"kty":"EC","crv":"P-256","kid":"` + kid + `","x":"` + x + `","y":"` + y + `"}`
	}
	k1 := key("k1", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")
	k2 := key("k2", "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0", "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps")
	cur := map[string]string{
		"tokenEndpointAuthMethods": `["private_key_jwt","client_secret_basic"]`,
		"jwks":                     `{"keys":[` + k1 + `]}`,
		"jwksUri":                  `null`,
	}
	body := `{"name":"keys","grantTypes":["CLIENT_CREDENTIALS"],"tokenEndpointAuthMethods":` + cur["tokenEndpointAuthMethods"] + `,"jwks":` + cur["jwks"] + `}`
	created := h.call(http.MethodPost, "/oauth-clients", "application/json", body, http.StatusCreated)
	checkMembers(t, "create", created, cur, "secret")
	var id string
	json.Unmarshal(created["id"], &id)
	path := "/oauth-clients/" + id
	checkMembers(t, "GET", h.call(http.MethodGet, path, "", "", http.StatusOK), cur)

	steps := []struct{ patch, member, want string }{
		{`[{"op":"add","path":"/jwks/keys/-","value":` + k2 + `}]`, "jwks", `{"keys":[` + k1 + `,` + k2 + `]}`},
		{`[{"op":"remove","path":"/jwks/keys/0"}]`, "jwks", `{"keys":[` + k2 + `]}`},
		{`[{"op":"replace","path":"/tokenEndpointAuthMethods/1","value":"client_secret_post"}]`, "tokenEndpointAuthMethods", `["private_key_jwt","client_secret_post"]`},
	}
	for _, s := range steps {
		cur[s.member] = s.want
		checkMembers(t, "PATCH "+s.patch, h.call(http.MethodPatch, path, "application/json-patch+json", s.patch, http.StatusOK), cur)
		checkMembers(t, "GET after "+s.patch, h.call(http.MethodGet, path, "", "", http.StatusOK), cur)
	}
	swap := `[{"op":"remove","path":"/jwks"},{"op":"add","path":"/jwksUri","value":"https://keys.example/jwks.json"}]`
	cur["jwks"], cur["jwksUri"] = "null", `"https://keys.example/jwks.json"`
	checkMembers(t, "PATCH "+swap, h.call(http.MethodPatch, path, "application/json-patch+json", swap, http.StatusOK), cur)

	// Refusals name the member and change nothing.
	for _, bad := range []string{
		`[{"op":"add","path":"/jwks","value":{"keys":[]}}]`,                                                               // both jwks and jwksUri
		`[{"op":"replace","path":"/jwksUri","value":"http://keys.example/jwks"}]`,                                         // http off loopback
		`[{"op":"remove","path":"/jwksUri"}]`,                                                                             // private_key_jwt without keys
		`[{"op":"replace","path":"/tokenEndpointAuthMethods","value":["none"]}]`,                                          // none on a confidential client
		`[{"op":"remove","path":"/jwksUri"},{"op":"add","path":"/jwks","value":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}}]`, // a symmetric key
	} {
		h.call(http.MethodPatch, path, "application/json-patch+json", bad, http.StatusBadRequest)
	}
	checkMembers(t, "GET after refusals", h.call(http.MethodGet, path, "", "", http.StatusOK), cur)

	put := `{"name":"keys","grantTypes":["CLIENT_CREDENTIALS"],"jwks":{"keys":[` + k1 + `]}}`
	cur["tokenEndpointAuthMethods"], cur["jwks"], cur["jwksUri"] = `["client_secret_basic","client_secret_post"]`, `{"keys":[`+k1+`]}`, "null"
	checkMembers(t, "PUT", h.call(http.MethodPut, path, "application/json", put, http.StatusOK), cur)

	pub := h.call(http.MethodPost, "/oauth-clients", "application/json",
		`{"name":"spa","type":"PUBLIC","grantTypes":["AUTHORIZATION_CODE"],"redirectUris":["https://spa.example/cb"]}`, http.StatusCreated)
	checkMembers(t, "PUBLIC create", pub, map[string]string{"tokenEndpointAuthMethods": `["none"]`, "secrets": `[]`, "secret": "null"}, "secret")
}
