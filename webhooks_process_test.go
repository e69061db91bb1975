package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/webhooks"
)

// hookReceiver is a webhook receiver on loopback. It checks each
// delivery's signature with the webhook's secret and records the event's
// seq and id in the order the deliveries arrive. It answers 500 to the
// first refuse requests, and holds the request number holdAt (counted
// from 1) until release is closed, signalling held when it has it.
type hookReceiver struct {
	t       *testing.T
	srv     *httptest.Server
	refuse  int
	holdAt  int
	held    chan struct{}
	release chan struct{}

	mu       sync.Mutex
	secret   string
	requests int
	got      []delivered
}

type delivered struct {
	Seq int64
	ID  string
}

func newHookReceiver(t *testing.T, refuse, holdAt int) *hookReceiver {
	r := &hookReceiver{t: t, refuse: refuse, holdAt: holdAt, held: make(chan struct{}), release: make(chan struct{})}
	r.srv = httptest.NewServer(r)
	t.Cleanup(func() {
		r.unhold()
		r.srv.Close()
	})
	return r
}

func (r *hookReceiver) unhold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.release:
	default:
		close(r.release)
	}
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n, secret := r.requests, r.secret
	r.mu.Unlock()
	ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
	want, err := webhooks.Sign(secret, req.Header.Get("webhook-id"), time.Unix(ts, 0), body)
	if err != nil || req.Header.Get("webhook-signature") != want.Signature || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		r.t.Errorf("delivery %d: signature %q does not verify", n, req.Header.Get("webhook-signature"))
	}
	if n <= r.refuse {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var ce struct {
		ID   string `json:"id"`
		Data struct {
			Seq int64  `json:"seq"`
			ID  string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || ce.ID != ce.Data.ID || ce.Data.Seq == 0 {
		r.t.Errorf("delivery %d: %v: %s", n, err, body)
	}
	r.mu.Lock()
	r.got = append(r.got, delivered{Seq: ce.Data.Seq, ID: ce.Data.ID})
	r.mu.Unlock()
	if n == r.holdAt {
		close(r.held)
		<-r.release
	}
}

func (r *hookReceiver) deliveries() []delivered {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivered(nil), r.got...)
}

// subscribe makes a webhook to r on c's server and returns the seq of the
// newest event before it: the webhook gets every event after that one.
func (r *hookReceiver) subscribe(c *client) int64 {
	c.t.Helper()
	last := int64(0)
	if evs := feedAfter(c, 0); len(evs) > 0 {
		last = evs[len(evs)-1].Seq
	}
	w := c.must(http.MethodPost, "/webhooks", "application/json", `{"url":"`+r.srv.URL+`/hook"}`, 201).object()
	r.mu.Lock()
	r.secret = w["secret"].(string)
	r.mu.Unlock()
	return last
}

// feedAfter is every event after seq, from the JSON feed.
func feedAfter(c *client, after int64) []delivered {
	c.t.Helper()
	var out []delivered
	for {
		var page []delivered
		r := c.must(http.MethodGet, fmt.Sprintf("/oauth-client-events?after=%d&limit=1000", after), "", "", 200)
		if err := json.Unmarshal(r.body, &page); err != nil {
			c.t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// checkDeliveries checks that got holds every event of want (in seq
// order), that the first delivery of each comes in seq order, and that an
// event arrived again only if it is in mayRepeat.
func checkDeliveries(t *testing.T, got, want []delivered, mayRepeat map[int64]bool) {
	t.Helper()
	seen := map[int64]int{}
	var firsts []delivered
	for _, d := range got {
		if seen[d.Seq]++; seen[d.Seq] == 1 {
			firsts = append(firsts, d)
		} else if !mayRepeat[d.Seq] {
			t.Errorf("seq %d delivered %d times", d.Seq, seen[d.Seq])
		}
	}
	if len(firsts) != len(want) {
		t.Fatalf("%d events delivered, want %d", len(firsts), len(want))
	}
	for i := range want {
		if firsts[i] != want[i] {
			t.Fatalf("delivery %d (first of its event) is %+v, want %+v", i, firsts[i], want[i])
		}
	}
}

// waitDeliveries waits until r has had every event of want.
func (r *hookReceiver) waitDeliveries(want []delivered, within time.Duration) []delivered {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := r.deliveries()
		seen := map[int64]bool{}
		for _, d := range got {
			seen[d.Seq] = true
		}
		missing := 0
		for _, d := range want {
			if !seen[d.Seq] {
				missing++
			}
		}
		if missing == 0 {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d of %d events not delivered within %v", missing, len(want), within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deliveryMetrics reads the webhook series of p's /metrics: attempts ok
// and failed, and the count of the lag histogram.
func deliveryMetrics(c *client) (ok, failed, lags float64) {
	c.t.Helper()
	r := c.must(http.MethodGet, "/metrics", "", "", 200)
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		name, value, found := strings.Cut(sc.Text(), " ")
		v, err := strconv.ParseFloat(value, 64)
		if !found || err != nil {
			continue
		}
		switch name {
		case `clientele_webhook_attempts_total{outcome="ok"}`:
			ok = v
		case `clientele_webhook_attempts_total{outcome="failed"}`:
			failed = v
		case "clientele_webhook_delivery_lag_seconds_count":
			lags = v
		}
	}
	return ok, failed, lags
}

var webhookEnv = []string{"CLIENTELE_ISSUER=http://clientele.test", "CLIENTELE_ALLOW_PRIVATE_WEBHOOKS=true"}

// TestWebhookDeliveryAcrossKill kills a server with kill -9 while its
// receiver holds a delivery, after two refused attempts, and restarts it
// on the same store: every event is delivered, first deliveries in seq
// order, and only the deliveries of the run under way (the held one and
// those before it in its run, whose outcome a run writes at its end)
// arrive twice.
func TestWebhookDeliveryAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a killed server's delivery lease (15 s) on each store")
	}
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			dbURL := "sqlite://" + filepath.Join(t.TempDir(), "hooks.db")
			if store == "postgres" {
				dbURL = pgtest.URL(t)
			}
			webhookDeliveryAcrossKill(t, dbURL)
		})
	}
}

func webhookDeliveryAcrossKill(t *testing.T, dbURL string) {
	const before, after, refused, delivered = 30, 20, 2, 10
	recv := newHookReceiver(t, refused, refused+delivered+1)
	p := startProc(t, dbURL, webhookEnv...)
	c := p.client()
	last := recv.subscribe(c)
	for i := range before {
		id, _ := c.create(fmt.Sprintf("before-%d", i))
		if i%3 == 0 {
			c.must(http.MethodPatch, "/oauth-clients/"+id, "application/merge-patch+json", `{"description":"patched"}`, 200)
		}
	}
	// Two refusals (1 s and 2 s of backoff), ten deliveries, and the
	// eleventh is held by the receiver when the server dies.
	select {
	case <-recv.held:
	case <-time.After(60 * time.Second):
		t.Fatalf("the receiver got %d requests, not the %dth", len(recv.deliveries()), recv.holdAt)
	}
	if ok, failed, lags := deliveryMetrics(c); ok != delivered || failed != refused || lags != ok+failed {
		t.Errorf("metrics before the kill: %v ok, %v failed, %v lags; want %d, %d, %d", ok, failed, lags, delivered, refused, delivered+refused)
	}
	p.kill()
	recv.unhold()
	atKill := len(recv.deliveries())

	q := startProc(t, dbURL, webhookEnv...)
	c = q.client()
	for i := range after {
		c.create(fmt.Sprintf("after-%d", i))
	}
	want := feedAfter(c, last)
	if len(want) < before+after {
		t.Fatalf("the feed has %d events after the webhook, want at least %d", len(want), before+after)
	}
	// The held delivery's lease (timeout + 5 s) runs out, then it is sent
	// again; the rest follow.
	start := time.Now()
	got := recv.waitDeliveries(want, 60*time.Second)
	t.Logf("%d events, %d deliveries (%d before the kill); the rest within %v of the restart's writes",
		len(want), len(got), atKill, time.Since(start).Round(time.Millisecond))
	checkDeliveries(t, got, want, runUnderWay(recv.deliveries()[:delivered+1]))
	// The restarted server counts its own attempts: every delivery since
	// the kill, all ok, once the last answer has reached it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = recv.deliveries()
		ok, failed, lags := deliveryMetrics(c)
		if ok == float64(len(got)-atKill) && failed == 0 && lags == ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after the restart: %v ok, %v failed, %v lags; want %d ok, none failed", ok, failed, lags, len(got)-atKill)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runUnderWay are the seqs a server killed during the last of before may
// deliver again: the last webhooks' run of them (one run holds at most 64
// deliveries), the last one included.
func runUnderWay(before []delivered) map[int64]bool {
	const runMax = 64
	out := map[int64]bool{}
	for i := len(before) - 1; i >= 0 && len(out) < runMax; i-- {
		out[before[i].Seq] = true
	}
	return out
}

// TestWebhookOneDeliveryPerEventOnTwoServers runs two servers on one
// PostgreSQL with three webhooks and writes through both at once, in
// bursts, so that each webhook's queue runs dry between them and both
// servers reach for its next delivery when the next burst comes: every
// (healthy) receiver gets every event exactly once, in seq order.
func TestWebhookOneDeliveryPerEventOnTwoServers(t *testing.T) {
	dbURL := pgtest.URL(t)
	a := startProc(t, dbURL, webhookEnv...)
	b := startProc(t, dbURL, webhookEnv...)
	ca, cb := a.client(), b.client()
	var recvs []*hookReceiver
	var last int64
	for i := range 3 {
		r := newHookReceiver(t, 0, 0)
		recvs = append(recvs, r)
		if seq := r.subscribe([]*client{ca, cb}[i%2]); i == 0 {
			last = seq
		}
	}
	const writers, bursts, each = 4, 5, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := []*client{ca, cb}[w%2]
			for i := range bursts * each {
				if i%each == 0 {
					time.Sleep(300 * time.Millisecond)
				}
				r, err := c.do(http.MethodPost, "/oauth-clients", "application/json",
					fmt.Sprintf(`{"name":"w%d-%d","grantTypes":["CLIENT_CREDENTIALS"]}`, w, i))
				if err != nil || r.status != 201 {
					t.Errorf("create: %v %d %s", err, r.status, r.body)
				}
			}
		}()
	}
	wg.Wait()
	want := feedAfter(ca, last)
	if len(want) != writers*bursts*each {
		t.Fatalf("the feed has %d events after the webhooks, want %d", len(want), writers*bursts*each)
	}
	start := time.Now()
	for _, r := range recvs {
		r.waitDeliveries(want, 60*time.Second)
	}
	t.Logf("%d events to %d webhooks, all delivered %v after the last write", len(want), len(recvs), time.Since(start).Round(time.Millisecond))
	// Long enough for a second delivery by the other server to show: both
	// poll every second.
	time.Sleep(3 * time.Second)
	for i, r := range recvs {
		t.Run(fmt.Sprintf("webhook %d", i), func(t *testing.T) { checkDeliveries(t, r.deliveries(), want, nil) })
	}
	okA, failedA, lagsA := deliveryMetrics(ca)
	okB, failedB, lagsB := deliveryMetrics(cb)
	t.Logf("deliveries by server: %v and %v", okA, okB)
	if okA+okB != float64(len(recvs)*len(want)) || failedA+failedB != 0 || lagsA+lagsB != okA+okB {
		t.Errorf("metrics: %v+%v ok, %v+%v failed, %v+%v lags; want %d ok in all, none failed",
			okA, okB, failedA, failedB, lagsA, lagsB, len(recvs)*len(want))
	}
}
