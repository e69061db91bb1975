// Package db is Clientele's store: OAuth clients, signing keys and token
// events in SQLite (the default, embedded) or PostgreSQL (for several
// servers). It is the only package that sees GORM; callers get models and
// *apierrors.Error values.
package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is Clientele's persistence. It is safe for concurrent use.
type Store struct {
	dialect string
	// w runs every write, each in one transaction. On SQLite it holds one
	// connection, so writers queue in Go instead of meeting SQLITE_BUSY.
	w *gorm.DB
	// r runs reads; on SQLite a pool of its own, reading in parallel with
	// the writer thanks to WAL.
	r *gorm.DB
	// wdb is w's pool, on which write runs every transaction.
	wdb *sql.DB
	// rs and ws are prepared statements of the hot paths on the reader's
	// and the writer's pools.
	rs, ws *stmts
	// prepared are the write path's fixed statements on ws (prepared.go).
	prepared atomic.Pointer[preparedWrites]
	// updates queues the updates of each client behind one leader
	// (update.go).
	updates updateQueues
	// commits queues the updates' writes for group commit
	// (groupcommit.go).
	commits commitQueue
	// snapshots are the latest known states of recently updated clients
	// (snapshots.go).
	snapshots snapshotCache
	closers   []func() error
	now       func() time.Time
	// pgURL is the PostgreSQL URL, for the listening connection.
	pgURL string
	// ckpt runs the WAL's checkpoints off the writer (checkpoint.go);
	// nil but for a SQLite file.
	ckpt *checkpointer
	// written is notified after every commit of a write, and when Listen
	// hears that another server committed an event.
	written *events.Signal
}

// finish sets up what every dialect shares once the pools are open.
func (s *Store) finish() *Store {
	s.written = events.NewSignal()
	rdb, _ := s.r.DB()
	wdb, _ := s.w.DB()
	s.wdb = wdb
	s.rs, s.ws = &stmts{db: rdb}, &stmts{db: wdb}
	if rdb == wdb {
		s.ws = s.rs
	}
	closers := []func() error{s.rs.close}
	if s.ws != s.rs {
		closers = append(closers, s.ws.close)
	}
	s.closers = append(closers, s.closers...)
	return s
}

// connectTimeout bounds how long an unreachable PostgreSQL can stall a call.
const connectTimeout = 5 * time.Second

// Open opens the store named by rawURL — sqlite://PATH, sqlite://:memory:
// or a postgres:// URL — and applies the migrations.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	s, err := connect(rawURL)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("database %s: %s", redact(rawURL), oneLine(err))
	}
	return s, nil
}

// connect opens the pools of the store rawURL names, without touching the
// schema.
func connect(rawURL string) (*Store, error) {
	var (
		s   *Store
		err error
	)
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		s, err = openSQLite(strings.TrimPrefix(rawURL, "sqlite://"))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		s, err = openPostgres(rawURL)
	default:
		scheme, _, _ := strings.Cut(rawURL, ":")
		return nil, fmt.Errorf("database %q: unsupported scheme %q; use sqlite://PATH or postgres://", redact(rawURL), scheme)
	}
	return s, err
}

func gormConfig() *gorm.Config {
	return &gorm.Config{
		TranslateError:         true,
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		PrepareStmt:            true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
}

func openSQLite(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("database sqlite://: a path is required, such as sqlite://clientele.db or sqlite://:memory:")
	}
	s := &Store{dialect: SQLite, now: time.Now}
	if path == ":memory:" {
		// One connection to one private in-memory database: it lives as
		// long as the store.
		var name [8]byte
		_, _ = rand.Read(name[:])
		dsn := "file:clientele-" + hex.EncodeToString(name[:]) + "?mode=memory&cache=shared&_foreign_keys=on&_busy_timeout=10000"
		g, err := gorm.Open(sqlite.Open(dsn), gormConfig())
		if err != nil {
			return nil, fmt.Errorf("database sqlite://:memory:: %s", oneLine(err))
		}
		sqlDB, _ := g.DB()
		sqlDB.SetMaxOpenConns(1)
		sqlDB.SetMaxIdleConns(1)
		sqlDB.SetConnMaxLifetime(0)
		sqlDB.SetConnMaxIdleTime(0)
		s.w, s.r = g, g
		s.closers = append(s.closers, sqlDB.Close)
		return s.finish(), nil
	}
	// WAL lets readers run beside the writer; NORMAL synchronous keeps
	// every committed write across a crash of the process (not of the
	// machine's power); immediate transactions take the write lock at BEGIN
	// so a read-then-write transaction never fails to upgrade.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL"
	w, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteWriterDriver, DSN: base + "&_txlock=immediate"}), gormConfig())
	if err != nil {
		return nil, sqliteOpenError(path, err)
	}
	wdb, _ := w.DB()
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	if err := wdb.Ping(); err != nil {
		wdb.Close()
		return nil, sqliteOpenError(path, err)
	}
	r, err := gorm.Open(sqlite.Open(base), gormConfig())
	if err != nil {
		wdb.Close()
		return nil, sqliteOpenError(path, err)
	}
	rdb, _ := r.DB()
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	// The background checkpoints sync the database file through a
	// descriptor of their own, closed only after SQLite's connections:
	// closing any descriptor of a file drops every POSIX lock this process
	// holds on it, SQLite's included.
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		rdb.Close()
		wdb.Close()
		return nil, sqliteOpenError(path, err)
	}
	s.w, s.r = w, r
	s.ckpt = startCheckpointer(rdb, file.Sync)
	s.closers = append(s.closers, s.ckpt.close, rdb.Close, wdb.Close, file.Close)
	return s.finish(), nil
}

func openPostgres(rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database %s: not a valid URL", redact(rawURL))
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", fmt.Sprint(int(connectTimeout.Seconds())))
	}
	u.RawQuery = q.Encode()
	g, err := gorm.Open(postgres.Open(u.String()), gormConfig())
	if err != nil {
		return nil, fmt.Errorf("database %s: %s", redact(rawURL), oneLine(err))
	}
	sqlDB, _ := g.DB()
	sqlDB.SetMaxOpenConns(32)
	sqlDB.SetMaxIdleConns(16)
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout+time.Second)
	defer cancel()
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("database %s is unreachable: %s", redact(rawURL), oneLine(err))
	}
	s := &Store{dialect: Postgres, w: g, r: g, closers: []func() error{sqlDB.Close}, now: time.Now, pgURL: u.String()}
	return s.finish(), nil
}

// Close closes every connection.
func (s *Store) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Dialect is SQLite or Postgres.
func (s *Store) Dialect() string { return s.dialect }

// Ping checks that the store answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.r.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return translate(err)
	}
	return nil
}

// redact hides the password of a database URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// translate maps driver and GORM errors to API errors: not found, a
// duplicate, an unreachable store (503). Anything else is returned wrapped,
// for the caller to log and answer 500.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := apierrors.From(err); ok {
		return err
	}
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return apierrors.NewNotFound("the resource")
	case errors.Is(err, gorm.ErrDuplicatedKey), duplicate(err):
		return apierrors.NewConflict("the resource already exists")
	case unavailable(err):
		return apierrors.NewUnavailable(err)
	}
	return fmt.Errorf("store: %w", err)
}

// duplicate reports whether err is a violated primary key or unique
// constraint.
func duplicate(err error) bool {
	var sqliteErr sqlite3.Error
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &sqliteErr):
		return sqliteErr.ExtendedCode == sqlite3.ErrConstraintPrimaryKey || sqliteErr.ExtendedCode == sqlite3.ErrConstraintUnique
	case errors.As(err, &pgErr):
		return pgErr.Code == "23505" // unique_violation
	}
	return false
}

// unavailable reports whether err means the database cannot be reached or
// serve now, as opposed to a fault of the request or of the code. It goes
// by error types and codes, never by message text.
func unavailable(err error) bool {
	var sqliteErr sqlite3.Error
	var pgErr *pgconn.PgError
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &sqliteErr):
		switch sqliteErr.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrCantOpen, sqlite3.ErrIoErr, sqlite3.ErrFull:
			return true
		}
		return false
	case errors.As(err, &pgErr):
		// 08: connection exceptions; 53: insufficient resources (too many
		// connections, disk full); 57P: operator intervention (shutdown).
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") || strings.HasPrefix(pgErr.Code, "57P")
	}
	return errors.As(err, &netErr) || errors.As(err, &connectErr) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
