package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	apierrors "github.com/clientele/clientele/errors"
)

// operation is one decoded RFC 6902 operation.
type operation struct {
	Op    string
	Path  string
	From  string
	Value json.RawMessage

	hasPath, hasFrom bool

	// The JSON strings op, path and from as the body holds them, handed to
	// the library as they are (libraryOperation).
	rawOp, rawPath, rawFrom json.RawMessage
}

func (o operation) String() string {
	if o.hasFrom {
		return fmt.Sprintf("%s from %s to %s", o.Op, o.From, o.Path)
	}
	return o.Op + " " + o.Path
}

func badOp(i int, format string, args ...any) error {
	return apierrors.NewBadSyntax(fmt.Sprintf("operation %d: ", i) + fmt.Sprintf(format, args...))
}

// decodeOperations reads an RFC 6902 document: an array of operation
// objects, each with known members only, none of them twice, and the
// members its op needs (RFC 6902 §4). More than MaxOperations is a limit
// violation.
//
// body must be one JSON text without a duplicated member, as readBody
// returns it: syntax was checked there, so this only walks the structure,
// in one pass and without a json.Decoder (whose token reading was most of
// an ordinary patch's reading cost). Values are slices of body. On
// malformed JSON it fails with a plain 400.0 rather than saying where.
func decodeOperations(body []byte) ([]operation, error) {
	r := opReader{src: body}
	r.space()
	if !r.at('[') {
		return nil, apierrors.NewBadSyntax("body: a JSON Patch must be a JSON array of operations")
	}
	r.pos++
	r.space()
	var ops []operation
	if r.at(']') {
		r.pos++
	} else {
		for i := 0; ; i++ {
			if i == MaxOperations {
				return nil, apierrors.NewLimitViolation(fmt.Sprintf("a patch may hold at most %d operations", MaxOperations))
			}
			op, err := r.operation(i)
			if err != nil {
				return nil, err
			}
			if ops == nil {
				// Each operation is an object: room for as many as the
				// body has braces, up to the limit, spares regrowing.
				ops = make([]operation, 0, min(bytes.Count(body, []byte("{")), MaxOperations+1))
			}
			ops = append(ops, op)
			if done, ok := r.next(']'); !ok {
				return nil, errMalformed
			} else if done {
				break
			}
		}
	}
	r.space()
	if r.pos != len(r.src) {
		return nil, apierrors.NewBadSyntax("body: unexpected data after the JSON array")
	}
	return ops, nil
}

var errMalformed = apierrors.NewBadSyntax("body: invalid JSON")

// Members of an operation object, as bits, to find one named twice.
const (
	memberOp = 1 << iota
	memberPath
	memberFrom
	memberValue
)

func (r *opReader) operation(i int) (operation, error) {
	var op operation
	r.space()
	if !r.at('{') {
		if _, ok := r.value(); !ok {
			return op, errMalformed
		}
		return op, badOp(i, "must be a JSON object")
	}
	r.pos++
	r.space()
	seen := 0
	if r.at('}') {
		r.pos++
	} else {
		for {
			r.space()
			if !r.at('"') {
				return op, errMalformed
			}
			rawName, ok := r.value()
			if !ok {
				return op, errMalformed
			}
			name, _ := stringValue(rawName)
			r.space()
			if !r.at(':') {
				return op, errMalformed
			}
			r.pos++
			r.space()
			raw, ok := r.value()
			if !ok {
				return op, errMalformed
			}
			var bit int
			var target *string
			var rawTarget *json.RawMessage
			switch string(name) {
			case "op":
				bit, target, rawTarget = memberOp, &op.Op, &op.rawOp
			case "path":
				bit, target, rawTarget = memberPath, &op.Path, &op.rawPath
				op.hasPath = true
			case "from":
				bit, target, rawTarget = memberFrom, &op.From, &op.rawFrom
				op.hasFrom = true
			case "value":
				bit = memberValue
				op.Value = raw
			default:
				return op, badOp(i, "unknown member %q", name)
			}
			if seen&bit != 0 {
				return op, badOp(i, "member %q is duplicated", name)
			}
			seen |= bit
			if target != nil {
				s, ok := stringValue(raw)
				if !ok {
					return op, badOp(i, "%s must be a string", name)
				}
				*target, *rawTarget = opName(s), raw
			}
			if done, ok := r.next('}'); !ok {
				return op, errMalformed
			} else if done {
				break
			}
		}
	}
	switch {
	case seen&memberOp == 0:
		return op, badOp(i, "op is required")
	case !op.hasPath:
		return op, badOp(i, "path is required")
	}
	switch op.Op {
	case "add", "replace", "test":
		if seen&memberValue == 0 {
			return op, badOp(i, "%s needs a value", op.Op)
		}
	case "move", "copy":
		if !op.hasFrom {
			return op, badOp(i, "%s needs from", op.Op)
		}
	case "remove":
	default:
		return op, badOp(i, "unknown op %q; use add, remove, replace, move, copy or test", op.Op)
	}
	if op.Op != "move" && op.Op != "copy" {
		op.hasFrom, op.rawFrom = false, nil
	}
	if op.Op == "remove" || op.Op == "move" || op.Op == "copy" {
		op.Value = nil
	}
	return op, nil
}

// opName is s as a string, the names of the ops without allocating.
func opName(s []byte) string {
	for _, name := range [...]string{"add", "remove", "replace", "move", "copy", "test"} {
		if string(s) == name {
			return name
		}
	}
	return string(s)
}

// stringValue decodes raw, a JSON value, as encoding/json decodes it into
// a string: false when it is not a string (null decodes as ""). The
// result shares raw when raw holds no escape and only valid UTF-8.
func stringValue(raw []byte) ([]byte, bool) {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw[1 : len(raw)-1], true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// opReader walks a JSON text that has already been checked.
type opReader struct {
	src []byte
	pos int
}

func (r *opReader) at(c byte) bool { return r.pos < len(r.src) && r.src[r.pos] == c }

// rest reports whether only white space follows r.pos.
func (r *opReader) rest() bool {
	r.space()
	return r.pos == len(r.src)
}

func (r *opReader) space() {
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// next reads what follows an element: a comma, or closing (done); false
// for anything else.
func (r *opReader) next(closing byte) (done, ok bool) {
	r.space()
	switch {
	case r.at(','):
		r.pos++
		return false, true
	case r.at(closing):
		r.pos++
		return true, true
	}
	return false, false
}

// value skips the value at r.pos and returns its text; false when the
// text ends first.
func (r *opReader) value() ([]byte, bool) {
	start := r.pos
	switch {
	case r.at('"'):
		ok := r.skipString()
		return r.src[start:r.pos], ok
	case r.at('{') || r.at('['):
		for depth := 0; r.pos < len(r.src); {
			switch r.src[r.pos] {
			case '"':
				if !r.skipString() {
					return nil, false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			r.pos++
			if depth == 0 {
				return r.src[start:r.pos], true
			}
		}
		return nil, false
	}
	for ; r.pos < len(r.src); r.pos++ {
		switch r.src[r.pos] {
		case ',', ':', ']', '}', ' ', '\t', '\n', '\r':
			return r.src[start:r.pos], r.pos > start
		}
	}
	return r.src[start:r.pos], r.pos > start
}

// skipString moves past the string at r.pos.
func (r *opReader) skipString() bool {
	for r.pos++; r.pos < len(r.src); r.pos++ {
		switch r.src[r.pos] {
		case '\\':
			r.pos++
		case '"':
			r.pos++
			return true
		}
	}
	return false
}
