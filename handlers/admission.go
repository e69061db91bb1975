package handlers

import (
	"context"
	"slices"
	"sync"
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

const (
	// costlyQueue is how many costly bodies of one caller may wait for
	// the lane at once; the next one is answered 429 at once.
	costlyQueue = 8
	// costlyWait bounds a costly body's wait for the lane, its turn and
	// the rest before it together; past it the body is answered 429.
	costlyWait = 5 * time.Second
)

// costlyLane admits the work of costly PATCH bodies (patch.Costly: over
// 2 KiB, or copying) one at a time, and after each keeps the next waiting
// costlyRest times as long as that one's patch work took. However many
// costly bodies arrive at once, they get at most an eighth of one core and
// make the garbage of one, while ordinary PATCHes, which never wait for
// the lane, keep the rest (SPEC §4.8: one hostile PATCH must not hold up
// the writes of other clients). A request waits for its turn before it
// touches the store, so no waiting holds the writer or a connection of the
// store.
//
// Waiting bodies are queued per caller (the client id of the token) and
// served round-robin across callers, as Kubernetes' API Priority and
// Fairness does: however many bodies one caller floods the lane with,
// another caller's body waits for at most the one being served and its
// rest. Each caller may have maxQueue bodies waiting, and none waits
// longer than maxWait; beyond either the body is refused with 429 before
// it touches anything.
type costlyLane struct {
	// now is the server's clock; after returns a channel that receives
	// once d has passed by it, and the function that stops it.
	now   func() time.Time
	after func(d time.Duration) (<-chan time.Time, func() bool)

	maxQueue int
	maxWait  time.Duration

	mu sync.Mutex
	// busy: a body holds the lane, from being admitted (resting before its
	// work, then working) until it leaves. Bodies wait only while it is.
	busy bool
	// openAt is when the next body may start work: the end of the last
	// one's rest.
	openAt time.Time
	// queues holds each caller's waiting bodies, first come first.
	queues map[string][]*costlyWaiter
	// ring lists the callers with waiting bodies in the order they are
	// served, except served: the caller admitted last, whose waiting
	// bodies rejoin the ring at the next handover, behind every caller
	// that started waiting meanwhile.
	ring   []string
	served string
}

// costlyWaiter is a costly body waiting for the lane.
type costlyWaiter struct {
	deadline time.Time
	admitted bool          // set under the lane's mu
	turn     chan struct{} // closed when the lane is handed to it
}

func newCostlyLane(now func() time.Time, after func(time.Duration) (<-chan time.Time, func() bool)) *costlyLane {
	return &costlyLane{now: now, after: after, maxQueue: costlyQueue, maxWait: costlyWait,
		queues: map[string][]*costlyWaiter{}}
}

// realAfter is the lane's timer in production: a real timer, for the
// durations the lane computes by the server's clock.
func realAfter(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// costlyTurn is one body's passage: through the lane for a costly body,
// straight on (lane nil) for an ordinary one.
type costlyTurn struct {
	lane *costlyLane
	// work is the time spent in run, in nanoseconds. The store may call
	// the update function, and so run, on another request's goroutine.
	work atomic.Int64
}

// ordinaryTurn is every ordinary body's turn: without a lane, run and
// leave never write it, so one serves all.
var ordinaryTurn = &costlyTurn{}

// enter waits for the lane when the body of caller is costly and returns
// the turn, whose leave must be called once the body's work is done; an
// ordinary body passes at once. It fails with a *rateLimitedError when
// the caller already has maxQueue bodies waiting or the lane would not
// open for it within maxWait, and with ctx's error when ctx ends first.
func (l *costlyLane) enter(ctx context.Context, caller string, costly bool) (*costlyTurn, error) {
	if !costly {
		return ordinaryTurn, nil
	}
	l.mu.Lock()
	deadline := l.now().Add(l.maxWait)
	if !l.busy {
		l.busy, l.served = true, caller
		l.mu.Unlock()
	} else {
		if len(l.queues[caller]) >= l.maxQueue {
			err := l.refusal(caller)
			l.mu.Unlock()
			return nil, err
		}
		w := &costlyWaiter{deadline: deadline, turn: make(chan struct{})}
		l.queues[caller] = append(l.queues[caller], w)
		if len(l.queues[caller]) == 1 && caller != l.served {
			l.ring = append(l.ring, caller)
		}
		l.mu.Unlock()
		timeout, stop := l.after(l.maxWait)
		select {
		case <-w.turn:
			stop()
		case <-timeout:
			if err := l.withdraw(caller, w); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			stop()
			if l.withdraw(caller, w) != nil {
				return nil, ctx.Err()
			}
			l.release()
			return nil, ctx.Err()
		}
	}
	// The lane is ours; wait out the last body's rest, if it ends in time.
	l.mu.Lock()
	now := l.now()
	rest := l.openAt.Sub(now)
	if rest > 0 && now.Add(rest).After(deadline) {
		l.handOn()
		l.mu.Unlock()
		return nil, &rateLimitedError{retryAfter: rest}
	}
	l.mu.Unlock()
	if rest > 0 {
		timer, stop := l.after(rest)
		select {
		case <-timer:
		case <-ctx.Done():
			stop()
			l.release()
			return nil, ctx.Err()
		}
	}
	return &costlyTurn{lane: l}, nil
}

// withdraw takes w, which gave up waiting, out of caller's queue and
// returns the 429 for it; it returns nil when the lane was handed to w
// meanwhile, which then holds it.
func (l *costlyLane) withdraw(caller string, w *costlyWaiter) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.admitted {
		return nil
	}
	q := slices.DeleteFunc(l.queues[caller], func(x *costlyWaiter) bool { return x == w })
	if len(q) == 0 {
		delete(l.queues, caller)
		l.ring = slices.DeleteFunc(l.ring, func(c string) bool { return c == caller })
	} else {
		l.queues[caller] = q
	}
	return l.refusal(caller)
}

// refusal is the 429 for a body of caller: retry once the caller's
// waiting bodies have all gone (each within its deadline), or once the
// lane opens when none waits. Called under mu.
func (l *costlyLane) refusal(caller string) error {
	until := l.openAt
	if q := l.queues[caller]; len(q) > 0 {
		until = q[len(q)-1].deadline
	}
	return &rateLimitedError{retryAfter: until.Sub(l.now())}
}

// handOn hands the lane to the next waiting body, round-robin across
// callers, or frees it when none waits. Called under mu by the holder.
func (l *costlyLane) handOn() {
	if len(l.queues[l.served]) > 0 {
		l.ring = append(l.ring, l.served)
	}
	if len(l.ring) == 0 {
		l.busy = false
		return
	}
	next := l.ring[0]
	l.ring = l.ring[1:]
	q := l.queues[next]
	w := q[0]
	if len(q) == 1 {
		delete(l.queues, next)
	} else {
		l.queues[next] = q[1:]
	}
	w.admitted = true
	close(w.turn)
	l.served = next
}

// release gives up the lane without working: the rest stays as it was.
func (l *costlyLane) release() {
	l.mu.Lock()
	l.handOn()
	l.mu.Unlock()
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

// leave ends the turn: the lane rests costlyRest times the work's time,
// and passes to the next waiting body.
func (t *costlyTurn) leave() {
	if t.lane == nil {
		return
	}
	l := t.lane
	l.mu.Lock()
	l.openAt = l.now().Add(costlyRest * time.Duration(t.work.Load()))
	l.handOn()
	l.mu.Unlock()
}
