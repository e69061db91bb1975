package handlers

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when told, with timers that fire
// when it passes them.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool {
		if t.at.After(c.t) {
			return false
		}
		t.c <- c.t
		return true
	})
}

// after is the lane's timer by this clock.
func (c *fakeClock) after(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.t.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.t
		return t.c, func() bool { return false }
	}
	c.timers = append(c.timers, t)
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := len(c.timers)
		c.timers = slices.DeleteFunc(c.timers, func(x *fakeTimer) bool { return x == t })
		return len(c.timers) < n
	}
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// eventually waits (briefly, by the real clock) until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

func (l *costlyLane) waiting(caller string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queues[caller])
}

func newTestLane() (*costlyLane, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return newCostlyLane(clock.now, clock.after), clock
}

// TestCostlyLane: ordinary bodies never wait; costly ones take turns, and
// after one whose work took d the next waits until costlyRest×d has passed;
// time outside the work does not count.
func TestCostlyLane(t *testing.T) {
	l, clock := newTestLane()
	const small, costly = false, true
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 50*time.Millisecond)
	}
	work := func(d time.Duration) func() error {
		return func() error { clock.advance(d); return nil }
	}

	turn, err := l.enter(context.Background(), "a", costly)
	if err != nil {
		t.Fatal(err)
	}
	// While a costly body works, an ordinary one passes and a costly one
	// waits.
	ctx, cancel := short()
	if other, err := l.enter(ctx, "a", small); err != nil {
		t.Fatalf("an ordinary body waited for the lane: %v", err)
	} else {
		_ = other.run(work(time.Hour)) // no lane, no rest
		other.leave()
	}
	if _, err := l.enter(ctx, "b", costly); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second costly body entered the busy lane: %v", err)
	}
	cancel()
	if n := l.waiting("b"); n != 0 {
		t.Fatalf("a body that gave up still waits: %d", n)
	}

	// The first works 0.5 s in two runs (the store retried it) and waits
	// an hour outside them: the lane rests 3.5 s after it.
	if err := turn.run(work(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	if err := turn.run(work(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	turn.leave()
	ctx, cancel = short()
	if _, err := l.enter(ctx, "b", costly); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a costly body entered during the rest: %v", err)
	}
	cancel()
	clock.advance(costlyRest * 500 * time.Millisecond)
	turn, err = l.enter(context.Background(), "b", costly)
	if err != nil {
		t.Fatalf("after the rest: %v", err)
	}
	turn.leave()
	// A body that did no work leaves no rest.
	turn, err = l.enter(context.Background(), "a", costly)
	if err != nil {
		t.Fatalf("after a body that did no work: %v", err)
	}
	turn.leave()
}

// TestCostlyLaneFair: while caller a floods the lane, b's and c's bodies
// are served round-robin with a's, each after at most the one being
// served and its rest, not after a's whole queue.
func TestCostlyLaneFair(t *testing.T) {
	l, clock := newTestLane()
	type admitted struct {
		name string
		turn *costlyTurn
	}
	in := make(chan admitted)
	send := func(caller, name string) {
		n := l.waiting(caller)
		go func() {
			turn, err := l.enter(context.Background(), caller, true)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return
			}
			in <- admitted{name, turn}
		}()
		eventually(t, name+" waits", func() bool { return l.waiting(caller) == n+1 })
	}
	first, err := l.enter(context.Background(), "a", true)
	if err != nil {
		t.Fatal(err)
	}
	send("a", "a1")
	send("a", "a2")
	send("a", "a3")
	send("b", "b1")
	send("b", "b2")
	send("c", "c1")

	// a's first body works 10 ms: b1 is next, once the 70 ms rest is over.
	_ = first.run(func() error { clock.advance(10 * time.Millisecond); return nil })
	first.leave()
	select {
	case got := <-in:
		t.Fatalf("%s entered during the rest", got.name)
	case <-time.After(20 * time.Millisecond):
	}
	clock.advance(costlyRest * 10 * time.Millisecond)
	var order []string
	for range 6 {
		got := <-in
		order = append(order, got.name)
		got.turn.leave()
	}
	if want := []string{"b1", "c1", "a1", "b2", "a2", "a3"}; !slices.Equal(order, want) {
		t.Errorf("served %v, want %v", order, want)
	}
}

// TestCostlyLaneBounds: a caller's queue holds costlyQueue bodies and the
// next is refused at once, while other callers still queue and ordinary
// bodies pass; a body not admitted within costlyWait is refused; so is one
// admitted when the rest before it would end past its wait.
func TestCostlyLaneBounds(t *testing.T) {
	l, clock := newTestLane()
	busy, err := l.enter(context.Background(), "a", true)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range costlyQueue {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.enter(ctx, "a", true); !errors.Is(err, context.Canceled) {
				t.Errorf("queued body: %v", err)
			}
		}()
		eventually(t, "a's queue grows", func() bool { return l.waiting("a") == i+1 })
	}
	clock.advance(time.Second)
	short, stop := context.WithTimeout(context.Background(), time.Second)
	_, err = l.enter(short, "a", true)
	stop()
	var limited *rateLimitedError
	if !errors.As(err, &limited) {
		t.Fatalf("a body past a full queue: %v", err)
	}
	// The queued bodies are all gone by their deadlines, 4 s from now.
	if limited.retryAfter != costlyWait-time.Second {
		t.Errorf("retry after %v", limited.retryAfter)
	}
	if _, err := l.enter(context.Background(), "a", false); err != nil {
		t.Errorf("an ordinary body of a waited: %v", err)
	}
	b := make(chan error, 1)
	go func() { _, err := l.enter(context.Background(), "b", true); b <- err }()
	eventually(t, "b queues beside a full queue of a", func() bool { return l.waiting("b") == 1 })
	cancel()
	wg.Wait()

	// b waits costlyWait by the clock and is refused, without the lane.
	eventually(t, "b's timer", func() bool { return clock.pending() == 1 })
	clock.advance(costlyWait)
	if err := <-b; !errors.As(err, &limited) {
		t.Fatalf("b past its wait: %v", err)
	}
	if n := l.waiting("b"); n != 0 {
		t.Errorf("b still waits: %d", n)
	}

	// a's body works 1 s: the 7 s rest ends past c's wait, so c is
	// refused as soon as the lane is handed to it, and the lane passes on.
	go func() { _, err := l.enter(context.Background(), "c", true); b <- err }()
	eventually(t, "c queues", func() bool { return l.waiting("c") == 1 })
	_ = busy.run(func() error { clock.advance(time.Second); return nil })
	busy.leave()
	if err := <-b; !errors.As(err, &limited) || limited.retryAfter != costlyRest*time.Second {
		t.Fatalf("c admitted into a rest past its wait: %v", err)
	}
	clock.advance(costlyRest * time.Second)
	turn, err := l.enter(context.Background(), "c", true)
	if err != nil {
		t.Fatalf("after the rest: %v", err)
	}
	turn.leave()
}
