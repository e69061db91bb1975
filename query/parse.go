package query

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "github.com/clientele/clientele/errors"
)

// Bounds of the filters parameter.
const (
	MaxFilterLength = 4096
	MaxFilterDepth  = 32
	MaxComparisons  = 64
	MaxOffset       = 1_000_000_000
)

// FieldSpec says what a filterable field holds and which operators apply.
type FieldSpec struct {
	Kind Kind
	Ops  []Op
	// Enum, when set, lists the canonical values of an enum field; values
	// are matched case-insensitively and stored canonical.
	Enum []string
}

// Fields is SPEC §3's table of filterable fields.
var Fields = map[string]FieldSpec{
	"id":                  {Kind: KindString, Ops: []Op{OpEq, OpIn}},
	"name":                {Kind: KindString, Ops: []Op{OpEq, OpNe, OpCo, OpSw, OpIn}},
	"businessName":        {Kind: KindString, Ops: []Op{OpEq, OpNe, OpCo, OpSw, OpIn}},
	"tenant":              {Kind: KindString, Ops: []Op{OpEq, OpNe, OpCo, OpSw, OpIn, OpPr, OpIsNull}},
	"enabled":             {Kind: KindBool, Ops: []Op{OpEq}},
	"internal":            {Kind: KindBool, Ops: []Op{OpEq}},
	"strongAuthSupported": {Kind: KindBool, Ops: []Op{OpEq}},
	"claimsSupported":     {Kind: KindBool, Ops: []Op{OpEq}},
	"type":                {Kind: KindString, Ops: []Op{OpEq, OpIn}, Enum: []string{"CONFIDENTIAL", "PUBLIC"}},
	"accessType":          {Kind: KindString, Ops: []Op{OpEq, OpIn}, Enum: []string{"ONLINE", "OFFLINE"}},
	"grantTypes":          {Kind: KindString, Ops: []Op{OpCa, OpCo}, Enum: []string{"CLIENT_CREDENTIALS", "AUTHORIZATION_CODE", "REFRESH_TOKEN"}},
	"created":             {Kind: KindTime, Ops: []Op{OpEq, OpGt, OpGe, OpLt, OpLe}},
	"modified":            {Kind: KindTime, Ops: []Op{OpEq, OpGt, OpGe, OpLt, OpLe}},
	"lastUsed":            {Kind: KindTime, Ops: []Op{OpGt, OpGe, OpLt, OpLe, OpPr, OpIsNull}},
}

var sortFields = []string{SortID, SortName, SortCreated, SortModified, SortLastUsed}

var operators = map[string]Op{
	"eq": OpEq, "ne": OpNe, "gt": OpGt, "ge": OpGe, "lt": OpLt, "le": OpLe,
	"co": OpCo, "sw": OpSw, "in": OpIn, "ca": OpCa, "pr": OpPr, "isnull": OpIsNull,
}

func illegal(param, reason string) error { return apierrors.NewIllegalValue(param + ": " + reason) }

// ParseList reads limit, offset, count, sorters and filters. Errors are
// *apierrors.Error naming the parameter and the problem.
func ParseList(v url.Values) (List, error) {
	l := List{Limit: DefaultLimit}
	for _, name := range []string{"limit", "offset", "count", "sorters", "filters"} {
		if len(v[name]) > 1 {
			return List{}, illegal(name, "may be given only once")
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxLimit {
			return List{}, illegal("limit", fmt.Sprintf("must be an integer between 0 and %d", MaxLimit))
		}
		l.Limit = n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > MaxOffset {
			return List{}, illegal("offset", fmt.Sprintf("must be an integer between 0 and %d", MaxOffset))
		}
		l.Offset = n
	}
	switch s := v.Get("count"); s {
	case "", "false":
	case "true":
		l.Count = true
	default:
		return List{}, illegal("count", "must be true or false")
	}
	var err error
	if l.Sort, err = ParseSorters(v.Get("sorters")); err != nil {
		return List{}, err
	}
	if l.Where, err = ParseFilters(v.Get("filters")); err != nil {
		return List{}, err
	}
	return l, nil
}

// ParseSorters parses a comma-separated list of fields, each optionally
// prefixed by "-" for descending order.
func ParseSorters(s string) ([]Sorter, error) {
	if s == "" {
		return nil, nil
	}
	var out []Sorter
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		desc := strings.HasPrefix(item, "-")
		field := strings.TrimPrefix(item, "-")
		switch {
		case field == "":
			return nil, illegal("sorters", "an empty sorter")
		case !slices.Contains(sortFields, field):
			return nil, illegal("sorters", fmt.Sprintf("cannot sort by %q; use %s", field, strings.Join(sortFields, ", ")))
		case seen[field]:
			return nil, illegal("sorters", fmt.Sprintf("%s is given twice", field))
		}
		seen[field] = true
		out = append(out, Sorter{Field: field, Desc: desc})
	}
	return out, nil
}

// ParseFilters parses SailPoint's filter grammar. "" is no filter (nil, nil).
//
//	expr   = and { "or" and }
//	and    = unary { "and" unary }
//	unary  = "not" unary | "(" expr ")" | cmp
//	cmp    = field op value | field ("pr" | "isnull")
//	value  = string | datetime | "true" | "false" | "(" value { "," value } ")"
func ParseFilters(s string) (Expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > MaxFilterLength {
		return nil, apierrors.NewLimitViolation(fmt.Sprintf("filters: longer than %d bytes", MaxFilterLength))
	}
	p := &parser{lex: lexer{src: s}}
	if err := p.next(); err != nil {
		return nil, err
	}
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.unexpected()
	}
	return e, nil
}

type parser struct {
	lex   lexer
	tok   token
	cmps  int
	depth int
}

func (p *parser) next() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected() error {
	if p.tok.kind == tokEOF {
		return syntax("unexpected end of input at offset %d", p.tok.pos)
	}
	text := p.tok.text
	if p.tok.kind == tokString {
		text = strconv.Quote(text)
	}
	return syntax("unexpected %s at offset %d", text, p.tok.pos)
}

func (p *parser) isWord(w string) bool { return p.tok.kind == tokWord && p.tok.text == w }

func (p *parser) expr(depth int) (Expr, error) {
	if depth > MaxFilterDepth {
		return nil, apierrors.NewLimitViolation(fmt.Sprintf("filters: nested deeper than %d", MaxFilterDepth))
	}
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		if err := p.next(); err != nil {
			return nil, err
		}
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		left = &Or{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) and(depth int) (Expr, error) {
	left, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		if err := p.next(); err != nil {
			return nil, err
		}
		right, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		left = &And{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (Expr, error) {
	if depth > MaxFilterDepth {
		return nil, apierrors.NewLimitViolation(fmt.Sprintf("filters: nested deeper than %d", MaxFilterDepth))
	}
	switch {
	case p.isWord("not"):
		if err := p.next(); err != nil {
			return nil, err
		}
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case p.tok.kind == tokLParen:
		if err := p.next(); err != nil {
			return nil, err
		}
		e, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.unexpected()
		}
		return e, p.next()
	case p.tok.kind == tokWord:
		return p.cmp()
	}
	return nil, p.unexpected()
}

func (p *parser) cmp() (Expr, error) {
	p.cmps++
	if p.cmps > MaxComparisons {
		return nil, apierrors.NewLimitViolation(fmt.Sprintf("filters: more than %d comparisons", MaxComparisons))
	}
	field := p.tok.text
	spec, known := Fields[field]
	if !known {
		if strings.ContainsAny(field, ":") || field == "and" || field == "or" {
			return nil, p.unexpected()
		}
		return nil, illegal("filters", fmt.Sprintf("cannot filter on %q", field))
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokWord {
		return nil, p.unexpected()
	}
	op, ok := operators[p.tok.text]
	if !ok {
		return nil, syntax("unknown operator %q at offset %d (operators are lowercase)", p.tok.text, p.tok.pos)
	}
	if !slices.Contains(spec.Ops, op) {
		return nil, illegal("filters", fmt.Sprintf("operator %s is not supported on %s", op, field))
	}
	if err := p.next(); err != nil {
		return nil, err
	}
	c := &Cmp{Field: field, Op: op}
	switch op {
	case OpPr, OpIsNull:
		return c, nil
	case OpIn, OpCa:
		if p.tok.kind != tokLParen {
			return nil, p.unexpected()
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		for {
			v, err := p.value(field, spec)
			if err != nil {
				return nil, err
			}
			c.Values = append(c.Values, v)
			if p.tok.kind == tokComma {
				if err := p.next(); err != nil {
					return nil, err
				}
				continue
			}
			if p.tok.kind != tokRParen {
				return nil, p.unexpected()
			}
			return c, p.next()
		}
	default:
		v, err := p.value(field, spec)
		if err != nil {
			return nil, err
		}
		c.Values = []Value{v}
		return c, nil
	}
}

// value reads one literal of the kind field holds.
func (p *parser) value(field string, spec FieldSpec) (Value, error) {
	t := p.tok
	if t.kind != tokString && t.kind != tokWord {
		return Value{}, p.unexpected()
	}
	if err := p.next(); err != nil {
		return Value{}, err
	}
	switch spec.Kind {
	case KindBool:
		if t.kind == tokWord && (t.text == "true" || t.text == "false") {
			return Value{Kind: KindBool, Bool: t.text == "true"}, nil
		}
		return Value{}, illegal("filters", fmt.Sprintf("%s takes true or false", field))
	case KindTime:
		ts, err := time.Parse(time.RFC3339Nano, t.text)
		if err != nil {
			return Value{}, illegal("filters", fmt.Sprintf("%s takes an RFC 3339 date-time such as 2024-01-02T03:04:05Z, not %q", field, t.text))
		}
		return Value{Kind: KindTime, Time: ts.UTC()}, nil
	default:
		if t.kind != tokString {
			return Value{}, illegal("filters", fmt.Sprintf("%s takes a double-quoted string, not %s", field, t.text))
		}
		if spec.Enum != nil {
			for _, e := range spec.Enum {
				if strings.EqualFold(e, t.text) {
					return Value{Kind: KindString, Str: e}, nil
				}
			}
			return Value{}, illegal("filters", fmt.Sprintf("%s takes one of %s, not %q", field, strings.Join(spec.Enum, ", "), t.text))
		}
		return Value{Kind: KindString, Str: t.text}, nil
	}
}
