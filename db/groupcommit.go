package db

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"

	"github.com/clientele/clientele/models"
)

// Group commit across clients. The leader of each client's batch
// (update.go) applies its batch outside the writer, then hands the
// writer's part — the compare-and-swap UPDATE and the records that go with
// it — to a commit queue shared by every client. Whoever finds no commit
// under way leads: it takes every queued commit (up to maxGroup) and runs
// them in one transaction, one COMMIT, with the event seqs taken once for
// all; the commits that queue meanwhile make the next group. On SQLite a
// COMMIT writes every page the transaction touched to the WAL, and the
// pages of the event log, its indexes and the seq counter are the same for
// every write, so a group writes them once; on PostgreSQL a group is one
// BEGIN, one seq and one COMMIT.
//
// A client assertion's jti (RecordAssertion) rides the same groups: one
// INSERT that changes no row when the jti is already recorded, so the
// token requests of private_key_jwt clients share commits with each other
// and with PATCH instead of taking a transaction each.
//
// Each commit keeps its own outcome: a compare-and-swap that finds its row
// changed writes nothing for that client (errStale, and its batch applies
// again on a new snapshot), and a jti already recorded is a replay
// (clientkeys.ErrReplayed), while the others commit. The UPDATEs of a
// group touch distinct rows or, for one client, never share a group (one
// batch per client at a time). Any other failure aborts the group's
// transaction; its commits then run again one transaction each, so that
// only the one that fails by itself fails.

// maxGroup bounds how many clients' commits share one transaction.
const maxGroup = 64

// groupedWrite is one statement of a group as the writer runs it: a client's
// batch (its compare-and-swap UPDATE and records) or an assertion's jti.
type groupedWrite struct {
	// id orders the statements of a group (commitGroup).
	id    string
	query string
	args  []any
	// fixed says query is one of fixedWrites, prepared with the writer.
	fixed bool
	recs  records
	// unchanged is the outcome when the statement changes no row.
	unchanged error
	err       error
	// wake tells a waiting commit that it is done (false) or that it
	// leads the next group (true).
	wake chan bool
}

// commitQueue holds the commits waiting for the next group.
type commitQueue struct {
	mu      sync.Mutex
	waiting []*groupedWrite
	busy    bool
}

// join queues c and reports whether the caller leads.
func (q *commitQueue) join(c *groupedWrite) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting = append(q.waiting, c)
	if q.busy {
		return false
	}
	q.busy = true
	return true
}

// take removes and returns the next group, led by its first commit.
func (q *commitQueue) take() []*groupedWrite {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.waiting), maxGroup)
	g := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	return g
}

// handOff ends a leader's turn: the first commit still waiting leads the
// next group or, when none waits, no commit is under way.
func (q *commitQueue) handOff() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiting) == 0 {
		q.busy = false
		q.waiting = nil
		return
	}
	q.waiting[0].wake <- true
}

// commitCAS writes p's final state over cur if the row is still at
// version, with p's records, sharing a transaction with other clients'
// commits. It returns errStale when the row changed.
func (s *Store) commitCAS(ctx context.Context, cur *models.OAuthClient, version int64, p *plan) error {
	recs, err := s.prepareRecords(ctx, p.changes, p.known)
	if err != nil {
		return err
	}
	if n := len(recs); n > 0 {
		p.finalJSON = recs[n-1].ev.after // p.final is the last change's after
	}
	query, args := updateChanged(cur, p.final, version)
	return s.commit(ctx, &groupedWrite{id: cur.ID, query: s.rebind(query), args: args, recs: recs, unchanged: errStale})
}

// commit runs c in a group commit and returns its outcome. ctx serves the
// whole group when c leads it, so it must not end with one request.
func (s *Store) commit(ctx context.Context, c *groupedWrite) error {
	c.wake = make(chan bool, 1)
	lead := s.commits.join(c)
	for !lead {
		if lead = <-c.wake; !lead {
			return c.err
		}
	}
	group := s.commits.take()
	s.commitGroup(ctx, group)
	for _, g := range group[1:] {
		g.wake <- false
	}
	s.commits.handOff()
	return c.err
}

// commitGroup runs group in one transaction and sets each commit's err.
// The statements run in the order of their ids (a client's id; an
// assertion's key), so that on PostgreSQL two servers' groups lock the rows
// and index entries they share in the same order and never deadlock.
func (s *Store) commitGroup(ctx context.Context, group []*groupedWrite) {
	ordered := slices.Clone(group)
	slices.SortFunc(ordered, func(a, b *groupedWrite) int { return strings.Compare(a.id, b.id) })
	for _, c := range ordered {
		c.err = nil
		if !c.fixed {
			s.ws.prepareBounded(ctx, c.query)
		}
	}
	sctx := s.uninterrupted(ctx)
	err := s.write(ctx, func(tx *sql.Tx) error {
		var applied records
		for _, c := range ordered {
			var res sql.Result
			var err error
			if c.fixed {
				res, err = s.execFixed(sctx, tx, c.query, c.args...)
			} else {
				res, err = s.execCAS(sctx, tx, c.query, c.args)
			}
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				c.err = c.unchanged
				continue
			}
			applied = append(applied, c.recs...)
		}
		return s.writeRecords(sctx, tx, applied)
	})
	if err == nil {
		return
	}
	if len(group) > 1 {
		for _, c := range group {
			s.commitGroup(ctx, []*groupedWrite{c})
		}
		return
	}
	// Alone, a statement that changed no row keeps that outcome: the row
	// it found is another writer's, whatever became of this transaction.
	if c := group[0]; c.err == nil {
		c.err = err
	}
}

// execCAS runs a compare-and-swap UPDATE in tx, prepared when
// prepareBounded could.
func (s *Store) execCAS(ctx context.Context, tx *sql.Tx, query string, args []any) (sql.Result, error) {
	if st := s.ws.prepared(query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}
