package patch

// A literal evaluator of RFC 6902 (and RFC 7396) with SPEC §4's rules, for
// differential testing of Apply. It shares nothing with the code under
// test but the decoding of the finished document into a client
// (projection, decodePatched, Validate): its own reader, its own pointers, its own
// operations written from the RFC text, its own comparison of numbers.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// oracleErr is a failure of the oracle: the detailCode SPEC §4 gives it.
type oracleErr struct{ code, why string }

func (e *oracleErr) Error() string { return e.code + ": " + e.why }

func fail(code, format string, args ...any) *oracleErr {
	return &oracleErr{code, fmt.Sprintf(format, args...)}
}

// oNum is a JSON number kept exact: its literal.
type oNum string

// oObj keeps member order, which RFC 8259 gives no meaning, only so that
// output is stable.
type oObj struct {
	names []string
	vals  map[string]any
}

// oracleRead reads one JSON text: syntax, depth (the outermost container
// is level 1) and duplicated member names, whichever comes first in the
// text, as encoding/json's tokenizer meets them.
func oracleRead(body []byte, maxDepth int) (any, *oracleErr) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var read func(depth int) (any, *oracleErr)
	read = func(depth int) (any, *oracleErr) {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(apierrors.CodeBadSyntax, "%v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			if depth+1 > maxDepth {
				return nil, fail(apierrors.CodeLimitViolation, "deeper than %d", maxDepth)
			}
			if t == '[' {
				arr := []any{}
				for dec.More() {
					v, e := read(depth + 1)
					if e != nil {
						return nil, e
					}
					arr = append(arr, v)
				}
				if _, err := dec.Token(); err != nil {
					return nil, fail(apierrors.CodeBadSyntax, "%v", err)
				}
				return arr, nil
			}
			obj := &oObj{vals: map[string]any{}}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, fail(apierrors.CodeBadSyntax, "%v", err)
				}
				name := k.(string)
				if _, dup := obj.vals[name]; dup {
					return nil, fail(apierrors.CodeBadSyntax, "duplicate %q", name)
				}
				v, e := read(depth + 1)
				if e != nil {
					return nil, e
				}
				obj.names = append(obj.names, name)
				obj.vals[name] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fail(apierrors.CodeBadSyntax, "%v", err)
			}
			return obj, nil
		case json.Number:
			return oNum(t), nil
		default: // string, bool, nil
			return t, nil
		}
	}
	v, e := read(0)
	if e != nil {
		return nil, e
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fail(apierrors.CodeBadSyntax, "trailing data")
	}
	return v, nil
}

// decimal is a number's value: sign, significant digits (no leading or
// trailing zero) and the exponent of the last digit. Zero has no digits.
type decimal struct {
	neg    bool
	digits string
	exp    *big.Int
}

func toDecimal(n oNum) decimal {
	s := string(n)
	d := decimal{exp: new(big.Int)}
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		d.exp.SetString(strings.TrimPrefix(s[i+1:], "+"), 10)
		s = s[:i]
	}
	whole, frac, _ := strings.Cut(s, ".")
	d.exp.Sub(d.exp, big.NewInt(int64(len(frac))))
	all := strings.TrimLeft(whole+frac, "0")
	trimmed := strings.TrimRight(all, "0")
	d.exp.Add(d.exp, big.NewInt(int64(len(all)-len(trimmed))))
	d.digits = trimmed
	if d.digits == "" {
		return decimal{exp: new(big.Int)}
	}
	return d
}

func (a decimal) equal(b decimal) bool {
	return a.neg == b.neg && a.digits == b.digits && a.exp.Cmp(b.exp) == 0
}

// spelling is the one text SPEC gives a number's value: ECMAScript's
// Number::toString rules without its precision limit.
func (a decimal) spelling() string {
	if a.digits == "" {
		return "0"
	}
	sign := ""
	if a.neg {
		sign = "-"
	}
	k := int64(len(a.digits))
	n := new(big.Int).Add(a.exp, big.NewInt(k)) // digits before the point
	if n.IsInt64() {
		switch p := n.Int64(); {
		case k <= p && p <= 21:
			return sign + a.digits + strings.Repeat("0", int(p-k))
		case 0 < p && p <= 21:
			return sign + a.digits[:p] + "." + a.digits[p:]
		case -6 < p && p <= 0:
			return sign + "0." + strings.Repeat("0", int(-p)) + a.digits
		}
	}
	m := a.digits[:1]
	if k > 1 {
		m += "." + a.digits[1:]
	}
	return sign + m + "e" + new(big.Int).Sub(n, big.NewInt(1)).String()
}

// oEqual is RFC 6902 §4.6's equality.
func oEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case oNum:
		y, ok := b.(oNum)
		return ok && toDecimal(x).equal(toDecimal(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !oEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case *oObj:
		y, ok := b.(*oObj)
		if !ok || len(x.vals) != len(y.vals) {
			return false
		}
		for k, v := range x.vals {
			w, ok := y.vals[k]
			if !ok || !oEqual(v, w) {
				return false
			}
		}
		return true
	}
	panic(fmt.Sprintf("oracle: %T", a))
}

// oEncode writes v as compact JSON with numbers spelled by value and
// strings as encoding/json writes them.
func oEncode(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case string:
		b, _ := json.Marshal(x)
		buf.Write(b)
	case oNum:
		buf.WriteString(toDecimal(x).spelling())
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			oEncode(buf, e)
		}
		buf.WriteByte(']')
	case *oObj:
		buf.WriteByte('{')
		for i, k := range x.names {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(k)
			buf.Write(b)
			buf.WriteByte(':')
			oEncode(buf, x.vals[k])
		}
		buf.WriteByte('}')
	}
}

func oSize(v any) int {
	var b bytes.Buffer
	oEncode(&b, v)
	return b.Len()
}

func oClone(v any) any {
	switch x := v.(type) {
	case []any:
		c := make([]any, len(x))
		for i := range x {
			c[i] = oClone(x[i])
		}
		return c
	case *oObj:
		c := &oObj{names: slices.Clone(x.names), vals: make(map[string]any, len(x.vals))}
		for k, e := range x.vals {
			c.vals[k] = oClone(e)
		}
		return c
	}
	return v
}

// oTokens is RFC 6901 §3–4: "" is the whole document; otherwise "/"
// separated tokens, ~1 then ~0 unescaped.
func oTokens(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(p[1:], "/")
	for i, t := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts
}

// oIndex is RFC 6901 §4's array index: "0" or digits without a leading zero.
func oIndex(t string) (int, bool) {
	if t == "" || (len(t) > 1 && t[0] == '0') || strings.Trim(t, "0123456789") != "" || len(t) > 9 {
		return 0, false
	}
	n, _ := strconv.Atoi(t)
	return n, true
}

var errNoTarget = errors.New("no such target")

// oGet evaluates a pointer (RFC 6901 §4).
func oGet(doc any, tokens []string) (any, error) {
	cur := doc
	for _, t := range tokens {
		switch c := cur.(type) {
		case *oObj:
			v, ok := c.vals[t]
			if !ok {
				return nil, errNoTarget
			}
			cur = v
		case []any:
			i, ok := oIndex(t)
			if !ok || i >= len(c) {
				return nil, errNoTarget
			}
			cur = c[i]
		default:
			return nil, errNoTarget
		}
	}
	return cur, nil
}

// oSet puts v in place of the container at tokens (nil: the root).
func oSet(doc *any, tokens []string, v any) {
	if len(tokens) == 0 {
		*doc = v
		return
	}
	parent, _ := oGet(*doc, tokens[:len(tokens)-1])
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case *oObj:
		c.vals[last] = v
	case []any:
		i, _ := oIndex(last)
		c[i] = v
	}
}

// oAdd is RFC 6902 §4.1.
func oAdd(doc *any, tokens []string, v any) error {
	if len(tokens) == 0 {
		*doc = v
		return nil
	}
	parent, err := oGet(*doc, tokens[:len(tokens)-1])
	if err != nil {
		return err
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case *oObj:
		if _, ok := c.vals[last]; !ok {
			c.names = append(c.names, last)
		}
		c.vals[last] = v
		return nil
	case []any:
		i, ok := len(c), last == "-"
		if !ok {
			if i, ok = oIndex(last); !ok || i > len(c) {
				return errNoTarget
			}
		}
		oSet(doc, tokens[:len(tokens)-1], slices.Insert(slices.Clone(c), i, v))
		return nil
	}
	return errNoTarget
}

// oRemove is RFC 6902 §4.2.
func oRemove(doc *any, tokens []string) error {
	if _, err := oGet(*doc, tokens); err != nil || len(tokens) == 0 {
		return errNoTarget
	}
	parent, _ := oGet(*doc, tokens[:len(tokens)-1])
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case *oObj:
		delete(c.vals, last)
		c.names = slices.DeleteFunc(c.names, func(n string) bool { return n == last })
	case []any:
		i, _ := oIndex(last)
		oSet(doc, tokens[:len(tokens)-1], slices.Delete(slices.Clone(c), i, i+1))
	}
	return nil
}

// oracleOp is one decoded operation.
type oracleOp struct {
	op, path, from string
	value          any
	hasFrom        bool
}

// oracleOps is RFC 6902 §3–4 with SPEC §4.2–4.3: an array of operation
// objects, known members only, strings where strings are due, at most 100.
func oracleOps(v any) ([]oracleOp, *oracleErr) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fail(apierrors.CodeBadSyntax, "not an array")
	}
	var ops []oracleOp
	for i, e := range arr {
		if i == MaxOperations {
			return nil, fail(apierrors.CodeLimitViolation, "too many operations")
		}
		obj, ok := e.(*oObj)
		if !ok {
			return nil, fail(apierrors.CodeBadSyntax, "operation %d is not an object", i)
		}
		var o oracleOp
		has := map[string]bool{}
		for _, k := range obj.names {
			has[k] = true
			val := obj.vals[k]
			var s string
			switch k {
			case "op", "path", "from":
				if s, ok = val.(string); !ok {
					return nil, fail(apierrors.CodeBadSyntax, "%s is not a string", k)
				}
			case "value":
				o.value = val
				continue
			default:
				return nil, fail(apierrors.CodeBadSyntax, "unknown member %q", k)
			}
			switch k {
			case "op":
				o.op = s
			case "path":
				o.path = s
			case "from":
				o.from = s
			}
		}
		if !has["op"] || !has["path"] {
			return nil, fail(apierrors.CodeBadSyntax, "op and path are required")
		}
		switch o.op {
		case "add", "replace", "test":
			if !has["value"] {
				return nil, fail(apierrors.CodeBadSyntax, "value is required")
			}
		case "move", "copy":
			if !has["from"] {
				return nil, fail(apierrors.CodeBadSyntax, "from is required")
			}
			o.hasFrom = true
		case "remove":
		default:
			return nil, fail(apierrors.CodeBadSyntax, "unknown op")
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// oracleAllowed is SPEC §4.1, read from its text.
func oracleAllowed(p string, target bool, op string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	raw := strings.Split(p[1:], "/")
	tokens := make([]string, len(raw))
	for i, r := range raw {
		for j := 0; j < len(r); j++ {
			if r[j] == '~' && (j+1 == len(r) || r[j+1] != '0' && r[j+1] != '1') {
				return false
			}
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(r, "~1", "/"), "~0", "~")
		if tokens[i] == "" {
			return false
		}
	}
	if !slices.Contains(memberNames(), tokens[0]) {
		return false
	}
	index := func(t string) bool {
		_, ok := oIndex(t)
		return ok || t == "-" && target && (op == "add" || op == "copy" || op == "move")
	}
	switch {
	case len(tokens) == 1:
		return true
	case len(tokens) == 2 && models.IsArrayMember(tokens[0]):
		return index(tokens[1])
	case tokens[0] == "jwks" && len(tokens) >= 2 && tokens[1] == "keys":
		return len(tokens) == 2 || len(tokens) == 3 && index(tokens[2])
	}
	return false
}

// oracleJSONPatch applies body to doc (the client's patchable members as
// JSON) and returns the patched document, or nil for an empty patch.
func oracleJSONPatch(doc, body []byte) ([]byte, *oracleErr) {
	v, e := oracleRead(body, MaxDepth)
	if e != nil {
		return nil, e
	}
	ops, e := oracleOps(v)
	if e != nil {
		return nil, e
	}
	if len(ops) == 0 {
		return nil, nil
	}
	for _, o := range ops {
		if !oracleAllowed(o.path, true, o.op) || o.hasFrom && !oracleAllowed(o.from, false, "") {
			return nil, fail(apierrors.CodeIllegalUpdate, "%s %s %s", o.op, o.path, o.from)
		}
	}
	cur, _ := oracleRead(doc, 1<<10)
	copied := 0
	for i, o := range ops {
		path := oTokens(o.path)
		var err error
		switch o.op {
		case "add":
			err = oAdd(&cur, path, o.value)
		case "remove":
			err = oRemove(&cur, path)
		case "replace": // §4.3: the target must exist
			if _, err = oGet(cur, path); err == nil {
				oSet(&cur, path, o.value)
			}
		case "move": // §4.4: from must exist and not be a proper prefix of path
			from := oTokens(o.from)
			var val any
			if val, err = oGet(cur, from); err == nil {
				if len(from) < len(path) && slices.Equal(from, path[:len(from)]) {
					err = errNoTarget
				} else if err = oRemove(&cur, from); err == nil {
					err = oAdd(&cur, path, val)
				}
			}
		case "copy": // §4.5; SPEC §4.3 counts the bytes copied once the target's container is found
			var val any
			if val, err = oGet(cur, oTokens(o.from)); err == nil {
				parent, perr := oGet(cur, path[:len(path)-1])
				_, isObj := parent.(*oObj)
				_, isArr := parent.([]any)
				if perr != nil || !isObj && !isArr {
					err = errNoTarget
					break
				}
				if copied += oSize(val); copied > MaxDocumentBytes {
					return nil, fail(apierrors.CodeLimitViolation, "operation %d: copies", i)
				}
				err = oAdd(&cur, path, oClone(val))
			}
		case "test": // §4.6
			got, gerr := oGet(cur, path)
			if gerr != nil || !oEqual(got, o.value) {
				return nil, fail(apierrors.CodeConflict, "operation %d: test", i)
			}
		}
		if err != nil {
			return nil, fail(apierrors.CodeBadContent, "operation %d: %v", i, err)
		}
	}
	var out bytes.Buffer
	oEncode(&out, cur)
	if out.Len() > MaxDocumentBytes {
		return nil, fail(apierrors.CodeLimitViolation, "document too large")
	}
	return out.Bytes(), nil
}

// oracleMergePatch is RFC 7396 §2 with SPEC §4.1 on the names.
func oracleMergePatch(doc, body []byte) ([]byte, *oracleErr) {
	v, e := oracleRead(body, MaxDepth)
	if e != nil {
		return nil, e
	}
	p, ok := v.(*oObj)
	if !ok {
		return nil, fail(apierrors.CodeBadSyntax, "not an object")
	}
	if len(p.names) == 0 {
		return nil, nil
	}
	for _, k := range p.names {
		if !slices.Contains(memberNames(), k) {
			return nil, fail(apierrors.CodeIllegalUpdate, "%s", k)
		}
	}
	// A null for a member that may not be null removes it, and the result
	// is refused as any other result missing it is (oracleApply).
	target, _ := oracleRead(doc, 1<<10)
	var merge func(target, patch any) any
	merge = func(target, patch any) any {
		po, ok := patch.(*oObj)
		if !ok {
			return patch
		}
		to, ok := target.(*oObj)
		if !ok {
			to = &oObj{vals: map[string]any{}}
		}
		for _, k := range po.names {
			if po.vals[k] == nil {
				delete(to.vals, k)
				to.names = slices.DeleteFunc(to.names, func(n string) bool { return n == k })
				continue
			}
			if _, ok := to.vals[k]; !ok {
				to.names = append(to.names, k)
			}
			to.vals[k] = merge(to.vals[k], po.vals[k])
		}
		return to
	}
	var out bytes.Buffer
	oEncode(&out, merge(target, p))
	return out.Bytes(), nil
}

// oracleApply is Apply by the oracle: the patched client, or the
// detailCode of the failure.
func oracleApply(c *models.OAuthClient, media string, body []byte) (models.OAuthClient, string) {
	doc := projection(c, nil)
	var out []byte
	var e *oracleErr
	if media == MediaMergePatch {
		out, e = oracleMergePatch(doc, body)
	} else {
		out, e = oracleJSONPatch(doc, body)
	}
	if e != nil {
		return models.OAuthClient{}, e.code
	}
	if out == nil {
		return c.Clone(), ""
	}
	next, err := decodePatched(c, out, nil)
	if err != nil {
		return models.OAuthClient{}, errCode(err)
	}
	if err := next.Validate(); err != nil {
		return models.OAuthClient{}, errCode(err)
	}
	return next, ""
}

// memberNames lists SPEC §4.1's allowlist.
func memberNames() []string {
	var names []string
	for _, m := range models.PatchableMembers() {
		names = append(names, m.Name)
	}
	return names
}

func errCode(err error) string {
	if e, ok := apierrors.From(err); ok {
		return e.DetailCode
	}
	return "untyped: " + err.Error()
}
