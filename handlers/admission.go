package handlers

import (
	"context"
	"sync/atomic"
	"time"
)

// costlyRest is how long the costly lane stays closed after a body, as a
// multiple of the time the body's patch work took: 7 gives costly bodies
// at most an eighth of one core however many arrive. (3, a quarter, let 8
// connections of them raise the p99 of ordinary PATCHes up to 2.35×; the
// requests around the lane's work, reading 64 KiB and answering, cost
// too.)
const costlyRest = 7

// costlyLane admits the work of costly PATCH bodies (patch.Costly: over
// 2 KiB, or copying) one at a time, and after each keeps the next waiting
// costlyRest times as long as that one's patch work took. However many
// costly bodies arrive at once, they get at most an eighth of one core and
// make the garbage of one, while ordinary PATCHes, which never wait for
// the lane, keep the rest (SPEC §4.8: one hostile PATCH must not hold up
// the writes of other clients). A request waits for its turn before it
// touches the store, so no waiting holds the writer or a connection of the
// store.
type costlyLane struct {
	// slot is held from entering the lane to leaving it; it guards openAt.
	slot chan struct{}
	// openAt is when the next body may start: the end of the last one's
	// rest.
	openAt time.Time
	// now measures the time a body's work takes (the server's clock).
	now func() time.Time
}

func newCostlyLane(now func() time.Time) *costlyLane {
	return &costlyLane{slot: make(chan struct{}, 1), now: now}
}

// costlyTurn is one body's passage: through the lane for a costly body,
// straight on (lane nil) for an ordinary one.
type costlyTurn struct {
	lane *costlyLane
	// work is the time spent in run, in nanoseconds. The store may call
	// the update function, and so run, on another request's goroutine.
	work atomic.Int64
}

// enter waits for the lane when the body is costly and returns the turn,
// whose leave must be called once the body's work is done; an ordinary
// body passes at once. It fails only when ctx ends first.
func (l *costlyLane) enter(ctx context.Context, costly bool) (*costlyTurn, error) {
	if !costly {
		return &costlyTurn{}, nil
	}
	select {
	case l.slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if wait := l.openAt.Sub(l.now()); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-l.slot
			return nil, ctx.Err()
		}
	}
	return &costlyTurn{lane: l}, nil
}

// run runs f, the body's CPU work (applying and validating the patch),
// and counts its time toward the lane's rest. Time spent waiting for the
// store is not work and does not count.
func (t *costlyTurn) run(f func() error) error {
	if t.lane == nil {
		return f()
	}
	start := t.lane.now()
	err := f()
	t.work.Add(int64(t.lane.now().Sub(start)))
	return err
}

// leave ends the turn: the lane rests costlyRest times the work's time.
func (t *costlyTurn) leave() {
	if t.lane == nil {
		return
	}
	l := t.lane
	l.openAt = l.now().Add(costlyRest * time.Duration(t.work.Load()))
	<-l.slot
}
