// Package query parses SailPoint's standard collection parameters — limit,
// offset, count, sorters and filters — into a List the store can run. It
// only parses and checks; compiling to SQL belongs to the store, which binds
// every value as a parameter.
package query

import "time"

// List is one validated list request.
type List struct {
	Limit  int  // 0–250
	Offset int  // ≥ 0
	Count  bool // whether the caller wants the total
	// Sort is the requested order; the store appends its own tie-breakers so
	// the order is total. Empty means the default: created, then id.
	Sort []Sorter
	// Where is the parsed filter, or nil for all clients.
	Where Expr
}

// Limits of the collection parameters.
const (
	DefaultLimit = 250
	MaxLimit     = 250
)

// Sortable fields.
const (
	SortID       = "id"
	SortName     = "name"
	SortCreated  = "created"
	SortModified = "modified"
	SortLastUsed = "lastUsed"
)

// Sorter is one key of the order.
type Sorter struct {
	Field string // one of the Sort* constants
	Desc  bool
}

// Expr is a filter expression: *And, *Or, *Not or *Cmp.
type Expr interface{ isExpr() }

// And holds when both sides hold.
type And struct{ Left, Right Expr }

// Or holds when either side holds.
type Or struct{ Left, Right Expr }

// Not holds when X does not.
type Not struct{ X Expr }

// Cmp compares one field with its values.
type Cmp struct {
	Field string // wire name, such as "name" or "grantTypes"
	Op    Op
	// Values holds one value for most operators, one or more for in and ca,
	// none for pr and isnull. Their kind fits the field: strings for text
	// and enum fields, booleans for boolean fields, times for dates.
	Values []Value
}

func (*And) isExpr() {}
func (*Or) isExpr()  {}
func (*Not) isExpr() {}
func (*Cmp) isExpr() {}

// Op is a filter operator, lowercase as in SailPoint's grammar.
type Op string

// Operators of SailPoint's filter grammar.
const (
	OpEq     Op = "eq"
	OpNe     Op = "ne"
	OpGt     Op = "gt"
	OpGe     Op = "ge"
	OpLt     Op = "lt"
	OpLe     Op = "le"
	OpCo     Op = "co"
	OpSw     Op = "sw"
	OpIn     Op = "in"
	OpCa     Op = "ca"
	OpPr     Op = "pr"
	OpIsNull Op = "isnull"
)

// Kind is the type of a Value.
type Kind int

// Kinds of values.
const (
	KindString Kind = iota
	KindBool
	KindTime
)

// Value is one literal of a filter.
type Value struct {
	Kind Kind
	Str  string    // KindString: as written, unescaped
	Bool bool      // KindBool
	Time time.Time // KindTime, UTC
}
