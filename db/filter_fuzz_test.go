package db

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/clientele/clientele/query"
)

// sqlVocabulary matches every piece of SQL text compileFilter may write;
// anything else in its output would be user text spliced into the query.
var sqlVocabulary = func() *regexp.Regexp {
	words := []string{`AND`, `OR`, `NOT`, `IS`, `NULL`, `LIKE`, `ESCAPE '\\'`, `IN`, `lower\(id\)`}
	var cols []string
	for _, c := range columns {
		cols = append(cols, regexp.QuoteMeta(c.name))
	}
	sort.Slice(cols, func(i, j int) bool { return len(cols[i]) > len(cols[j]) })
	words = append(cols, words...)
	return regexp.MustCompile(`^(?:\s|[()?,]|<>|>=|<=|=|<|>|` + strings.Join(words, `|`) + `)*$`)
}()

// FuzzCompileFilter checks that every filter the parser accepts compiles to
// SQL made only of column names, keywords and placeholders, with one
// argument per placeholder.
func FuzzCompileFilter(f *testing.F) {
	for _, s := range []string{
		`name eq "Acme"`, `name co "x' OR 1=1 --" or tenant sw "%_\\"`, `not (tenant pr and lastUsed isnull)`,
		`id in ("a", "b")`, `grantTypes ca ("CLIENT_CREDENTIALS", "REFRESH_TOKEN")`, `created gt 2024-01-02T03:04:05Z`,
		`name eq "lower(id) = ? AND"`, `enabled eq true and type in ("PUBLIC")`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := query.ParseFilters(s)
		if err != nil || e == nil {
			return
		}
		sql, args := compileFilter(e, SQLite)
		if !sqlVocabulary.MatchString(sql) {
			t.Fatalf("filter %q compiled to SQL with foreign text: %s", s, sql)
		}
		if n := strings.Count(sql, "?"); n != len(args) {
			t.Fatalf("filter %q: %d placeholders, %d arguments", s, n, len(args))
		}
	})
}
