package errors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

// TestPredicateMatrix checks that each predicate recognises exactly its own
// kind, through wrapping, and never nil.
func TestPredicateMatrix(t *testing.T) {
	type pred struct {
		name string
		fn   func(error) bool
	}
	preds := []pred{
		{"IsBadSyntax", apierrors.IsBadSyntax},
		{"IsBadContent", apierrors.IsBadContent},
		{"IsRequiredMissing", apierrors.IsRequiredMissing},
		{"IsIllegalUpdate", apierrors.IsIllegalUpdate},
		{"IsLengthOutOfRange", apierrors.IsLengthOutOfRange},
		{"IsIllegalValue", apierrors.IsIllegalValue},
		{"IsLimitViolation", apierrors.IsLimitViolation},
		{"IsForbidden", apierrors.IsForbidden},
		{"IsNotFound", apierrors.IsNotFound},
		{"IsMethodNotAllowed", apierrors.IsMethodNotAllowed},
		{"IsConflict", apierrors.IsConflict},
		{"IsPreconditionFailed", apierrors.IsPreconditionFailed},
		{"IsPayloadTooLarge", apierrors.IsPayloadTooLarge},
		{"IsUnsupportedMediaType", apierrors.IsUnsupportedMediaType},
		{"IsUnavailable", apierrors.IsUnavailable},
	}
	cases := []struct {
		err    *apierrors.Error
		pred   string
		status int
		code   string
	}{
		{apierrors.NewBadSyntax("x"), "IsBadSyntax", 400, "400.0 Bad request syntax"},
		{apierrors.NewBadContent("x"), "IsBadContent", 400, "400.1 Bad Request Content"},
		{apierrors.NewRequiredMissing("x"), "IsRequiredMissing", 400, "400.1.0 Required data missing or empty"},
		{apierrors.NewIllegalUpdate("x"), "IsIllegalUpdate", 400, "400.1.1 Illegal update attempt"},
		{apierrors.NewLengthOutOfRange("x"), "IsLengthOutOfRange", 400, "400.1.2 Value length out of range"},
		{apierrors.NewIllegalValue("x"), "IsIllegalValue", 400, "400.1.3 Illegal value"},
		{apierrors.NewLimitViolation("x"), "IsLimitViolation", 400, "400.1.4 Limit violation"},
		{apierrors.NewForbidden("x"), "IsForbidden", 403, "403 Forbidden"},
		{apierrors.NewNotFound("x"), "IsNotFound", 404, "404 Not found"},
		{apierrors.NewMethodNotAllowed("PUT", "GET"), "IsMethodNotAllowed", 405, "405 Method Not Allowed"},
		{apierrors.NewConflict("x"), "IsConflict", 409, "409.1 Conflict"},
		{apierrors.NewPreconditionFailed("x"), "IsPreconditionFailed", 412, "412 Precondition Failed"},
		{apierrors.NewPayloadTooLarge(10), "IsPayloadTooLarge", 413, "413 Payload Too Large"},
		{apierrors.NewUnsupportedMediaType("text/plain", "application/json"), "IsUnsupportedMediaType", 415, "415 Unsupported Media Type"},
		{apierrors.NewUnavailable(errors.New("down")), "IsUnavailable", 503, "503 Service Unavailable"},
	}
	for _, c := range cases {
		for _, wrapped := range []bool{false, true} {
			var err error = c.err
			if wrapped {
				err = fmt.Errorf("context: %w", c.err)
			}
			for _, p := range preds {
				if got, want := p.fn(err), p.name == c.pred; got != want {
					t.Errorf("%s(%s, wrapped=%v) = %v, want %v", p.name, c.code, wrapped, got, want)
				}
			}
			if got := apierrors.StatusOf(err); got != c.status {
				t.Errorf("StatusOf(%s) = %d, want %d", c.code, got, c.status)
			}
			if got := apierrors.DetailCodeOf(err); got != c.code {
				t.Errorf("DetailCodeOf = %q, want %q", got, c.code)
			}
			if got := apierrors.IsBadRequest(err); got != (c.status == 400) {
				t.Errorf("IsBadRequest(%s) = %v", c.code, got)
			}
		}
	}
	for _, p := range preds {
		if p.fn(nil) {
			t.Errorf("%s(nil) = true", p.name)
		}
		if p.fn(errors.New("plain")) {
			t.Errorf("%s(plain error) = true", p.name)
		}
	}
	if apierrors.IsInternal(nil) || !apierrors.IsInternal(errors.New("x")) || !apierrors.IsInternal(apierrors.NewInternal(nil)) {
		t.Error("IsInternal matrix wrong")
	}
	if got := apierrors.StatusOf(nil); got != http.StatusOK {
		t.Errorf("StatusOf(nil) = %d", got)
	}
}

func TestEnvelopeHidesInternals(t *testing.T) {
	secret := "db password is hunter2"
	e := apierrors.NewInternal(errors.New(secret)).WithTrackingID("0123456789abcdef0123456789abcdef")
	body, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "hunter2") {
		t.Errorf("envelope leaks the internal cause: %s", body)
	}
	if !errors.Is(e, errors.Unwrap(e)) || !strings.Contains(e.Error(), "hunter2") {
		t.Error("the internal cause should stay available to logs")
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"detailCode", "trackingId", "messages", "causes"} {
		if _, ok := got[k]; !ok {
			t.Errorf("envelope lacks %s: %s", k, body)
		}
	}
	if len(got) != 4 {
		t.Errorf("envelope has extra members: %s", body)
	}
	want := `{"detailCode":"500.0 Internal Fault","trackingId":"0123456789abcdef0123456789abcdef","messages":[{"locale":"en-US","localeOrigin":"DEFAULT","text":"An internal fault occurred."}],"causes":[]}`
	if string(body) != want {
		t.Errorf("body\n got %s\nwant %s", body, want)
	}
}

func TestNewInvalidPicksTheDetailCode(t *testing.T) {
	c := func(k apierrors.Kind, f string) apierrors.Cause {
		return apierrors.Cause{Kind: k, Field: f, Reason: "bad"}
	}
	tests := []struct {
		causes []apierrors.Cause
		want   string
	}{
		{nil, ""},
		{[]apierrors.Cause{c(apierrors.KindLength, "name")}, apierrors.CodeLengthOutOfRange},
		{[]apierrors.Cause{c(apierrors.KindLength, "name"), c(apierrors.KindIllegalValue, "x")}, apierrors.CodeIllegalValue},
		{[]apierrors.Cause{c(apierrors.KindIllegalValue, "x"), c(apierrors.KindRequired, "name")}, apierrors.CodeRequiredMissing},
		{[]apierrors.Cause{c(apierrors.KindRequired, "name"), c(apierrors.KindIllegalUpdate, "id")}, apierrors.CodeIllegalUpdate},
	}
	for _, tt := range tests {
		err := apierrors.NewInvalid(tt.causes...)
		if got := apierrors.DetailCodeOf(err); got != tt.want {
			t.Errorf("NewInvalid(%v) = %q, want %q", tt.causes, got, tt.want)
		}
		if e, ok := apierrors.From(err); ok && len(e.Causes) != len(tt.causes) {
			t.Errorf("causes = %d, want %d", len(e.Causes), len(tt.causes))
		}
	}
}

func BenchmarkMarshalEnvelope(b *testing.B) {
	e := apierrors.NewIllegalUpdate(`operation 0: from "/secret": not a patchable member`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e.WithTrackingID("e7eab60924f64aa284175b9fa3309599")); err != nil {
			b.Fatal(err)
		}
	}
}
