package query

import (
	"strconv"
	"strings"
	"time"
)

// String renders e in SailPoint's grammar, fully parenthesised, such that
// ParseFilters(String(e)) yields e again.
func String(e Expr) string {
	var b strings.Builder
	write(&b, e)
	return b.String()
}

func write(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case *And:
		b.WriteByte('(')
		write(b, e.Left)
		b.WriteString(" and ")
		write(b, e.Right)
		b.WriteByte(')')
	case *Or:
		b.WriteByte('(')
		write(b, e.Left)
		b.WriteString(" or ")
		write(b, e.Right)
		b.WriteByte(')')
	case *Not:
		b.WriteString("not ")
		write(b, e.X)
	case *Cmp:
		b.WriteString(e.Field)
		b.WriteByte(' ')
		b.WriteString(string(e.Op))
		switch e.Op {
		case OpPr, OpIsNull:
		case OpIn, OpCa:
			b.WriteString(" (")
			for i, v := range e.Values {
				if i > 0 {
					b.WriteString(", ")
				}
				writeValue(b, v)
			}
			b.WriteByte(')')
		default:
			b.WriteByte(' ')
			writeValue(b, e.Values[0])
		}
	}
}

func writeValue(b *strings.Builder, v Value) {
	switch v.Kind {
	case KindBool:
		b.WriteString(strconv.FormatBool(v.Bool))
	case KindTime:
		b.WriteString(v.Time.UTC().Format(time.RFC3339Nano))
	default:
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v.Str))
		b.WriteByte('"')
	}
}
