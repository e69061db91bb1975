package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// receiver records the verified deliveries it gets and answers status.
type receiver struct {
	t      *testing.T
	secret string
	status atomic.Int32
	mu     sync.Mutex
	got    []map[string]any
	calls  atomic.Int32
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	body, _ := io.ReadAll(req.Body)
	if err := verify(r.secret, req.Header, body, time.Now()); err != nil {
		r.t.Errorf("delivery does not verify: %v", err)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		r.t.Errorf("Content-Type %q", ct)
	}
	if code := int(r.status.Load()); code != http.StatusOK {
		w.WriteHeader(code)
		return
	}
	var ce map[string]any
	_ = json.Unmarshal(body, &ce)
	r.mu.Lock()
	r.got = append(r.got, ce)
	r.mu.Unlock()
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ce := range r.got {
		out = append(out, ce["type"].(string))
	}
	return out
}

func TestDispatcher(t *testing.T) {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }

	all, refusing, filtered := &receiver{t: t}, &receiver{t: t}, &receiver{t: t}
	all.status.Store(200)
	refusing.status.Store(503)
	filtered.status.Store(200)
	for i, r := range []*receiver{all, refusing, filtered} {
		srv := httptest.NewServer(r)
		defer srv.Close()
		r.secret, _ = webhooks.NewSecret()
		w := webhooks.Subscription{ID: string(rune('a' + i)), URL: srv.URL, Secret: r.secret, Created: now()}
		if r == filtered {
			w.EventTypes, w.ExcludeActors = []string{"deleted"}, []string{"quiet-actor"}
		}
		if err := store.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	c := models.NewClient()
	c.ID, c.Name, c.GrantTypes = "c1", "one", []models.GrantType{models.GrantClientCredentials}
	octx := events.WithOrigin(ctx, events.Origin{Actor: "admin", TrackingID: "t"})
	if _, err := store.CreateClient(octx, c, models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpdateClient(octx, "c1", func(x *models.OAuthClient) error { x.Name = "two"; return nil }, models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteClient(events.WithOrigin(ctx, events.Origin{Actor: "quiet-actor"}), "c1", nil); err != nil {
		t.Fatal(err)
	}
	c.ID = "c2"
	if _, err := store.CreateClient(octx, c, models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteClient(octx, "c2", nil); err != nil {
		t.Fatal(err)
	}

	var attempts, failures atomic.Int32
	d := &webhooks.Dispatcher{Store: store, Issuer: "https://clientele.example", AllowPrivate: true, Now: now, Poll: 10 * time.Millisecond,
		Render: func(ev *events.Event) (json.RawMessage, error) {
			return json.Marshal(map[string]any{"seq": ev.Seq, "type": ev.Type})
		},
		Counters: webhooks.Counters{Attempt: func(ok bool, _ time.Duration) {
			attempts.Add(1)
			if !ok {
				failures.Add(1)
			}
		}},
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(dctx) }()
	defer func() { stop(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Every event reaches the webhook that wants all, in seq order, while
	// the refusing one fails its first delivery and waits.
	waitFor("all five events delivered", func() bool { return len(all.types()) == 5 })
	want := []string{"created", "patched", "deleted", "created", "deleted"}
	for i, typ := range all.types() {
		if typ != webhooks.TypePrefix+want[i] {
			t.Errorf("delivery %d: %s, want %s", i, typ, want[i])
		}
	}
	all.mu.Lock()
	ce := all.got[0]
	all.mu.Unlock()
	if ce["specversion"] != "1.0" || ce["source"] != "https://clientele.example" || ce["subject"] != "c1" || ce["data"].(map[string]any)["type"] != "created" {
		t.Errorf("CloudEvent %v", ce)
	}
	// Only the deletion by another actor than quiet-actor passes the filter.
	waitFor("the filtered delivery", func() bool { return len(filtered.types()) == 1 })
	if got := filtered.types()[0]; got != webhooks.TypePrefix+"deleted" {
		t.Errorf("filtered webhook got %s", got)
	}
	waitFor("the first refusal", func() bool { return refusing.calls.Load() == 1 && failures.Load() == 1 })
	time.Sleep(50 * time.Millisecond)
	if n := refusing.calls.Load(); n != 1 {
		t.Errorf("retried %d times before the backoff's 1 s passed", n-1)
	}
	// One second later by the clock, the retry; two more seconds, the next.
	clock.Add(1000)
	waitFor("the first retry", func() bool { return refusing.calls.Load() == 2 && failures.Load() == 2 })
	refusing.status.Store(200)
	clock.Add(2000)
	waitFor("the refused events delivered after all", func() bool { return len(refusing.types()) == 5 })
	// The receiver has the last delivery before the dispatcher has its answer.
	waitFor("every attempt recorded", func() bool { return attempts.Load() == 5+1+2+5 })
	if failures.Load() != 2 {
		t.Errorf("%d attempts, %d failures", attempts.Load(), failures.Load())
	}
	// Nothing is left to deliver.
	waitFor("nothing left to deliver", func() bool {
		due, err := store.DueDeliveries(ctx, now().Add(48*time.Hour), 100)
		return err == nil && len(due) == 0
	})
}

// lockedBuffer is a log destination safe for the dispatcher's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestDispatcherRefusesNonPublicAddresses: without AllowPrivate a delivery
// is refused on the address dialled — a literal loopback address and a name
// that resolves to one, as a webhook whose name was public when it was
// made but resolves inside later (DNS rebinding) — and nothing is sent.
func TestDispatcherRefusesNonPublicAddresses(t *testing.T) {
	ctx := context.Background()
	store, err := db.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls.Add(1) }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for i, u := range []string{srv.URL, "http://localhost" + port} {
		secret, _ := webhooks.NewSecret()
		if err := store.CreateWebhook(ctx, webhooks.Subscription{ID: string(rune('a' + i)), URL: u, Secret: secret, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	c := models.NewClient()
	c.ID, c.Name, c.GrantTypes = "c1", "one", []models.GrantType{models.GrantClientCredentials}
	if _, err := store.CreateClient(events.WithOrigin(ctx, events.Origin{Actor: "admin"}), c, models.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	logs := &lockedBuffer{}
	d := &webhooks.Dispatcher{Store: store, Issuer: "https://clientele.example", Poll: 10 * time.Millisecond,
		Log:    slog.New(slog.NewTextHandler(logs, nil)),
		Render: func(ev *events.Event) (json.RawMessage, error) { return json.Marshal(map[string]any{"seq": ev.Seq}) },
		Counters: webhooks.Counters{Attempt: func(ok bool, _ time.Duration) {
			if !ok {
				failures.Add(1)
			}
		}},
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(dctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for failures.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	if n := failures.Load(); n != 2 {
		t.Errorf("%d failed attempts, want 2 (one per webhook)", n)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("a loopback receiver got %d deliveries", n)
	}
	if got := logs.String(); strings.Count(got, "not a public address") != 2 {
		t.Errorf("the log does not name the refusal twice:\n%s", got)
	}
}
