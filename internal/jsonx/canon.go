package jsonx

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// SyntaxError is a body that is not one RFC 8259 JSON text.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

// DepthError is JSON nested deeper than the reader allows. Pointer is the
// RFC 6901 pointer, within the body, of the first value that is too deep.
type DepthError struct {
	Pointer string
	Max     int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("%s: JSON may nest at most %d levels", pointerOrBody(e.Pointer), e.Max)
}

func pointerOrBody(p string) string { return "body" + p }

// Options says how Canonical reads and writes.
type Options struct {
	// MaxDepth bounds nesting: the outermost array or object is level 1.
	MaxDepth int
	// NullAs, when set, is written in place of every null.
	NullAs string
	// DropNullMembers leaves out every object member whose value is null,
	// except inside arrays: RFC 7396 §2's MergePatch({}, value).
	DropNullMembers bool
	// Substitute maps number spellings, exactly as written in the input,
	// to the text written in their place: the inverse of NullAs, or of
	// any other stand-in a caller chose among spellings Canonical never
	// writes (an upper-case E, say).
	Substitute map[string]string
}

// Canonical checks that src is exactly one JSON text (RFC 8259) nested at
// most opts.MaxDepth levels, with no member name twice in one object, and
// appends to dst its canonical form: no insignificant whitespace, strings as
// encoding/json writes them, numbers in the one spelling of their value that
// AppendCanonicalNumber gives. Two JSON values are equal by value (RFC 6902 §4.6)
// exactly when their canonical forms compare equal member by member.
//
// It reads in one pass, in time linear in len(src), and recurses at most
// MaxDepth levels, so no input of bounded size costs more than that.
// Errors are *SyntaxError, *DepthError or *DuplicateError; on error the
// returned slice is dst unchanged.
func Canonical(dst, src []byte, opts Options) ([]byte, error) {
	r := reader{src: src, out: dst, opts: opts, path: make([]frame, 0, 8)}
	r.space()
	if err := r.value(0); err != nil {
		return dst, err
	}
	r.space()
	if r.pos != len(src) {
		return dst, r.syntax("unexpected data after the JSON value")
	}
	return r.out, nil
}

type frame struct {
	array bool
	index int
	name  []byte
}

type reader struct {
	src     []byte
	pos     int
	out     []byte
	opts    Options
	path    []frame
	inArray int // arrays open around the current value
}

func (r *reader) syntax(msg string) error { return &SyntaxError{Offset: r.pos, Msg: msg} }

// pointer is the RFC 6901 pointer of the value the frames lead to.
func (r *reader) pointer(frames []frame) string {
	var b strings.Builder
	for _, f := range frames {
		b.WriteByte('/')
		if f.array {
			b.WriteString(strconv.Itoa(f.index))
		} else {
			b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(string(f.name)))
		}
	}
	return b.String()
}

func (r *reader) space() {
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

func (r *reader) value(depth int) error {
	if r.pos >= len(r.src) {
		return r.syntax("unexpected end of JSON input")
	}
	switch c := r.src[r.pos]; {
	case c == '{' || c == '[':
		if depth >= r.opts.MaxDepth {
			return &DepthError{Pointer: r.pointer(r.path), Max: r.opts.MaxDepth}
		}
		if c == '{' {
			return r.object(depth + 1)
		}
		return r.array(depth + 1)
	case c == '"':
		_, err := r.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case c == 't':
		return r.literal("true", "true")
	case c == 'f':
		return r.literal("false", "false")
	case c == 'n':
		if r.opts.NullAs != "" {
			return r.literal("null", r.opts.NullAs)
		}
		return r.literal("null", "null")
	}
	return r.syntax(fmt.Sprintf("unexpected character %q", r.src[r.pos]))
}

func (r *reader) literal(word, as string) error {
	if !bytes.HasPrefix(r.src[r.pos:], []byte(word)) {
		return r.syntax("invalid literal")
	}
	r.pos += len(word)
	r.out = append(r.out, as...)
	return nil
}

func (r *reader) object(depth int) error {
	r.pos++ // {
	r.out = append(r.out, '{')
	r.path = append(r.path, frame{})
	defer func() { r.path = r.path[:len(r.path)-1] }()
	var small [16][]byte
	names := small[:0] // small objects: a linear scan beats a map
	var set map[string]bool
	r.space()
	if r.pos < len(r.src) && r.src[r.pos] == '}' {
		r.pos++
		r.out = append(r.out, '}')
		return nil
	}
	for written := 0; ; {
		mark := len(r.out)
		if written > 0 {
			r.out = append(r.out, ',')
		}
		if r.pos >= len(r.src) || r.src[r.pos] != '"' {
			return r.syntax("expected a member name")
		}
		name, err := r.str()
		if err != nil {
			return err
		}
		if set == nil && len(names) == 16 {
			set = make(map[string]bool, 32)
			for _, s := range names {
				set[string(s)] = true
			}
		}
		dup := false
		if set != nil {
			dup = set[string(name)]
			set[string(name)] = true
		} else {
			for _, s := range names {
				dup = dup || bytes.Equal(s, name)
			}
			names = append(names, name)
		}
		if dup {
			return &DuplicateError{Name: string(name), Pointer: r.pointer(r.path[:len(r.path)-1])}
		}
		r.path[len(r.path)-1].name = name
		r.space()
		if r.pos >= len(r.src) || r.src[r.pos] != ':' {
			return r.syntax("expected a colon after a member name")
		}
		r.pos++
		r.out = append(r.out, ':')
		r.space()
		drop := r.opts.DropNullMembers && r.inArray == 0 && bytes.HasPrefix(r.src[r.pos:], []byte("null"))
		if err := r.value(depth); err != nil {
			return err
		}
		if drop {
			r.out = r.out[:mark]
		} else {
			written++
		}
		if done, err := r.next('}', "object member"); done || err != nil {
			return err
		}
	}
}

func (r *reader) array(depth int) error {
	r.pos++ // [
	r.out = append(r.out, '[')
	r.path = append(r.path, frame{array: true})
	r.inArray++
	defer func() { r.path, r.inArray = r.path[:len(r.path)-1], r.inArray-1 }()
	r.space()
	if r.pos < len(r.src) && r.src[r.pos] == ']' {
		r.pos++
		r.out = append(r.out, ']')
		return nil
	}
	for i := 0; ; i++ {
		if i > 0 {
			r.out = append(r.out, ',')
		}
		r.path[len(r.path)-1].index = i
		if err := r.value(depth); err != nil {
			return err
		}
		if done, err := r.next(']', "array element"); done || err != nil {
			return err
		}
	}
}

// next reads what follows an element of an object or array: a comma
// (another element comes), or the closing byte, written out (done).
func (r *reader) next(closing byte, element string) (done bool, err error) {
	r.space()
	if r.pos >= len(r.src) {
		return false, r.syntax("unexpected end of JSON input")
	}
	switch r.src[r.pos] {
	case ',':
		r.pos++
		r.space()
		return false, nil
	case closing:
		r.pos++
		r.out = append(r.out, closing)
		return true, nil
	}
	return false, r.syntax("expected a comma or " + string(closing) + " after an " + element)
}

// str reads a string at r.pos, appends its canonical encoding and returns
// its value, which for a string without escapes shares r.src.
func (r *reader) str() ([]byte, error) {
	start := r.pos
	r.pos++       // "
	plain := true // no escape and nothing encoding/json would escape
	for {
		if r.pos >= len(r.src) {
			return nil, r.syntax("unexpected end of JSON input in a string")
		}
		c := r.src[r.pos]
		switch {
		case c == '"':
			r.pos++
			raw := r.src[start:r.pos]
			if plain {
				r.out = append(r.out, raw...)
				return raw[1 : len(raw)-1], nil
			}
			s, err := unquote(raw)
			if err != nil {
				return nil, &SyntaxError{Offset: start, Msg: err.Error()}
			}
			r.out = appendString(r.out, s)
			return []byte(s), nil
		case c < 0x20:
			return nil, r.syntax("control character in a string")
		case c == '\\':
			plain = false
			r.pos++
			if r.pos >= len(r.src) {
				return nil, r.syntax("unexpected end of JSON input in a string")
			}
			switch r.src[r.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				r.pos++
			case 'u':
				if r.pos+5 > len(r.src) {
					return nil, r.syntax("short \\u escape")
				}
				for _, h := range r.src[r.pos+1 : r.pos+5] {
					if !isHex(h) {
						return nil, r.syntax("invalid \\u escape")
					}
				}
				r.pos += 5
			default:
				return nil, r.syntax("invalid escape in a string")
			}
		case c == '<' || c == '>' || c == '&' || c >= 0x80:
			plain = false
			r.pos++
		default:
			r.pos++
		}
	}
}

func (r *reader) number() error {
	start := r.pos
	if r.src[r.pos] == '-' {
		r.pos++
	}
	digits := func() int {
		n := 0
		for r.pos < len(r.src) && r.src[r.pos] >= '0' && r.src[r.pos] <= '9' {
			r.pos++
			n++
		}
		return n
	}
	switch {
	case r.pos < len(r.src) && r.src[r.pos] == '0':
		r.pos++
	case digits() == 0:
		return r.syntax("invalid number")
	}
	if r.pos < len(r.src) && r.src[r.pos] == '.' {
		r.pos++
		if digits() == 0 {
			return r.syntax("invalid number: no digits after the decimal point")
		}
	}
	if r.pos < len(r.src) && (r.src[r.pos] == 'e' || r.src[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.src) && (r.src[r.pos] == '+' || r.src[r.pos] == '-') {
			r.pos++
		}
		if digits() == 0 {
			return r.syntax("invalid number: no digits in the exponent")
		}
	}
	lit := r.src[start:r.pos]
	if as, ok := r.opts.Substitute[string(lit)]; ok {
		r.out = append(r.out, as...)
		return nil
	}
	r.out = AppendCanonicalNumber(r.out, lit)
	return nil
}
