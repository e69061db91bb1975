package patch

import (
	"encoding/json"
	"fmt"
	"strconv"

	jsonpatch "github.com/evanphx/json-patch/v5"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/internal/jsonx"
	"github.com/clientele/clientele/models"
)

// applyMergePatch applies an RFC 7396 object to doc. It returns nil for an
// empty object, which changes nothing.
func applyMergePatch(doc, body []byte) ([]byte, error) {
	canon, err := readBody(body, jsonx.Options{})
	if err != nil {
		return nil, err
	}
	names, values, err := jsonx.Object(canon)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	// A null for a member that may not be null is left to decodePatched,
	// like every other problem of the result: a merge patch is refused
	// exactly as a JSON Patch with the same result is.
	var illegal []string
	for _, name := range names {
		if !models.IsPatchable(name) {
			illegal = append(illegal, fmt.Sprintf("%q: not a patchable member", name))
		}
	}
	if len(illegal) > 0 {
		return nil, apierrors.NewIllegalUpdate(illegal...)
	}
	subs := map[string]string{}
	skeleton, err := mergeMembers(nil, doc, names, values, subs)
	if err != nil {
		return nil, err
	}
	out, err := jsonpatch.MergePatch(doc, skeleton)
	if err != nil {
		return nil, apierrors.NewBadContent("merge patch: " + err.Error())
	}
	out, err = jsonx.Canonical(make([]byte, 0, len(out)+len(canon)), out, jsonx.Options{MaxDepth: libraryDepth, Substitute: subs})
	if err != nil {
		return nil, apierrors.NewInternal(fmt.Errorf("the merged document: %w", err))
	}
	return out, nil
}

// mergeSkeleton appends what the library is handed for the merge patch
// value patch against target (nil when the target has no such member),
// both canonical JSON. Where both are objects it is an object of the
// members' skeletons, a null member (a removal) kept as null; every other
// value becomes a stand-in for MergePatch({}, value) of RFC 7396 §2 (the
// value with the null members of its objects left out, arrays as they
// are), recorded in subs. The library then only adds, replaces and removes
// members along the target's objects, and no value is read twice.
func mergeSkeleton(dst, target, patch []byte, subs map[string]string) ([]byte, error) {
	if patch[0] != '{' || target == nil || target[0] != '{' {
		pruned, err := jsonx.Canonical(nil, patch, jsonx.Options{MaxDepth: libraryDepth, DropNullMembers: true})
		if err != nil {
			return nil, apierrors.NewInternal(err)
		}
		standIn := "-0E" + strconv.Itoa(len(subs)+1) // nullStandIn is -0E0
		subs[standIn] = string(pruned)
		return append(dst, standIn...), nil
	}
	names, values, err := jsonx.ObjectMembers(patch)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	return mergeMembers(dst, target, names, values, subs)
}

// mergeMembers is mergeSkeleton for a patch object already split into its
// members, against target, an object.
func mergeMembers(dst, target []byte, names []string, values []json.RawMessage, subs map[string]string) ([]byte, error) {
	tnames, tvalues, err := jsonx.ObjectMembers(target)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	dst = append(dst, '{')
	for i, name := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		key, _ := json.Marshal(name)
		dst = append(append(dst, key...), ':')
		if string(values[i]) == "null" {
			dst = append(dst, "null"...)
			continue
		}
		var t []byte
		for j, tn := range tnames {
			if tn == name {
				t = tvalues[j]
			}
		}
		if dst, err = mergeSkeleton(dst, t, values[i], subs); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}
