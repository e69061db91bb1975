package db

import (
	"context"
	"database/sql"
)

// The write path's fixed statements — the event seq, the event and its
// webhook deliveries, the token event — run in every write, and the
// record of a client assertion's jti in every private_key_jwt token
// request. Unprepared, each costs SQLite a parse and a finalize on top of
// its run, as much as the run itself (sqlite3_finalize alone was 15 % of
// the writer's CPU), so they are prepared once on the writer's pool. They
// must be prepared before a transaction begins: preparing inside one needs
// a second connection, and SQLite's writer has one (lockingSelect says the
// same).
// write prepares them on its first call; tx.StmtContext then uses the
// statement already prepared on the transaction's connection (on
// PostgreSQL it prepares it once on each connection of the pool).
//
// These statements, like the point reads, run with the caller's ctx,
// though go-sqlite3 runs a goroutine beside each one to interrupt it when
// ctx ends; a group commit's are the exception (Store.uninterrupted).
// Running the point reads and the token's statements under
// context.WithoutCancel too was measured (wrk, 16 connections, 2 cores,
// binaries alternated): GET /oauth-clients/{id} +17 % requests/s but p99
// 7.5 → 12.3 ms, token issuance p99 10 → 22 ms; the p99 ≤ 10 ms target
// wins.

var fixedWrites = func() map[string][]string {
	var chunks []string
	for _, c := range eventChunks {
		chunks = append(chunks, c.events, c.deliveries)
	}
	return map[string][]string{
		SQLite:   append([]string{bumpSeqSQL, readSeqSQL, insertTokenEventSQL, recordAssertionSQL}, chunks...),
		Postgres: {takeSeqsSQL, insertTokenEventSQL, recordAssertionSQL},
	}
}()

// preparedWrites maps each of fixedWrites to its statement on the writer's
// pool.
type preparedWrites map[string]*sql.Stmt

// prepareWrites prepares fixedWrites unless done. A failure (the writer
// unreachable, or a schema still being migrated) leaves them unprepared:
// execFixed then runs the same SQL unprepared, which fails or succeeds as
// it would have.
func (s *Store) prepareWrites(ctx context.Context) {
	if s.prepared.Load() != nil {
		return
	}
	p := preparedWrites{}
	for _, q := range fixedWrites[s.dialect] {
		st, err := s.ws.get(ctx, s.rebind(q))
		if err != nil {
			return
		}
		p[q] = st
	}
	s.prepared.Store(&p)
}

// fixed is query's prepared statement inside tx, or nil.
func (s *Store) fixed(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if p := s.prepared.Load(); p != nil {
		if st := (*p)[query]; st != nil {
			return tx.StmtContext(ctx, st)
		}
	}
	return nil
}

// execFixed runs one of fixedWrites in tx.
func (s *Store) execFixed(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.fixed(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, s.rebind(query), args...)
}

// queryRowFixed runs one of fixedWrites that returns a row in tx.
func (s *Store) queryRowFixed(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.fixed(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, s.rebind(query), args...)
}
