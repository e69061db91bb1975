package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The feed's cost (issue 14 item 6): the same writes with and without 10
// Server-Sent Events followers and 2 webhooks whose receivers run here on
// 127.0.0.1, back to back, throttled to 1 000 writes/s and unthrottled,
// with the server's CPU per write. Every follower and every receiver must
// get every event written meanwhile, or the run says so.

const (
	feedWebhooks  = 2
	feedRate      = 1000
	pacedWorkers  = 64
	catchUpWithin = 2 * time.Minute
)

// feedRun is one measured load: its result, the server's CPU per write
// from the load's start until every follower and receiver had everything,
// and what they received.
type feedRun struct {
	name      string
	res       result
	cpuPerOp  time.Duration
	events    int
	lag       time.Duration
	problems  []string
	dupes     int
	withWatch bool
}

// feedCost runs the scenario rounds times against a fresh SQLite store.
func feedCost(o options, bin, work string, rounds int) error {
	dbURL := "sqlite://" + filepath.Join(work, "feed.db")
	ids, err := seed(dbURL, 1000, nil)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	srv, err := start(bin, dbURL, o.pprofAddr, "--allow-private-webhooks")
	if err != nil {
		return err
	}
	defer srv.stop()
	admin, err := token(srv.base, adminID, adminSecret)
	if err != nil {
		return err
	}
	auth := "Bearer " + admin
	var rev atomic.Int64
	patch := func() *http.Request {
		body := fmt.Sprintf(`[{"op":"replace","path":"/description","value":"rev %d"}]`, rev.Add(1))
		req, _ := http.NewRequest(http.MethodPatch, srv.base+"/oauth-clients/"+ids[rand.IntN(len(ids))], strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json-patch+json")
		return req
	}
	// Unthrottled runs use Go's client as the throttled ones do, whatever
	// -loadgen says: it counts exactly the writes that were answered.
	spread := scenario{name: "PATCH, spread over 1 000", make: func(w, i int) *http.Request {
		body := fmt.Sprintf(`[{"op":"replace","path":"/description","value":"rev %d-%d-%d"}]`, rev.Add(1), w, i)
		req, _ := http.NewRequest(http.MethodPatch, srv.base+"/oauth-clients/"+ids[rand.IntN(len(ids))], strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json-patch+json")
		return req
	}}
	fmt.Printf("## Feed cost: SQLite, 1 000 clients, %d SSE followers and %d webhooks on loopback, %v per load\n\n"+
		"load average before the runs: %s\n\n", feedFollowers, feedWebhooks, o.duration, loadAverages())
	fmt.Println("| round | load | followers + webhooks | writes/s | p50 | p99 | server CPU/write | with ÷ without |")
	fmt.Println("|---|---|---|---:|---:|---:|---:|---:|")
	seq, err := latestSeqAfter(srv.base, auth, 0)
	if err != nil {
		return err
	}
	var all []feedRun
	for r := 1; r <= rounds; r++ {
		for _, throttled := range []bool{true, false} {
			var pair [2]feedRun
			for k, watched := range []bool{false, true} {
				writes := func() result {
					if throttled {
						return paced(feedRate, o.duration, patch)
					}
					return drive(o, spread)
				}
				run, end, err := measureFeed(srv, auth, seq, watched, writes)
				seq = end
				if err != nil {
					return err
				}
				run.name = "throttled 1 000/s"
				if !throttled {
					run.name = "unthrottled, " + strconv.Itoa(o.conns) + " conns"
				}
				pair[k] = run
				all = append(all, run)
			}
			for k, run := range pair {
				ratio, watch := "", "—"
				if k == 1 {
					watch = fmt.Sprintf("%d + %d", feedFollowers, feedWebhooks)
					ratio = fmt.Sprintf("%.1f %%", 100*run.res.rps()/pair[0].res.rps())
				}
				fmt.Printf("| %d | %s | %s | %.0f | %s | %s | %s | %s |\n", r, run.name, watch, run.res.rps(),
					ms(run.res.p50), ms(run.res.p99), ms(run.cpuPerOp), ratio)
			}
		}
	}
	fmt.Printf("\nload average after the runs: %s\n\n", loadAverages())
	for _, run := range all {
		if run.withWatch {
			fmt.Printf("- %s: %d events; every follower and both receivers had all of them %v after the load stopped (%d duplicate deliveries)\n",
				run.name, run.events, run.lag.Round(time.Millisecond), run.dupes)
		}
		for _, p := range run.problems {
			fmt.Printf("- **%s: %s**\n", run.name, p)
		}
		if run.res.errors > 0 {
			fmt.Printf("- **%s: %d failed writes, first: %s**\n", run.name, run.res.errors, run.res.firstError)
		}
	}
	fmt.Printf("\nServer peak RSS: %.1f MiB\n\n", srv.peakRSS())
	return nil
}

// measureFeed runs load, with followers and webhooks when watched, and
// waits until they have every event written meanwhile. start is the
// feed's newest seq before; it returns the newest after.
func measureFeed(srv *server, auth string, start int64, watched bool, load func() result) (feedRun, int64, error) {
	out := feedRun{withWatch: watched}
	var w *watchers
	var err error
	if watched {
		if w, err = watch(srv.base, auth, start, feedWebhooks); err != nil {
			return out, start, err
		}
		defer w.close()
	}
	cpu0 := srv.cpuTime()
	out.res = load()
	stopped := time.Now()
	end, err := feedEndAfter(srv.base, auth, start, out.res)
	if err != nil {
		return out, start, err
	}
	out.events = int(end - start)
	if w != nil {
		out.problems = w.waitFor(start, end, stopped.Add(catchUpWithin))
		out.lag = time.Since(stopped)
		out.dupes = w.duplicates()
	}
	if n := out.res.requests - out.res.errors; n > 0 {
		out.cpuPerOp = (srv.cpuTime() - cpu0) / time.Duration(n)
	}
	return out, end, nil
}

// feedEndAfter is the feed's newest seq after a load that began at start.
// Each successful PATCH wrote one event (each sets a new description) and
// nothing else writes, so without failures it is start plus the writes,
// which one small page confirms: paging the whole feed would cost the
// server more than the load measured.
func feedEndAfter(base, auth string, start int64, r result) (int64, error) {
	if r.errors > 0 {
		return latestSeqAfter(base, auth, start)
	}
	end := start + int64(r.requests)
	page, err := feedSeqs(base, auth, end-1, 2)
	if err != nil {
		return 0, err
	}
	if len(page) != 1 || page[0] != end {
		return 0, fmt.Errorf("%d writes after seq %d, but the events after %d are %v", r.requests, start, end-1, page)
	}
	return end, nil
}

// paced sends rate PATCHes a second for d, each at its appointed time
// (open loop), on up to pacedWorkers connections; latency counts from the
// appointed time, so a server that falls behind shows it.
func paced(rate int, d time.Duration, next func() *http.Request) result {
	n := int(float64(rate) * d.Seconds())
	tr := &http.Transport{MaxIdleConnsPerHost: pacedWorkers, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	jobs := make(chan time.Time, n)
	lat := make([][]time.Duration, pacedWorkers)
	errs := make([]int, pacedWorkers)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for k := 0; k < pacedWorkers; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for at := range jobs {
				resp, err := client.Do(next())
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[k] = append(lat[k], time.Since(at))
				if err != nil {
					errs[k]++
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(k)
	}
	began := time.Now()
	for i := 0; i < n; i++ {
		at := began.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(at))
		jobs <- at
	}
	close(jobs)
	wg.Wait()
	r := result{name: "paced", elapsed: time.Since(began)}
	var all []time.Duration
	for k := range lat {
		all = append(all, lat[k]...)
		r.errors += errs[k]
	}
	r.requests = len(all)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	if v, ok := firstErr.Load().(string); ok {
		r.firstError = v
	}
	return r
}

// cpuTime is the CPU time the server used so far (user and system).
func (s *server) cpuTime() time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which ends with the last ')':
	// utime and stime are the 14th and 15th of the whole line.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	// Linux reports clock ticks of 1/100 s (USER_HZ).
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// loadAverages is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverages() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
