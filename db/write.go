package db

import (
	"context"
	"database/sql"
	"errors"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// The write path. Every write of the store — a client created, changed or
// deleted, a token event, a signing key, last_used — runs inside write, in
// one transaction on the writer pool, through database/sql. The writer is the
// store's critical section (on SQLite one connection that every write queues
// for), so what runs there is SQL and nothing else, without GORM's
// reflection and callbacks; reads that build queries (lists, keys, events)
// keep GORM.

// write runs fn in one transaction on the writer and commits it: all of it
// or, when fn or the commit fails, nothing. Errors come back translated
// (not found, conflict, unavailable) as translate documents.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.prepareWrites(ctx)
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(s.uninterrupted(ctx), nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return translate(err)
	}
	if err := tx.Commit(); err != nil {
		return translate(err)
	}
	if s.ckpt != nil {
		s.ckpt.committed()
	}
	s.written.Notify()
	return nil
}

// uninterrupted is ctx for a statement of the writer on SQLite that need
// not stop when ctx ends: without a Done channel, go-sqlite3 runs it on the
// calling goroutine, where with one it starts a goroutine beside each
// statement, to interrupt it, and hands the result over a channel. Every
// write's BEGIN (IMMEDIATE, whose wait for the lock busy_timeout bounds)
// and a group commit's statements (commitGroup: an UPDATE by id each, then
// the seq and the events), all short, run so: one update starts 2
// goroutines instead of 8, and under go run ./bench the server's CPU per
// spread PATCH fell by about a sixth (BENCHMARKS.md). Long statements
// (pruning) and every read keep their ctx: a read stops when its request
// goes, and the point reads' own goroutine keeps GET's tail short
// (prepared.go). PostgreSQL's driver needs no goroutine: ctx stays whole.
func (s *Store) uninterrupted(ctx context.Context) context.Context {
	if s.dialect == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

// clientChange is one change of one client: its state before (nil for a
// create) and after (nil for a delete).
type clientChange struct {
	id            string
	before, after *models.OAuthClient
	// origin is the request's that asked for the change (events.OriginFrom).
	origin events.Origin
}

// errStale says that the row changed after it was read.
var errStale = errors.New("the client changed after it was read")

// recordChanges records, in the transaction that writes them, what goes
// with changes of clients: the one place where a change leaves a record.
// A change of what a token check reads of the client (tokenStateChanges)
// records a token event, so that every server sharing the store reads the
// client again: one that ends its tokens, and one that lets them live
// again. Then every change appends the client's event (SPEC §10), in order
// and last (see takeSeqsSQL): a created, patched or deleted event by what
// changed, or the type its origin names (events.WithType), with the
// origin's actor and trackingId.
func (s *Store) recordChanges(ctx context.Context, tx *sql.Tx, changes ...clientChange) error {
	recs, err := s.prepareRecords(ctx, changes, encodedSnapshot{})
	if err != nil {
		return err
	}
	return s.writeRecords(ctx, tx, recs)
}

// record is what one change leaves, built before the write transaction
// (encoding an event's snapshots is no work for the writer).
type record struct {
	id string
	// tokenEvent says the change records a token event (tokenStateChanges).
	tokenEvent bool
	ev         pendingEvent
}

type records []record

// prepareRecords builds the records of changes, for writeRecords. A
// change whose before is known's client, or the previous change's after
// (the same pointer, as plan makes a batch's changes), reuses that
// encoding.
func (s *Store) prepareRecords(ctx context.Context, changes []clientChange, known encodedSnapshot) (records, error) {
	now := s.nowMillis()
	out := make(records, 0, len(changes))
	prev := known
	for _, c := range changes {
		typ := events.Patched
		switch {
		case c.before == nil:
			typ = events.Created
		case c.after == nil:
			typ = events.Deleted
		}
		before := prev
		if c.before == nil || c.before != prev.of {
			var err error
			if before, err = encodeState(c.before); err != nil {
				return nil, err
			}
		}
		after, err := encodeState(c.after)
		if err != nil {
			return nil, err
		}
		ev, err := newEvent(events.WithOrigin(ctx, c.origin), typ, before, after, now)
		if err != nil {
			return nil, err
		}
		out = append(out, record{id: c.id, tokenEvent: tokenStateChanges(c), ev: ev})
		prev = after
	}
	return out, nil
}

// writeRecords writes recs in tx: the token events, then the events, last.
func (s *Store) writeRecords(ctx context.Context, tx *sql.Tx, recs records) error {
	now := s.nowMillis()
	commitDelay()
	for _, r := range recs {
		if r.tokenEvent {
			if err := s.insertTokenEvent(ctx, tx, models.TokenEvent{ClientID: r.id, Created: now, ExpiresAt: now.Add(clientEventLifetime)}); err != nil {
				return err
			}
		}
	}
	evs := make([]pendingEvent, len(recs))
	for i := range recs {
		evs[i] = recs[i].ev
	}
	if err := s.appendEvents(ctx, tx, evs); err != nil {
		return err
	}
	commitDelay()
	return nil
}

// tokenStateChanges reports whether c records a token event: every server
// caches what a token check reads of a client and drops it on one. A
// delete does; an update does when models.TokenStateChanged says so, both
// the changes that end tokens and those that let them live again (without
// the second kind, a server that had seen the client unable to get tokens
// kept refusing the new ones). A create is a new id, which no server has
// seen, unless it restores a deleted client under its id.
func tokenStateChanges(c clientChange) bool {
	switch {
	case c.before == nil:
		return c.origin.Type == events.Restored
	case c.after == nil:
		return true
	}
	return models.TokenStateChanged(c.before, c.after)
}

const insertTokenEventSQL = "INSERT INTO token_events (client_id, jti, expires_at, created) VALUES (?, ?, ?, ?)"

// insertTokenEvent is the one writer of token events. It announces the
// event on PostgreSQL, so that every server reads it at once.
func (s *Store) insertTokenEvent(ctx context.Context, tx *sql.Tx, ev models.TokenEvent) error {
	var jti *string
	if ev.JTI != "" {
		jti = &ev.JTI
	}
	if _, err := s.execFixed(ctx, tx, insertTokenEventSQL, ev.ClientID, jti, ev.ExpiresAt.UnixMilli(), ev.Created.UnixMilli()); err != nil {
		return err
	}
	return s.notifyTx(ctx, tx, NotifyTokens)
}

// lockingSelect is the prepared statement that reads a client and its
// row's version inside a write, locking the row on PostgreSQL so that
// concurrent writers of it run one after the other (SQLite's single writer
// already serialises them). Get it before the transaction begins:
// preparing inside one would need a second connection, and SQLite's writer
// has one.
func (s *Store) lockingSelect(ctx context.Context) (*sql.Stmt, error) {
	q := selectVersioned
	if s.dialect == Postgres {
		q += " FOR UPDATE"
	}
	return s.ws.get(ctx, s.rebind(q))
}

// readVersionedTx reads a client and its row's version inside tx with
// lockingSelect's statement. A missing client is a 404.
func (s *Store) readVersionedTx(ctx context.Context, tx *sql.Tx, st *sql.Stmt, id string) (models.OAuthClient, int64, error) {
	var version int64
	c, err := scanClient(versioned{tx.StmtContext(ctx, st).QueryRowContext(ctx, id), &version})
	if errors.Is(err, sql.ErrNoRows) {
		return models.OAuthClient{}, 0, notFound(id)
	}
	return c, version, err
}
