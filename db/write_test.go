package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

func TestUnavailableByErrorType(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"sqlite busy", sqlite3.Error{Code: sqlite3.ErrBusy}, true},
		{"sqlite locked, wrapped", fmt.Errorf("update: %w", sqlite3.Error{Code: sqlite3.ErrLocked}), true},
		{"sqlite I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr}, true},
		{"sqlite constraint", sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"postgres syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"pgx closed connection", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"network", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"deadline", context.DeadlineExceeded, true},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), true},
		// Text is not a type: a message that merely reads like an outage is not one.
		{"message only", errors.New("conn closed: failed to connect"), false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestDuplicateByErrorType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sqlite3.Error{Code: sqlite3.ErrConstraint, ExtendedCode: sqlite3.ErrConstraintPrimaryKey}, true},
		{sqlite3.Error{Code: sqlite3.ErrConstraint, ExtendedCode: sqlite3.ErrConstraintNotNull}, false},
		{&pgconn.PgError{Code: "23505"}, true},
		{&pgconn.PgError{Code: "23502"}, false},
		{errors.New("UNIQUE constraint failed"), false},
	} {
		if got := duplicate(tc.err); got != tc.want {
			t.Errorf("duplicate(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
