package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The watchers of the feed cost scenario (feedcost.go): Server-Sent Events
// followers and webhook receivers on 127.0.0.1, each recording the seqs it
// got, so that a run can tell whether every one of them had every event.

// watchers are the followers and webhook receivers of one run.
type watchers struct {
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	followers []*seqSet
	receivers []*seqSet
	servers   []*http.Server
	hooks     []string
	base      string
	auth      string
}

// seqSet is what one watcher received: how many times each seq.
type seqSet struct {
	mu   sync.Mutex
	seen map[int64]int
	// order is false once a seq came after a larger one.
	order bool
	last  int64
}

func newSeqSet() *seqSet { return &seqSet{seen: map[int64]int{}, order: true} }

func (s *seqSet) add(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[seq]++
	if seq <= s.last {
		s.order = false
	}
	s.last = seq
}

// missing counts the seqs in (start, end] not received, and the extra
// receipts of those received more than once.
func (s *seqSet) missing(start, end int64) (missing, dupes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := start + 1; seq <= end; seq++ {
		switch n := s.seen[seq]; {
		case n == 0:
			missing++
		case n > 1:
			dupes += n - 1
		}
	}
	return missing, dupes
}

// watch subscribes hooks receivers on 127.0.0.1 and opens feedFollowers
// event streams after start.
func watch(base, auth string, start int64, hooks int) (*watchers, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchers{cancel: cancel, base: base, auth: auth}
	for i := 0; i < hooks; i++ {
		got := newSeqSet()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			w.close()
			return nil, err
		}
		hs := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			var ce struct {
				Data struct {
					Seq int64 `json:"seq"`
				} `json:"data"`
			}
			if err := json.NewDecoder(r.Body).Decode(&ce); err != nil {
				rw.WriteHeader(http.StatusBadRequest)
				return
			}
			got.add(ce.Data.Seq)
			rw.WriteHeader(http.StatusNoContent)
		})}
		go func() { _ = hs.Serve(ln) }()
		w.servers, w.receivers = append(w.servers, hs), append(w.receivers, got)
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks", strings.NewReader(
			fmt.Sprintf(`{"url":"http://%s/hook","eventTypes":[],"excludeActors":[]}`, ln.Addr())))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.close()
			return nil, err
		}
		var hook struct {
			ID string `json:"id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&hook)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusCreated {
			w.close()
			return nil, fmt.Errorf("creating a webhook: status %d: %v", resp.StatusCode, err)
		}
		w.hooks = append(w.hooks, hook.ID)
	}
	for f := 0; f < feedFollowers; f++ {
		got := newSeqSet()
		w.followers = append(w.followers, got)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth-client-events", nil)
		req.Header.Set("Authorization", auth)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", strconv.FormatInt(start, 10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.close()
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			w.close()
			return nil, fmt.Errorf("event stream: status %d", resp.StatusCode)
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if id, ok := strings.CutPrefix(line, "id: "); ok {
					seq, _ := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
					got.add(seq)
				}
			}
		}()
	}
	return w, nil
}

// waitFor waits until every follower and receiver has every seq in
// (start, end], or deadline, and says what is missing.
func (w *watchers) waitFor(start, end int64, deadline time.Time) []string {
	all := append(append([]*seqSet(nil), w.followers...), w.receivers...)
	for time.Now().Before(deadline) {
		done := true
		for _, s := range all {
			if m, _ := s.missing(start, end); m > 0 {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	var problems []string
	for i, s := range all {
		name := fmt.Sprintf("follower %d", i)
		if i >= len(w.followers) {
			name = fmt.Sprintf("webhook receiver %d", i-len(w.followers))
		}
		m, d := s.missing(start, end)
		if m > 0 {
			problems = append(problems, fmt.Sprintf("%s lacks %d of %d events", name, m, end-start))
		}
		if i < len(w.followers) && (d > 0 || !s.order) {
			problems = append(problems, fmt.Sprintf("%s got an event twice or out of order", name))
		}
	}
	return problems
}

func (w *watchers) duplicates() int {
	n := 0
	for _, s := range w.receivers {
		s.mu.Lock()
		for _, c := range s.seen {
			n += c - 1
		}
		s.mu.Unlock()
	}
	return n
}

// close ends the streams, deletes the webhooks and stops the receivers.
func (w *watchers) close() {
	w.cancel()
	w.wg.Wait()
	for _, id := range w.hooks {
		req, _ := http.NewRequest(http.MethodDelete, w.base+"/webhooks/"+id, nil)
		req.Header.Set("Authorization", w.auth)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	for _, hs := range w.servers {
		_ = hs.Close()
	}
}
