package query

// The filter lexer: SailPoint's filter grammar as tokens.

import (
	"fmt"
	"strings"

	apierrors "github.com/clientele/clientele/errors"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
	tokComma
)

type token struct {
	kind tokKind
	text string // a word as written, or a string's unescaped value
	pos  int
}

type lexer struct {
	src string
	pos int
}

func syntax(format string, args ...any) error {
	return apierrors.NewBadSyntax("filters: " + fmt.Sprintf(format, args...))
}

func isWordByte(b byte) bool {
	return b == '_' || b == '-' || b == ':' || b == '.' || b == '+' ||
		'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	switch c := l.src[l.pos]; {
	case c == '(':
		l.pos++
		return token{kind: tokLParen, text: "(", pos: start}, nil
	case c == ')':
		l.pos++
		return token{kind: tokRParen, text: ")", pos: start}, nil
	case c == ',':
		l.pos++
		return token{kind: tokComma, text: ",", pos: start}, nil
	case c == '"':
		var b strings.Builder
		l.pos++
		for {
			if l.pos >= len(l.src) {
				return token{}, syntax("unterminated string starting at offset %d", start)
			}
			ch := l.src[l.pos]
			switch ch {
			case '"':
				l.pos++
				return token{kind: tokString, text: b.String(), pos: start}, nil
			case '\\':
				if l.pos+1 >= len(l.src) || (l.src[l.pos+1] != '"' && l.src[l.pos+1] != '\\') {
					return token{}, syntax("invalid escape at offset %d; only \\\" and \\\\ are allowed", l.pos)
				}
				b.WriteByte(l.src[l.pos+1])
				l.pos += 2
			default:
				b.WriteByte(ch)
				l.pos++
			}
		}
	case isWordByte(c):
		for l.pos < len(l.src) && isWordByte(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tokWord, text: l.src[start:l.pos], pos: start}, nil
	default:
		return token{}, syntax("unexpected %q at offset %d", string(rune(c)), start)
	}
}
