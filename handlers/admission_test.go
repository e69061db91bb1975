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
// after one that took d the next waits until costlyRest×d has passed (the
// lane measures by the clock it is given and waits on a real timer, so a
// rest of 30 s by the test's clock outlasts a 50 ms deadline).
func TestCostlyLane(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newCostlyLane(clock.now)
	const small, costly = false, true
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 50*time.Millisecond)
	}

	leave, err := l.enter(context.Background(), costly)
	if err != nil {
		t.Fatal(err)
	}
	// While a costly body works, an ordinary one passes and a costly one
	// waits.
	ctx, cancel := short()
	if leaveSmall, err := l.enter(ctx, small); err != nil {
		t.Fatalf("an ordinary body waited for the lane: %v", err)
	} else {
		leaveSmall()
	}
	if _, err := l.enter(ctx, costly); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second costly body entered the busy lane: %v", err)
	}
	cancel()

	// The first took 10 s by the clock: the lane rests 30 s after it.
	clock.advance(10 * time.Second)
	leave()
	ctx, cancel = short()
	if _, err := l.enter(ctx, costly); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a costly body entered during the rest: %v", err)
	}
	cancel()
	clock.advance(costlyRest * 10 * time.Second)
	leave, err = l.enter(context.Background(), costly)
	if err != nil {
		t.Fatalf("after the rest: %v", err)
	}
	leave()
	// A body that took no time leaves no rest.
	leave, err = l.enter(context.Background(), costly)
	if err != nil {
		t.Fatalf("after a body that took no time: %v", err)
	}
	leave()
}
