package query

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
)

func TestParseFilters(t *testing.T) {
	tests := []struct{ in, want string }{
		{`name eq "Acme"`, `name eq "Acme"`},
		{`  name   sw "a b"  `, `name sw "a b"`},
		{`name eq "say \"hi\" \\ bye"`, `name eq "say \"hi\" \\ bye"`},
		{`name eq "a" or name eq "b" and not name eq "c"`, `(name eq "a" or (name eq "b" and not name eq "c"))`},
		{`(name eq "a" or name eq "b") and enabled eq true`, `((name eq "a" or name eq "b") and enabled eq true)`},
		{`name eq "a" and name eq "b" and name eq "c"`, `((name eq "a" and name eq "b") and name eq "c")`},
		{`not not tenant pr`, `not not tenant pr`},
		{`tenant isnull or lastUsed isnull`, `(tenant isnull or lastUsed isnull)`},
		{`id in ("a", "b","c")`, `id in ("a", "b", "c")`},
		{`type eq "public"`, `type eq "PUBLIC"`},
		{`accessType in ("online", "OFFLINE")`, `accessType in ("ONLINE", "OFFLINE")`},
		{`grantTypes ca ("client_credentials", "REFRESH_TOKEN")`, `grantTypes ca ("CLIENT_CREDENTIALS", "REFRESH_TOKEN")`},
		{`grantTypes co "AUTHORIZATION_CODE"`, `grantTypes co "AUTHORIZATION_CODE"`},
		{`created gt 2024-01-02T03:04:05Z`, `created gt 2024-01-02T03:04:05Z`},
		{`modified le "2024-01-02T05:04:05.123+02:00"`, `modified le 2024-01-02T03:04:05.123Z`},
		{`lastUsed ge 2024-01-02T03:04:05Z and claimsSupported eq false`, `(lastUsed ge 2024-01-02T03:04:05Z and claimsSupported eq false)`},
		{`businessName co "50%_"`, `businessName co "50%_"`},
	}
	for _, tt := range tests {
		if tt.want == "" {
			continue
		}
		e, err := ParseFilters(tt.in)
		if err != nil {
			t.Errorf("ParseFilters(%q): %v", tt.in, err)
			continue
		}
		if got := String(e); got != tt.want {
			t.Errorf("ParseFilters(%q) = %s, want %s", tt.in, got, tt.want)
		}
		again, err := ParseFilters(String(e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Errorf("re-parsing %s: %v", String(e), err)
		}
	}
	if e, err := ParseFilters("  "); e != nil || err != nil {
		t.Errorf("blank filter = %v, %v", e, err)
	}
}

func TestParseFiltersEverySupportedPair(t *testing.T) {
	for field, spec := range Fields {
		for _, op := range spec.Ops {
			var value string
			switch {
			case op == OpPr || op == OpIsNull:
			case spec.Kind == KindBool:
				value = " true"
			case spec.Kind == KindTime:
				value = " 2024-01-02T03:04:05Z"
			case spec.Enum != nil && (op == OpIn || op == OpCa):
				value = ` ("` + spec.Enum[0] + `")`
			case spec.Enum != nil:
				value = ` "` + spec.Enum[0] + `"`
			case op == OpIn:
				value = ` ("x")`
			default:
				value = ` "x"`
			}
			in := field + " " + string(op) + value
			if _, err := ParseFilters(in); err != nil {
				t.Errorf("ParseFilters(%q): %v", in, err)
			}
		}
	}
}

func TestParseFiltersErrors(t *testing.T) {
	tests := []struct {
		in, code, mention string
	}{
		{`name eq "x`, apierrors.CodeBadSyntax, "unterminated"},
		{`name eq "x\n"`, apierrors.CodeBadSyntax, "escape"},
		{`(name eq "x"`, apierrors.CodeBadSyntax, "end of input"},
		{`name eq "x")`, apierrors.CodeBadSyntax, "offset 11"},
		{`name eq "x" foo`, apierrors.CodeBadSyntax, "foo"},
		{`name EQ "x"`, apierrors.CodeBadSyntax, "EQ"},
		{`name eq`, apierrors.CodeBadSyntax, "end of input"},
		{`name eq "a" and`, apierrors.CodeBadSyntax, "end of input"},
		{`name ; drop`, apierrors.CodeBadSyntax, ";"},
		{`secret eq "x"`, apierrors.CodeIllegalValue, "secret"},
		{`Name eq "x"`, apierrors.CodeIllegalValue, "Name"},
		{`enabled co "x"`, apierrors.CodeIllegalValue, "operator co is not supported on enabled"},
		{`enabled eq "true"`, apierrors.CodeIllegalValue, "true or false"},
		{`name eq true`, apierrors.CodeIllegalValue, "double-quoted"},
		{`created gt "yesterday"`, apierrors.CodeIllegalValue, "RFC 3339"},
		{`type eq "SECRET"`, apierrors.CodeIllegalValue, "CONFIDENTIAL"},
		{`grantTypes ca ("PASSWORD")`, apierrors.CodeIllegalValue, "PASSWORD"},
		{`id in ()`, apierrors.CodeBadSyntax, ")"},
		{`lastUsed eq 2024-01-02T03:04:05Z`, apierrors.CodeIllegalValue, "operator eq"},
		{strings.Repeat("(", 40) + `name eq "x"` + strings.Repeat(")", 40), apierrors.CodeLimitViolation, "deeper"},
		{strings.Repeat(`not `, 40) + `name eq "x"`, apierrors.CodeLimitViolation, "deeper"},
		{strings.Repeat(`name eq "x" or `, 64) + `name eq "x"`, apierrors.CodeLimitViolation, "comparisons"},
		{`name eq "` + strings.Repeat("x", 5000) + `"`, apierrors.CodeLimitViolation, "4096"},
	}
	for _, tt := range tests {
		_, err := ParseFilters(tt.in)
		if got := apierrors.DetailCodeOf(err); got != tt.code {
			t.Errorf("ParseFilters(%.60q): detailCode %q, want %q (%v)", tt.in, got, tt.code, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseFilters(%.60q): %v does not mention %q", tt.in, err, tt.mention)
		}
		if !strings.Contains(err.Error(), "filters") {
			t.Errorf("ParseFilters(%.60q): %v does not name the parameter", tt.in, err)
		}
	}
}

func TestParseList(t *testing.T) {
	l, err := ParseList(url.Values{})
	if err != nil || l.Limit != 250 || l.Offset != 0 || l.Count || l.Sort != nil || l.Where != nil {
		t.Fatalf("defaults = %+v, %v", l, err)
	}
	l, err = ParseList(url.Values{"limit": {"0"}, "offset": {"30"}, "count": {"true"},
		"sorters": {"-created, name"}, "filters": {`name sw "a"`}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Sorter{{Field: "created", Desc: true}, {Field: "name"}}
	if l.Limit != 0 || l.Offset != 30 || !l.Count || !reflect.DeepEqual(l.Sort, want) || String(l.Where) != `name sw "a"` {
		t.Errorf("ParseList = %+v", l)
	}
	bad := []struct {
		v       url.Values
		mention string
	}{
		{url.Values{"limit": {"251"}}, "limit"},
		{url.Values{"limit": {"-1"}}, "limit"},
		{url.Values{"limit": {"ten"}}, "limit"},
		{url.Values{"limit": {"1", "2"}}, "limit"},
		{url.Values{"offset": {"-5"}}, "offset"},
		{url.Values{"offset": {"99999999999999999999"}}, "offset"},
		{url.Values{"count": {"yes"}}, "count"},
		{url.Values{"sorters": {"secret"}}, "secret"},
		{url.Values{"sorters": {"name,,id"}}, "empty"},
		{url.Values{"sorters": {"name,-name"}}, "twice"},
		{url.Values{"filters": {`nope eq "x"`}}, "nope"},
	}
	for _, b := range bad {
		_, err := ParseList(b.v)
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), b.mention) {
			t.Errorf("ParseList(%v) = %v, want a 400 mentioning %q", b.v, err, b.mention)
		}
	}
}

func BenchmarkParseFilters(b *testing.B) {
	const f = `name sw "acme" and (tenant eq "t1" or tenant isnull) and enabled eq true and created gt 2024-01-02T03:04:05Z`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilters(f); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseFilters checks that the parser never panics and that whatever it
// accepts uses only supported fields and operators and prints back to
// itself.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{
		`name eq "Acme"`, `name sw "a" and not (tenant pr or enabled eq false)`,
		`id in ("a","b")`, `grantTypes ca ("CLIENT_CREDENTIALS")`, `created gt 2024-01-02T03:04:05Z`,
		`name eq "\"\\"`, `((((name eq "x"))))`, `lastUsed isnull`, `name eq "x' OR 1=1 --"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilters(s)
		if err != nil {
			if !apierrors.IsBadRequest(err) {
				t.Fatalf("error is not a 400: %v", err)
			}
			return
		}
		if e == nil {
			return
		}
		var check func(Expr)
		check = func(e Expr) {
			switch e := e.(type) {
			case *And:
				check(e.Left)
				check(e.Right)
			case *Or:
				check(e.Left)
				check(e.Right)
			case *Not:
				check(e.X)
			case *Cmp:
				spec, ok := Fields[e.Field]
				if !ok {
					t.Fatalf("accepted field %q", e.Field)
				}
				found := false
				for _, op := range spec.Ops {
					found = found || op == e.Op
				}
				if !found {
					t.Fatalf("accepted %s on %s", e.Op, e.Field)
				}
				for _, v := range e.Values {
					if v.Kind != spec.Kind {
						t.Fatalf("value of kind %d on %s", v.Kind, e.Field)
					}
				}
			default:
				t.Fatalf("unknown node %T", e)
			}
		}
		check(e)
		again, err := ParseFilters(String(e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("String(%q) = %q does not re-parse to the same filter: %v", s, String(e), err)
		}
	})
}
