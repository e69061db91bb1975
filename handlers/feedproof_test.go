package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientele/clientele/internal/pgtest"
)

// TestFeedNeverMissesAnEvent is SPEC §10's proof on PostgreSQL: 8 writers
// on two servers make 2 000 changes, each commit delayed at random after
// its seq is taken, while 3 consumers follow the feed — two by Server-Sent
// Events from a third server that is restarted half-way (they resume with
// Last-Event-ID), one by paging both writing servers in turn. Each sees
// every event exactly once, in seq order.
func TestFeedNeverMissesAnEvent(t *testing.T) {
	u := pgtest.URL(t)
	a, b := newEnvWith(t, envOptions{dbURL: u}), newEnvWith(t, envOptions{dbURL: u})
	delay := func() time.Duration { return time.Duration(rand.IntN(2000)) * time.Microsecond }
	a.store.DelayCommits(delay)
	b.store.DelayCommits(delay)
	srvA, srvB := httptest.NewServer(a.e), httptest.NewServer(b.e)
	defer srvA.Close()
	defer srvB.Close()
	start := a.lastSeq()

	// The server the SSE consumers follow; replaced half-way.
	c := newEnvWith(t, envOptions{dbURL: u})
	srvC := httptest.NewServer(c.e)
	var sseURL atomic.Value
	sseURL.Store(srvC.URL)
	token := c.adminToken

	const writers, each = 8, 250
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type consumer struct {
		name string
		seen []int64
		last atomic.Int64
	}
	consumers := []*consumer{{name: "sse-1"}, {name: "sse-2"}, {name: "pager"}}
	var follow sync.WaitGroup
	for _, cons := range consumers[:2] {
		follow.Add(1)
		go func(cons *consumer) {
			defer follow.Done()
			cons.last.Store(start)
			for ctx.Err() == nil {
				followSSE(ctx, sseURL.Load().(string), token, cons.last.Load(), func(seq int64) {
					cons.seen = append(cons.seen, seq)
					cons.last.Store(seq)
				})
				time.Sleep(20 * time.Millisecond)
			}
		}(cons)
	}
	follow.Add(1)
	go func(cons *consumer) {
		defer follow.Done()
		cons.last.Store(start)
		bases := []string{srvA.URL, srvB.URL}
		for i := 0; ctx.Err() == nil; i++ {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/oauth-client-events?after=%d&limit=100", bases[i%2], cons.last.Load()), nil)
			req.Header.Set("Authorization", "Bearer "+a.adminToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			var page []struct {
				Seq int64 `json:"seq"`
			}
			_ = json.NewDecoder(res.Body).Decode(&page)
			res.Body.Close()
			for _, ev := range page {
				cons.seen = append(cons.seen, ev.Seq)
				cons.last.Store(ev.Seq)
			}
			if len(page) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}(consumers[2])

	var write sync.WaitGroup
	var done atomic.Int64
	for w := 0; w < writers; w++ {
		e, base := a, srvA.URL
		if w%2 == 1 {
			e, base = b, srvB.URL
		}
		id := e.create(basicClient(fmt.Sprint("writer ", w)))["id"].(string)
		write.Add(1)
		go func(w int) {
			defer write.Done()
			for i := 0; i < each; i++ {
				req, _ := http.NewRequest(http.MethodPatch, base+"/oauth-clients/"+id,
					strings.NewReader(fmt.Sprintf(`{"description":"w%d-%d"}`, w, i)))
				req.Header.Set("Content-Type", "application/merge-patch+json")
				req.Header.Set("Authorization", "Bearer "+e.adminToken)
				res, err := http.DefaultClient.Do(req)
				if err != nil || res.StatusCode != 200 {
					t.Errorf("writer %d, change %d: %v %v", w, i, err, res)
					return
				}
				res.Body.Close()
				done.Add(1)
			}
		}(w)
	}
	// Restart the followed server half-way: its streams break, and the
	// consumers resume on a new server with Last-Event-ID.
	for done.Load() < writers*each/2 && !t.Failed() {
		time.Sleep(10 * time.Millisecond)
	}
	srvC.CloseClientConnections()
	srvC.Close()
	c2 := newEnvWith(t, envOptions{dbURL: u})
	srvC2 := httptest.NewServer(c2.e)
	defer func() { srvC2.CloseClientConnections(); srvC2.Close() }()
	sseURL.Store(srvC2.URL)
	write.Wait()

	var all []int64
	for after := start; ; {
		evs, err := a.store.Events(context.Background(), after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			all = append(all, ev.Seq)
			after = ev.Seq
		}
	}
	if len(all) < writers*each {
		t.Fatalf("%d events stored after %d changes", len(all), writers*each)
	}
	target := all[len(all)-1]
	deadline := time.Now().Add(30 * time.Second)
	for _, cons := range consumers {
		for cons.last.Load() < target && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	srvC2.CloseClientConnections()
	follow.Wait()
	for _, cons := range consumers {
		if len(cons.seen) != len(all) {
			t.Errorf("%s saw %d events, want %d", cons.name, len(cons.seen), len(all))
			continue
		}
		for i := range all {
			if cons.seen[i] != all[i] {
				t.Errorf("%s: event %d is seq %d, want %d", cons.name, i, cons.seen[i], all[i])
				break
			}
		}
	}
	t.Logf("%d events; each consumer saw all of them once, in order, across a restart", len(all))
}

// followSSE reads the event stream of base after seq until it breaks or
// ctx ends, calling got with each event's seq.
func followSSE(ctx context.Context, base, token string, after int64, got func(int64)) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth-client-events", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return
	}
	r := bufio.NewReader(res.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if id, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "id: "); ok {
			seq, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				return
			}
			got(seq)
		}
	}
}
