package db

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// How an update runs. Reading, fn (decoding, applying and validating a
// patch, checking If-Match) and rendering happen outside the writer, on a
// snapshot: the client as this server last wrote or read it (the snapshot
// cache, snapshots.go) or, when it has none, as read from the reader pool.
// The writer runs only the compare-and-swap UPDATE (and what recordChanges
// adds), which changes the row only if its version is still the
// snapshot's; the writes of several clients share one transaction (group
// commit, groupcommit.go). Within one server, the updates of one client
// queue behind one leader, which applies every queued fn in order on the
// evolving state and commits them all with one UPDATE: a hot client costs
// one write per batch instead of one per request, and this server's own
// writers never invalidate each other's snapshots. The version check
// catches the writes of other servers (and of DeleteClient, TouchLastUsed
// and TouchSecret); the batch is then applied again on a snapshot read from
// the store, at most optimisticAttempts times in all, and after that once
// more inside the writer's transaction with the row locked, which always
// succeeds. One slow or hostile fn holds up the updates of its own client
// only, never the writer.

// optimisticAttempts bounds the compare-and-swap retries of one batch.
const optimisticAttempts = 4

// maxBatch bounds how many queued updates of one client commit together.
const maxBatch = 64

// commitTimeout bounds the leader's store calls, which serve several
// requests and so cannot use any one request's context.
const commitTimeout = 30 * time.Second

type update struct {
	fn     func(*models.OAuthClient) error
	origin events.Origin
	dryRun bool
	out    models.OAuthClient
	err    error
	// wake tells a waiting update that it is done (false) or that it
	// leads the next batch (true).
	wake chan bool
}

// updateQueues holds, per client with a leader at work, the updates
// waiting for the next batch.
type updateQueues struct {
	mu sync.Mutex
	m  map[string][]*update
}

// join queues u for client id and reports whether the caller leads: it
// does when no update of id is under way.
func (qs *updateQueues) join(id string, u *update) bool {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if q, ok := qs.m[id]; ok {
		qs.m[id] = append(q, u)
		return false
	}
	if qs.m == nil {
		qs.m = map[string][]*update{}
	}
	qs.m[id] = []*update{u}
	return true
}

// take removes and returns the next batch of id's queue, led by its first
// update.
func (qs *updateQueues) take(id string) []*update {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.m[id]
	n := min(len(q), maxBatch)
	qs.m[id] = q[n:]
	return q[:n:n]
}

// handOff ends a leader's turn: the first update still waiting leads the
// next batch, or, when none waits, id has no leader any more.
func (qs *updateQueues) handOff(id string) {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q := qs.m[id]
	if len(q) == 0 {
		delete(qs.m, id)
		return
	}
	q[0].wake <- true
}

// UpdateClient reads the client, calls fn on a copy and writes the result.
// fn's error is returned as it is and nothing is written. fn must leave a
// valid client (the store does not validate: patch.Apply and the handlers
// do, once per write), may run more than once (on a newer snapshot when
// another server wrote the client meanwhile) and cannot change the id or
// the timestamps. A result equal to the stored client writes nothing and
// keeps Modified. A change that must end the client's tokens bumps
// TokenGeneration and records a token event, in the same transaction. With
// opts.DryRun the answer is computed the same way and nothing is written.
// Updates of one client are serialised: none is lost.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*models.OAuthClient) error, opts models.WriteOptions) (models.OAuthClient, error) {
	u := &update{fn: fn, origin: events.OriginFrom(ctx), dryRun: opts.DryRun, wake: make(chan bool, 1)}
	lead := s.updates.join(id, u)
	for !lead {
		if lead = <-u.wake; !lead {
			return u.out, u.err
		}
	}
	// Each leader runs one batch, its own update first, and hands the
	// next to the first update that waits: no request serves others for
	// longer than its own batch.
	batch := s.updates.take(id)
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	s.runBatch(bctx, id, batch)
	cancel()
	for _, w := range batch[1:] {
		w.wake <- false
	}
	s.updates.handOff(id)
	return u.out, u.err
}

// runBatch applies and commits batch, setting each update's answer. The
// first attempt applies it to the cached snapshot when there is one; a
// retry reads the row.
func (s *Store) runBatch(ctx context.Context, id string, batch []*update) {
	for attempt := 0; attempt < optimisticAttempts; attempt++ {
		e, cached := s.snapshots.entry(id)
		cur, version := e.c, e.version
		if !cached || attempt > 0 {
			var err error
			if cur, version, err = s.readVersioned(ctx, id); err != nil {
				s.snapshots.drop(id)
				fail(batch, translate(err))
				return
			}
		}
		fresh := !cached || attempt > 0
		p := s.plan(&cur, batch)
		if !fresh && e.json != nil {
			p.known = encodedSnapshot{of: &cur, json: e.json}
		}
		if len(p.changes) == 0 {
			// Nothing to write, so no compare-and-swap proves the
			// snapshot current: answer from a cached one only after
			// applying the batch again on the row as read.
			if !fresh {
				continue
			}
			s.snapshots.put(&cur, &cur, version, nil)
			return
		}
		err := s.commitCAS(ctx, &cur, version, &p)
		if errors.Is(err, errStale) {
			s.snapshots.drop(id)
			continue
		}
		if err != nil {
			s.snapshots.drop(id)
			fail(p.written, err)
			return
		}
		s.snapshots.put(&cur, p.final, version+1, p.finalJSON)
		return
	}
	// Other servers keep winning: apply the batch once more inside the
	// writer's transaction, the row locked, so that it cannot lose again.
	st, err := s.lockingSelect(ctx)
	if err != nil {
		fail(batch, translate(err))
		return
	}
	var p *plan
	err = s.write(ctx, func(tx *sql.Tx) error {
		cur, version, err := s.readVersionedTx(ctx, tx, st, id)
		if err != nil {
			return err
		}
		planned := s.plan(&cur, batch)
		p = &planned
		if len(p.changes) == 0 {
			return nil
		}
		return s.commitPlan(ctx, tx, &cur, version, planned)
	})
	switch {
	case err != nil && p == nil:
		fail(batch, err)
	case err != nil:
		fail(p.written, err)
	}
}

func fail(batch []*update, err error) {
	for _, u := range batch {
		u.out, u.err = models.OAuthClient{}, err
	}
}

// plan is a batch applied to a snapshot: each update's answer, and the
// changes to write, in order.
type plan struct {
	changes []clientChange
	// final is the state after every change.
	final *models.OAuthClient
	// written are the updates whose answer depends on the commit.
	written []*update
	// known is the snapshot's event JSON when the cache has it, for the
	// first change's before.
	known encodedSnapshot
	// finalJSON is final's event JSON, once commitCAS has made it.
	finalJSON *string
}

// plan runs every fn of batch in order, each on the state the ones before
// it left; a failed fn or a dry run leaves the state as it was.
//
// Nothing here copies a state but for fn: each fn gets a Clone of the
// state, which becomes the next state whole when it is a change, and no
// state is changed in place afterwards. So cur (which may be a cached
// snapshot), each state, each change's before and after, final and the
// answer of a change share memory rather than being cloned; change k's
// after is change k+1's before, the same pointer. The store only reads
// them (the UPDATE, the events, the snapshot cache, which shares only cur's
// memory); the answers are not handed out before the batch is done. Each
// answer is its caller's own: a change's is the Clone its fn changed, which
// nothing else holds once the batch is done, and an answer that changes
// nothing is a Clone, since the state it equals is cur's memory or
// another answer's.
func (s *Store) plan(cur *models.OAuthClient, batch []*update) plan {
	now := s.nowMillis()
	var p plan
	state := cur
	for _, u := range batch {
		next := state.Clone()
		if err := u.fn(&next); err != nil {
			u.out, u.err = models.OAuthClient{}, err
			continue
		}
		next.ID, next.Created, next.Modified, next.LastUsed = state.ID, state.Created, state.Modified, state.LastUsed
		u.err = nil
		if models.SameStoredValues(state, &next) {
			u.out = state.Clone()
			p.written = append(p.written, u)
			continue
		}
		next.Modified = now
		if models.InvalidatesTokens(state, &next) {
			next.TokenGeneration = state.TokenGeneration + 1
		}
		u.out = next
		p.written = append(p.written, u)
		if u.dryRun {
			continue
		}
		after := &next
		p.changes = append(p.changes, clientChange{id: cur.ID, before: state, after: after, origin: u.origin})
		state = after
	}
	p.final = state
	return p
}

// commitPlan writes p's final state over cur, if the row is still at
// version, and records each change.
func (s *Store) commitPlan(ctx context.Context, tx *sql.Tx, cur *models.OAuthClient, version int64, p plan) error {
	query, args := updateChanged(cur, p.final, version)
	res, err := tx.ExecContext(ctx, s.rebind(query), args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errStale
	}
	return s.recordChanges(ctx, tx, p.changes...)
}

// readVersioned reads a client and its row's version from the reader pool.
func (s *Store) readVersioned(ctx context.Context, id string) (models.OAuthClient, int64, error) {
	st, err := s.rs.get(ctx, s.rebind(selectVersioned))
	if err != nil {
		return models.OAuthClient{}, 0, err
	}
	var version int64
	c, err := scanClient(versioned{st.QueryRowContext(ctx, id), &version})
	if errors.Is(err, sql.ErrNoRows) {
		return models.OAuthClient{}, 0, notFound(id)
	}
	return c, version, err
}
