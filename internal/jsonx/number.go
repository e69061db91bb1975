package jsonx

import (
	"math/big"
	"strconv"
	"strings"
)

// AppendCanonicalNumber appends the canonical spelling of lit, a valid JSON
// number: the one ECMAScript's Number::toString would choose for a number
// of unlimited precision. Every spelling of one value (3600, 3600.0,
// 3.6e3, 36e2) gives the same text, and different values different texts;
// -0 is 0. Plain digits up to 21 places, exponent notation beyond, so a
// short literal never becomes a long text.
func AppendCanonicalNumber(dst, lit []byte) []byte {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	mant, exp := lit, []byte(nil)
	if i := indexAny(lit, 'e', 'E'); i >= 0 {
		mant, exp = lit[:i], lit[i+1:]
	}
	intPart, frac := mant, []byte(nil)
	if i := indexAny(mant, '.', '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	// value = 0.D × 10^point after dropping zeros: D are the significant
	// digits, point where the decimal point falls among them.
	digits := intPart
	if len(frac) > 0 {
		var buf [48]byte // on the stack for all but very long literals
		digits = append(append(buf[:0], intPart...), frac...)
	}
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	if lead == len(digits) {
		return append(dst, '0')
	}
	d := digits[lead:]
	for d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	shift := int64(len(intPart) - lead) // point without the exponent
	if neg {
		dst = append(dst, '-')
	}
	e, small := smallExponent(exp)
	if !small {
		// More than fifteen exponent digits: far outside plain notation.
		p := new(big.Int)
		p.SetString(strings.TrimPrefix(string(exp), "+"), 10)
		p.Add(p, big.NewInt(shift-1))
		dst = appendMantissa(dst, d)
		return append(append(dst, 'e'), p.String()...)
	}
	point := e + shift
	k := int64(len(d))
	switch {
	case k <= point && point <= 21:
		dst = append(dst, d...)
		for i := k; i < point; i++ {
			dst = append(dst, '0')
		}
	case 0 < point && point <= 21:
		dst = append(append(append(dst, d[:point]...), '.'), d[point:]...)
	case -6 < point && point <= 0:
		dst = append(dst, '0', '.')
		for i := point; i < 0; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, d...)
	default:
		dst = appendMantissa(dst, d)
		dst = strconv.AppendInt(append(dst, 'e'), point-1, 10)
	}
	return dst
}

func appendMantissa(dst, d []byte) []byte {
	dst = append(dst, d[0])
	if len(d) > 1 {
		dst = append(append(dst, '.'), d[1:]...)
	}
	return dst
}

// smallExponent parses an exponent of at most fifteen digits.
func smallExponent(exp []byte) (int64, bool) {
	if len(exp) == 0 {
		return 0, true
	}
	neg := exp[0] == '-'
	if exp[0] == '-' || exp[0] == '+' {
		exp = exp[1:]
	}
	for len(exp) > 1 && exp[0] == '0' {
		exp = exp[1:]
	}
	if len(exp) > 15 {
		return 0, false
	}
	var e int64
	for _, c := range exp {
		e = e*10 + int64(c-'0')
	}
	if neg {
		e = -e
	}
	return e, true
}

func indexAny(b []byte, x, y byte) int {
	for i, c := range b {
		if c == x || c == y {
			return i
		}
	}
	return -1
}
