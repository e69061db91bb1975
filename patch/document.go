package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	apierrors "github.com/clientele/clientele/errors"
)

// applyDocument applies an RFC 6902 patch to any JSON document, with every
// rule of Apply except the allowlist: the same strict decoding, the same
// limits and the same error mapping. Because the shape of an arbitrary
// document is unknown in advance, each pointer is checked against the
// document as it is when its operation runs (canonical array indexes, "-"
// only as an add, copy or move target), and operations apply one by one.
func applyDocument(doc, body []byte) ([]byte, error) {
	ops, err := decodeOperations(body)
	if err != nil {
		return nil, err
	}
	opts := applyOptions()
	for i, op := range ops {
		appendTarget := op.Op == "add" || op.Op == "copy" || op.Op == "move"
		if reason := pointerProblemIn(doc, op.Path, appendTarget); reason != "" {
			return nil, apierrors.NewBadContent(fmt.Sprintf("operation %d: path %q: %s", i, op.Path, reason))
		}
		if op.hasFrom {
			if reason := pointerProblemIn(doc, op.From, false); reason != "" {
				return nil, apierrors.NewBadContent(fmt.Sprintf("operation %d: from %q: %s", i, op.From, reason))
			}
		}
		if op.Op == "test" {
			// The library reads "/" as the root rather than the member "";
			// test is read-only, so it is evaluated here, exactly.
			if err := testPointer(doc, op); err != nil {
				return nil, libraryError(err, fmt.Sprintf("operation %d (%s)", i, op))
			}
			continue
		}
		out, err := jsonpatch.Patch{libraryOperation(op)}.ApplyWithOptions(doc, opts)
		if err != nil {
			return nil, libraryError(err, fmt.Sprintf("operation %d (%s)", i, op))
		}
		if len(out) > MaxDocumentBytes {
			return nil, apierrors.NewLimitViolation(fmt.Sprintf("the document would exceed %d bytes", MaxDocumentBytes))
		}
		doc = out
	}
	return doc, nil
}

// pointerProblemIn checks pointer p against doc: valid escapes, and where it
// crosses an array, a canonical index (or "-" as the last token of an add,
// copy or move target). Whether the target exists is left to the operation.
func pointerProblemIn(doc []byte, p string, appendTarget bool) string {
	if p == "" {
		return ""
	}
	if p[0] != '/' {
		return "must start with /"
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var cur any
	if err := dec.Decode(&cur); err != nil {
		return "the document is not valid JSON"
	}
	raw := strings.Split(p[1:], "/")
	for i, r := range raw {
		t, ok := unescapeToken(r)
		if !ok {
			return "has an invalid ~ escape"
		}
		last := i == len(raw)-1
		switch v := cur.(type) {
		case []any:
			if t == "-" {
				if last && appendTarget {
					return ""
				}
				return `"-" may only end the target of add, copy or move`
			}
			if !isCanonicalIndex(t) {
				return "an array index must be 0 or digits without a leading zero"
			}
			var idx int
			if _, err := fmt.Sscan(t, &idx); err != nil || idx >= len(v) {
				return ""
			}
			cur = v[idx]
		case map[string]any:
			next, ok := v[t]
			if !ok {
				return ""
			}
			cur = next
		default:
			return ""
		}
	}
	return ""
}

// testPointer is RFC 6902 §4.6's test: the value at op.Path equals op.Value
// (numbers by value, objects regardless of member order).
func testPointer(doc []byte, op operation) error {
	var cur, want any
	if err := json.Unmarshal(doc, &cur); err != nil {
		return err
	}
	if err := json.Unmarshal(op.Value, &want); err != nil {
		return err
	}
	if op.Path != "" {
		for _, r := range strings.Split(op.Path[1:], "/") {
			t, _ := unescapeToken(r)
			switch v := cur.(type) {
			case map[string]any:
				next, ok := v[t]
				if !ok {
					return fmt.Errorf("test: %s: %w", op.Path, jsonpatch.ErrMissing)
				}
				cur = next
			case []any:
				var idx int
				if _, err := fmt.Sscan(t, &idx); err != nil || idx < 0 || idx >= len(v) {
					return fmt.Errorf("test: %s: %w", op.Path, jsonpatch.ErrInvalidIndex)
				}
				cur = v[idx]
			default:
				return fmt.Errorf("test: %s: %w", op.Path, jsonpatch.ErrMissing)
			}
		}
	}
	if !reflect.DeepEqual(cur, want) {
		return jsonpatch.ErrTestFailed
	}
	return nil
}
