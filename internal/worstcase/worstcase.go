// Package worstcase holds the most expensive PATCH bodies of at most 64 KiB
// known, by each shape SPEC §4.3 bounds: size, depth, operations and copy
// growth. patch's tests pin the answer each one gets and measure its CPU
// (BenchmarkWorstBodies); bench sends them at a running server while it
// measures ordinary PATCHes (the hostile scenario). It imports nothing of
// the project, so both may use it.
package worstcase

import "strings"

// MaxBodyBytes is the largest PATCH body (SPEC §4.3), as patch.MaxBodyBytes.
const MaxBodyBytes = 64 << 10

// Media types of the two PATCH forms, as patch names them.
const (
	MediaJSONPatch  = "application/json-patch+json"
	MediaMergePatch = "application/merge-patch+json"
)

// Body is one worst-case PATCH body and its media type.
type Body struct {
	Name, Media, Body string
}

// Bodies returns every worst-case body, each at most MaxBodyBytes (and one
// far smaller that costs nearly as much). They
// are written for a client with at least one redirect URI and no
// description; none of them is accepted.
func Bodies() []Body {
	fill := func(prefix, unit, suffix string) string {
		n := (MaxBodyBytes - len(prefix) - len(suffix)) / len(unit)
		return prefix + strings.Repeat(unit, n) + suffix
	}
	nest := func(n int, inner string) string {
		return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
	}
	deepOp := `{"op":"add","path":"/description","value":` + nest(30, `"x"`) + `},`
	// Doubling copies: each copies the whole array into itself, until the
	// 64 KiB of copies are spent.
	grow := `[{"op":"add","path":"/redirectUris/-","value":"` + strings.Repeat("u", 2000) + `"}`
	grow += strings.Repeat(`,{"op":"copy","from":"/redirectUris","path":"/redirectUris/-"}`, 98) + "]"
	// The same in 1.5 KB: copy growth is bounded by the document's 64 KiB,
	// not by the body, so a small body costs nearly as much.
	smallGrow := `[{"op":"add","path":"/redirectUris/-","value":"` + strings.Repeat("u", 200) + `"}`
	smallGrow += strings.Repeat(`,{"op":"copy","from":"/redirectUris","path":"/redirectUris/-"}`, 20) + "]"
	// A 32 KB array written, then tested element by element: the longest
	// comparison that passes.
	elems := strings.TrimSuffix(strings.Repeat(`"https://a.example/cb",null,3.6e3,`, 900), ",")
	written := `[{"op":"replace","path":"/redirectUris","value":[` + elems + `]},{"op":"test","path":"/redirectUris","value":[` + strings.ReplaceAll(elems, "3.6e3", "3600.0") + `]}]`
	insert := `{"op":"add","path":"/redirectUris/0","value":"https://a.example/` + strings.Repeat("p", 500) + `"},`
	inserts := "[" + insert + `{"op":"test","path":"/redirectUris/1","value":null},` +
		strings.TrimSuffix(strings.Repeat(insert, 98), ",") + "]"
	return []Body{
		{"one 64 KiB value", MediaJSONPatch, fill(`[{"op":"add","path":"/description","value":"`, "x", `"}]`)},
		{"64 KiB of escapes", MediaJSONPatch, fill(`[{"op":"test","path":"/description","value":"`, `\u00e9`, `"}]`)},
		{"64 KiB of numbers to compare", MediaJSONPatch, fill(`[{"op":"test","path":"/redirectUris","value":[`, `3.6e3,`, `1]}]`)},
		{"100 operations at depth 32", MediaJSONPatch, "[" + strings.TrimSuffix(strings.Repeat(deepOp, 100), ",") + "]"},
		{"100 appends and tests", MediaJSONPatch, inserts},
		{"doubling copies", MediaJSONPatch, grow},
		{"doubling copies in 1.5 KB", MediaJSONPatch, smallGrow},
		{"a 32 KB array written and tested", MediaJSONPatch, written},
		{"merge patch 8000 deep", MediaMergePatch, `{"description":` + strings.Repeat(`{"a":`, 8000) + "null" + strings.Repeat("}", 8000) + "}"},
		{"merge patch at depth 32, 64 KiB", MediaMergePatch, fill(`{"description":`+strings.Repeat(`{"a":`, 29)+`[`, `{"b":1},`, `{}]`+strings.Repeat("}", 29)+"}")},
	}
}
