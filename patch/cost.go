package patch

import (
	"bytes"
	"encoding/json"
)

// CostlyBytes is the body size past which a patch may cost more CPU than
// an ordinary write. Reading, applying and validating grow about linearly
// with the body: the worst bodies of 64 KiB cost up to about 9 ms of CPU
// and tens of thousands of allocations (BENCHMARKS.md, worst-case bodies),
// one of 2 KiB at most about 0.3 ms, near an ordinary patch with its HTTP
// round.
const CostlyBytes = 2 << 10

// Costly reports whether applying body may cost more than an ordinary
// write, before it is applied: a body over CostlyBytes, or a JSON Patch
// with a copy operation, whose growth is bounded by MaxDocumentBytes and
// not by the body (a 1.5 KB body of doubling copies costs about as much
// as one of 64 KiB). It reads op members as JSON does, escapes included. A
// small body it cannot read as an array of objects counts as costly: Apply
// will refuse it, but only reading it the strict way says how soon.
func Costly(mediaType string, body []byte) bool {
	if len(body) > CostlyBytes {
		return true
	}
	if mediaType != MediaJSONPatch {
		return false
	}
	// Without an escape, an op is "copy" only where the body spells it, so
	// a body that does not is costly exactly when the decoding below would
	// fail: it is not JSON, or not null or an array of objects and nulls.
	if bytes.IndexByte(body, '\\') < 0 && !bytes.Contains(body, []byte("copy")) {
		return !json.Valid(body) || !arrayOfObjects(body)
	}
	var ops []struct {
		Op json.RawMessage `json:"op"`
	}
	if json.Unmarshal(body, &ops) != nil {
		return true
	}
	for _, o := range ops {
		var name string
		if json.Unmarshal(o.Op, &name) == nil && name == "copy" {
			return true
		}
	}
	return false
}

// arrayOfObjects reports whether body, valid JSON, decodes into a slice of
// structs: null, or an array whose elements are objects or nulls.
func arrayOfObjects(body []byte) bool {
	r := opReader{src: body}
	r.space()
	if bytes.HasPrefix(body[r.pos:], []byte("null")) {
		return true
	}
	if !r.at('[') {
		return false
	}
	r.pos++
	r.space()
	if r.at(']') {
		return true
	}
	for {
		r.space()
		if !r.at('{') && !r.at('n') {
			return false
		}
		if _, ok := r.value(); !ok {
			return false
		}
		if done, ok := r.next(']'); !ok || done {
			return ok
		}
	}
}
