package patch

import (
	"strings"
	"testing"
)

func TestCostly(t *testing.T) {
	for _, tt := range []struct {
		name, media, body string
		want              bool
	}{
		{"an ordinary patch", MediaJSONPatch, `[{"op":"replace","path":"/description","value":"x"}]`, false},
		{"a move", MediaJSONPatch, `[{"op":"move","from":"/redirectUris/0","path":"/redirectUris/-"}]`, false},
		{"a copy", MediaJSONPatch, `[{"op":"copy","from":"/redirectUris","path":"/redirectUris/-"}]`, true},
		{"a copy spelled with escapes", MediaJSONPatch, `[{"op":"\u0063opy","from":"/redirectUris","path":"/redirectUris/-"}]`, true},
		{"a body over CostlyBytes", MediaJSONPatch, `[{"op":"add","path":"/description","value":"` + strings.Repeat("x", CostlyBytes) + `"}]`, true},
		{"a merge patch", MediaMergePatch, `{"description":"x"}`, false},
		{"a large merge patch", MediaMergePatch, `{"description":"` + strings.Repeat("x", CostlyBytes) + `"}`, true},
		{"not JSON", MediaJSONPatch, `[{"op":"add"`, true},
		{"not an array", MediaJSONPatch, `{"op":"add"}`, true},
		{"an element that is not an object", MediaJSONPatch, `[1,{"op":"add","path":"/description","value":"x"}]`, true},
	} {
		if got := Costly(tt.media, []byte(tt.body)); got != tt.want {
			t.Errorf("%s: Costly = %v, want %v", tt.name, got, tt.want)
		}
	}
}
