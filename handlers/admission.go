package handlers

import (
	"context"
	"time"
)

// costlyRest is how long the costly lane stays closed after a body, as a
// multiple of the time the body took: 7 gives costly bodies at most an
// eighth of one core however many arrive. (3, a quarter, let 8
// connections of them raise the p99 of ordinary PATCHes up to 2.35×; the
// requests around the lane's work, reading 64 KiB and answering, cost
// too.)
const costlyRest = 7

// costlyLane admits the work of costly PATCH bodies (patch.Costly: over
// 2 KiB, or copying) one at a time, and after each keeps the next waiting
// costlyRest times as long as that one took. However many costly bodies
// arrive at once, they get at most an eighth of one core and make the
// garbage of one, while ordinary PATCHes, which never wait for the lane,
// keep the rest (SPEC §4.8: one hostile PATCH must not hold up the writes
// of other clients). A request waits for its turn before it touches the
// store, so no waiting holds the writer or a connection of the store.
type costlyLane struct {
	// slot is held from entering the lane to leaving it; it guards openAt.
	slot chan struct{}
	// openAt is when the next body may start: the end of the last one's
	// rest.
	openAt time.Time
	// now measures the time a body takes (the server's clock).
	now func() time.Time
}

func newCostlyLane(now func() time.Time) *costlyLane {
	return &costlyLane{slot: make(chan struct{}, 1), now: now}
}

// enter waits for the lane when the body is costly and returns the
// function that leaves it, to be called once the body's work is done; an
// ordinary body passes at once. It fails only when ctx ends first.
func (l *costlyLane) enter(ctx context.Context, costly bool) (leave func(), err error) {
	if !costly {
		return func() {}, nil
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
	start := l.now()
	return func() {
		end := l.now()
		l.openAt = end.Add(costlyRest * end.Sub(start))
		<-l.slot
	}, nil
}
