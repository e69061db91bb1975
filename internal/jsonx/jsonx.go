// Package jsonx holds the strict JSON reading that Clientele's request
// decoders share: exactly one object, no duplicated member.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	apierrors "github.com/clientele/clientele/errors"
)

// DuplicateError reports a member name that occurs twice in one object;
// Pointer, when known, is the RFC 6901 pointer of that object in the body.
type DuplicateError struct{ Name, Pointer string }

func (e *DuplicateError) Error() string { return fmt.Sprintf("member %q is duplicated", e.Name) }

// ErrNotObject is returned when the body is valid JSON but not an object.
var ErrNotObject = errors.New("must be a JSON object")

// ObjectMembers splits body, which must hold exactly one JSON object, into
// its members, in order. A duplicated member name is a *DuplicateError
// (RFC 8259 leaves duplicates undefined; decoders disagree on them, so they
// are refused rather than guessed).
func ObjectMembers(body []byte) (names []string, values []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, Problem(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, ErrNotObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, Problem(err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, Problem(err)
		}
		if seen[name] {
			return nil, nil, &DuplicateError{Name: name}
		}
		seen[name] = true
		names = append(names, name)
		values = append(values, raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, Problem(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, errors.New("unexpected data after the JSON value")
	}
	return names, values, nil
}

// Problem turns a decoding error into a short, safe description.
func Problem(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON input")
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at offset %d: %s", syn.Offset, syn.Error())
	}
	return fmt.Errorf("invalid JSON: %s", err.Error())
}

// Object is ObjectMembers with its failures as API errors: 400.0 naming the
// problem, or the duplicated member.
func Object(body []byte) ([]string, []json.RawMessage, error) {
	names, values, err := ObjectMembers(body)
	var dup *DuplicateError
	switch {
	case errors.As(err, &dup):
		return nil, nil, apierrors.NewBadSyntax(dup.Name + ": duplicate member")
	case errors.Is(err, ErrNotObject):
		return nil, nil, apierrors.NewBadSyntax("body: must be a JSON object")
	case err != nil:
		return nil, nil, apierrors.NewBadSyntax("body: " + err.Error())
	}
	return names, values, nil
}
