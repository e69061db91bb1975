package handlers_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// TestPatchNever5xx drives hostile and random PATCH bodies through
// e.ServeHTTP: whatever the body, the answer is decided by it and is never
// a 5xx (SPEC §4.7), and a refused body changes nothing.
func TestPatchNever5xx(t *testing.T) {
	e := newEnv(t)
	c := basicClient("never 5xx")
	c["redirectUris"] = []string{"https://a.example/cb"}
	created := e.create(c)
	path := "/oauth-clients/" + created["id"].(string)
	nest := func(n int, inner string) string {
		return strings.Repeat(`{"a":`, n) + inner + strings.Repeat(`}`, n)
	}
	fixed := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		// A nil dereference inside json-patch v5.9.11 once answered 500.0.
		{"test of an array holding null", "application/json-patch+json", `[{"op":"test","path":"/redirectUris","value":[null]}]`, 409, apierrors.CodeConflict},
		{"test of null against an array", "application/json-patch+json", `[{"op":"replace","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":[null]}]`, 409, apierrors.CodeConflict},
		{"test of a missing index", "application/json-patch+json", `[{"op":"test","path":"/redirectUris/1","value":null}]`, 409, apierrors.CodeConflict},
		{"merge patch 8000 deep", "application/merge-patch+json", `{"description":` + nest(8000, "null") + `}`, 400, apierrors.CodeLimitViolation},
		{"operation value 33 deep", "application/json-patch+json", `[{"op":"add","path":"/description","value":` + nest(31, "1") + `}]`, 400, apierrors.CodeLimitViolation},
		{"duplicated member in a value", "application/json-patch+json", `[{"op":"add","path":"/description","value":{"a":1,"a":2}}]`, 400, apierrors.CodeBadSyntax},
	}
	before := e.do(request{method: http.MethodGet, path: path}).Body.String()
	for _, tt := range fixed {
		t.Run(tt.name, func(t *testing.T) {
			e.do(request{method: http.MethodPatch, path: path, contentType: tt.ct, body: tt.body}).wantError(tt.status, tt.code, "")
			if after := e.do(request{method: http.MethodGet, path: path}).Body.String(); after != before {
				t.Errorf("a refused patch changed the client:\n%s\n%s", before, after)
			}
		})
	}

	// Random operations over the patchable members, values of every JSON
	// type: only the status matters here (patch's differential test checks
	// the results).
	rng := rand.New(rand.NewPCG(10, 11))
	paths := []string{"/tenant", "/description", "/name", "/redirectUris", "/redirectUris/0", "/redirectUris/1",
		"/redirectUris/-", "/grantTypes/0", "/accessTokenValiditySeconds", "/enabled", "/secret", "/"}
	values := []string{`null`, `[null]`, `[]`, `{}`, `{"a":[null]}`, `3600`, `3.6e3`, `"https://b.example/cb"`, `"x"`, `true`, `[["https://c.example"]]`}
	ops := []string{"add", "remove", "replace", "move", "copy", "test"}
	for i := range 300 {
		var b strings.Builder
		b.WriteByte('[')
		for j := range rng.IntN(4) + 1 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"op":%q,"path":%q,"from":%q,"value":%s}`, ops[rng.IntN(len(ops))],
				paths[rng.IntN(len(paths))], paths[rng.IntN(len(paths))], values[rng.IntN(len(values))])
		}
		b.WriteByte(']')
		body := strings.ReplaceAll(b.String(), `"from":`, `"`+[]string{"from", "from", "x"}[rng.IntN(3)]+`":`)
		r := e.do(request{method: http.MethodPatch, path: path, contentType: "application/json-patch+json", body: body})
		if r.Code >= 500 {
			t.Fatalf("patch %d: %s answered %d: %s", i, body, r.Code, r.Body)
		}
	}
}
