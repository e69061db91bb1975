package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// feedFollowers is how many Server-Sent Events consumers follow the feed
// in the feed scenario.
const feedFollowers = 10

type feedResult struct {
	result result
	// events is the fewest events a follower received; lag is how long
	// after the load stopped the slowest follower had the last event.
	events int64
	lag    time.Duration
}

// latestSeq pages through the feed to its end.
func latestSeq(base, auth string) (int64, error) { return latestSeqAfter(base, auth, 0) }

// latestSeqAfter pages through the feed from after to its end.
func latestSeqAfter(base, auth string, after int64) (int64, error) {
	for {
		page, err := feedSeqs(base, auth, after, 1000)
		if err != nil {
			return 0, err
		}
		if len(page) == 0 {
			return after, nil
		}
		after = page[len(page)-1]
	}
}

// feedSeqs is the seqs of one page of the feed.
func feedSeqs(base, auth string, after int64, limit int) ([]int64, error) {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/oauth-client-events?after=%d&limit=%d", base, after, limit), nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var page []struct {
		Seq int64 `json:"seq"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("reading the feed: %w", err)
	}
	seqs := make([]int64, len(page))
	for i, ev := range page {
		seqs[i] = ev.Seq
	}
	return seqs, nil
}

// followFeed runs load while n followers read the feed from its current
// end, then waits (at most 30 s) for every follower to reach the feed's
// new end.
func followFeed(base, auth string, n int, load func() result) (feedResult, error) {
	start, err := latestSeq(base, auth)
	if err != nil {
		return feedResult{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts := make([]atomic.Int64, n)
	lasts := make([]atomic.Int64, n)
	var wg sync.WaitGroup
	for f := 0; f < n; f++ {
		lasts[f].Store(start)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/oauth-client-events", nil)
		req.Header.Set("Authorization", auth)
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Last-Event-ID", strconv.FormatInt(start, 10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return feedResult{}, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return feedResult{}, fmt.Errorf("event stream: status %d", resp.StatusCode)
		}
		wg.Add(1)
		go func(f int) {
			defer wg.Done()
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if id, ok := strings.CutPrefix(line, "id: "); ok {
					seq, _ := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
					counts[f].Add(1)
					lasts[f].Store(seq)
				}
			}
		}(f)
	}
	res := load()
	stopped := time.Now()
	end, err := latestSeq(base, auth)
	if err != nil {
		return feedResult{}, err
	}
	out := feedResult{result: res, events: -1}
	deadline := stopped.Add(30 * time.Second)
	for f := 0; f < n; f++ {
		for lasts[f].Load() < end && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	out.lag = time.Since(stopped)
	for f := 0; f < n; f++ {
		if c := counts[f].Load(); out.events < 0 || c < out.events {
			out.events = c
		}
		if lasts[f].Load() < end {
			out.result.firstError = fmt.Sprintf("follower %d stopped at seq %d of %d", f, lasts[f].Load(), end)
		}
	}
	cancel()
	wg.Wait()
	return out, nil
}
