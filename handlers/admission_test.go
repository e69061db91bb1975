package handlers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestCostlyLane: ordinary bodies never wait; costly ones take turns, and
// after one whose work took d the next waits until costlyRest×d has passed;
// time outside the work does not count (the lane measures by the clock it
// is given and waits on a real timer, so a rest of 70 s by the test's
// clock outlasts a 50 ms deadline).
func TestCostlyLane(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newCostlyLane(clock.now)
	const small, costly = false, true
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 50*time.Millisecond)
	}
	work := func(d time.Duration) func() error {
		return func() error { clock.advance(d); return nil }
	}

	turn, err := l.enter(context.Background(), costly)
	if err != nil {
		t.Fatal(err)
	}
	// While a costly body works, an ordinary one passes and a costly one
	// waits.
	ctx, cancel := short()
	if other, err := l.enter(ctx, small); err != nil {
		t.Fatalf("an ordinary body waited for the lane: %v", err)
	} else {
		_ = other.run(work(time.Hour)) // no lane, no rest
		other.leave()
	}
	if _, err := l.enter(ctx, costly); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second costly body entered the busy lane: %v", err)
	}
	cancel()

	// The first works 10 s in two runs (the store retried it) and waits
	// an hour outside them: the lane rests 70 s after it.
	if err := turn.run(work(4 * time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	if err := turn.run(work(6 * time.Second)); err != nil {
		t.Fatal(err)
	}
	turn.leave()
	ctx, cancel = short()
	if _, err := l.enter(ctx, costly); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a costly body entered during the rest: %v", err)
	}
	cancel()
	clock.advance(costlyRest * 10 * time.Second)
	turn, err = l.enter(context.Background(), costly)
	if err != nil {
		t.Fatalf("after the rest: %v", err)
	}
	turn.leave()
	// A body that did no work leaves no rest.
	turn, err = l.enter(context.Background(), costly)
	if err != nil {
		t.Fatalf("after a body that did no work: %v", err)
	}
	turn.leave()
}
