package patch

import (
	"errors"
	"fmt"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/jsonx"
	"github.com/clientele/clientele/models"
)

// github.com/evanphx/json-patch/v5 (v5.9.11) applies every operation. Where
// it departs from RFC 6902, this file closes the gap around it, never
// inside it, and a test holds a case for each (TestLibraryGaps; for the
// merge patch, TestDepth, TestMergePatchArraysAsGiven and TestWorstBodies):
//
//  1. Its test compares numbers by their text (3600 ≠ 3600.0 ≠ 3.6e3),
//     where §4.6 compares them by value. The library is handed every value,
//     and the document, in canonical form (jsonx.Canonical): one spelling
//     per number, so comparing text is comparing values. Strings are
//     compared after decoding, by the library itself.
//  2. It cannot tell a null from a missing member, and panics comparing an
//     array that holds null (a nil node in lazyNode.equal): after
//     "replace /tenant null", "test /tenant null" fails; after "remove
//     /tenant" it holds; "test /redirectUris [null]" is a nil dereference.
//     The library never sees a null: each is handed over as nullStandIn, a
//     number spelling that canonical form never produces, and turned back
//     into null in its output. Nulls then compare like any other value, and
//     a missing member is missing.
//  3. Its test of a path that does not resolve (an index past the end, a
//     member of a non-container) is an ordinary error, not a failed test;
//     §4.6 and SPEC §4.6 make it a failed test, 409 (libraryError).
//  4. It reads a pointer's empty reference token as the container itself,
//     and accepts "01" or "+1" as an array index, and negative indexes
//     unless told not to. SPEC §4.1 refuses empty tokens and non-canonical
//     indexes before the library runs (checkAllowlist); negative indexes
//     are turned off (applyOptions).
//  5. Its merge patch prunes the nulls of a value put where no object was
//     with a walk that re-reads each level (time quadratic in the depth:
//     3 s for 8 000 levels, still tens of milliseconds for 64 KiB at 32),
//     and prunes them inside arrays too ({"a":[{"b":null}]} gave [{}]),
//     where RFC 7396 §2 puts an array in place as it is. Bodies are
//     refused past MaxDepth while they are read, and the library is handed
//     a stand-in for each value it would prune, pruned here in one pass
//     (merge.go).

// nullStandIn is the library's null: a JSON number of the same length as
// null, so that the library's copy accounting measures what the document
// will hold, spelled with an E that jsonx.Canonical never writes.
const nullStandIn = "-0E0"

var fromStandIn = map[string]string{nullStandIn: "null"}

// libraryDepth bounds the nesting of documents the library hands back: the
// body is at most MaxDepth deep and each copy nests a value at most one
// level deeper, so this is never reached.
const libraryDepth = 1 << 12

// readBody reads a body in canonical form, nulls as opts says: malformed
// JSON or a duplicated member is 400.0, nesting deeper than MaxDepth is
// 400.1.4.
func readBody(body []byte, opts jsonx.Options) ([]byte, error) {
	opts.MaxDepth = MaxDepth
	out, err := jsonx.Canonical(make([]byte, 0, len(body)), body, opts)
	if err == nil {
		return out, nil
	}
	var depth *jsonx.DepthError
	var dup *jsonx.DuplicateError
	switch {
	case errors.As(err, &depth):
		return nil, apierrors.NewLimitViolation(depth.Error())
	case errors.As(err, &dup):
		return nil, apierrors.NewBadSyntax(fmt.Sprintf("body%s: member %q is duplicated", dup.Pointer, dup.Name))
	}
	return nil, apierrors.NewBadSyntax("body: " + err.Error())
}

// applyJSONPatch applies an RFC 6902 body to doc, any JSON document, after
// allow has passed its operations. It returns nil for an empty patch, which
// changes nothing. The RFC 6902 community suite calls it on the suite's own
// documents; Apply calls applyToClient.
func applyJSONPatch(doc, body []byte, allow func([]operation) error) ([]byte, error) {
	ops, err := readOperations(body, allow)
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return applyOperations(doc, ops, 0)
}

// applyToClient applies an RFC 6902 body to c's projection, after SPEC
// §4.1's allowlist. The library is handed only the members the operations
// name in a path or a from: no operation can read or change any other, and
// parsing and writing them again was most of the library's cost for an
// ordinary patch. They count toward MaxDocumentBytes all the same. The
// returned document holds the members i of PatchableMembers for which
// touched[i] holds; it is nil for an empty patch.
func applyToClient(c *models.OAuthClient, body []byte) (doc []byte, touched []bool, err error) {
	ops, err := readOperations(body, checkAllowlist)
	if err != nil || len(ops) == 0 {
		return nil, nil, err
	}
	members := models.PatchableMembers()
	touched = make([]bool, len(members))
	for _, op := range ops {
		for _, p := range [...]string{op.Path, op.From} {
			if name, ok := firstToken(p); ok {
				for i, m := range members {
					touched[i] = touched[i] || m.Name == name
				}
			}
		}
	}
	// The bytes of the members left out, as the canonical form of the
	// whole document would hold them, with their commas. A string, an
	// integer, a boolean or an array of strings is written as encoding/json
	// writes it, which is its canonical form (TestDocumentLimitCountsEveryMember);
	// an object may hold numbers in any spelling.
	rest := 0
	scratch := make([]byte, 0, 256)
	for i, m := range members {
		if touched[i] {
			continue
		}
		scratch = m.AppendJSON(m.AppendKey(scratch[:0]), c)
		n := len(scratch)
		switch m.Type {
		case models.String, models.Integer, models.Boolean, models.DateTime, models.StringArray:
		default:
			key := len(m.AppendKey(nil))
			canon, err := jsonx.Canonical(nil, scratch[key:], jsonx.Options{MaxDepth: libraryDepth})
			if err != nil {
				return nil, nil, apierrors.NewInternal(fmt.Errorf("%s: %w", m.Name, err))
			}
			n = key + len(canon)
		}
		if rest > 0 {
			rest++
		}
		rest += n
	}
	doc, err = applyOperations(projection(c, touched), ops, rest)
	return doc, touched, err
}

// readOperations reads an RFC 6902 body and checks its operations with
// allow; none is an empty patch.
func readOperations(body []byte, allow func([]operation) error) ([]operation, error) {
	canon, err := readBody(body, jsonx.Options{NullAs: nullStandIn})
	if err != nil {
		return nil, err
	}
	ops, err := decodeOperations(canon)
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	if err := allow(ops); err != nil {
		return nil, err
	}
	return ops, nil
}

// applyOperations has the library apply ops to doc and returns the result
// in canonical form. rest is the length of the canonical members, joined
// by commas, of a larger document that doc is part of; the two together
// may not exceed MaxDocumentBytes.
func applyOperations(doc []byte, ops []operation, rest int) ([]byte, error) {
	in, err := jsonx.Canonical(make([]byte, 0, len(doc)), doc, jsonx.Options{MaxDepth: libraryDepth, NullAs: nullStandIn})
	if err != nil {
		return nil, apierrors.NewInternal(fmt.Errorf("the document to patch: %w", err))
	}
	p := make(jsonpatch.Patch, len(ops))
	for i := range ops {
		p[i] = libraryOperation(&ops[i])
	}
	out, err := p.ApplyWithOptions(in, libraryOptions)
	if err != nil {
		return nil, libraryError(err, "")
	}
	out, err = jsonx.Canonical(make([]byte, 0, len(out)), out, jsonx.Options{MaxDepth: libraryDepth, Substitute: fromStandIn})
	if err != nil {
		return nil, apierrors.NewInternal(fmt.Errorf("the patched document: %w", err))
	}
	// The whole document is {doc's members,rest's members}.
	size := len(out) + rest
	if rest > 0 && len(out) > len("{}") {
		size++
	}
	if size > MaxDocumentBytes {
		return nil, apierrors.NewLimitViolation(fmt.Sprintf("the patched document would exceed %d bytes", MaxDocumentBytes))
	}
	return out, nil
}

// libraryOperation builds the library's operation from a checked one,
// handing it the body's own JSON of each member.
func libraryOperation(op *operation) jsonpatch.Operation {
	o := jsonpatch.Operation{"op": &op.rawOp, "path": &op.rawPath}
	if op.hasFrom {
		o["from"] = &op.rawFrom
	}
	if op.Value != nil {
		o["value"] = &op.Value
	}
	return o
}

// libraryOptions is shared by every run of the library, which only reads it.
var libraryOptions = applyOptions()

func applyOptions() *jsonpatch.ApplyOptions {
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	// Copies are measured in canonical form, nulls included (nullStandIn).
	o.AccumulatedCopySizeLimit = MaxDocumentBytes
	o.AllowMissingPathOnRemove = false
	o.EnsurePathExistsOnAdd = false
	return o
}

// libraryError maps an error of the patch library to the detailCode of
// SPEC §4.6 and §4.7; where names the failing operation when known.
func libraryError(err error, where string) error {
	if where != "" {
		where += ": "
	}
	var copyErr *jsonpatch.AccumulatedCopySizeError
	var sizeErr *jsonpatch.ArraySizeError
	switch {
	case errors.Is(err, jsonpatch.ErrTestFailed), isUnresolvedTest(err):
		return apierrors.NewConflict(where + "a test operation failed: " + err.Error())
	case errors.As(err, &copyErr), errors.As(err, &sizeErr):
		return apierrors.NewLimitViolation(where + fmt.Sprintf("copies would grow the document past %d bytes", MaxDocumentBytes))
	}
	return apierrors.NewBadContent(where + strings.ReplaceAll(err.Error(), nullStandIn, "null"))
}

// isUnresolvedTest reports a test whose path does not resolve, which the
// library (v5.9.11) signals only by the wording of its error (gap 3).
func isUnresolvedTest(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "test operation does not apply") || strings.HasPrefix(m, "error in test for path")
}
