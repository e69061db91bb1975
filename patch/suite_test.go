package patch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// suiteDir holds the RFC 6902 community conformance suite, copied into the
// repository with its licence and source (see its README.md).
var suiteDir = filepath.Join("testdata", "json-patch-tests")

// stricterThanRFC lists, by file and index, the suite's cases that SPEC
// §4.1 or §4.2 answers differently from RFC 6902, with the answer given.
var stricterThanRFC = map[string]struct{ code, rule string }{
	"tests.json#11":      {apierrors.CodeIllegalUpdate, "§4.1: the empty path (the whole document) is refused"},
	"tests.json#12":      {apierrors.CodeIllegalUpdate, "§4.1: the empty path (the whole document) is refused"},
	"tests.json#14":      {apierrors.CodeIllegalUpdate, "§4.1: an empty reference token is refused"},
	"tests.json#15":      {apierrors.CodeIllegalUpdate, "§4.1: an empty reference token is refused"},
	"tests.json#43":      {apierrors.CodeIllegalUpdate, "§4.1: the empty path (the whole document) is refused"},
	"tests.json#45":      {apierrors.CodeBadSyntax, "§4.2: an operation with an unknown member is refused"},
	"tests.json#57":      {apierrors.CodeIllegalUpdate, "§4.1: an empty reference token is refused"},
	"tests.json#58":      {apierrors.CodeIllegalUpdate, "§4.1: an empty reference token is refused"},
	"tests.json#63":      {apierrors.CodeIllegalUpdate, "§4.1: the empty path (the whole document) is refused"},
	"spec_tests.json#11": {apierrors.CodeBadSyntax, "§4.2: an operation with an unknown member is refused"},
}

type suiteCase struct {
	Comment  string          `json:"comment"`
	Doc      json.RawMessage `json:"doc"`
	Patch    json.RawMessage `json:"patch"`
	Expected json.RawMessage `json:"expected"`
	Error    string          `json:"error"`
	Disabled bool            `json:"disabled"`
}

// anyDocument is SPEC §4.1 for a document of any shape: the pointer syntax
// of the allowlist (pointerTokens), any member, any depth, and wherever a
// token could be an array index, a canonical one; "-" only ends the target
// of add, copy or move. Stricter than RFC 6901 only for member names such
// as "01" or "+1", which the suite does not use.
func anyDocument(ops []operation) error {
	var causes []string
	for i, op := range ops {
		appendTarget := op.Op == "add" || op.Op == "copy" || op.Op == "move"
		check := func(what, p string, appendTarget bool) {
			tokens, reason := pointerTokens(p)
			for j, t := range tokens {
				switch {
				case reason != "":
				case t == "-" && (j < len(tokens)-1 || !appendTarget):
					reason = `"-" may only end the target of add, copy or move`
				case looksLikeIndex(t) && !isCanonicalIndex(t):
					reason = "an array index must be 0 or digits without a leading zero"
				}
			}
			if reason != "" {
				causes = append(causes, fmt.Sprintf("operation %d: %s %q: %s", i, what, p, reason))
			}
		}
		check("path", op.Path, appendTarget)
		if op.hasFrom {
			check("from", op.From, false)
		}
	}
	if len(causes) > 0 {
		return apierrors.NewIllegalUpdate(causes...)
	}
	return nil
}

// looksLikeIndex reports digits, perhaps signed: a token an array would
// read as an index.
func looksLikeIndex(t string) bool {
	if t[0] == '+' || t[0] == '-' {
		t = t[1:]
	}
	return t != "" && strings.Trim(t, "0123456789") == ""
}

// TestRFC6902Suite runs every case of the suite through applyJSONPatch, the
// code Apply serves requests with, on the suite's own documents: only the
// allowlist of members (anyDocument in place of checkAllowlist) and the
// decoding into a client differ.
func TestRFC6902Suite(t *testing.T) {
	for _, file := range []string{"tests.json", "spec_tests.json"} {
		data, err := os.ReadFile(filepath.Join(suiteDir, file))
		if err != nil {
			t.Fatalf("the RFC 6902 suite must be at %s: %v", suiteDir, err)
		}
		var cases []suiteCase
		if err := json.Unmarshal(data, &cases); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			key := fmt.Sprintf("%s#%d", file, i)
			t.Run(fmt.Sprintf("%s/%03d %s", file, i, c.Comment), func(t *testing.T) {
				if c.Disabled {
					t.Skip("disabled in the suite")
				}
				got, err := applyJSONPatch(c.Doc, c.Patch, anyDocument)
				if err == nil && got == nil {
					got = c.Doc // an empty patch
				}
				if s := apierrors.StatusOf(err); err != nil && (s < 400 || s > 499) {
					t.Fatalf("status %d: %v", s, err)
				}
				if stricter, ok := stricterThanRFC[key]; ok {
					if e, _ := apierrors.From(err); e == nil || e.DetailCode != stricter.code {
						t.Fatalf("SPEC %s: want %s, got %v", stricter.rule, stricter.code, err)
					}
					return
				}
				switch {
				case c.Error != "":
					if err == nil {
						t.Fatalf("want an error (%s), got %s", c.Error, got)
					}
				case err != nil:
					t.Fatal(err)
				case c.Expected != nil:
					var g, w any
					if err := json.Unmarshal(got, &g); err != nil {
						t.Fatal(err)
					}
					_ = json.Unmarshal(c.Expected, &w)
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("got %s, want %s", got, c.Expected)
					}
				}
			})
		}
	}
}
