// Package errors defines Clientele's API error: SailPoint's envelope of
// detailCode, trackingId, messages and causes, one constructor per detailCode
// and one predicate per kind. Importers alias it as apierrors.
//
// An *Error is the wire body. Its internal cause (Unwrap) never reaches a
// client: the HTTP layer logs it with the trackingId and renders only the
// public members.
package errors

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Detail codes, exactly as SailPoint spells them.
const (
	CodeBadSyntax          = "400.0 Bad request syntax"
	CodeBadContent         = "400.1 Bad Request Content"
	CodeRequiredMissing    = "400.1.0 Required data missing or empty"
	CodeIllegalUpdate      = "400.1.1 Illegal update attempt"
	CodeLengthOutOfRange   = "400.1.2 Value length out of range"
	CodeIllegalValue       = "400.1.3 Illegal value"
	CodeLimitViolation     = "400.1.4 Limit violation"
	CodeForbidden          = "403 Forbidden"
	CodeNotFound           = "404 Not found"
	CodeMethodNotAllowed   = "405 Method Not Allowed"
	CodeConflict           = "409.1 Conflict"
	CodePreconditionFailed = "412 Precondition Failed"
	CodePayloadTooLarge    = "413 Payload Too Large"
	CodeUnsupportedMedia   = "415 Unsupported Media Type"
	CodeInternal           = "500.0 Internal Fault"
	CodeUnavailable        = "503 Service Unavailable"
)

// DefaultLocale is the locale of every message unless the request asked for
// another one.
const DefaultLocale = "en-US"

// Locale origins of SailPoint's envelope.
const (
	OriginDefault = "DEFAULT"
	OriginRequest = "REQUEST"
)

// Message is one localized text of the envelope.
type Message struct {
	Locale       string `json:"locale"`
	LocaleOrigin string `json:"localeOrigin"`
	Text         string `json:"text"`
}

// Error is an API error. Its exported members with JSON tags are exactly the
// envelope of SPEC §5.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"-"`
	// Allow lists the permitted methods of a 405.
	Allow string `json:"-"`

	DetailCode string    `json:"detailCode"`
	TrackingID string    `json:"trackingId"`
	Messages   []Message `json:"messages"`
	Causes     []Message `json:"causes"`

	err error
}

// Error reports the detail code and the first cause; it is for logs, not for
// clients.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.DetailCode)
	for i, c := range e.Causes {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(c.Text)
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

// Unwrap returns the internal cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Text returns the first message's text.
func (e *Error) Text() string {
	if len(e.Messages) == 0 {
		return ""
	}
	return e.Messages[0].Text
}

// CauseTexts returns the texts of the causes, in order.
func (e *Error) CauseTexts() []string {
	out := make([]string, len(e.Causes))
	for i, c := range e.Causes {
		out[i] = c.Text
	}
	return out
}

// WithTrackingID returns a copy of e carrying id as its trackingId.
func (e *Error) WithTrackingID(id string) *Error {
	c := *e
	c.TrackingID = id
	return &c
}

func newError(status int, code, message string, causes []string, err error) *Error {
	e := &Error{
		Status:     status,
		DetailCode: code,
		Messages:   []Message{{Locale: DefaultLocale, LocaleOrigin: OriginDefault, Text: message}},
		Causes:     make([]Message, 0, len(causes)),
		err:        err,
	}
	for _, c := range causes {
		e.Causes = append(e.Causes, Message{Locale: DefaultLocale, LocaleOrigin: OriginDefault, Text: c})
	}
	return e
}

// NewBadSyntax is 400.0: the body or a parameter cannot be parsed.
func NewBadSyntax(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeBadSyntax,
		"The request could not be parsed.", causes, nil)
}

// NewBadContent is 400.1: the request is well-formed but cannot be applied,
// such as a JSON Patch operation whose target does not exist.
func NewBadContent(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeBadContent,
		"The request content is not valid for this resource.", causes, nil)
}

// NewRequiredMissing is 400.1.0: a required member is absent, null or empty.
func NewRequiredMissing(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeRequiredMissing,
		"Required data is missing or empty.", causes, nil)
}

// NewIllegalUpdate is 400.1.1: the request tries to change, read or set a
// member it may not. Each cause names the path or member.
func NewIllegalUpdate(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeIllegalUpdate,
		"The request attempts an illegal update.", causes, nil)
}

// NewLengthOutOfRange is 400.1.2: a value is too long or too short.
func NewLengthOutOfRange(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeLengthOutOfRange,
		"A value's length is out of range.", causes, nil)
}

// NewIllegalValue is 400.1.3: a value has the wrong type or breaks a rule.
func NewIllegalValue(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeIllegalValue,
		"The request contains an illegal value.", causes, nil)
}

// NewLimitViolation is 400.1.4: the request exceeds a limit such as the
// number of patch operations.
func NewLimitViolation(causes ...string) *Error {
	return newError(http.StatusBadRequest, CodeLimitViolation,
		"The request exceeds a limit.", causes, nil)
}

// NewForbidden is 403: the caller's token lacks the scope the operation needs.
func NewForbidden(causes ...string) *Error {
	return newError(http.StatusForbidden, CodeForbidden,
		"The caller is not allowed to perform this operation.", causes, nil)
}

// NewNotFound is 404; what names the missing thing.
func NewNotFound(what string) *Error {
	return newError(http.StatusNotFound, CodeNotFound,
		"The requested resource was not found.", []string{what + " was not found"}, nil)
}

// NewMethodNotAllowed is 405; allow is the value of the Allow header.
func NewMethodNotAllowed(method, allow string) *Error {
	e := newError(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
		"The method is not allowed for this resource.",
		[]string{method + " is not allowed; allowed: " + allow}, nil)
	e.Allow = allow
	return e
}

// NewConflict is 409.1, such as a failing JSON Patch test operation.
func NewConflict(causes ...string) *Error {
	return newError(http.StatusConflict, CodeConflict,
		"The request conflicts with the current state of the resource.", causes, nil)
}

// NewPreconditionFailed is 412: If-Match did not match the current ETag.
func NewPreconditionFailed(causes ...string) *Error {
	return newError(http.StatusPreconditionFailed, CodePreconditionFailed,
		"A precondition of the request failed.", causes, nil)
}

// NewPayloadTooLarge is 413; limit is the maximum body size in bytes.
func NewPayloadTooLarge(limit int64) *Error {
	return newError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
		"The request body is too large.",
		[]string{fmt.Sprintf("the body exceeds %d bytes", limit)}, nil)
}

// NewUnsupportedMediaType is 415; supported lists the accepted media types.
func NewUnsupportedMediaType(got string, supported ...string) *Error {
	if got == "" {
		got = "(none)"
	}
	return newError(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
		"The request's media type is not supported.",
		[]string{"Content-Type " + got + " is not supported; use " + strings.Join(supported, " or ")}, nil)
}

// NewInternal is 500.0. err is kept for the log and never shown.
func NewInternal(err error) *Error {
	return newError(http.StatusInternalServerError, CodeInternal,
		"An internal fault occurred.", nil, err)
}

// NewUnavailable is 503: the store cannot be reached. err is kept for the log.
func NewUnavailable(err error) *Error {
	return newError(http.StatusServiceUnavailable, CodeUnavailable,
		"The service is temporarily unavailable; retry later.", nil, err)
}

// Kind classifies one validation problem.
type Kind int

// Kinds of validation problems, each with its detailCode.
const (
	KindIllegalValue  Kind = iota // 400.1.3
	KindRequired                  // 400.1.0
	KindLength                    // 400.1.2
	KindIllegalUpdate             // 400.1.1
)

// Cause is one problem with one member.
type Cause struct {
	Kind Kind
	// Field names the member or path, such as "redirectUris/0".
	Field string
	// Reason says what is wrong, such as "must be an absolute https URI".
	Reason string
}

// String is "field: reason".
func (c Cause) String() string {
	if c.Field == "" {
		return c.Reason
	}
	return c.Field + ": " + c.Reason
}

// NewInvalid turns validation causes into one error. The detailCode is the
// most fundamental kind present: an illegal update, then missing data, then an
// illegal value, then a length. Every cause is listed. NewInvalid returns nil
// when there are no causes.
func NewInvalid(causes ...Cause) error {
	if len(causes) == 0 {
		return nil
	}
	has := map[Kind]bool{}
	texts := make([]string, len(causes))
	for i, c := range causes {
		has[c.Kind] = true
		texts[i] = c.String()
	}
	switch {
	case has[KindIllegalUpdate]:
		return NewIllegalUpdate(texts...)
	case has[KindRequired]:
		return NewRequiredMissing(texts...)
	case has[KindIllegalValue]:
		return NewIllegalValue(texts...)
	default:
		return NewLengthOutOfRange(texts...)
	}
}

// Wrap returns a copy of e that also carries err as its internal cause.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.err = err
	return &c
}

// From returns the *Error in err's chain, if any.
func From(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// StatusOf returns the HTTP status of err: its *Error's, 500 for any other
// error, 200 for nil.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if e, ok := From(err); ok {
		return e.Status
	}
	return http.StatusInternalServerError
}

// DetailCodeOf returns the detailCode of err's *Error, or "" if there is none.
func DetailCodeOf(err error) string {
	if e, ok := From(err); ok {
		return e.DetailCode
	}
	return ""
}

func hasCode(err error, code string) bool { return DetailCodeOf(err) == code }

// IsBadRequest reports whether err is any 400.
func IsBadRequest(err error) bool {
	e, ok := From(err)
	return ok && e.Status == http.StatusBadRequest
}

// IsBadSyntax reports whether err is a 400.0.
func IsBadSyntax(err error) bool { return hasCode(err, CodeBadSyntax) }

// IsBadContent reports whether err is a 400.1.
func IsBadContent(err error) bool { return hasCode(err, CodeBadContent) }

// IsRequiredMissing reports whether err is a 400.1.0.
func IsRequiredMissing(err error) bool { return hasCode(err, CodeRequiredMissing) }

// IsIllegalUpdate reports whether err is a 400.1.1.
func IsIllegalUpdate(err error) bool { return hasCode(err, CodeIllegalUpdate) }

// IsLengthOutOfRange reports whether err is a 400.1.2.
func IsLengthOutOfRange(err error) bool { return hasCode(err, CodeLengthOutOfRange) }

// IsIllegalValue reports whether err is a 400.1.3.
func IsIllegalValue(err error) bool { return hasCode(err, CodeIllegalValue) }

// IsLimitViolation reports whether err is a 400.1.4.
func IsLimitViolation(err error) bool { return hasCode(err, CodeLimitViolation) }

// IsForbidden reports whether err is a 403.
func IsForbidden(err error) bool { return hasCode(err, CodeForbidden) }

// IsNotFound reports whether err is a 404.
func IsNotFound(err error) bool { return hasCode(err, CodeNotFound) }

// IsMethodNotAllowed reports whether err is a 405.
func IsMethodNotAllowed(err error) bool { return hasCode(err, CodeMethodNotAllowed) }

// IsConflict reports whether err is a 409.1.
func IsConflict(err error) bool { return hasCode(err, CodeConflict) }

// IsPreconditionFailed reports whether err is a 412.
func IsPreconditionFailed(err error) bool { return hasCode(err, CodePreconditionFailed) }

// IsPayloadTooLarge reports whether err is a 413.
func IsPayloadTooLarge(err error) bool { return hasCode(err, CodePayloadTooLarge) }

// IsUnsupportedMediaType reports whether err is a 415.
func IsUnsupportedMediaType(err error) bool { return hasCode(err, CodeUnsupportedMedia) }

// IsInternal reports whether err is a 500.0 or an error that is not an *Error.
func IsInternal(err error) bool {
	return err != nil && StatusOf(err) == http.StatusInternalServerError
}

// IsUnavailable reports whether err is a 503.
func IsUnavailable(err error) bool { return hasCode(err, CodeUnavailable) }
