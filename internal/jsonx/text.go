package jsonx

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// unquote decodes a checked JSON string literal as encoding/json does:
// invalid UTF-8 and lone surrogates become U+FFFD.
func unquote(raw []byte) (string, error) {
	raw = raw[1 : len(raw)-1]
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			ru, size := utf8.DecodeRune(raw[i:])
			b.WriteRune(ru) // RuneError for invalid bytes, as encoding/json
			i += size
			continue
		}
		switch raw[i+1] {
		case 'u':
			ru := hexRune(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(ru) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if pair := utf16.DecodeRune(ru, hexRune(raw[i+2:i+6])); pair != utf8.RuneError {
						b.WriteRune(pair)
						i += 6
						continue
					}
				}
				ru = utf8.RuneError
			}
			b.WriteRune(ru)
			continue
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default: // " \ /
			b.WriteByte(raw[i+1])
		}
		i += 2
	}
	return b.String(), nil
}

func hexRune(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// appendString writes s as encoding/json.Marshal does (HTML-safe).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, ru := range s {
		switch {
		case ru == '"' || ru == '\\':
			dst = append(dst, '\\', byte(ru))
		case ru == '\b':
			dst = append(dst, '\\', 'b')
		case ru == '\f':
			dst = append(dst, '\\', 'f')
		case ru == '\n':
			dst = append(dst, '\\', 'n')
		case ru == '\r':
			dst = append(dst, '\\', 'r')
		case ru == '\t':
			dst = append(dst, '\\', 't')
		case ru < 0x20 || ru == '<' || ru == '>' || ru == '&':
			dst = append(dst, '\\', 'u', '0', '0', hex[ru>>4], hex[ru&0xf])
		case ru == '\u2028' || ru == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[ru&0xf])
		default:
			dst = utf8.AppendRune(dst, ru)
		}
	}
	return append(dst, '"')
}
