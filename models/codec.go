package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// codec reads and writes one member of an OAuthClient in every form the
// layers need: JSON, a deep copy, a comparison, a column value. Each kind
// of Go field has one; a member's accessor returns a pointer to its field.
type codec interface {
	appendJSON(dst []byte, c *OAuthClient) []byte
	decodeJSON(c *OAuthClient, raw []byte) error
	equal(a, b *OAuthClient) bool
	copy(dst, src *OAuthClient)
	columnKind() ColumnKind
	columnValue(c *OAuthClient) any
	load(c *OAuthClient, v Cell) error
	field(c *OAuthClient) any
}

// TimeLayout is SPEC §2's date-time: RFC 3339, UTC, milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// decodeInto unmarshals raw into a fresh T, so that a failure changes
// nothing.
func decodeInto[T any](raw []byte, set func(T)) error {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	set(v)
	return nil
}

// text is a string member, or one of a string type (an enum).
type text[T ~string] func(*OAuthClient) *T

func (f text[T]) field(c *OAuthClient) any { return f(c) }

func (f text[T]) appendJSON(dst []byte, c *OAuthClient) []byte {
	return appendString(dst, string(*f(c)))
}
func (f text[T]) decodeJSON(c *OAuthClient, raw []byte) error {
	return decodeInto(raw, func(v T) { *f(c) = v })
}
func (f text[T]) equal(a, b *OAuthClient) bool      { return *f(a) == *f(b) }
func (f text[T]) copy(dst, src *OAuthClient)        { *f(dst) = *f(src) }
func (f text[T]) columnKind() ColumnKind            { return ColumnText }
func (f text[T]) columnValue(c *OAuthClient) any    { return string(*f(c)) }
func (f text[T]) load(c *OAuthClient, v Cell) error { *f(c) = T(v.Text); return nil }

// optText is a string member that may be null.
type optText func(*OAuthClient) **string

func (f optText) field(c *OAuthClient) any { return f(c) }

func (f optText) appendJSON(dst []byte, c *OAuthClient) []byte {
	if p := *f(c); p != nil {
		return appendString(dst, *p)
	}
	return append(dst, "null"...)
}
func (f optText) decodeJSON(c *OAuthClient, raw []byte) error {
	return decodeInto(raw, func(v *string) { *f(c) = v })
}
func (f optText) equal(a, b *OAuthClient) bool   { return eqPtr(*f(a), *f(b)) }
func (f optText) copy(dst, src *OAuthClient)     { *f(dst) = clonePtr(*f(src)) }
func (f optText) columnKind() ColumnKind         { return ColumnText }
func (f optText) columnValue(c *OAuthClient) any { return *f(c) }
func (f optText) load(c *OAuthClient, v Cell) error {
	*f(c) = nil
	if v.Valid {
		s := v.Text
		*f(c) = &s
	}
	return nil
}

// integer is an integer member.
type integer func(*OAuthClient) *int

func (f integer) field(c *OAuthClient) any { return f(c) }

func (f integer) appendJSON(dst []byte, c *OAuthClient) []byte {
	return strconv.AppendInt(dst, int64(*f(c)), 10)
}
func (f integer) decodeJSON(c *OAuthClient, raw []byte) error {
	return decodeInto(raw, func(v int) { *f(c) = v })
}
func (f integer) equal(a, b *OAuthClient) bool      { return *f(a) == *f(b) }
func (f integer) copy(dst, src *OAuthClient)        { *f(dst) = *f(src) }
func (f integer) columnKind() ColumnKind            { return ColumnInteger }
func (f integer) columnValue(c *OAuthClient) any    { return int64(*f(c)) }
func (f integer) load(c *OAuthClient, v Cell) error { *f(c) = int(v.Int); return nil }

// boolean is a boolean member.
type boolean func(*OAuthClient) *bool

func (f boolean) field(c *OAuthClient) any { return f(c) }

func (f boolean) appendJSON(dst []byte, c *OAuthClient) []byte { return strconv.AppendBool(dst, *f(c)) }
func (f boolean) decodeJSON(c *OAuthClient, raw []byte) error {
	return decodeInto(raw, func(v bool) { *f(c) = v })
}
func (f boolean) equal(a, b *OAuthClient) bool      { return *f(a) == *f(b) }
func (f boolean) copy(dst, src *OAuthClient)        { *f(dst) = *f(src) }
func (f boolean) columnKind() ColumnKind            { return ColumnBoolean }
func (f boolean) columnValue(c *OAuthClient) any    { return *f(c) }
func (f boolean) load(c *OAuthClient, v Cell) error { *f(c) = v.Bool; return nil }

// texts is an array of strings (or of an enum), never null: a nil slice
// is written and copied as an empty one. Its column holds the JSON array.
type texts[E ~string] func(*OAuthClient) *[]E

func (f texts[E]) field(c *OAuthClient) any { return f(c) }

func (f texts[E]) appendJSON(dst []byte, c *OAuthClient) []byte {
	dst = append(dst, '[')
	for i, s := range *f(c) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, string(s))
	}
	return append(dst, ']')
}
func (f texts[E]) decodeJSON(c *OAuthClient, raw []byte) error {
	return decodeInto(raw, func(v []E) { *f(c) = nonNilSlice(v) })
}
func (f texts[E]) equal(a, b *OAuthClient) bool { return slices.Equal(*f(a), *f(b)) }
func (f texts[E]) copy(dst, src *OAuthClient)   { *f(dst) = nonNilSlice(slices.Clone(*f(src))) }
func (f texts[E]) columnKind() ColumnKind       { return ColumnText }
func (f texts[E]) columnValue(c *OAuthClient) any {
	return string(f.appendJSON(make([]byte, 0, 64), c))
}
func (f texts[E]) load(c *OAuthClient, v Cell) error {
	var s []E
	if err := json.Unmarshal([]byte(v.Text), &s); err != nil {
		return err
	}
	*f(c) = nonNilSlice(s)
	return nil
}

func nonNilSlice[E any](s []E) []E {
	if s == nil {
		return []E{}
	}
	return s
}

// instant is a date-time member, stored as Unix milliseconds.
type instant func(*OAuthClient) *time.Time

func (f instant) field(c *OAuthClient) any { return f(c) }

func (f instant) appendJSON(dst []byte, c *OAuthClient) []byte { return appendTime(dst, *f(c)) }
func (f instant) decodeJSON(c *OAuthClient, raw []byte) error {
	t, err := parseTime(raw)
	if err == nil {
		*f(c) = t
	}
	return err
}
func (f instant) equal(a, b *OAuthClient) bool      { return f(a).Equal(*f(b)) }
func (f instant) copy(dst, src *OAuthClient)        { *f(dst) = *f(src) }
func (f instant) columnKind() ColumnKind            { return ColumnInteger }
func (f instant) columnValue(c *OAuthClient) any    { return f(c).UnixMilli() }
func (f instant) load(c *OAuthClient, v Cell) error { *f(c) = time.UnixMilli(v.Int).UTC(); return nil }

// optInstant is a date-time member that may be null.
type optInstant func(*OAuthClient) **time.Time

func (f optInstant) field(c *OAuthClient) any { return f(c) }

func (f optInstant) appendJSON(dst []byte, c *OAuthClient) []byte {
	if t := *f(c); t != nil {
		return appendTime(dst, *t)
	}
	return append(dst, "null"...)
}
func (f optInstant) decodeJSON(c *OAuthClient, raw []byte) error {
	if bytes.Equal(raw, []byte("null")) {
		*f(c) = nil
		return nil
	}
	t, err := parseTime(raw)
	if err == nil {
		*f(c) = &t
	}
	return err
}
func (f optInstant) equal(a, b *OAuthClient) bool {
	x, y := *f(a), *f(b)
	return x == nil && y == nil || x != nil && y != nil && x.Equal(*y)
}
func (f optInstant) copy(dst, src *OAuthClient) { *f(dst) = clonePtr(*f(src)) }
func (f optInstant) columnKind() ColumnKind     { return ColumnInteger }
func (f optInstant) columnValue(c *OAuthClient) any {
	if t := *f(c); t != nil {
		return t.UnixMilli()
	}
	return nil
}
func (f optInstant) load(c *OAuthClient, v Cell) error {
	*f(c) = nil
	if v.Valid {
		t := time.UnixMilli(v.Int).UTC()
		*f(c) = &t
	}
	return nil
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		dst = t.AppendFormat(dst, TimeLayout)
		return append(dst, '"')
	}
	// TimeLayout written by hand: every answer holds a few times, and
	// AppendFormat, which reads its layout each time, was most of the cost
	// of writing them. Fractions are truncated, as AppendFormat does.
	hour, minute, second := t.Clock()
	dst = appendDigits(dst, year, 4)
	dst = appendDigits(append(dst, '-'), int(month), 2)
	dst = appendDigits(append(dst, '-'), day, 2)
	dst = appendDigits(append(dst, 'T'), hour, 2)
	dst = appendDigits(append(dst, ':'), minute, 2)
	dst = appendDigits(append(dst, ':'), second, 2)
	dst = appendDigits(append(dst, '.'), t.Nanosecond()/1e6, 3)
	return append(dst, 'Z', '"')
}

// appendDigits writes v, which has at most n digits, in exactly n.
func appendDigits(dst []byte, v, n int) []byte {
	start := len(dst)
	for range n {
		dst = append(dst, '0')
	}
	for i := len(dst) - 1; i >= start; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
	return dst
}

func parseTime(raw []byte) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 date-time", s)
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

// object is a member of any type encoding/json reads and writes — a JSON
// object, or an array of them — stored as JSON text. It is null when the
// value encodes as null (a nil pointer, map, slice or json.RawMessage).
type object[T any] func(*OAuthClient) *T

func (f object[T]) field(c *OAuthClient) any { return f(c) }

func (f object[T]) marshal(c *OAuthClient) []byte {
	b, err := json.Marshal(*f(c))
	if err != nil {
		// Only values decoded from JSON or built by the server are held.
		panic(fmt.Sprintf("models: a member does not encode as JSON: %v", err))
	}
	return b
}
func (f object[T]) appendJSON(dst []byte, c *OAuthClient) []byte { return append(dst, f.marshal(c)...) }
func (f object[T]) decodeJSON(c *OAuthClient, raw []byte) error {
	return decodeInto(raw, func(v T) { *f(c) = v })
}
func (f object[T]) equal(a, b *OAuthClient) bool { return bytes.Equal(f.marshal(a), f.marshal(b)) }
func (f object[T]) copy(dst, src *OAuthClient) {
	var v T
	if err := json.Unmarshal(f.marshal(src), &v); err != nil {
		panic(fmt.Sprintf("models: a member does not decode its own JSON: %v", err))
	}
	*f(dst) = v
}
func (f object[T]) columnKind() ColumnKind { return ColumnText }
func (f object[T]) columnValue(c *OAuthClient) any {
	if b := f.marshal(c); string(b) != "null" {
		return string(b)
	}
	return nil
}
func (f object[T]) load(c *OAuthClient, v Cell) error {
	var t T
	if v.Valid {
		if err := json.Unmarshal([]byte(v.Text), &t); err != nil {
			return err
		}
	}
	*f(c) = t
	return nil
}

// appendString appends s as a JSON string, byte for byte as encoding/json
// writes it (HTML-safe escaping included): plain ASCII directly, anything
// else through encoding/json itself.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x7f || b == '"' || b == '\\' || b == '<' || b == '>' || b == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
