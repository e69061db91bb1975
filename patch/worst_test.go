package patch

import (
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/cputime"
	"github.com/clientele/clientele/internal/worstcase"
)

// worstAnswers is the answer each body of worstcase.Bodies gets.
var worstAnswers = map[string]string{
	"one 64 KiB value":                 apierrors.CodeLimitViolation,
	"64 KiB of escapes":                apierrors.CodeConflict,
	"64 KiB of numbers to compare":     apierrors.CodeConflict,
	"100 operations at depth 32":       apierrors.CodeIllegalValue,
	"100 appends and tests":            apierrors.CodeConflict,
	"doubling copies":                  apierrors.CodeLimitViolation,
	"doubling copies in 1.5 KB":        apierrors.CodeLimitViolation,
	"a 32 KB array written and tested": apierrors.CodeIllegalValue,
	"merge patch 8000 deep":            apierrors.CodeLimitViolation,
	"merge patch at depth 32, 64 KiB":  apierrors.CodeIllegalValue,
}

// worstBodies are the worst-case bodies (worstcase.Bodies), each with the
// answer it gets.
func worstBodies() []struct{ name, media, body, code string } {
	var out []struct{ name, media, body, code string }
	for _, w := range worstcase.Bodies() {
		out = append(out, struct{ name, media, body, code string }{w.Name, w.Media, w.Body, worstAnswers[w.Name]})
	}
	return out
}

// TestWorstBodies pins the answer of each worst-case body and its size.
func TestWorstBodies(t *testing.T) {
	if worstcase.MaxBodyBytes != MaxBodyBytes || worstcase.MediaJSONPatch != MediaJSONPatch || worstcase.MediaMergePatch != MediaMergePatch {
		t.Fatal("worstcase's limits and media types differ from patch's")
	}
	for _, w := range worstBodies() {
		t.Run(w.name, func(t *testing.T) {
			if w.code == "" {
				t.Fatal("no answer pinned for this body")
			}
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
			cpu := cputime.Process()
			for b.Loop() {
				if _, err := Apply(&c, w.media, body); err == nil {
					b.Fatal("applied")
				}
			}
			b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
