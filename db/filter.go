package db

import (
	"fmt"
	"strings"

	"github.com/clientele/clientele/query"
)

// column describes how a filter field is stored.
type column struct {
	name     string
	nullable bool
	// lowered: the column holds lowercased text, compared with lowercased
	// values (SPEC §3: string comparisons are case-insensitive).
	lowered bool
	// expr, when set, is the SQL compared instead of name.
	expr string
}

func (c column) sql() string {
	if c.expr != "" {
		return c.expr
	}
	return c.name
}

// columns maps every filterable field to its column. Only these fixed
// strings ever reach the SQL text; every value is a bound parameter.
var columns = map[string]column{
	"id":                  {name: "id", expr: "lower(id)", lowered: true},
	"name":                {name: "name_lower", lowered: true},
	"businessName":        {name: "business_name_lower", lowered: true, nullable: true},
	"tenant":              {name: "tenant_lower", lowered: true, nullable: true},
	"enabled":             {name: "enabled"},
	"internal":            {name: "internal"},
	"strongAuthSupported": {name: "strong_auth_supported"},
	"claimsSupported":     {name: "claims_supported"},
	"type":                {name: "type"},
	"accessType":          {name: "access_type"},
	"grantTypes":          {name: "grant_types"},
	"created":             {name: "created"},
	"modified":            {name: "modified"},
	"lastUsed":            {name: "last_used", nullable: true},
}

var comparisons = map[query.Op]string{
	query.OpEq: "=", query.OpNe: "<>", query.OpGt: ">", query.OpGe: ">=", query.OpLt: "<", query.OpLe: "<=",
}

// likeEscape escapes LIKE's wildcards so that a value matches literally
// (with ESCAPE '\').
func likeEscape(s string) string { return likeEscaper.Replace(s) }

// likeEscaper is built once: building a Replacer costs more than using it,
// and every write's outbox rows use it.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// compileFilter renders e as a WHERE fragment with ? placeholders and its
// arguments. Every comparison yields true or false, never NULL, so that
// "not" means what it says on nullable columns.
func compileFilter(e query.Expr, dialect string) (string, []any) {
	if e == nil {
		return "", nil
	}
	var b strings.Builder
	var args []any
	f := filterCompiler{rangePrefixes: dialect == SQLite}
	f.compile(&b, &args, e)
	return b.String(), args
}

// filterCompiler holds what differs between dialects.
type filterCompiler struct {
	rangePrefixes bool
}

func (f filterCompiler) compile(b *strings.Builder, args *[]any, e query.Expr) {
	switch e := e.(type) {
	case *query.And:
		b.WriteByte('(')
		f.compile(b, args, e.Left)
		b.WriteString(" AND ")
		f.compile(b, args, e.Right)
		b.WriteByte(')')
	case *query.Or:
		b.WriteByte('(')
		f.compile(b, args, e.Left)
		b.WriteString(" OR ")
		f.compile(b, args, e.Right)
		b.WriteByte(')')
	case *query.Not:
		b.WriteString("(NOT ")
		f.compile(b, args, e.X)
		b.WriteByte(')')
	case *query.Cmp:
		f.compileCmp(b, args, e)
	default:
		panic(fmt.Sprintf("db: unknown filter node %T", e))
	}
}

func value(c column, v query.Value) any {
	switch v.Kind {
	case query.KindBool:
		return v.Bool
	case query.KindTime:
		return v.Time.UnixMilli()
	}
	if c.lowered {
		return strings.ToLower(v.Str)
	}
	return v.Str
}

func (f filterCompiler) compileCmp(b *strings.Builder, args *[]any, e *query.Cmp) {
	c, ok := columns[e.Field]
	if !ok {
		panic("db: unknown filter field " + e.Field) // the parser admits only known fields
	}
	col := c.sql()
	// guard makes a comparison on a nullable column false, not NULL.
	guard := func() {
		if c.nullable {
			b.WriteString(col + " IS NOT NULL AND ")
		}
	}
	switch e.Op {
	case query.OpPr:
		b.WriteString("(" + col + " IS NOT NULL)")
	case query.OpIsNull:
		b.WriteString("(" + col + " IS NULL)")
	case query.OpNe:
		// Not equal includes the clients that have no value at all.
		b.WriteByte('(')
		if c.nullable {
			b.WriteString(col + " IS NULL OR ")
		}
		b.WriteString(col + " <> ?)")
		*args = append(*args, value(c, e.Values[0]))
	case query.OpEq, query.OpGt, query.OpGe, query.OpLt, query.OpLe:
		b.WriteByte('(')
		guard()
		b.WriteString(col + " " + comparisons[e.Op] + " ?)")
		*args = append(*args, value(c, e.Values[0]))
	case query.OpIn:
		b.WriteByte('(')
		guard()
		b.WriteString(col + " IN (")
		for i, v := range e.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
			*args = append(*args, value(c, v))
		}
		b.WriteString("))")
	case query.OpSw, query.OpCo:
		if e.Field == "grantTypes" {
			compileGrants(b, args, col, e.Values)
			return
		}
		value := strings.ToLower(e.Values[0].Str)
		pattern := likeEscape(value) + "%"
		if e.Op == query.OpCo {
			pattern = "%" + pattern
		}
		b.WriteByte('(')
		guard()
		if e.Op == query.OpSw && value != "" && f.rangePrefixes {
			// On SQLite a prefix is also a range of the lowercased column in
			// byte order, which its index serves (SQLite's LIKE cannot use
			// it); LIKE stays as the exact test. PostgreSQL's LIKE uses its
			// text_pattern_ops index by itself.
			b.WriteString(col + " >= ? AND " + col + " < ? AND ")
			*args = append(*args, value, value+"\U0010FFFF")
		}
		b.WriteString(col + ` LIKE ? ESCAPE '\')`)
		*args = append(*args, pattern)
	case query.OpCa:
		compileGrants(b, args, col, e.Values)
	default:
		panic("db: unknown filter operator " + string(e.Op))
	}
}

// compileGrants matches clients holding every listed grant type. The
// column holds a JSON array of canonical names, so each name is looked for
// with its quotes.
func compileGrants(b *strings.Builder, args *[]any, col string, values []query.Value) {
	b.WriteByte('(')
	for i, v := range values {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(col + ` LIKE ? ESCAPE '\'`)
		*args = append(*args, "%"+likeEscape(`"`+v.Str+`"`)+"%")
	}
	b.WriteByte(')')
}

// sortColumns maps every sortable field to its column; lastUsed sorts its
// nulls last in both directions and on both dialects.
var sortColumns = map[string]string{
	query.SortID:       "id",
	query.SortName:     "name_lower",
	query.SortCreated:  "created",
	query.SortModified: "modified",
	query.SortLastUsed: "last_used",
}

// orderBy renders the requested order made total: the default keys
// created and id follow as tie-breakers, and id always ends it.
func orderBy(sorters []query.Sorter) string {
	keys := append([]query.Sorter(nil), sorters...)
	has := func(f string) bool {
		for _, k := range keys {
			if k.Field == f {
				return true
			}
		}
		return false
	}
	for _, f := range []string{query.SortCreated, query.SortID} {
		if !has(f) {
			keys = append(keys, query.Sorter{Field: f})
		}
	}
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		col := sortColumns[k.Field]
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		if k.Field == query.SortLastUsed {
			parts = append(parts, "(last_used IS NULL) ASC")
		}
		parts = append(parts, col+dir)
	}
	return strings.Join(parts, ", ")
}
