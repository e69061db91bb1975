package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/internal/netguard"
)

// Store is what the Dispatcher needs of the store. db.Store implements it.
type Store interface {
	Webhook(ctx context.Context, id string) (Subscription, error)
	Events(ctx context.Context, after int64, limit int) ([]events.Event, error)
	EventsWritten() <-chan struct{}
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	LeaseDelivery(ctx context.Context, d Delivery, now, until time.Time) (bool, error)
	DeliveryDone(ctx context.Context, d Delivery) error
	// PendingDeliveries are the webhook's deliveries after seq, in seq
	// order, without a lease.
	PendingDeliveries(ctx context.Context, webhookID string, after int64, limit int) ([]Delivery, error)
	// DeliveriesDoneNext forgets the webhook's deliveries of the seqs
	// done and leases its next delivery, when it is due at now and
	// unleased, in one write.
	DeliveriesDoneNext(ctx context.Context, webhookID string, done []int64, now, until time.Time) (next Delivery, ok bool, err error)
	// DeliveryFailed records a failed attempt of d and forgets the
	// webhook's deliveries of the seqs done, in one write.
	DeliveryFailed(ctx context.Context, d Delivery, done []int64, next time.Time) error
}

// Counters are the Dispatcher's metrics hooks; nil fields are skipped.
type Counters struct {
	// Attempt is called after each attempt with whether it succeeded and
	// how long after its event the attempt ended (the delivery lag).
	Attempt func(ok bool, lag time.Duration)
	// GaveUp is called when a delivery is dropped after GiveUpAfter.
	GaveUp func()
}

// Dispatcher delivers the queued deliveries: each webhook's events one at a
// time in seq order, different webhooks side by side, so a slow, refusing
// or silent receiver holds up only its own deliveries. A delivery is leased
// before it is attempted, so that of several servers sharing a store one
// attempts it; a server killed mid-attempt leaves a lease that runs out
// and another attempt follows (at least once).
type Dispatcher struct {
	Store  Store
	Issuer string
	// Render is an event's wire form, the CloudEvent's data.
	Render func(*events.Event) (json.RawMessage, error)
	// AllowPrivate lets deliveries go to addresses that are not
	// netguard.Public (loopback, private, …).
	AllowPrivate bool
	Now          func() time.Time
	Log          *slog.Logger
	Counters     Counters
	// Poll bounds how late a delivery that came due is attempted (1 s by
	// default).
	Poll time.Duration
	// Timeout bounds one attempt, from dialling to the end of the answer's
	// body, of which at most 64 KiB is read (Timeout, 10 s, by default);
	// tests shorten it.
	Timeout time.Duration

	client *http.Client
	mu     sync.Mutex
	busy   map[string]bool
	// ahead keeps the events read ahead, by seq (see event).
	aheadMu sync.Mutex
	ahead   [aheadSlots]*events.Event
}

// Batching of one webhook's deliveries. The server that holds the lease
// of a webhook's oldest delivery is the only one that attempts any of its
// deliveries, so after it it attempts the next ones in seq order, up to
// runMax of them and for up to runFor, and ends them all in one write: a
// receiver that keeps up costs one write per run, not one per event. A
// server killed mid-run leaves the oldest delivery and its lease, and the
// whole run is attempted again (at least once).
const (
	runMax = 64
	// runFor leaves a run's last attempt (at most Timeout) inside the
	// lease, which is Timeout+leaseSlack from the run's start.
	runFor     = 4 * time.Second
	leaseSlack = 5 * time.Second
)

// Events are read ahead aheadRead at a time into a ring of aheadSlots by
// seq, shared by the webhooks: every webhook wants the same events.
const (
	aheadRead  = 64
	aheadSlots = 1024
)

// maxParallel bounds the webhooks attempted at once by one server.
const maxParallel = 16

// wakeGap is how long a round waits after the commit that woke it, so
// that at most 1/wakeGap rounds run a second however many writes commit.
const wakeGap = 10 * time.Millisecond

func (d *Dispatcher) init() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.Timeout <= 0 {
		d.Timeout = Timeout
	}
	d.busy = map[string]bool{}
	d.client = &http.Client{
		Timeout: d.Timeout,
		// Checked on the address actually dialled, so a name that
		// resolves differently later (DNS rebinding) cannot reach inside;
		// no proxy, so that address is the one reached.
		Transport: &http.Transport{Proxy: nil, DialContext: netguard.Dialer(d.Timeout, d.AllowPrivate).DialContext,
			MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute},
		// A redirect is an answer that is not 2xx: a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers until ctx ends, waiting for the attempts under way.
func (d *Dispatcher) Run(ctx context.Context) {
	d.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		wake := d.Store.EventsWritten()
		select {
		case <-ctx.Done():
			return
		case <-wake:
			// Gather the commits of a busy store into one round: a
			// round reads the store, and every commit wakes it.
			select {
			case <-ctx.Done():
				return
			case <-time.After(wakeGap):
			}
		case <-t.C:
		}
		t.Reset(d.Poll)
		d.round(ctx, &wg)
	}
}

// round starts an attempt for every due delivery whose webhook is not busy.
func (d *Dispatcher) round(ctx context.Context, wg *sync.WaitGroup) {
	now := d.Now()
	due, err := d.Store.DueDeliveries(ctx, now, maxParallel)
	if err != nil {
		if ctx.Err() == nil {
			d.Log.Warn("webhook deliveries", "error", err.Error())
		}
		return
	}
	for _, dl := range due {
		d.mu.Lock()
		busy := d.busy[dl.WebhookID] || len(d.busy) >= maxParallel
		if !busy {
			d.busy[dl.WebhookID] = true
		}
		d.mu.Unlock()
		if busy {
			continue
		}
		// The lease outlives one attempt's timeout.
		ok, err := d.Store.LeaseDelivery(ctx, dl, now, now.Add(d.Timeout+leaseSlack))
		if err != nil || !ok {
			d.release(dl.WebhookID)
			continue
		}
		wg.Add(1)
		go func(dl Delivery) {
			defer wg.Done()
			defer d.release(dl.WebhookID)
			// A run that succeeded leases the webhook's next delivery
			// in the same write that forgets the run: a webhook that
			// keeps up costs one write per run and no round.
			for ok := true; ok && ctx.Err() == nil; {
				dl, ok = d.run(ctx, dl)
			}
		}(dl)
	}
}

func (d *Dispatcher) release(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.busy, id)
}

// run attempts head, whose lease this server holds, and the webhook's
// deliveries after it in seq order (see runMax) until one fails, and
// records the outcome in one write. When every attempt succeeded it
// returns the webhook's next delivery, leased, if one is due.
func (d *Dispatcher) run(ctx context.Context, head Delivery) (Delivery, bool) {
	start := d.Now()
	w, werr := d.Store.Webhook(ctx, head.WebhookID)
	if werr != nil {
		// The webhook was deleted: nothing to send.
		_ = d.Store.DeliveryDone(ctx, head)
		return Delivery{}, false
	}
	todo := []Delivery{head}
	// Only the oldest delivery has ever been attempted: a failure makes
	// the failed delivery the oldest (DeliveryFailed forgets the ones
	// before it), so the ones after it are all due.
	if more, err := d.Store.PendingDeliveries(ctx, head.WebhookID, head.Seq, runMax-1); err == nil {
		todo = append(todo, more...)
	}
	done := make([]int64, 0, len(todo))
	for i, dl := range todo {
		if i > 0 && (ctx.Err() != nil || d.Now().Sub(start) >= runFor) {
			break
		}
		ev, err := d.event(ctx, dl.Seq)
		if errors.Is(err, errPruned) {
			done = append(done, dl.Seq) // the event is gone: nothing to send
			continue
		}
		if err != nil {
			break // the lease runs out and the rest is tried again
		}
		err = d.send(ctx, w, ev)
		now := d.Now()
		if d.Counters.Attempt != nil {
			d.Counters.Attempt(err == nil, now.Sub(ev.Time))
		}
		if err == nil {
			done = append(done, dl.Seq)
			continue
		}
		d.failed(ctx, dl, done, now, err)
		return Delivery{}, false
	}
	if len(done) == 0 {
		return Delivery{}, false
	}
	now := d.Now()
	next, ok, err := d.Store.DeliveriesDoneNext(ctx, head.WebhookID, done, now, now.Add(d.Timeout+leaseSlack))
	if err != nil {
		d.Log.Warn("webhook delivery done", "webhook", head.WebhookID, "seq", done[len(done)-1], "error", err.Error())
	}
	return next, ok && err == nil
}

// failed records dl's failed attempt at now and forgets the deliveries
// done before it; a delivery tried for GiveUpAfter is given up.
func (d *Dispatcher) failed(ctx context.Context, dl Delivery, done []int64, now time.Time, err error) {
	d.Log.Info("webhook delivery failed", "webhook", dl.WebhookID, "seq", dl.Seq, "attempt", dl.Attempts+1, "error", err.Error())
	if dl.FirstAttempt.IsZero() {
		dl.FirstAttempt = now
	}
	dl.Attempts++
	next, ok := NextAttempt(dl.FirstAttempt, now, dl.Attempts)
	if !ok {
		if d.Counters.GaveUp != nil {
			d.Counters.GaveUp()
		}
		if _, _, err := d.Store.DeliveriesDoneNext(ctx, dl.WebhookID, append(done, dl.Seq), now, now); err != nil {
			d.Log.Warn("webhook delivery", "webhook", dl.WebhookID, "seq", dl.Seq, "error", err.Error())
		}
		return
	}
	if err := d.Store.DeliveryFailed(ctx, dl, done, next); err != nil {
		d.Log.Warn("webhook delivery", "webhook", dl.WebhookID, "seq", dl.Seq, "error", err.Error())
	}
}

var errPruned = errors.New("the event was pruned")

// event returns the event seq, from the events read ahead or from the
// store with the next aheadRead-1. An event never changes once committed,
// so one read ahead stays right.
func (d *Dispatcher) event(ctx context.Context, seq int64) (*events.Event, error) {
	slot := &d.ahead[uint64(seq)%aheadSlots]
	d.aheadMu.Lock()
	ev := *slot
	d.aheadMu.Unlock()
	if ev != nil && ev.Seq == seq {
		return ev, nil
	}
	evs, err := d.Store.Events(ctx, seq-1, aheadRead)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 || evs[0].Seq != seq {
		return nil, errPruned
	}
	d.aheadMu.Lock()
	for i := range evs {
		d.ahead[uint64(evs[i].Seq)%aheadSlots] = &evs[i]
	}
	d.aheadMu.Unlock()
	return &evs[0], nil
}

// send POSTs ev to w, signed; only a 2xx answer within Timeout succeeds.
func (d *Dispatcher) send(ctx context.Context, w Subscription, ev *events.Event) error {
	data, err := d.Render(ev)
	if err != nil {
		return err
	}
	body, err := Envelope(d.Issuer, ev.ID, string(ev.Type), ev.ClientID, ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), data)
	if err != nil {
		return err
	}
	h, err := Sign(w.Secret, ev.ID, d.Now(), body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	h.Set(req.Header)
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %d", resp.StatusCode)
	}
	return nil
}
