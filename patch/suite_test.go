package patch

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// suiteDir holds the RFC 6902 community conformance suite, copied into the
// repository with its licence and source (see its README.md).
var suiteDir = filepath.Join("testdata", "json-patch-tests")

// stricterThanRFC lists the suite's cases, by comment, that expect an
// unknown operation member to be ignored.
var stricterThanRFC = map[string]bool{
	"spurious patch properties":             true,
	"A.11.  Ignoring Unrecognized Elements": true,
}

type suiteCase struct {
	Comment  string          `json:"comment"`
	Doc      json.RawMessage `json:"doc"`
	Patch    json.RawMessage `json:"patch"`
	Expected json.RawMessage `json:"expected"`
	Error    string          `json:"error"`
	Disabled bool            `json:"disabled"`
}

func TestRFC6902Suite(t *testing.T) {
	for _, file := range []string{"tests.json", "spec_tests.json"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(suiteDir, file))
			if err != nil {
				t.Fatalf("the RFC 6902 suite must be at %s: %v", suiteDir, err)
			}
			var cases []suiteCase
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatal(err)
			}
			passed, skipped, stricter := 0, 0, 0
			for i, c := range cases {
				if c.Disabled {
					skipped++
					continue
				}
				got, err := applyDocument(c.Doc, c.Patch)
				if stricterThanRFC[c.Comment] {
					// SPEC §4.2 refuses operations with unknown members,
					// where RFC 6902 §4 would ignore them.
					if !apierrors.IsBadSyntax(err) {
						t.Errorf("case %d (%s): want 400.0 for an unknown member, got %v", i, c.Comment, err)
					}
					stricter++
					continue
				}
				switch {
				case c.Error != "":
					if err == nil {
						t.Errorf("case %d (%s): want error %q, got %s", i, c.Comment, c.Error, got)
						continue
					}
				case err != nil:
					t.Errorf("case %d (%s): %v", i, c.Comment, err)
					continue
				case c.Expected != nil:
					var g, w any
					_ = json.Unmarshal(got, &g)
					_ = json.Unmarshal(c.Expected, &w)
					if !reflect.DeepEqual(g, w) {
						t.Errorf("case %d (%s): got %s, want %s", i, c.Comment, got, c.Expected)
						continue
					}
				}
				passed++
			}
			t.Logf("%s: %d passed, %d refused by SPEC §4.2's stricter rule, %d disabled, %d in all", file, passed, stricter, skipped, len(cases))
			if passed+stricter+skipped != len(cases) {
				t.Errorf("only %d of %d cases passed", passed, len(cases)-skipped)
			}
		})
	}
}
