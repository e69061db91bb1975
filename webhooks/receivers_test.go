package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientele/clientele/db"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/webhooks"
)

// seqReceiver records the seq of every delivery it answers 200 to, and
// when, and answers after delay; while refusing it answers 500 and counts
// the refusals.
type seqReceiver struct {
	t        *testing.T
	secret   string
	delay    time.Duration
	refusing atomic.Bool
	refused  atomic.Int32
	mu       sync.Mutex
	seqs     []int64
	at       map[int64]time.Time
}

func (r *seqReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	// The sender's clock jumps by hours here: the signature is checked at
	// its own timestamp (the tolerance is TestDispatcher's).
	ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
	if err := verify(r.secret, req.Header, body, time.Unix(ts, 0)); err != nil {
		r.t.Errorf("delivery does not verify: %v", err)
	}
	if r.refusing.Load() {
		r.refused.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var ce struct {
		Data struct {
			Seq int64 `json:"seq"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil {
		r.t.Errorf("delivery body: %v", err)
	}
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, ce.Data.Seq)
	if _, ok := r.at[ce.Data.Seq]; !ok {
		r.at[ce.Data.Seq] = time.Now()
	}
}

func (r *seqReceiver) received() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs)
}

// silentReceiver accepts each request and never answers: it holds the
// connection until the sender gives up, and records how long that took.
type silentReceiver struct {
	started atomic.Int32
	mu      sync.Mutex
	held    []time.Duration
}

func (r *silentReceiver) ServeHTTP(_ http.ResponseWriter, req *http.Request) {
	r.started.Add(1)
	start := time.Now()
	// Reading the body to its end lets the server notice the sender
	// closing the connection, which ends the request's context.
	_, _ = io.Copy(io.Discard, req.Body)
	<-req.Context().Done()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.held = append(r.held, time.Since(start))
}

func (r *silentReceiver) attempts() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.held)
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*q))]
}

// TestABadReceiverCostsOnlyItsDeliveries runs four webhooks side by side:
// one never answers, one answers 500, one answers slowly (within the
// timeout), one is healthy. The healthy one gets every event in seq order
// soon after its write, the slow one gets them all at its pace, writes
// take about as long as without webhooks, every attempt on the silent one
// ends at the delivery timeout, and the refused deliveries wait (by the
// injected clock) and are all delivered, in order, once their receiver
// recovers.
func TestABadReceiverCostsOnlyItsDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 240 writes and waits out delivery timeouts")
	}
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }
	octx := events.WithOrigin(ctx, events.Origin{Actor: "admin", TrackingID: "t"})

	const n = 120
	write := func(i int) time.Duration {
		t.Helper()
		start := time.Now()
		c := models.NewClient()
		c.ID, c.Name, c.GrantTypes = fmt.Sprintf("client-%d", i), "c", []models.GrantType{models.GrantClientCredentials}
		if _, err := store.CreateClient(octx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	var without []time.Duration
	for i := range n {
		without = append(without, write(i))
	}

	healthy := &seqReceiver{t: t, at: map[int64]time.Time{}}
	refusing := &seqReceiver{t: t, at: map[int64]time.Time{}}
	refusing.refusing.Store(true)
	silent := &silentReceiver{}
	slow := &seqReceiver{t: t, at: map[int64]time.Time{}, delay: 25 * time.Millisecond}
	for i, h := range []http.Handler{healthy, refusing, silent, slow} {
		srv := httptest.NewServer(h)
		defer srv.Close()
		secret, _ := webhooks.NewSecret()
		switch h {
		case healthy:
			healthy.secret = secret
		case refusing:
			refusing.secret = secret
		case slow:
			slow.secret = secret
		}
		w := webhooks.Subscription{ID: string(rune('a' + i)), URL: srv.URL, Secret: secret, Created: now()}
		if err := store.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	first, err := store.LastEventSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}

	const timeout = time.Second
	var oks, failures atomic.Int32
	failed := &failureLog{}
	d := &webhooks.Dispatcher{Store: store, Issuer: "https://clientele.example", AllowPrivate: true, Now: now,
		Poll: 10 * time.Millisecond, Timeout: timeout, Log: slog.New(failed),
		Render: func(ev *events.Event) (json.RawMessage, error) { return json.Marshal(map[string]any{"seq": ev.Seq}) },
		Counters: webhooks.Counters{Attempt: func(ok bool, _ time.Duration) {
			if ok {
				oks.Add(1)
			} else {
				failures.Add(1)
			}
		}},
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(dctx) }()
	defer func() { stop(); <-done }()

	// Writes while the bad receivers fail: every 20 writes the clock moves
	// past the backoff, so both are retried while writes go on.
	var with []time.Duration
	written := map[int64]time.Time{}
	for i := range n {
		with = append(with, write(n+i))
		written[first+int64(i)+1] = time.Now()
		if i%20 == 19 {
			clock.Add(int64(time.Hour / time.Millisecond))
		}
	}
	t.Logf("write latency without webhooks p50 %v p99 %v; with a silent, a refusing, a slow and a healthy one p50 %v p99 %v (ratio of p50 %.2f)",
		quantile(without, .5), quantile(without, .99), quantile(with, .5), quantile(with, .99),
		float64(quantile(with, .5))/float64(quantile(without, .5)))
	// Loose on purpose: a write that waited for a delivery would take at
	// least the delivery timeout.
	if p50 := quantile(with, .5); p50 >= timeout {
		t.Errorf("writes slowed to a median of %v, the delivery timeout", p50)
	}

	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, within)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// inOrder reports whether r has had all n events, and fails the test
	// if their first deliveries are out of seq order or an event came
	// again without a failed attempt (an answer later than the timeout,
	// on a loaded machine) to explain it.
	inOrder := func(r *seqReceiver, webhook string) bool {
		got := r.received()
		next := first + 1
		for i, seq := range got {
			switch {
			case seq == next:
				next++
			case seq == next-1 && failed.count(webhook, seq) > 0:
			default:
				t.Fatalf("delivery %d is seq %d, want %d (%v)", i, seq, next, got)
			}
		}
		return next == first+n+1
	}
	lastTick := time.Now()
	waitFor("every event at the healthy receiver, in seq order", 60*time.Second, func() bool {
		// A healthy attempt that timed out is retried after its backoff.
		if time.Since(lastTick) > time.Second {
			clock.Add(int64(time.Minute / time.Millisecond))
			lastTick = time.Now()
		}
		return inOrder(healthy, "a")
	})
	var lags []time.Duration
	healthy.mu.Lock()
	for seq, at := range healthy.at {
		lags = append(lags, at.Sub(written[seq]))
	}
	healthy.mu.Unlock()
	t.Logf("healthy receiver's lag behind the write: p50 %v, max %v", quantile(lags, .5), quantile(lags, 1))
	// Had the bad receivers held the healthy one's deliveries back by a
	// timeout each, the last would come n × 1 s = 2 min after its write;
	// a quarter of that leaves room for a loaded machine (a few hundred
	// milliseconds here when idle, 6 s with four race builds at once).
	if worst := quantile(lags, 1); worst > n*timeout/4 {
		t.Errorf("the healthy receiver got an event %v after its write", worst)
	}
	// The slow receiver gets everything too, at its own pace.
	waitFor("every event at the slow receiver, in seq order", 60*time.Second, func() bool {
		if time.Since(lastTick) > time.Second {
			clock.Add(int64(time.Minute / time.Millisecond))
			lastTick = time.Now()
		}
		return inOrder(slow, "d")
	})

	// The silent receiver holds every attempt until the sender gives up:
	// at the timeout, not sooner, not at the default 10 s. An hour on the
	// clock is past any backoff: one more attempt on each bad receiver.
	for len(silent.attempts()) < 3 {
		held := len(silent.attempts())
		clock.Add(int64(time.Hour / time.Millisecond))
		waitFor("the silent receiver retried", 10*time.Second, func() bool { return len(silent.attempts()) > held })
	}
	// How long the receiver held an attempt is short of the timeout by
	// the time the request took to reach it, which on a loaded machine can
	// be most of it; so the lower bound is on the longest, and each failure
	// must be the client's timeout.
	held := silent.attempts()
	for i, d := range held {
		if d > timeout+3*time.Second {
			t.Errorf("silent attempt %d was given up after %v, want about %v", i, d, timeout)
		}
	}
	if longest := quantile(held, 1); longest < timeout/2 {
		t.Errorf("the longest silent attempt was given up after %v, want about %v", longest, timeout)
	}
	for _, msg := range failed.errors("c") {
		if !strings.Contains(msg, "Client.Timeout exceeded") {
			t.Errorf("a silent attempt failed otherwise than by the timeout: %s", msg)
		}
	}
	if r := refusing.refused.Load(); r < 2 || len(refusing.received()) != 0 {
		t.Errorf("refusing receiver: %d refusals, %d deliveries", r, len(refusing.received()))
	}

	// The refused deliveries were kept: once the receiver recovers and the
	// backoff has passed, it gets every event once, in seq order.
	refusing.refusing.Store(false)
	clock.Add(int64(time.Hour / time.Millisecond))
	waitFor("the refused events delivered after all", 30*time.Second, func() bool { return inOrder(refusing, "b") })

	// Counters: one ok per delivery, one failure per refusal and per
	// silent attempt, once the silent one's last attempt has timed out
	// (its next waits for the clock, which stays put now).
	waitFor("the counters to agree with the receivers", 10*time.Second, func() bool {
		return oks.Load() == 3*n && failures.Load() == refusing.refused.Load()+silent.started.Load()
	})
}

// failureLog is a slog.Handler that counts the dispatcher's failed
// attempts by webhook and seq.
type failureLog struct {
	mu     sync.Mutex
	failed map[string]int
	errs   map[string][]string // by webhook
}

func (f *failureLog) Enabled(context.Context, slog.Level) bool { return true }
func (f *failureLog) WithAttrs([]slog.Attr) slog.Handler       { return f }
func (f *failureLog) WithGroup(string) slog.Handler            { return f }

func (f *failureLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "webhook delivery failed" {
		return nil
	}
	var webhook, msg string
	var seq int64
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "webhook":
			webhook = a.Value.String()
		case "seq":
			seq = a.Value.Int64()
		case "error":
			msg = a.Value.String()
		}
		return true
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed == nil {
		f.failed, f.errs = map[string]int{}, map[string][]string{}
	}
	f.failed[fmt.Sprintf("%s/%d", webhook, seq)]++
	f.errs[webhook] = append(f.errs[webhook], msg)
	return nil
}

func (f *failureLog) errors(webhook string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errs[webhook])
}

func (f *failureLog) count(webhook string, seq int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed[fmt.Sprintf("%s/%d", webhook, seq)]
}
