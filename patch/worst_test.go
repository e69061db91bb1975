package patch

import (
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// worstBodies are the most expensive PATCH bodies of at most MaxBodyBytes
// we know of, by the shape SPEC §4.3 bounds: size, depth, operations and
// copy growth. Each names the answer it gets.
func worstBodies() []struct{ name, media, body, code string } {
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
	// A 32 KB array written, then tested element by element: the longest
	// comparison that passes.
	elems := strings.TrimSuffix(strings.Repeat(`"https://a.example/cb",null,3.6e3,`, 900), ",")
	written := `[{"op":"replace","path":"/redirectUris","value":[` + elems + `]},{"op":"test","path":"/redirectUris","value":[` + strings.ReplaceAll(elems, "3.6e3", "3600.0") + `]}]`
	return []struct{ name, media, body, code string }{
		{"one 64 KiB value", MediaJSONPatch, fill(`[{"op":"add","path":"/description","value":"`, "x", `"}]`), apierrors.CodeLimitViolation},
		{"64 KiB of escapes", MediaJSONPatch, fill(`[{"op":"test","path":"/description","value":"`, `\u00e9`, `"}]`), apierrors.CodeConflict},
		{"64 KiB of numbers to compare", MediaJSONPatch, fill(`[{"op":"test","path":"/redirectUris","value":[`, `3.6e3,`, `1]}]`), apierrors.CodeConflict},
		{"100 operations at depth 32", MediaJSONPatch, "[" + strings.TrimSuffix(strings.Repeat(deepOp, 100), ",") + "]", apierrors.CodeIllegalValue},
		{"100 appends and tests", MediaJSONPatch, "[" + strings.TrimSuffix(strings.Repeat(`{"op":"add","path":"/redirectUris/0","value":"https://a.example/`+strings.Repeat("p", 500)+`"},{"op":"test","path":"/redirectUris/1","value":null},`, 1), ",") + "," +
			strings.TrimSuffix(strings.Repeat(`{"op":"add","path":"/redirectUris/0","value":"https://a.example/`+strings.Repeat("p", 500)+`"},`, 98), ",") + "]", apierrors.CodeConflict},
		{"doubling copies", MediaJSONPatch, grow, apierrors.CodeLimitViolation},
		{"a 32 KB array written and tested", MediaJSONPatch, written, apierrors.CodeIllegalValue},
		{"merge patch 8000 deep", MediaMergePatch, `{"description":` + strings.Repeat(`{"a":`, 8000) + "null" + strings.Repeat("}", 8000) + "}", apierrors.CodeLimitViolation},
		{"merge patch at depth 32, 64 KiB", MediaMergePatch, fill(`{"description":`+strings.Repeat(`{"a":`, 29)+`[`, `{"b":1},`, `{}]`+strings.Repeat("}", 29)+"}"), apierrors.CodeIllegalValue},
	}
}

// TestWorstBodies pins the answer of each worst-case body and its size.
func TestWorstBodies(t *testing.T) {
	for _, w := range worstBodies() {
		t.Run(w.name, func(t *testing.T) {
			if len(w.body) > MaxBodyBytes {
				t.Fatalf("body of %d bytes; PATCH takes at most %d", len(w.body), MaxBodyBytes)
			}
			c := stored()
			_, err := Apply(&c, w.media, []byte(w.body))
			if e, ok := apierrors.From(err); !ok || e.DetailCode != w.code {
				t.Fatalf("got %v, want %s", err, w.code)
			}
		})
	}
}

// BenchmarkWorstBodies measures each worst-case body against an ordinary
// patch (BenchmarkApply): go test ./patch -run '^$' -bench 'Worst|Apply$'.
// cpu-ns/op is the process's CPU time per body, garbage collection
// included, which a busy machine inflates far less than the wall clock.
func BenchmarkWorstBodies(b *testing.B) {
	for _, w := range worstBodies() {
		b.Run(w.name, func(b *testing.B) {
			c := stored()
			body := []byte(w.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if _, err := Apply(&c, w.media, body); err == nil {
					b.Fatal("applied")
				}
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
