package patch

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// TestTestOperation holds SPEC §4.6 and RFC 6902 §4.6: test compares by
// value and sees the document as the earlier operations left it. want is
// "" when the patch applies, else the detailCode.
func TestTestOperation(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"integer", `[{"op":"test","path":"/accessTokenValiditySeconds","value":3600}]`, ""},
		{"integer with a fraction", `[{"op":"test","path":"/accessTokenValiditySeconds","value":3600.0}]`, ""},
		{"integer with an exponent", `[{"op":"test","path":"/accessTokenValiditySeconds","value":3.6e3}]`, ""},
		{"integer spelled 36000e-1", `[{"op":"test","path":"/accessTokenValiditySeconds","value":36000e-1}]`, ""},
		{"another number", `[{"op":"test","path":"/accessTokenValiditySeconds","value":3600.5}]`, apierrors.CodeConflict},
		{"number against a string", `[{"op":"test","path":"/accessTokenValiditySeconds","value":"3600"}]`, apierrors.CodeConflict},
		{"number after a replace spelled otherwise", `[{"op":"replace","path":"/accessTokenValiditySeconds","value":7.2e3},{"op":"test","path":"/accessTokenValiditySeconds","value":7200}]`, ""},
		{"string by code points", `[{"op":"test","path":"/name","value":"\u0041cme"}]`, ""},
		{"string differs in case", `[{"op":"test","path":"/name","value":"acme"}]`, apierrors.CodeConflict},
		{"array element by element", `[{"op":"test","path":"/redirectUris","value":["https://a.example/cb","https:\/\/b.example\/cb"]}]`, ""},
		{"array in another order", `[{"op":"test","path":"/redirectUris","value":["https://b.example/cb","https://a.example/cb"]}]`, apierrors.CodeConflict},
		{"array holding null", `[{"op":"test","path":"/redirectUris","value":[null]}]`, apierrors.CodeConflict},
		{"array holding null, same length", `[{"op":"test","path":"/redirectUris","value":[null,null]}]`, apierrors.CodeConflict},
		{"array holding an object", `[{"op":"test","path":"/redirectUris","value":[{},{"a":null}]}]`, apierrors.CodeConflict},
		{"null member is null", `[{"op":"test","path":"/tenant","value":null}]`, ""},
		{"null member is not a string", `[{"op":"test","path":"/tenant","value":"null"}]`, apierrors.CodeConflict},
		{"null member is not an empty array", `[{"op":"test","path":"/tenant","value":[]}]`, apierrors.CodeConflict},
		{"null member is not false", `[{"op":"test","path":"/tenant","value":false}]`, apierrors.CodeConflict},
		{"null after replace", `[{"op":"replace","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":null}]`, ""},
		{"null after add over a string", `[{"op":"add","path":"/tenant","value":"t"},{"op":"add","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":null}]`, ""},
		{"array after a null is written", `[{"op":"replace","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":[]}]`, apierrors.CodeConflict},
		{"removed member is not null", `[{"op":"remove","path":"/tenant"},{"op":"test","path":"/tenant","value":null}]`, apierrors.CodeConflict},
		{"moved-away member is missing", `[{"op":"move","from":"/description","path":"/tenant"},{"op":"test","path":"/description","value":null}]`, apierrors.CodeConflict},
		{"string is not null", `[{"op":"test","path":"/name","value":null}]`, apierrors.CodeConflict},
		{"index past the end", `[{"op":"test","path":"/redirectUris/2","value":"https://a.example/cb"}]`, apierrors.CodeConflict},
		{"index past the end, null", `[{"op":"test","path":"/redirectUris/2","value":null}]`, apierrors.CodeConflict},
		{"index after a remove", `[{"op":"remove","path":"/redirectUris/1"},{"op":"test","path":"/redirectUris/1","value":"https://b.example/cb"}]`, apierrors.CodeConflict},
		{"index of a removed member", `[{"op":"remove","path":"/tenant"},{"op":"replace","path":"/redirectUris","value":"x"},{"op":"test","path":"/redirectUris/0","value":"x"}]`, apierrors.CodeConflict},
		{"index into a null", `[{"op":"replace","path":"/redirectUris","value":null},{"op":"test","path":"/redirectUris/0","value":null}]`, apierrors.CodeConflict},
		{"index that exists", `[{"op":"test","path":"/redirectUris/1","value":"https://b.example/cb"}]`, ""},
		{"member of an object put in place of an array", `[{"op":"replace","path":"/redirectUris","value":{"0":null}},{"op":"test","path":"/redirectUris/0","value":null},{"op":"replace","path":"/redirectUris","value":[]}]`, ""},
		{"object in any order", `[{"op":"replace","path":"/description","value":{"a":1,"b":[null,2.0]}},{"op":"test","path":"/description","value":{"b":[null,2],"a":1e0}},{"op":"remove","path":"/description"}]`, ""},
		{"object with a member more", `[{"op":"replace","path":"/description","value":{"a":1}},{"op":"test","path":"/description","value":{"a":1,"b":null}}]`, apierrors.CodeConflict},
		{"null element after append", `[{"op":"add","path":"/redirectUris/-","value":null},{"op":"test","path":"/redirectUris/2","value":null},{"op":"remove","path":"/redirectUris/2"}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stored()
			before := c.Clone()
			got, err := Apply(&c, MediaJSONPatch, []byte(tt.body))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want it applied", err)
				}
				if !strings.Contains(tt.body, `"op":"re`) && !strings.Contains(tt.body, `"op":"add"`) &&
					!strings.Contains(tt.body, `"op":"move"`) && !models.SameStoredValues(&got, &before) {
					t.Errorf("a patch that only tests changed the client: %+v", got)
				}
				return
			}
			e, ok := apierrors.From(err)
			if !ok || e.DetailCode != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if !reflect.DeepEqual(c, before) {
				t.Error("the stored client changed")
			}
		})
	}
}

// TestNumbersByValue: a number is read by its value wherever PATCH reads
// one, so 3.6e3 is the integer 3600.
func TestNumbersByValue(t *testing.T) {
	for _, tt := range []struct{ media, body string }{
		{MediaJSONPatch, `[{"op":"replace","path":"/accessTokenValiditySeconds","value":7.2e3}]`},
		{MediaJSONPatch, `[{"op":"replace","path":"/accessTokenValiditySeconds","value":7200.000}]`},
		{MediaMergePatch, `{"accessTokenValiditySeconds":72e2}`},
	} {
		c := stored()
		got, err := Apply(&c, tt.media, []byte(tt.body))
		if err != nil || got.AccessTokenValiditySeconds != 7200 {
			t.Errorf("%s: got %d, %v; want 7200", tt.body, got.AccessTokenValiditySeconds, err)
		}
	}
	c := stored()
	if _, err := Apply(&c, MediaJSONPatch, []byte(`[{"op":"replace","path":"/accessTokenValiditySeconds","value":1e30}]`)); !apierrors.IsIllegalValue(err) {
		t.Errorf("1e30: got %v, want 400.1.3", err)
	}
}

// TestDepth holds SPEC §4.3: nesting deeper than 32 levels anywhere in a
// body is 400.1.4, found while reading.
func TestDepth(t *testing.T) {
	nest := func(n int, inner string) string {
		return strings.Repeat(`{"a":`, n) + inner + strings.Repeat(`}`, n)
	}
	tests := []struct {
		name, media, body, want string
	}{
		{"value at 32 levels", MediaJSONPatch, `[{"op":"test","path":"/tenant","value":` + nest(29, "[]") + `}]`, apierrors.CodeConflict},
		{"value at 33 levels", MediaJSONPatch, `[{"op":"test","path":"/tenant","value":` + nest(30, "[]") + `}]`, apierrors.CodeLimitViolation},
		{"deep value after a failing operation", MediaJSONPatch, `[{"op":"remove","path":"/nope"},{"op":"add","path":"/description","value":` + nest(40, "1") + `}]`, apierrors.CodeLimitViolation},
		{"deep value in an unknown member", MediaJSONPatch, `[{"op":"remove","path":"/tenant","x":` + nest(40, "1") + `}]`, apierrors.CodeLimitViolation},
		{"merge patch at 32 levels", MediaMergePatch, `{"description":` + nest(30, "[]") + `}`, apierrors.CodeIllegalValue},
		{"merge patch at 33 levels", MediaMergePatch, `{"description":` + nest(31, "[]") + `}`, apierrors.CodeLimitViolation},
		{"merge patch 8000 deep", MediaMergePatch, `{"description":` + nest(8000, "null") + `}`, apierrors.CodeLimitViolation},
		{"deep and malformed", MediaMergePatch, strings.Repeat("[", 40), apierrors.CodeLimitViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stored()
			_, err := Apply(&c, tt.media, []byte(tt.body))
			e, ok := apierrors.From(err)
			if !ok || e.DetailCode != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestLibraryGaps holds one case for each difference between
// github.com/evanphx/json-patch/v5 and RFC 6902 that engine.go closes.
func TestLibraryGaps(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"1: numbers by text", `[{"op":"test","path":"/accessTokenValiditySeconds","value":3.6e3}]`, ""},
		{"2: null written then tested", `[{"op":"replace","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":null}]`, ""},
		{"2: removed member tested as null", `[{"op":"remove","path":"/tenant"},{"op":"test","path":"/tenant","value":null}]`, apierrors.CodeConflict},
		{"2: array holding null (a panic in v5.9.11)", `[{"op":"test","path":"/redirectUris","value":[null]}]`, apierrors.CodeConflict},
		{"2: null in place of an array (a panic in v5.9.11)", `[{"op":"replace","path":"/tenant","value":null},{"op":"test","path":"/tenant","value":[1]}]`, apierrors.CodeConflict},
		{"3: index past the end", `[{"op":"test","path":"/redirectUris/9","value":"x"}]`, apierrors.CodeConflict},
		{"4: empty reference token", `[{"op":"test","path":"/","value":{}}]`, apierrors.CodeIllegalUpdate},
		{"4: index with a leading zero", `[{"op":"test","path":"/redirectUris/00","value":"https://a.example/cb"}]`, apierrors.CodeIllegalUpdate},
		{"4: index with a sign", `[{"op":"test","path":"/redirectUris/+0","value":"https://a.example/cb"}]`, apierrors.CodeIllegalUpdate},
		{"4: negative index", `[{"op":"remove","path":"/redirectUris/-1"}]`, apierrors.CodeIllegalUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := stored()
			_, err := Apply(&c, MediaJSONPatch, []byte(tt.body))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want it applied", err)
				}
				return
			}
			if e, ok := apierrors.From(err); !ok || e.DetailCode != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// TestMergePatchArraysAsGiven is gap 6: RFC 7396 §2 puts an array in place
// as it is, nulls inside it included, whatever the target held.
func TestMergePatchArraysAsGiven(t *testing.T) {
	doc := []byte(`{"description":"x","tenant":null,"name":"n"}`)
	body := []byte(`{"description":[{"b":null},null],"tenant":{"d":[{"b":null}],"e":{"f":null}},"name":null}`)
	got, err := applyMergePatch(doc, body)
	if err != nil || bytes.Contains(got, []byte(`"name"`)) {
		// Apply then refuses the result, as it refuses any result without
		// a name (TestApplyRefusesAttacks, "merge null name").
		t.Fatalf("name: null removes the member: got %s, %v", got, err)
	}
	body = []byte(`{"description":[{"b":null},null],"tenant":{"d":[{"b":null}],"e":{"f":null}}}`)
	got, err = applyMergePatch(doc, body)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal([]byte(`{"description":[{"b":null},null],"tenant":{"d":[{"b":null}],"e":{}},"name":"n"}`), &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %s", got)
	}
}
