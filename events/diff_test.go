package events

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
)

// apply applies ops to before with an independent RFC 6902 implementation.
func apply(t *testing.T, before []byte, ops []Op) []byte {
	t.Helper()
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatalf("DecodePatch(%s): %v", raw, err)
	}
	if len(before) == 0 {
		before = []byte("{}")
	}
	got, err := p.Apply(before)
	if err != nil {
		t.Fatalf("Apply(%s) to %s: %v", raw, before, err)
	}
	return got
}

func checkDiff(t *testing.T, before, after string) []Op {
	t.Helper()
	ops, err := Diff([]byte(before), []byte(after))
	if err != nil {
		t.Fatalf("Diff(%s, %s): %v", before, after, err)
	}
	got := apply(t, []byte(before), ops)
	want := after
	if want == "" {
		want = "{}"
	}
	if !sameJSON(t, got, []byte(want)) {
		raw, _ := json.Marshal(ops)
		t.Fatalf("Diff(%s, %s) = %s, which gives %s", before, after, raw, got)
	}
	return ops
}

// sameJSON compares two documents decoded by encoding/json, independently
// of the comparison Diff uses.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func TestDiffCases(t *testing.T) {
	for _, tc := range []struct {
		before, after, want string
	}{
		{`{"a":1}`, `{"a":1}`, `[]`},
		{``, ``, `[]`},
		{``, `{"b":[1],"a":"x"}`, `[{"op":"add","path":"/a","value":"x"},{"op":"add","path":"/b","value":[1]}]`},
		{`{"a":"x","b":null}`, ``, `[{"op":"remove","path":"/a"},{"op":"remove","path":"/b"}]`},
		{`{"a":null}`, `{"a":"x"}`, `[{"op":"replace","path":"/a","value":"x"}]`},
		{`{"u":["a","b"]}`, `{"u":["a","b","c"]}`, `[{"op":"add","path":"/u/2","value":"c"}]`},
		{`{"u":["a","b","c"]}`, `{"u":["a","c"]}`, `[{"op":"remove","path":"/u/1"}]`},
		{`{"u":["a","b","c","d"]}`, `{"u":["a","d"]}`, `[{"op":"remove","path":"/u/1"},{"op":"remove","path":"/u/1"}]`},
		{`{"u":["a"]}`, `{"u":["x","a"]}`, `[{"op":"add","path":"/u/0","value":"x"}]`},
		{`{"u":["a","b"]}`, `{"u":["b","a"]}`, `[{"op":"replace","path":"/u/0","value":"b"},{"op":"replace","path":"/u/1","value":"a"}]`},
		{`{"a/b~c":1}`, `{"a/b~c":2}`, `[{"op":"replace","path":"/a~1b~0c","value":2}]`},
		{`{"j":{"keys":[{"kid":"1"}]}}`, `{"j":{"keys":[{"kid":"2"}]}}`, `[{"op":"replace","path":"/j/keys/0/kid","value":"2"}]`},
		{`{"a":1}`, `{"a":1.0}`, `[{"op":"replace","path":"/a","value":1.0}]`},
		{`{"a":[1]}`, `{"a":{"0":1}}`, `[{"op":"replace","path":"/a","value":{"0":1}}]`},
		{`{"a":""}`, `{"a":null}`, `[{"op":"replace","path":"/a","value":null}]`},
	} {
		ops := checkDiff(t, tc.before, tc.after)
		raw, _ := json.Marshal(ops)
		if string(raw) != tc.want {
			t.Errorf("Diff(%s, %s) = %s, want %s", tc.before, tc.after, raw, tc.want)
		}
	}
}

func TestDiffRefusesBadJSON(t *testing.T) {
	for _, tc := range [][2]string{{`{`, `{}`}, {`{}`, `[`}, {`{} {}`, `{}`}} {
		if _, err := Diff([]byte(tc[0]), []byte(tc[1])); err == nil {
			t.Errorf("Diff(%s, %s): no error", tc[0], tc[1])
		}
	}
}

// TestDiffProperty checks, on random documents and random edits of them,
// that the patch turns before into after under evanphx/json-patch.
func TestDiffProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 10))
	for i := 0; i < 3000; i++ {
		a := randObject(r, 3)
		var b map[string]any
		if i%5 == 0 {
			b = randObject(r, 3)
		} else {
			b = mutate(r, deepCopy(a).(map[string]any), 3).(map[string]any)
		}
		before, _ := json.Marshal(a)
		after, _ := json.Marshal(b)
		ops := checkDiff(t, string(before), string(after))
		if string(before) == string(after) && len(ops) != 0 {
			t.Fatalf("equal documents gave %d operations", len(ops))
		}
	}
}

// names avoid the empty member name, whose pointer evanphx/json-patch
// mishandles ("//0"); a representation has none.
var names = []string{"a", "b", "c", "x/y", "t~1", "redirectUris", "0"}

func randValue(r *rand.Rand, depth int) any {
	k := r.IntN(7)
	if depth <= 0 && k >= 5 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return json.Number(fmt.Sprint(r.IntN(100) - 50))
	case 3, 4:
		return names[r.IntN(len(names))] + fmt.Sprint(r.IntN(3))
	case 5:
		n := r.IntN(5)
		out := make([]any, n)
		for i := range out {
			out[i] = randValue(r, depth-1)
		}
		return out
	}
	return randObject(r, depth-1)
}

func randObject(r *rand.Rand, depth int) map[string]any {
	out := map[string]any{}
	for n := r.IntN(5); n > 0; n-- {
		out[names[r.IntN(len(names))]] = randValue(r, depth)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// mutate makes a few random edits: members added, removed or changed,
// elements inserted, dropped or changed, recursively.
func mutate(r *rand.Rand, v any, depth int) any {
	switch x := v.(type) {
	case map[string]any:
		for n := r.IntN(3); n >= 0; n-- {
			k := names[r.IntN(len(names))]
			switch r.IntN(4) {
			case 0:
				delete(x, k)
			case 1:
				x[k] = randValue(r, depth-1)
			default:
				if e, ok := x[k]; ok {
					x[k] = mutate(r, e, depth-1)
				}
			}
		}
		return x
	case []any:
		for n := r.IntN(3); n >= 0; n-- {
			switch i := r.IntN(len(x) + 1); r.IntN(3) {
			case 0:
				x = append(x[:i], append([]any{randValue(r, depth-1)}, x[i:]...)...)
			case 1:
				if i < len(x) {
					x = append(x[:i], x[i+1:]...)
				}
			default:
				if i < len(x) {
					x[i] = mutate(r, x[i], depth-1)
				}
			}
		}
		return x
	}
	if r.IntN(2) == 0 {
		return randValue(r, depth)
	}
	return v
}
