package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Op is one RFC 6902 operation. Diff emits only add, remove and replace.
type Op struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Diff returns the RFC 6902 operations that turn the JSON document before
// into after: applied in order by any conforming implementation, they give
// a document equal to after. An empty or nil document stands for a client
// that does not exist and is taken as {}, so a creation is one add per
// member and a deletion one remove per member. Equal documents give an
// empty, non-nil list.
//
// Objects are compared member by member (in sorted order, so the result is
// deterministic); arrays keep their common prefix and suffix and replace,
// remove or add only what lies between, so appending one redirect URI is one
// add. Numbers are compared by their text, which is exact for the integers
// a representation holds.
func Diff(before, after []byte) ([]Op, error) {
	a, err := decode(before)
	if err != nil {
		return nil, fmt.Errorf("diff: before: %w", err)
	}
	b, err := decode(after)
	if err != nil {
		return nil, fmt.Errorf("diff: after: %w", err)
	}
	d := differ{ops: []Op{}}
	if err := d.value("", a, b); err != nil {
		return nil, err
	}
	return d.ops, nil
}

func decode(doc []byte) (any, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

type differ struct{ ops []Op }

func (d *differ) emit(op, path string, v any) error {
	o := Op{Op: op, Path: path}
	if op != "remove" {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		o.Value = raw
	}
	d.ops = append(d.ops, o)
	return nil
}

func (d *differ) value(path string, a, b any) error {
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			return d.object(path, x, y)
		}
	case []any:
		if y, ok := b.([]any); ok {
			return d.array(path, x, y)
		}
	}
	if equal(a, b) {
		return nil
	}
	return d.emit("replace", path, b)
}

func (d *differ) object(path string, a, b map[string]any) error {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "/" + escape(k)
		av, inA := a[k]
		bv, inB := b[k]
		var err error
		switch {
		case inA && inB:
			err = d.value(p, av, bv)
		case inA:
			err = d.emit("remove", p, nil)
		default:
			err = d.emit("add", p, bv)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *differ) array(path string, a, b []any) error {
	pre := 0
	for pre < len(a) && pre < len(b) && equal(a[pre], b[pre]) {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && equal(a[len(a)-1-suf], b[len(b)-1-suf]) {
		suf++
	}
	mid, newMid := a[pre:len(a)-suf], b[pre:len(b)-suf]
	common := min(len(mid), len(newMid))
	for i := 0; i < common; i++ {
		if err := d.value(path+"/"+strconv.Itoa(pre+i), mid[i], newMid[i]); err != nil {
			return err
		}
	}
	// Surplus old elements go from the first index past the common part,
	// each removal moving the next one there; missing ones are inserted at
	// increasing indexes, before the kept suffix.
	for i := common; i < len(mid); i++ {
		if err := d.emit("remove", path+"/"+strconv.Itoa(pre+common), nil); err != nil {
			return err
		}
	}
	for i := common; i < len(newMid); i++ {
		if err := d.emit("add", path+"/"+strconv.Itoa(pre+i), newMid[i]); err != nil {
			return err
		}
	}
	return nil
}

// escape encodes a member name as a JSON Pointer token (RFC 6901 §3).
func escape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// equal compares decoded JSON values exactly: same type, same members,
// same elements in order, numbers by their text.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
