// Package patch applies JSON Patch (RFC 6902) and JSON merge patch (RFC
// 7396) to the patchable projection of an OAuth client, as SPEC §4 rules:
// an allowlist on every path and from, canonical indexes only, limits on
// size, depth and copies, test by value, all or nothing, and results
// validated like a create.
//
// A body is read once, strictly, into its canonical form (internal/jsonx),
// and decoded from that into typed operations; those same values are
// checked and handed to github.com/evanphx/json-patch/v5, which applies
// them. engine.go lists where the library departs from the RFCs and how
// each gap is closed around it.
package patch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// Media types and limits of SPEC §4.
const (
	MediaJSONPatch  = "application/json-patch+json"
	MediaMergePatch = "application/merge-patch+json"
	// MaxBodyBytes is enforced by the HTTP layer (413) before Apply.
	MaxBodyBytes  = 64 << 10
	MaxOperations = 100
	// MaxDocumentBytes bounds the patched document: copies may not grow it
	// past this.
	MaxDocumentBytes = 64 << 10
	// MaxDepth bounds nesting anywhere in a body: the body's own array or
	// object is level 1.
	MaxDepth = 32
)

// Apply applies body, of the given media type (without parameters), to c's
// patchable members and returns the patched client, validated. c is never
// changed. Errors are *apierrors.Error; no body, valid or not, is a 500.
//
// The body is read in full, once, before anything is applied: more than
// MaxDepth levels of nesting anywhere in it is a limit violation, so no
// body of at most MaxBodyBytes costs more than a pass over it and one run
// of the library over a document of at most MaxDocumentBytes.
func Apply(c *models.OAuthClient, mediaType string, body []byte) (models.OAuthClient, error) {
	var doc []byte
	var touched []bool // nil: doc holds every patchable member
	var err error
	switch mediaType {
	case MediaJSONPatch:
		doc, touched, err = applyToClient(c, body)
	case MediaMergePatch:
		doc, err = applyMergePatch(projection(c, nil), body)
	default:
		return models.OAuthClient{}, apierrors.NewUnsupportedMediaType(mediaType, MediaJSONPatch, MediaMergePatch)
	}
	if err != nil {
		return models.OAuthClient{}, err
	}
	if doc == nil {
		return c.Clone(), nil
	}
	next, err := decodePatched(c, doc, touched)
	if err != nil {
		return models.OAuthClient{}, err
	}
	if err := next.Validate(); err != nil {
		return models.OAuthClient{}, err
	}
	return next, nil
}

// unescapeToken decodes a reference token (RFC 6901 §4: ~1 then ~0).
func unescapeToken(t string) (string, bool) {
	for i := 0; i < len(t); i++ {
		if t[i] == '~' && (i+1 == len(t) || (t[i+1] != '0' && t[i+1] != '1')) {
			return "", false
		}
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~"), true
}

// isCanonicalIndex reports whether t is an array index as RFC 6901 §4
// writes it: "0" or digits without a leading zero.
func isCanonicalIndex(t string) bool {
	if t == "" || len(t) > 1 && t[0] == '0' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	return true
}

// checkAllowlist enforces SPEC §4.1 on every path and every from.
func checkAllowlist(ops []operation) error {
	var causes []string
	for i, op := range ops {
		appendTarget := op.Op == "add" || op.Op == "copy" || op.Op == "move"
		if reason := pointerProblem(op.Path, appendTarget); reason != "" {
			causes = append(causes, fmt.Sprintf("operation %d: path %q: %s", i, op.Path, reason))
		}
		if op.hasFrom {
			if reason := pointerProblem(op.From, false); reason != "" {
				causes = append(causes, fmt.Sprintf("operation %d: from %q: %s", i, op.From, reason))
			}
		}
	}
	if len(causes) > 0 {
		return apierrors.NewIllegalUpdate(causes...)
	}
	return nil
}

// pointerTokens splits p into its reference tokens, unescaped, or says why
// SPEC §4.1 refuses it whatever it names: the empty pointer (the whole
// document), no leading /, an invalid ~ escape or an empty token.
func pointerTokens(p string) ([]string, string) {
	if p == "" {
		return nil, "the whole client cannot be patched; name a member"
	}
	if p[0] != '/' {
		return nil, "must start with /"
	}
	tokens := strings.Split(p[1:], "/")
	for i, r := range tokens {
		t, ok := unescapeToken(r)
		if !ok {
			return nil, "has an invalid ~ escape"
		}
		if t == "" {
			return nil, "has an empty reference token"
		}
		tokens[i] = t
	}
	return tokens, ""
}

// firstToken is pointerTokens(p)[0], without building the other tokens;
// false when pointerTokens refuses p.
func firstToken(p string) (string, bool) {
	if p == "" || p[0] != '/' {
		return "", false
	}
	first, rest := "", p[1:]
	for i := 0; ; i++ {
		r, after, more := strings.Cut(rest, "/")
		t, ok := unescapeToken(r)
		if !ok || t == "" {
			return "", false
		}
		if i == 0 {
			first = t
		}
		if !more {
			return first, true
		}
		rest = after
	}
}

// pointerProblem says why p may not be patched, or "" when it may.
func pointerProblem(p string, appendTarget bool) string {
	tokens, reason := pointerTokens(p)
	if reason != "" {
		return reason
	}
	if !models.IsPatchable(tokens[0]) {
		return "not a patchable member"
	}
	// The parts that may be addressed (SPEC §4.1): an element of an array
	// member, and under jwks the keys array and one key of it, so that a
	// key is added or dropped with one operation.
	depth := 1
	switch {
	case models.IsArrayMember(tokens[0]):
	case tokens[0] == "jwks" && len(tokens) > 1 && tokens[1] == "keys":
		if len(tokens) == 2 {
			return ""
		}
		depth = 2
	case len(tokens) > 1:
		return tokens[0] + " has no parts that can be addressed"
	}
	switch len(tokens) - depth {
	case 0:
		return ""
	case 1:
		index := tokens[depth]
		if index == "-" {
			if appendTarget {
				return ""
			}
			return `"-" may only be the target of add, copy or move`
		}
		if !isCanonicalIndex(index) {
			return "an array index must be 0 or digits without a leading zero"
		}
		return ""
	}
	return "paths may go no deeper than an element of an array member, or a key of /jwks/keys"
}

// projection is the document a patch applies to: a JSON object of c's
// patchable members, and nothing else of c; with only, of those members i
// of PatchableMembers for which only[i] holds.
func projection(c *models.OAuthClient, only []bool) []byte {
	doc := make([]byte, 0, 512)
	doc = append(doc, '{')
	for i, m := range models.PatchableMembers() {
		if only != nil && !only[i] {
			continue
		}
		if len(doc) > 1 {
			doc = append(doc, ',')
		}
		doc = m.AppendJSON(m.AppendKey(doc), c)
	}
	return append(doc, '}')
}

// patchedDoc is the type the patched projection decodes into: one field
// per patchable member, a pointer for the members that may not be null, so
// that one strict decoding tells a removed or null member from one that is
// present. It is built from the table of members.
var patchedDoc = func() reflect.Type {
	var fields []reflect.StructField
	for i, m := range models.PatchableMembers() {
		t := reflect.TypeOf(m.Field(&models.OAuthClient{})).Elem()
		if !m.Nullable {
			t = reflect.PointerTo(t)
		}
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("M%d", i), Type: t, Tag: reflect.StructTag(`json:"` + m.Name + `"`),
		})
	}
	return reflect.StructOf(fields)
}()

// decodePatched decodes the patched projection strictly, in one pass, into
// a copy of c: a wrong type is 400.1.3, and a member that may not be null
// but was removed or nulled is 400.1.0. With touched, doc holds only the
// members i for which touched[i] holds, and the others keep c's values.
func decodePatched(c *models.OAuthClient, doc []byte, touched []bool) (models.OAuthClient, error) {
	d := reflect.New(patchedDoc)
	if err := decodeStrictly(doc, d.Interface()); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if causes := wrongTypes(doc); len(causes) > 0 {
				return models.OAuthClient{}, apierrors.NewIllegalValue(causes...)
			}
		}
		return models.OAuthClient{}, apierrors.NewIllegalValue("the patched client: " + err.Error())
	}
	next := c.Clone()
	var missing []string
	for i, m := range models.PatchableMembers() {
		if touched != nil && !touched[i] {
			continue
		}
		v, dst := d.Elem().Field(i), reflect.ValueOf(m.Field(&next)).Elem()
		switch {
		case m.Nullable:
			dst.Set(v)
		case v.IsNil():
			missing = append(missing, m.Name+": may not be removed or null")
		default:
			dst.Set(v.Elem())
		}
	}
	if len(missing) > 0 {
		return models.OAuthClient{}, apierrors.NewRequiredMissing(missing...)
	}
	return next, nil
}

// wrongTypes names every member of the patched projection doc whose value
// is of the wrong type, in the order of PatchableMembers: the decoding
// stops at the first, and which member comes first in doc depends on the
// operations (a moved member comes last), not on the client. Only called
// once a decoding has failed.
func wrongTypes(doc []byte) []string {
	var members map[string]json.RawMessage
	if json.Unmarshal(doc, &members) != nil {
		return nil
	}
	var causes []string
	for i, m := range models.PatchableMembers() {
		raw, ok := members[m.Name]
		if !ok {
			continue
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(json.Unmarshal(raw, reflect.New(patchedDoc.Field(i).Type).Interface()), &typeErr) {
			causes = append(causes, m.Name+": must be "+m.TypePhrase())
		}
	}
	return causes
}

// decodeStrictly decodes doc, one JSON object, into v as a json.Decoder
// with DisallowUnknownFields does. patchedDoc has no struct inside it, so
// only doc's own members can be unknown fields: when each is named exactly
// as a patchable member, json.Unmarshal decodes the same and spares the
// Decoder and its buffer.
func decodeStrictly(doc []byte, v any) error {
	if onlyPatchableMembers(doc) {
		return json.Unmarshal(doc, v)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// onlyPatchableMembers reports whether doc is one object, and nothing
// after it, each of whose member names is written, without escapes, as a
// patchable member's.
func onlyPatchableMembers(doc []byte) bool {
	r := opReader{src: doc}
	r.space()
	if !r.at('{') {
		return false
	}
	r.pos++
	r.space()
	if r.at('}') {
		r.pos++
		return r.rest()
	}
	for {
		r.space()
		name, ok := r.value()
		if !ok || len(name) < 2 || name[0] != '"' || bytes.IndexByte(name, '\\') >= 0 ||
			!models.IsPatchable(string(name[1:len(name)-1])) {
			return false
		}
		r.space()
		if !r.at(':') {
			return false
		}
		r.pos++
		r.space()
		if _, ok := r.value(); !ok {
			return false
		}
		if done, ok := r.next('}'); !ok {
			return false
		} else if done {
			return r.rest()
		}
	}
}
