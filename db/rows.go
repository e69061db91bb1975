package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/clientele/clientele/models"
)

// Reading one client, and every write, go through database/sql rather than
// GORM's reflection: the read runs on every GET and PATCH, the writes in the
// store's one critical section (see write.go). Their column lists are derived from the table of
// members (models.Members), so a member with a column is read, written and
// compared here without being named.

// storage is how a column's value travels through database/sql.
type storage uint8

const (
	storeText storage = iota + 1
	storeInteger
	storeBoolean
	storeBlob
)

// clientColumn is one column of oauth_clients: a member's, a lowercased copy of
// one, or one of the store's own.
type clientColumn struct {
	name    string
	storage storage
	// value is c's value as written (nil, or a nil pointer, for NULL).
	value func(c *models.OAuthClient) any
	// load sets c from the column; nil for a lowercased copy, which is
	// written and never read back.
	load  func(c *models.OAuthClient, v *cell) error
	equal func(a, b *models.OAuthClient) bool
	// fixed columns are never written by an update: id and created never
	// change, and only TouchLastUsed writes last_used.
	fixed bool
}

// lowered names the members whose column has a lowercased copy
// (column_lower) for the case-insensitive filters of SPEC §3.
var lowered = map[string]bool{"name": true, "businessName": true, "tenant": true}

var fixedColumns = map[string]bool{"id": true, "created": true, "last_used": true}

var storages = map[models.ColumnKind]storage{
	models.ColumnText: storeText, models.ColumnInteger: storeInteger, models.ColumnBoolean: storeBoolean,
}

var clientColumns = func() []clientColumn {
	var cols []clientColumn
	for i := range models.Members() {
		m := &models.Members()[i]
		if m.Column == "" {
			continue
		}
		cols = append(cols, clientColumn{
			name: m.Column, storage: storages[m.ColumnKind()], value: m.ColumnValue, equal: m.Equal,
			load: func(c *models.OAuthClient, v *cell) error { return m.LoadColumn(c, v.v) },
		})
		if lowered[m.Name] {
			lower := func(c *models.OAuthClient) any { return lowerText(m.ColumnValue(c)) }
			cols = append(cols, clientColumn{
				name: m.Column + "_lower", storage: storeText, value: lower,
				equal: func(a, b *models.OAuthClient) bool { return lower(a) == lower(b) },
			})
		}
	}
	cols = append(cols,
		clientColumn{name: "token_generation", storage: storeInteger,
			value: func(c *models.OAuthClient) any { return c.TokenGeneration },
			load: func(c *models.OAuthClient, v *cell) error {
				c.TokenGeneration = v.v.Int
				return nil
			},
			equal: func(a, b *models.OAuthClient) bool { return a.TokenGeneration == b.TokenGeneration }},
		clientColumn{name: "registration_token_hash", storage: storeBlob,
			value: func(c *models.OAuthClient) any {
				if len(c.RegistrationTokenHash) == 0 {
					return nil
				}
				return c.RegistrationTokenHash
			},
			load: func(c *models.OAuthClient, v *cell) error {
				c.RegistrationTokenHash = v.raw
				return nil
			},
			equal: func(a, b *models.OAuthClient) bool {
				return bytes.Equal(a.RegistrationTokenHash, b.RegistrationTokenHash)
			}},
	)
	for i := range cols {
		cols[i].fixed = fixedColumns[cols[i].name]
	}
	return cols
}()

// lowerText lowercases a text column's value, keeping NULL: a string (not
// a pointer) comes back, so that values compare with ==.
func lowerText(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ToLower(v)
	case *string:
		if v != nil {
			return strings.ToLower(*v)
		}
	}
	return nil
}

// createdColumn is the column of the member created.
var createdColumn = func() clientColumn {
	for _, c := range clientColumns {
		if c.name == "created" {
			return c
		}
	}
	panic("db: no created column")
}()

// readColumns are the columns a client is read from.
var readColumns = func() []clientColumn {
	var out []clientColumn
	for _, c := range clientColumns {
		if c.load != nil {
			out = append(out, c)
		}
	}
	return out
}()

func columnNames(cols []clientColumn) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

var (
	selectClient = "SELECT " + columnNames(readColumns) + " FROM oauth_clients WHERE id = ?"
	insertClient = "INSERT INTO oauth_clients (" + columnNames(clientColumns) + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?, ", len(clientColumns)), ", ") + ")"
)

// insertValues returns c's values in the order of insertClient.
func insertValues(c *models.OAuthClient) []any {
	out := make([]any, len(clientColumns))
	for i, col := range clientColumns {
		out[i] = col.value(c)
	}
	return out
}

// updateChanged is the UPDATE of the columns whose values differ between
// old and new, and its arguments. Writing only those matters: SQLite
// rewrites an index entry for every indexed column in the SET list, changed
// or not. It is a compare-and-swap: it bumps the row's version and changes
// nothing (no row affected) unless the version is still version, the one
// old was read at, and the row is still the one old was read from: a
// client deleted and created again (a restore, perhaps by another server)
// starts at version 0 again, but with a later created.
func updateChanged(old, new *models.OAuthClient, version int64) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE oauth_clients SET version = ?")
	args := []any{version + 1}
	for _, c := range clientColumns {
		if c.fixed || c.equal(old, new) {
			continue
		}
		b.WriteString(", " + c.name + " = ?")
		args = append(args, c.value(new))
	}
	b.WriteString(" WHERE id = ? AND version = ? AND created = ?")
	return b.String(), append(args, new.ID, version, createdColumn.value(old))
}

// cell receives one column's value from Scan, as its storage expects it:
// database/sql hands a Scanner the driver's value (nil, int64, bool,
// string or []byte here) without converting it.
type cell struct {
	st  storage
	v   models.Cell
	raw []byte
}

func (c *cell) Scan(src any) error {
	c.v, c.raw = models.Cell{Valid: src != nil}, nil
	ok := true
	switch c.st {
	case storeText:
		switch s := src.(type) {
		case string:
			c.v.Text = s
		case []byte:
			c.v.Text = string(s)
		default:
			ok = src == nil
		}
	case storeInteger:
		c.v.Int, ok = src.(int64)
		ok = ok || src == nil
	case storeBoolean:
		switch s := src.(type) {
		case bool:
			c.v.Bool = s
		case int64:
			c.v.Bool = s != 0
		default:
			ok = src == nil
		}
	case storeBlob:
		switch s := src.(type) {
		case []byte:
			c.raw = bytes.Clone(s)
		case string:
			c.raw = []byte(s)
		default:
			ok = src == nil
		}
	}
	if !ok {
		return fmt.Errorf("unexpected %T", src)
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

// scanBuf is the Scan destination of one row, reused across reads: a GET
// allocates only what the client itself holds.
type scanBuf struct {
	cells []cell
	dest  []any
}

var scanBufs = sync.Pool{New: func() any {
	b := &scanBuf{cells: make([]cell, len(readColumns)), dest: make([]any, len(readColumns))}
	for i := range readColumns {
		b.cells[i].st = readColumns[i].storage
		b.dest[i] = &b.cells[i]
	}
	return b
}}

// selectVersioned reads a client's columns and, last, the row's version.
var selectVersioned = "SELECT " + columnNames(readColumns) + ", version FROM oauth_clients WHERE id = ?"

// versioned scans one more column, the version, after a client's.
type versioned struct {
	s       scanner
	version *int64
}

func (v versioned) Scan(dest ...any) error { return v.s.Scan(append(dest, v.version)...) }

// scanClient reads one row of readColumns.
func scanClient(s scanner) (models.OAuthClient, error) {
	b := scanBufs.Get().(*scanBuf)
	defer func() {
		for i := range b.cells {
			b.cells[i].v, b.cells[i].raw = models.Cell{}, nil // keep no client data
		}
		scanBufs.Put(b)
	}()
	var c models.OAuthClient
	if err := s.Scan(b.dest...); err != nil {
		return c, err
	}
	for i, col := range readColumns {
		if err := col.load(&c, &b.cells[i]); err != nil {
			return c, fmt.Errorf("client %s: %s: %w", c.ID, col.name, err)
		}
	}
	return c, nil
}

// stmts prepares each statement once per pool, on first use.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// dynamic counts the statements of prepareBounded in m.
	dynamic int
}

func (p *stmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[query] = st
	return st, nil
}

// maxDynamic bounds the statements prepareBounded keeps: the
// compare-and-swap UPDATEs differ by the columns a write changes, and a
// caller could make many of them.
const maxDynamic = 64

// prepareBounded prepares query once, as get does, unless maxDynamic such
// statements are kept already; prepared then finds it. Failing, it
// leaves query unprepared: the caller runs it as text.
func (p *stmts) prepareBounded(ctx context.Context, query string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[query]; ok || p.dynamic >= maxDynamic {
		return
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[query] = st
	p.dynamic++
}

// prepared is query's statement if one was prepared, or nil.
func (p *stmts) prepared(query string) *sql.Stmt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[query]
}

func (p *stmts) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, st := range p.m {
		errs = append(errs, st.Close())
	}
	p.m = nil
	return errors.Join(errs...)
}
