package jsonx

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestCanonicalNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"-0.0e7", "0"},
		{"3600", "3600"}, {"3600.0", "3600"}, {"3.6e3", "3600"}, {"36e2", "3600"}, {"360000e-2", "3600"},
		{"3.6E+3", "3600"}, {"0.36e4", "3600"}, {"-3600.00", "-3600"},
		{"60.5", "60.5"}, {"6.05e1", "60.5"}, {"0.001", "0.001"}, {"1e-6", "0.000001"}, {"1e-7", "1e-7"},
		{"123456789012345678901", "123456789012345678901"}, {"1e21", "1e21"}, {"1e20", "100000000000000000000"},
		{"1.5e300", "1.5e300"}, {"-2.50e-300", "-2.5e-300"},
		{"1e0000000000000000000000000005", "100000"},
		{"1e100000000000000000000", "1e100000000000000000000"},
		{"12.5e-100000000000000000000", "1.25e-99999999999999999999"},
	}
	for _, tt := range tests {
		if got := string(AppendCanonicalNumber(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestCanonicalNumberByValue checks, on random decimals, that two
// spellings give one text exactly when their values are equal.
func TestCanonicalNumberByValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	spell := func(r *big.Rat) string {
		// value = m × 10^-s with m integral: write it with extra zeros and
		// a random exponent shift.
		num, den := r.Num(), r.Denom()
		s := 0
		for new(big.Int).Mod(new(big.Int).Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)), den).Sign() != 0 {
			s++
		}
		m := new(big.Int).Quo(new(big.Int).Mul(num, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil)), den)
		pad := rng.IntN(3)
		digits := new(big.Int).Abs(m).String() + strings.Repeat("0", pad)
		exp := -s - pad + rng.IntN(5) - 2
		// digits × 10^(-s-pad) = digits × 10^exp × 10^(-s-pad-exp)
		shift := exp + s + pad
		if shift > 0 {
			// place a decimal point shift digits from the right
			for len(digits) <= shift {
				digits = "0" + digits
			}
			digits = digits[:len(digits)-shift] + "." + digits[len(digits)-shift:]
		} else {
			digits += strings.Repeat("0", -shift)
		}
		out := digits + "e" + big.NewInt(int64(exp)).String()
		if m.Sign() < 0 {
			out = "-" + out
		}
		return out
	}
	vals := make([]*big.Rat, 0, 300)
	for range 300 {
		n := big.NewRat(int64(rng.IntN(2001)-1000), 1)
		n.Quo(n, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(rng.IntN(6))), nil)))
		vals = append(vals, n)
	}
	for i := 0; i < len(vals); i++ {
		sa := spell(vals[i])
		a := string(AppendCanonicalNumber(nil, []byte(sa)))
		for j := i; j < len(vals) && j < i+40; j++ {
			sb := spell(vals[j])
			b := string(AppendCanonicalNumber(nil, []byte(sb)))
			if (a == b) != (vals[i].Cmp(vals[j]) == 0) {
				t.Fatalf("%s (%s) vs %s (%s): canonical %s and %s", vals[i].RatString(), sa, vals[j].RatString(), sb, a, b)
			}
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{` { "a" : [ 1.0 , "x" , null , true , false ] } `, `{"a":[1,"x",null,true,false]}`},
		{`"\u0041\/\u00e9<&>\u2028\b\f\n\r\t\u0001"`, `"A/é\u003c\u0026\u003e\u2028\b\f\n\r\t\u0001"`},
		{`"\ud83d\ude00 \ud800"`, "\"\U0001F600 \uFFFD\""},
		{"\"\xff\"", "\"\uFFFD\""},
		{`{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	}
	for _, tt := range tests {
		got, err := Canonical(nil, []byte(tt.in), Options{MaxDepth: 32})
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	got, _ := Canonical(nil, []byte(`[null,{"a":null},-0E0]`), Options{MaxDepth: 32, NullAs: "-0E0"})
	if string(got) != `[-0E0,{"a":-0E0},0]` {
		t.Errorf("NullAs: got %s", got)
	}
	got, _ = Canonical(nil, []byte(`{"a":null,"b":[null,{"c":null,"d":[null]}],"e":{"f":null,"g":1,"h":null},"i":null}`), Options{MaxDepth: 32, DropNullMembers: true})
	if string(got) != `{"b":[null,{"c":null,"d":[null]}],"e":{"g":1}}` {
		t.Errorf("DropNullMembers: got %s", got)
	}
	got, _ = Canonical(nil, []byte(`[-0E0,{"a":-0E0},-0e0,-0E7]`), Options{MaxDepth: 32, Substitute: map[string]string{"-0E0": "null", "-0E7": `{"x":[]}`}})
	if string(got) != `[null,{"a":null},0,{"x":[]}]` {
		t.Errorf("Substitute: got %s", got)
	}
}

func TestCanonicalStringsAreEncodingJSONs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune{'a', '"', '\\', '/', '<', '>', '&', '\b', '\f', '\n', '\r', '\t', 0, 0x1f, 0x7f, 'é', '\u2028', '\u2029', 0xfffd, 0x1F600}
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		want, _ := json.Marshal(b.String())
		// Spell the string with every rune escaped, then canonicalise.
		var esc strings.Builder
		esc.WriteByte('"')
		for _, r := range b.String() {
			if r > 0xffff {
				hi, lo := 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)
				esc.WriteString(`\u` + hex4(hi) + `\u` + hex4(lo))
				continue
			}
			esc.WriteString(`\u` + hex4(r))
		}
		esc.WriteByte('"')
		got, err := Canonical(nil, []byte(esc.String()), Options{MaxDepth: 1})
		if err != nil || string(got) != string(want) {
			t.Fatalf("%q: got %s, %v; want %s", b.String(), got, err, want)
		}
	}
}

func hex4(r rune) string {
	const h = "0123456789ABCDEF"
	return string([]byte{h[r>>12&0xf], h[r>>8&0xf], h[r>>4&0xf], h[r&0xf]})
}

func TestCanonicalRefuses(t *testing.T) {
	deep := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	ok32 := strings.Repeat("[", 32) + strings.Repeat("]", 32)
	if _, err := Canonical(nil, []byte(ok32), Options{MaxDepth: 32}); err != nil {
		t.Errorf("32 levels: %v", err)
	}
	var de *DepthError
	if _, err := Canonical(nil, []byte(deep), Options{MaxDepth: 32}); !errors.As(err, &de) || de.Pointer != strings.Repeat("/0", 32) {
		t.Errorf("33 levels: %v", err)
	}
	_, err := Canonical(nil, []byte(`[{"a":1},{"b":{"x":1,"\u0078":2}}]`), Options{MaxDepth: 32})
	var dup *DuplicateError
	if !errors.As(err, &dup) || dup.Name != "x" || dup.Pointer != "/1/b" {
		t.Errorf("duplicate: %v", err)
	}
	many := `{`
	for i := range 40 {
		many += `"k` + strconv.Itoa(i) + `":1,`
	}
	many += `"k3":2}`
	if _, err := Canonical(nil, []byte(many), Options{MaxDepth: 32}); !errors.As(err, &dup) || dup.Name != "k3" {
		t.Errorf("duplicate in a large object: %v", err)
	}
	for _, bad := range []string{``, ` `, `[`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`, `"a`, `"\x"`, `"\u12"`,
		"\"\x01\"", `nul`, `truee`, `[1] 2`, `{1:2}`, `NaN`, `[1 2]`, `{"a":1 "b":2}`} {
		var se *SyntaxError
		if _, err := Canonical(nil, []byte(bad), Options{MaxDepth: 32}); !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a syntax error", bad, err)
		}
	}
}

// TestCanonicalAgreesWithEncodingJSON compares validity with json.Valid on
// random mutations of valid documents.
func TestCanonicalAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	seeds := []string{`{"a":[1,2.5e3,"x\n",null,true],"b":{"c":-0.1}}`, `[[],{},"\u00e9",0]`, `"s"`, `-12.5E-3`}
	chars := []byte(`{}[]",:.-+eE0123456789 \ntrufalsn`)
	for range 20000 {
		b := []byte(seeds[rng.IntN(len(seeds))])
		for range rng.IntN(3) + 1 {
			i := rng.IntN(len(b) + 1)
			switch rng.IntN(3) {
			case 0:
				b = append(b[:i], append([]byte{chars[rng.IntN(len(chars))]}, b[i:]...)...)
			case 1:
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			case 2:
				if i < len(b) {
					b[i] = chars[rng.IntN(len(chars))]
				}
			}
		}
		out, err := Canonical(nil, b, Options{MaxDepth: 32})
		var dup *DuplicateError
		if errors.As(err, &dup) {
			continue
		}
		if (err == nil) != json.Valid(b) {
			t.Fatalf("%q: Canonical says %v, json.Valid says %v", b, err, json.Valid(b))
		}
		if err == nil {
			var x, y any
			_ = json.Unmarshal(b, &x)
			if json.Unmarshal(out, &y) != nil {
				t.Fatalf("%q: canonical form %q is not JSON", b, out)
			}
		}
	}
}

func BenchmarkCanonical64KiB(b *testing.B) {
	body := []byte(`[` + strings.Repeat(`{"op":"add","path":"/redirectUris/-","value":["https://a.example/cb",3.6e3,null,{"k":"v\u00e9"}]},`, 640) + `1]`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Canonical(nil, body, Options{MaxDepth: 32}); err != nil {
			b.Fatal(err)
		}
	}
}
