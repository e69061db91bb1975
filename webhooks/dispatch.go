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
	// DeliveryDoneNext is DeliveryDone and LeaseDelivery of the webhook's
	// next delivery, when it is due at now and unleased, in one write.
	DeliveryDoneNext(ctx context.Context, d Delivery, now, until time.Time) (next Delivery, ok bool, err error)
	DeliveryFailed(ctx context.Context, d Delivery, next time.Time) error
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
	// headers (Timeout, 10 s, by default); tests shorten it.
	Timeout time.Duration

	client *http.Client
	mu     sync.Mutex
	busy   map[string]bool
}

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
		ok, err := d.Store.LeaseDelivery(ctx, dl, now, now.Add(d.Timeout+5*time.Second))
		if err != nil || !ok {
			d.release(dl.WebhookID)
			continue
		}
		wg.Add(1)
		go func(dl Delivery) {
			defer wg.Done()
			defer d.release(dl.WebhookID)
			// A success leases the webhook's next delivery in the same
			// write that forgets this one: a webhook that keeps up costs
			// one write per delivery and no round.
			for ok := true; ok && ctx.Err() == nil; {
				dl, ok = d.attempt(ctx, dl)
			}
		}(dl)
	}
}

func (d *Dispatcher) release(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.busy, id)
}

// attempt makes one attempt of dl and records its outcome. After a
// success it returns the webhook's next delivery, leased, when one is due.
func (d *Dispatcher) attempt(ctx context.Context, dl Delivery) (Delivery, bool) {
	ev, err := d.event(ctx, dl.Seq)
	w, werr := d.Store.Webhook(ctx, dl.WebhookID)
	if errors.Is(err, errPruned) || werr != nil {
		// The event is gone (pruned) or the webhook deleted: nothing to send.
		_ = d.Store.DeliveryDone(ctx, dl)
		return Delivery{}, false
	}
	if err != nil {
		return Delivery{}, false // the lease runs out and the delivery is tried again
	}
	err = d.send(ctx, w, ev)
	now := d.Now()
	if d.Counters.Attempt != nil {
		d.Counters.Attempt(err == nil, now.Sub(ev.Time))
	}
	if err == nil {
		next, ok, err := d.Store.DeliveryDoneNext(ctx, dl, now, now.Add(d.Timeout+5*time.Second))
		if err != nil {
			d.Log.Warn("webhook delivery done", "webhook", dl.WebhookID, "seq", dl.Seq, "error", err.Error())
		}
		return next, ok && err == nil
	}
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
		_ = d.Store.DeliveryDone(ctx, dl)
		return Delivery{}, false
	}
	if err := d.Store.DeliveryFailed(ctx, dl, next); err != nil {
		d.Log.Warn("webhook delivery", "webhook", dl.WebhookID, "seq", dl.Seq, "error", err.Error())
	}
	return Delivery{}, false
}

var errPruned = errors.New("the event was pruned")

func (d *Dispatcher) event(ctx context.Context, seq int64) (*events.Event, error) {
	evs, err := d.Store.Events(ctx, seq-1, 1)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 || evs[0].Seq != seq {
		return nil, errPruned
	}
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
