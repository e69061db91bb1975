package patch

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/cputime"
	"github.com/clientele/clientele/models"
)

func stored() models.OAuthClient {
	c := models.NewClient()
	c.ID = "0123456789abcdef0123456789abcdef"
	c.Name = "Acme"
	c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
	c.RedirectURIs = []string{"https://a.example/cb", "https://b.example/cb"}
	c.Scope = []string{"sp:oauth-client:read"}
	c.Secrets = []models.Secret{{ID: "s1", Hash: []byte("hash"), Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}}
	c.Created = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	c.Modified = c.Created
	return c
}

func TestApplyRefusesAttacks(t *testing.T) {
	copyBomb := []string{`{"op":"add","path":"/description","value":"` + strings.Repeat("x", 1000) + `"}`}
	for i := 0; i < 30; i++ {
		copyBomb = append(copyBomb, `{"op":"copy","from":"/redirectUris","path":"/redirectUris/-"}`)
	}
	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = `{"op":"test","path":"/name","value":"Acme"}`
	}
	tests := []struct {
		name   string
		media  string
		body   string
		status int
		code   string
		cause  string
	}{
		{"copy from secret", MediaJSONPatch, `[{"op":"copy","from":"/secret","path":"/description"}]`, 400, apierrors.CodeIllegalUpdate, `from "/secret"`},
		{"move from id", MediaJSONPatch, `[{"op":"move","from":"/id","path":"/name"}]`, 400, apierrors.CodeIllegalUpdate, `from "/id"`},
		{"copy from scope", MediaJSONPatch, `[{"op":"copy","from":"/scope","path":"/redirectUris"}]`, 400, apierrors.CodeIllegalUpdate, `from "/scope"`},
		{"copy from created", MediaJSONPatch, `[{"op":"copy","from":"/created","path":"/description"}]`, 400, apierrors.CodeIllegalUpdate, `/created`},
		{"test secret", MediaJSONPatch, `[{"op":"test","path":"/secret","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, `/secret`},
		{"no leading slash", MediaJSONPatch, `[{"op":"replace","path":"x/secret","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "must start with /"},
		{"wrong case", MediaJSONPatch, `[{"op":"replace","path":"/Name","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "/Name"},
		{"escaped slash", MediaJSONPatch, `[{"op":"replace","path":"/name~1x","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "/name~1x"},
		{"bad escape", MediaJSONPatch, `[{"op":"replace","path":"/name~2","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "escape"},
		{"too deep", MediaJSONPatch, `[{"op":"replace","path":"/name/0","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "/name/0"},
		{"leading zero", MediaJSONPatch, `[{"op":"remove","path":"/redirectUris/01"}]`, 400, apierrors.CodeIllegalUpdate, "leading zero"},
		{"negative index", MediaJSONPatch, `[{"op":"remove","path":"/redirectUris/-1"}]`, 400, apierrors.CodeIllegalUpdate, "/redirectUris/-1"},
		{"plus index", MediaJSONPatch, `[{"op":"remove","path":"/redirectUris/+1"}]`, 400, apierrors.CodeIllegalUpdate, "/redirectUris/+1"},
		{"huge index", MediaJSONPatch, `[{"op":"remove","path":"/redirectUris/99999999999999999999"}]`, 400, apierrors.CodeBadContent, ""},
		{"index past the end", MediaJSONPatch, `[{"op":"remove","path":"/redirectUris/5"}]`, 400, apierrors.CodeBadContent, ""},
		{"dash as remove", MediaJSONPatch, `[{"op":"remove","path":"/redirectUris/-"}]`, 400, apierrors.CodeIllegalUpdate, `"-"`},
		{"dash as replace", MediaJSONPatch, `[{"op":"replace","path":"/redirectUris/-","value":"https://c.example"}]`, 400, apierrors.CodeIllegalUpdate, `"-"`},
		{"dash as test", MediaJSONPatch, `[{"op":"test","path":"/redirectUris/-","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, `"-"`},
		{"dash as from", MediaJSONPatch, `[{"op":"copy","from":"/redirectUris/-","path":"/description"}]`, 400, apierrors.CodeIllegalUpdate, `"-"`},
		{"empty path", MediaJSONPatch, `[{"op":"replace","path":"","value":{}}]`, 400, apierrors.CodeIllegalUpdate, "whole client"},
		{"root slash", MediaJSONPatch, `[{"op":"replace","path":"/","value":1}]`, 400, apierrors.CodeIllegalUpdate, "empty reference token"},
		{"empty token", MediaJSONPatch, `[{"op":"add","path":"/redirectUris//","value":"x"}]`, 400, apierrors.CodeIllegalUpdate, "empty reference token"},
		{"index on a scalar member", MediaJSONPatch, `[{"op":"add","path":"/enabled/0","value":true}]`, 400, apierrors.CodeIllegalUpdate, "enabled"},
		{"duplicate op", MediaJSONPatch, `[{"op":"add","op":"remove","path":"/description"}]`, 400, apierrors.CodeBadSyntax, `"op" is duplicated`},
		{"duplicate path", MediaJSONPatch, `[{"op":"replace","path":"/description","path":"/secret","value":"x"}]`, 400, apierrors.CodeBadSyntax, `"path" is duplicated`},
		{"duplicate value", MediaJSONPatch, `[{"op":"replace","path":"/name","value":"a","value":"b"}]`, 400, apierrors.CodeBadSyntax, `"value" is duplicated`},
		{"unknown op", MediaJSONPatch, `[{"op":"merge","path":"/name","value":"x"}]`, 400, apierrors.CodeBadSyntax, "unknown op"},
		{"unknown member", MediaJSONPatch, `[{"op":"replace","path":"/name","value":"x","why":"y"}]`, 400, apierrors.CodeBadSyntax, `"why"`},
		{"missing value", MediaJSONPatch, `[{"op":"replace","path":"/name"}]`, 400, apierrors.CodeBadSyntax, "needs a value"},
		{"test without value", MediaJSONPatch, `[{"op":"test","path":"/name"}]`, 400, apierrors.CodeBadSyntax, "needs a value"},
		{"missing from", MediaJSONPatch, `[{"op":"copy","path":"/description"}]`, 400, apierrors.CodeBadSyntax, "needs from"},
		{"missing path", MediaJSONPatch, `[{"op":"remove"}]`, 400, apierrors.CodeBadSyntax, "path is required"},
		{"path not a string", MediaJSONPatch, `[{"op":"remove","path":5}]`, 400, apierrors.CodeBadSyntax, "path must be a string"},
		{"not an array", MediaJSONPatch, `{"op":"remove","path":"/description"}`, 400, apierrors.CodeBadSyntax, "array"},
		{"not JSON", MediaJSONPatch, `[{"op":`, 400, apierrors.CodeBadSyntax, ""},
		{"trailing data", MediaJSONPatch, `[] []`, 400, apierrors.CodeBadSyntax, ""},
		{"operation not an object", MediaJSONPatch, `["remove"]`, 400, apierrors.CodeBadSyntax, "object"},
		{"null name", MediaJSONPatch, `[{"op":"add","path":"/name","value":null}]`, 400, apierrors.CodeRequiredMissing, "name"},
		{"remove name", MediaJSONPatch, `[{"op":"remove","path":"/name"}]`, 400, apierrors.CodeRequiredMissing, "name"},
		{"remove grantTypes", MediaJSONPatch, `[{"op":"remove","path":"/grantTypes"}]`, 400, apierrors.CodeRequiredMissing, "grantTypes"},
		{"remove enabled", MediaJSONPatch, `[{"op":"remove","path":"/enabled"}]`, 400, apierrors.CodeRequiredMissing, "enabled"},
		{"move name away", MediaJSONPatch, `[{"op":"move","from":"/name","path":"/description"}]`, 400, apierrors.CodeRequiredMissing, "name"},
		{"copy bomb", MediaJSONPatch, "[" + strings.Join(copyBomb, ",") + "]", 400, apierrors.CodeLimitViolation, ""},
		{"101 operations", MediaJSONPatch, "[" + strings.Join(tooMany, ",") + "]", 400, apierrors.CodeLimitViolation, "100"},
		{"enabled as string", MediaJSONPatch, `[{"op":"replace","path":"/enabled","value":"yes"}]`, 400, apierrors.CodeIllegalValue, "enabled: must be a boolean"},
		{"name as number", MediaJSONPatch, `[{"op":"replace","path":"/name","value":5}]`, 400, apierrors.CodeIllegalValue, "name: must be a string"},
		{"validity as string", MediaJSONPatch, `[{"op":"replace","path":"/accessTokenValiditySeconds","value":"60"}]`, 400, apierrors.CodeIllegalValue, "accessTokenValiditySeconds"},
		{"validity fractional", MediaJSONPatch, `[{"op":"replace","path":"/accessTokenValiditySeconds","value":60.5}]`, 400, apierrors.CodeIllegalValue, "accessTokenValiditySeconds"},
		{"redirectUris as string", MediaJSONPatch, `[{"op":"replace","path":"/redirectUris","value":"x"}]`, 400, apierrors.CodeIllegalValue, "redirectUris"},
		{"nested array element", MediaJSONPatch, `[{"op":"copy","from":"/redirectUris","path":"/redirectUris/-"}]`, 400, apierrors.CodeIllegalValue, "redirectUris"},
		{"http redirect", MediaJSONPatch, `[{"op":"add","path":"/redirectUris/-","value":"http://evil.example/cb"}]`, 400, apierrors.CodeIllegalValue, "redirectUris/2"},
		{"validity out of range", MediaJSONPatch, `[{"op":"replace","path":"/accessTokenValiditySeconds","value":10}]`, 400, apierrors.CodeIllegalValue, "accessTokenValiditySeconds"},
		{"unknown grant", MediaJSONPatch, `[{"op":"add","path":"/grantTypes/-","value":"PASSWORD"}]`, 400, apierrors.CodeIllegalValue, "grantTypes/1"},
		{"failing test", MediaJSONPatch, `[{"op":"replace","path":"/description","value":"x"},{"op":"test","path":"/name","value":"Other"}]`, 409, apierrors.CodeConflict, "test"},
		{"missing replace target", MediaJSONPatch, `[{"op":"replace","path":"/redirectUris/7","value":"https://c.example"}]`, 400, apierrors.CodeBadContent, ""},
		{"move from a missing index", MediaJSONPatch, `[{"op":"move","from":"/redirectUris/9","path":"/redirectUris/0"}]`, 400, apierrors.CodeBadContent, ""},
		{"merge secret", MediaMergePatch, `{"secret":"x"}`, 400, apierrors.CodeIllegalUpdate, "secret"},
		{"merge id and scope", MediaMergePatch, `{"id":"x","scope":["sp:scopes:all"]}`, 400, apierrors.CodeIllegalUpdate, "scope"},
		{"merge unknown", MediaMergePatch, `{"colour":"red"}`, 400, apierrors.CodeIllegalUpdate, "colour"},
		{"merge null name", MediaMergePatch, `{"name":null}`, 400, apierrors.CodeRequiredMissing, "name"},
		{"merge not an object", MediaMergePatch, `[]`, 400, apierrors.CodeBadSyntax, "object"},
		{"merge duplicate", MediaMergePatch, `{"name":"a","name":"b"}`, 400, apierrors.CodeBadSyntax, "name"},
		{"merge wrong type", MediaMergePatch, `{"enabled":"no"}`, 400, apierrors.CodeIllegalValue, "enabled"},
		{"merge object value", MediaMergePatch, `{"name":{"first":"x"}}`, 400, apierrors.CodeIllegalValue, "name"},
		{"other media type", "application/json", `[]`, 415, apierrors.CodeUnsupportedMedia, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stored()
			before := c.Clone()
			got, err := Apply(&c, tt.media, []byte(tt.body))
			if err == nil {
				t.Fatalf("applied: %+v", got)
			}
			e, ok := apierrors.From(err)
			if !ok {
				t.Fatalf("untyped error %v", err)
			}
			if e.Status != tt.status || e.DetailCode != tt.code {
				t.Errorf("got %d %q, want %d %q (%v)", e.Status, e.DetailCode, tt.status, tt.code, err)
			}
			if tt.cause != "" && !strings.Contains(strings.Join(e.CauseTexts(), "; "), tt.cause) {
				t.Errorf("causes %q do not mention %q", e.CauseTexts(), tt.cause)
			}
			if !reflect.DeepEqual(c, before) {
				t.Errorf("the stored client changed")
			}
			if !reflect.DeepEqual(got, models.OAuthClient{}) {
				t.Errorf("a failed patch returned a client")
			}
		})
	}
}

func TestApplySucceeds(t *testing.T) {
	ptr := func(s string) *string { return &s }
	tests := []struct {
		name   string
		media  string
		body   string
		mutate func(*models.OAuthClient)
	}{
		{"empty JSON Patch", MediaJSONPatch, `[]`, func(*models.OAuthClient) {}},
		{"empty merge patch", MediaMergePatch, `{}`, func(*models.OAuthClient) {}},
		{"append a redirect URI", MediaJSONPatch, `[{"op":"add","path":"/redirectUris/-","value":"https://c.example/cb"}]`,
			func(c *models.OAuthClient) { c.RedirectURIs = append(c.RedirectURIs, "https://c.example/cb") }},
		{"insert at 0", MediaJSONPatch, `[{"op":"add","path":"/redirectUris/0","value":"https://c.example/cb"}]`,
			func(c *models.OAuthClient) {
				c.RedirectURIs = append([]string{"https://c.example/cb"}, c.RedirectURIs...)
			}},
		{"move within redirectUris", MediaJSONPatch, `[{"op":"move","from":"/redirectUris/1","path":"/redirectUris/0"}]`,
			func(c *models.OAuthClient) { c.RedirectURIs = []string{"https://b.example/cb", "https://a.example/cb"} }},
		{"copy a grant element", MediaJSONPatch, `[{"op":"remove","path":"/grantTypes/0"},{"op":"add","path":"/grantTypes/-","value":"AUTHORIZATION_CODE"},{"op":"copy","from":"/grantTypes/0","path":"/description"}]`,
			func(c *models.OAuthClient) {
				c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode}
				c.Description = ptr("AUTHORIZATION_CODE")
			}},
		{"null description", MediaJSONPatch, `[{"op":"add","path":"/description","value":null}]`, func(*models.OAuthClient) {}},
		{"set then remove description", MediaJSONPatch, `[{"op":"add","path":"/description","value":"d"},{"op":"remove","path":"/description"}]`, func(*models.OAuthClient) {}},
		{"test then replace", MediaJSONPatch, `[{"op":"test","path":"/name","value":"Acme"},{"op":"replace","path":"/name","value":"Acme 2"},{"op":"test","path":"/redirectUris/1","value":"https://b.example/cb"}]`,
			func(c *models.OAuthClient) { c.Name = "Acme 2" }},
		{"escaped member name is still the member", MediaJSONPatch, `[{"op":"replace","path":"/enabled","value":false}]`,
			func(c *models.OAuthClient) { c.Enabled = false }},
		{"merge patch", MediaMergePatch, `{"tenant":"t","enabled":false,"redirectUris":["https://z.example"]}`,
			func(c *models.OAuthClient) {
				c.Tenant = ptr("t")
				c.Enabled = false
				c.RedirectURIs = []string{"https://z.example"}
			}},
		{"merge null tenant", MediaMergePatch, `{"tenant":null}`, func(*models.OAuthClient) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stored()
			before := c.Clone()
			got, err := Apply(&c, tt.media, []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			want := stored()
			tt.mutate(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if !reflect.DeepEqual(c, before) {
				t.Error("Apply changed its input")
			}
		})
	}
}

func BenchmarkApply(b *testing.B) {
	c := stored()
	body := []byte(`[{"op":"test","path":"/name","value":"Acme"},{"op":"replace","path":"/description","value":"Deploys Acme"},{"op":"add","path":"/redirectUris/-","value":"https://c.example/cb"}]`)
	b.ReportAllocs()
	cpu := cputime.Process()
	for b.Loop() {
		if _, err := Apply(&c, MediaJSONPatch, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
}

// FuzzApply checks, for any body, that Apply never panics, never changes a
// member outside the allowlist, leaves its input alone, on failure returns
// a typed 4xx and no client, and agrees with the oracle (oracle_test.go):
// the same client or the same detailCode.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`[{"op":"add","path":"/redirectUris/-","value":"https://c.example/cb"}]`,
		`[{"op":"copy","from":"/secret","path":"/description"}]`,
		`[{"op":"move","from":"/redirectUris/0","path":"/redirectUris/1"}]`,
		`[{"op":"test","path":"/name","value":"Acme"},{"op":"remove","path":"/tenant"}]`,
		`[{"op":"replace","path":"/name~1x","value":1}]`,
		`{"description":null,"enabled":false}`,
		`[{"op":"test","path":"/redirectUris","value":[null]}]`,
		`[{"op":"replace","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":null},{"op":"remove","path":"/tenant"},{"op":"test","path":"/tenant","value":null}]`,
		`[{"op":"test","path":"/accessTokenValiditySeconds","value":3.6e3},{"op":"replace","path":"/accessTokenValiditySeconds","value":72E2}]`,
		`[{"op":"copy","from":"/redirectUris/1","path":"/redirectUris/2"},{"op":"move","from":"/redirectUris/0","path":"/redirectUris/-"},{"op":"test","path":"/redirectUris/3","value":"x"}]`,
		`[{"op":"add","path":"/description","value":{"a":[null,1.0,{"b":"\u00e9"}]}},{"op":"test","path":"/description","value":{"a":[null,1,{"b":"é"}]}}]`,
	} {
		f.Add(s, s[0] == '{')
	}
	f.Fuzz(func(t *testing.T, body string, merge bool) {
		media := MediaJSONPatch
		if merge {
			media = MediaMergePatch
		}
		compareWithOracle(t, stored(), media, []byte(body))
		c := stored()
		before := c.Clone()
		got, err := Apply(&c, media, []byte(body))
		if !reflect.DeepEqual(c, before) {
			t.Fatal("Apply changed its input")
		}
		if err != nil {
			if s := apierrors.StatusOf(err); s < 400 || s > 499 {
				t.Fatalf("status %d for %q: %v", s, body, err)
			}
			if !reflect.DeepEqual(got, models.OAuthClient{}) {
				t.Fatal("a failed patch returned a client")
			}
			return
		}
		if got.ID != before.ID || got.Type != before.Type || got.Internal != before.Internal ||
			!reflect.DeepEqual(got.Scope, before.Scope) || !reflect.DeepEqual(got.Secrets, before.Secrets) ||
			!got.Created.Equal(before.Created) || !got.Modified.Equal(before.Modified) ||
			got.LastUsed != before.LastUsed || got.TokenGeneration != before.TokenGeneration {
			t.Fatalf("a member outside the allowlist changed: %+v", got)
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted an invalid client: %v", err)
		}
		if !merge {
			ops, derr := decodeOperations([]byte(body))
			if derr != nil {
				t.Fatalf("accepted a body the decoder refuses: %v", derr)
			}
			for _, op := range ops {
				for _, p := range []string{op.Path, op.From} {
					if p == "" && p == op.From {
						continue
					}
					first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
					if tok, ok := unescapeToken(first); !ok || !models.IsPatchable(tok) {
						t.Fatalf("accepted a path outside the allowlist: %s", fmt.Sprint(op))
					}
				}
			}
		}
	})
}

// TestDocumentLimitCountsEveryMember holds MaxDocumentBytes to the whole
// patched client although the library is handed only the members the
// operations name, and the others are counted without it: a description
// that brings the canonical document to exactly the limit passes the size
// check (and fails validation, being too long), one byte more is a limit
// violation; and the same through another member. The members left out
// hold what encoding/json escapes and a key set whose numbers and spacing
// canonical form changes.
func TestDocumentLimitCountsEveryMember(t *testing.T) {
	for _, member := range []string{"description", "name"} {
		c := stored()
		tenant, home := "<Acme & \"co\"> é \u2028 \x01", "https://acme.example/?a=1&b=<2>"
		c.Tenant, c.HomepageURL = &tenant, &home
		c.JWKS = models.KeySet(`{ "keys" : [ {"kty":"oct", "n": 1.50E1, "m": [1e2, -0.0, 100000000000000000000000]} ] }`)
		c.AccessTokenValiditySeconds = -7
		empty := []byte(`[{"op":"replace","path":"/` + member + `","value":""}]`)
		cleared, err := applyJSONPatch(projection(&c, nil), empty, checkAllowlist)
		if err != nil {
			t.Fatal(err)
		}
		room := MaxDocumentBytes - len(cleared)
		for _, tt := range []struct {
			n     int
			limit bool
		}{{room, false}, {room + 1, true}} {
			body := `[{"op":"replace","path":"/` + member + `","value":"` + strings.Repeat("x", tt.n) + `"}]`
			_, err := Apply(&c, MediaJSONPatch, []byte(body))
			if got := errCode(err) == apierrors.CodeLimitViolation; err == nil || got != tt.limit {
				t.Errorf("%s of %d bytes (limit at %d): %v, want a limit violation: %v", member, tt.n, room, err, tt.limit)
			}
		}
	}
}

// Every member of the patched client whose value has the wrong type is
// named, in the order of the members, whatever order the operations leave
// them in: a moved member comes last in the patched document, and the
// decoding of that document stops at the first wrong type it meets.
func TestApplyNamesEveryWrongType(t *testing.T) {
	want := []string{
		"accessTokenValiditySeconds: must be an integer",
		"grantTypes: must be an array of strings",
		"enabled: must be a boolean",
	}
	for name, body := range map[string]string{
		"in member order": `[{"op":"replace","path":"/accessTokenValiditySeconds","value":"soon"},
			{"op":"replace","path":"/grantTypes","value":[7]},{"op":"replace","path":"/enabled","value":"yes"}]`,
		"moved last": `[{"op":"move","from":"/name","path":"/accessTokenValiditySeconds"},{"op":"add","path":"/name","value":"n"},
			{"op":"add","path":"/grantTypes/0","value":86400},{"op":"copy","from":"/description","path":"/enabled"},
			{"op":"replace","path":"/description","value":"d"}]`,
		"merge patch": `{"enabled":"yes","grantTypes":[7],"accessTokenValiditySeconds":"soon"}`,
	} {
		t.Run(name, func(t *testing.T) {
			media := MediaJSONPatch
			if strings.HasPrefix(body, "{") {
				media = MediaMergePatch
			}
			c := stored()
			c.Description = new("a description")
			_, err := Apply(&c, media, []byte(body))
			e, ok := apierrors.From(err)
			if !ok || e.DetailCode != apierrors.CodeIllegalValue {
				t.Fatalf("err = %v, want %s", err, apierrors.CodeIllegalValue)
			}
			if got := e.CauseTexts(); !reflect.DeepEqual(got, want) {
				t.Errorf("causes = %q, want %q", got, want)
			}
		})
	}
}

// A merge patch is refused exactly as a JSON Patch with the same result
// is: a null for a member that may not be null is a missing member of the
// result, weighed with the result's other problems, not a refusal of its
// own before them.
func TestMergeAndJSONPatchRefusedAlike(t *testing.T) {
	for _, tc := range []struct{ merge, jsonPatch string }{
		{`{"name":null,"enabled":"yes"}`, `[{"op":"remove","path":"/name"},{"op":"replace","path":"/enabled","value":"yes"}]`},
		{`{"accessType":null,"grantTypes":null}`, `[{"op":"remove","path":"/accessType"},{"op":"replace","path":"/grantTypes","value":null}]`},
	} {
		c := stored()
		_, mergeErr := Apply(&c, MediaMergePatch, []byte(tc.merge))
		_, patchErr := Apply(&c, MediaJSONPatch, []byte(tc.jsonPatch))
		m, ok1 := apierrors.From(mergeErr)
		p, ok2 := apierrors.From(patchErr)
		if !ok1 || !ok2 {
			t.Fatalf("%s: %v; %s: %v", tc.merge, mergeErr, tc.jsonPatch, patchErr)
		}
		if m.DetailCode != p.DetailCode || !reflect.DeepEqual(m.CauseTexts(), p.CauseTexts()) {
			t.Errorf("%s: %s %q; %s: %s %q", tc.merge, m.DetailCode, m.CauseTexts(), tc.jsonPatch, p.DetailCode, p.CauseTexts())
		}
	}
}
