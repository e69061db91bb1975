// Command bench is Clientele's load benchmark. It builds the server, starts
// it on loopback with rate limiting off, seeds its store, and drives it with
// a fixed number of keep-alive connections for a fixed time per scenario,
// reporting requests per second, latency percentiles, errors and the
// server's peak memory — each scenario also as a ratio to GET /healthz
// measured in the same run, this machine's ceiling.
//
//	go run ./bench                 # SQLite, 1 000 clients
//	go run ./bench -matrix         # 1 000 and 100 000 clients, SQLite and PostgreSQL
//	go run ./bench -db postgres -clients 100000 -duration 10s
//
// Every loop is bounded in time and in count; traffic goes to 127.0.0.1 only.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientele/clientele/internal/pgtest"
)

const (
	adminID     = "bench-admin"
	adminSecret = "bench-admin-secret-0123456789abcdef0123"
	// seededSecret is the secret of every seeded client.
	seededSecret = "bench-client-secret-0123456789abcdef01234"
)

type options struct {
	clients     int
	backend     string
	duration    time.Duration
	conns       int
	maxRequests int
	matrix      bool
	pprofAddr   string
	loadgen     string
	server      string
	// hostileOnly runs only the ceiling and the hostile scenario,
	// hostilePairs times (bench/hostile.go).
	hostileOnly   bool
	hostilePairs  int
	hostileBodies string
	// feedRounds, when set, runs the feed's cost scenario (feedcost.go)
	// that many times instead of the usual ones.
	feedRounds int
	// feedMemory runs the feed's memory scenario (feedmem.go) instead,
	// with feedMemoryEvents events (10 000 and 100 000 when 0).
	feedMemory       bool
	feedMemoryEvents int
	// only selects the scenarios to run (bench/cpu.go).
	only *regexp.Regexp
}

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 1000, "clients to seed")
	flag.StringVar(&o.backend, "db", "sqlite", "store: sqlite or postgres (a throwaway server)")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "time per scenario")
	flag.IntVar(&o.conns, "conns", 16, "concurrent connections")
	flag.IntVar(&o.maxRequests, "max-requests", 2_000_000, "most requests per scenario")
	flag.BoolVar(&o.matrix, "matrix", false, "run 1 000 and 100 000 clients on SQLite and PostgreSQL")
	flag.StringVar(&o.pprofAddr, "pprof-addr", "", "start the server with pprof on this loopback address")
	flag.StringVar(&o.server, "server", "", "a server binary built before, to measure instead of building this tree (an A/B run)")
	flag.StringVar(&o.loadgen, "loadgen", "", "load generator: wrk (the default when installed) or go")
	flag.BoolVar(&o.hostileOnly, "hostile-only", false, "run only the ceiling and the hostile-bodies scenario")
	flag.IntVar(&o.hostilePairs, "hostile-pairs", 1, "how many times to run the hostile scenario's pair (without, then with the hostile bodies)")
	flag.BoolVar(&o.feedMemory, "feed-memory", false, "run the change feed's memory scenario (10 000 and 100 000 events read by SSE followers from the start) instead")
	flag.IntVar(&o.feedMemoryEvents, "feed-memory-events", 0, "with -feed-memory, only this many events stored (a shorter run)")
	flag.StringVar(&o.hostileBodies, "hostile-bodies", "", "the worst-case bodies the hostile scenario sends, by name, separated by '|' (default: bench/hostile.go's set)")
	flag.IntVar(&o.feedRounds, "feed", 0, "run the change feed's cost scenario this many rounds (SSE followers and webhooks, with and without) instead")
	only := flag.String("only", "", "run only the scenarios whose name matches this regular expression (and the ceiling)")
	flag.Parse()
	var err error
	if o.only, err = parseOnly(*only); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -only:", err)
		os.Exit(2)
	}
	if o.loadgen == "" {
		o.loadgen = "go"
		if wrkBin != "" {
			o.loadgen = "wrk"
		}
	}
	if o.loadgen == "wrk" && wrkBin == "" {
		fmt.Fprintln(os.Stderr, "bench: -loadgen wrk, but wrk is not installed (apt-get install wrk)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	work, err := os.MkdirTemp("", "clientele-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "clientele")
	if o.server != "" {
		bin = o.server
	} else if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v: %s", err, out)
	}
	fmt.Printf("# Clientele load benchmark\n\n%s, %d connections, %v per scenario; load generator: %s\n\n",
		machine(), o.conns, o.duration, loadGenerator(o))
	if o.feedMemory {
		counts := []int{10_000, 100_000}
		if o.feedMemoryEvents > 0 {
			counts = []int{o.feedMemoryEvents}
		}
		return feedMemory(bin, work, counts)
	}
	if o.feedRounds > 0 {
		return feedCost(o, bin, work, o.feedRounds)
	}

	type cell struct {
		backend string
		clients int
	}
	cells := []cell{{o.backend, o.clients}}
	if o.matrix {
		cells = []cell{{"sqlite", 1000}, {"sqlite", 100_000}, {"postgres", 1000}, {"postgres", 100_000}}
	}
	var pg *pgtest.Server
	defer func() {
		if pg != nil {
			pg.Stop()
			pg.Remove()
		}
	}()
	for _, c := range cells {
		dbURL := "sqlite://" + filepath.Join(work, fmt.Sprintf("bench-%d.db", c.clients))
		if c.backend == "postgres" {
			if pg == nil {
				if pg, err = pgtest.Start(); err != nil {
					return fmt.Errorf("starting PostgreSQL: %w", err)
				}
			}
			if dbURL, err = pg.NewDatabase(context.Background()); err != nil {
				return err
			}
		}
		if err := benchCell(o, bin, c.backend, dbURL, c.clients); err != nil {
			return fmt.Errorf("%s, %d clients: %w", c.backend, c.clients, err)
		}
	}
	return nil
}

func machine() string {
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	n := 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(data), "processor\t:")
	}
	return fmt.Sprintf("%d × %s, the load generator sharing the cores", n, cpu)
}

// scenario makes the i-th request of one worker.
type scenario struct {
	name string
	make func(worker, i int) *http.Request
	// fresh scenarios need a new request every time (a client assertion
	// is accepted once), so wrk cannot replay them: they run on Go's client.
	fresh bool
}

type result struct {
	name       string
	requests   int
	errors     int
	elapsed    time.Duration
	p50, p99   time.Duration
	firstError string
	// serverCPU is the server's CPU seconds during the scenario, user
	// and system; serverSys the system part of it.
	serverCPU, serverSys float64
	// reads, writes and written are the server's read and write system
	// calls and bytes written during the scenario (/proc/PID/io).
	reads, writes, written float64
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// drive runs one scenario on o.conns connections for o.duration or
// o.maxRequests requests, whichever comes first.
func drive(o options, sc scenario) result {
	tr := &http.Transport{MaxIdleConns: o.conns, MaxIdleConnsPerHost: o.conns, MaxConnsPerHost: o.conns, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var sent atomic.Int64
	lat := make([][]time.Duration, o.conns)
	errs := make([]int, o.conns)
	var firstErr atomic.Value
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && sent.Add(1) <= int64(o.maxRequests); i++ {
				req := sc.make(w, i)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil || resp.StatusCode >= 300 {
					errs[w]++
					if err == nil {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(w)
	}
	wg.Wait()
	r := result{name: sc.name, elapsed: time.Since(start)}
	var all []time.Duration
	for w := range lat {
		all = append(all, lat[w]...)
		r.errors += errs[w]
	}
	r.requests = len(all)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	if v, ok := firstErr.Load().(string); ok {
		r.firstError = v
	}
	return r
}

func benchCell(o options, bin, backend, dbURL string, clients int) error {
	seedStart := time.Now()
	key, err := newAssertionKey()
	if err != nil {
		return err
	}
	ids, err := seed(dbURL, clients, key.jwks())
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	seedTime := time.Since(seedStart)
	srv, err := start(bin, dbURL, o.pprofAddr)
	if err != nil {
		return err
	}
	defer srv.stop()
	admin, err := token(srv.base, adminID, adminSecret)
	if err != nil {
		return err
	}
	auth := "Bearer " + admin
	get := func(path string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, srv.base+path, nil)
		req.Header.Set("Authorization", auth)
		return req
	}
	patch := func(id string, n int) *http.Request {
		body := fmt.Sprintf(`[{"op":"replace","path":"/description","value":"rev %d"}]`, n)
		req, _ := http.NewRequest(http.MethodPatch, srv.base+"/oauth-clients/"+id, strings.NewReader(body))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json-patch+json")
		return req
	}
	spread := ids
	if len(spread) > 1000 {
		spread = spread[:1000]
	}
	listPath := "/oauth-clients?limit=250&filters=" + url.QueryEscape(`name sw "bench-0001"`)
	tokenForm := url.Values{"grant_type": {"client_credentials"}, "client_id": {ids[0]}, "client_secret": {seededSecret}}.Encode()
	tokenRequest := func(form func() string) func(int, int) *http.Request {
		return func(int, int) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, srv.base+"/oauth/token", strings.NewReader(form()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}
	}
	scenarios := []scenario{
		{name: "GET /healthz (ceiling)", make: func(int, int) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, srv.base+"/healthz", nil)
			return req
		}},
		{name: "GET /oauth-clients/{id}", make: func(int, int) *http.Request { return get("/oauth-clients/" + ids[rand.IntN(len(ids))]) }},
		{name: "PATCH, one hot client", make: func(w, i int) *http.Request { return patch(ids[0], w*1_000_000+i) }},
		{name: "PATCH, spread over 1 000", make: func(w, i int) *http.Request { return patch(spread[rand.IntN(len(spread))], w*1_000_000+i) }},
		{name: `GET list, name sw "…", limit=250`, make: func(int, int) *http.Request { return get(listPath) }},
		{name: "POST /oauth/token", make: tokenRequest(func() string { return tokenForm })},
		// Secret and private_key_jwt side by side on the same (Go) load
		// generator, each request with its own assertion.
		{name: "POST /oauth/token, client_secret_post, Go client", make: tokenRequest(func() string { return tokenForm }), fresh: true},
		{name: "POST /oauth/token, private_key_jwt ES256, fresh assertion, Go client", fresh: true,
			make: tokenRequest(func() string { return key.form(ids[1], srv.base+"/oauth/token") })},
	}
	if o.hostileOnly {
		ceiling := load(o, scenarios[0])
		fmt.Printf("## %s, %d clients\n\n%s: %.0f req/s\n\n", backend, clients, ceiling.name, ceiling.rps())
		return hostilePairs(o, srv.base, auth, ids, o.hostilePairs, patch)
	}
	var results []result
	spreadRate := 0.0
	for i, sc := range scenarios {
		if selected(o, sc.name, i == 0) {
			results = append(results, measured(o, srv, sc))
			if i == 3 {
				spreadRate = results[len(results)-1].rps()
			}
		}
	}
	// The same spread PATCH load again while followers read the change
	// feed as Server-Sent Events: the cost of the feed to the writers.
	feedName := fmt.Sprintf("PATCH, spread, %d SSE followers", feedFollowers)
	var feed feedResult
	if selected(o, feedName, false) {
		feed, err = followFeed(srv.base, auth, feedFollowers, func() result {
			return measured(o, srv, scenario{name: feedName,
				make: func(w, i int) *http.Request { return patch(spread[rand.IntN(len(spread))], w*1_000_000+i) }})
		})
		if err != nil {
			return err
		}
		results = append(results, feed.result)
	}
	ceiling := results[0].rps()
	fmt.Printf("## %s, %d clients (seeded in %v)\n\n", backend, clients, seedTime.Round(time.Millisecond))
	fmt.Println("| scenario | ratio to ceiling | req/s | p50 | p99 | server CPU/req (of it system) | reads / writes, written per req | errors |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Printf("| %s | %.0f %% | %.0f | %s | %s | %s | %s | %d |\n", r.name, 100*r.rps()/ceiling, r.rps(), ms(r.p50), ms(r.p99), r.cpuPerRequest(), r.ioPerRequest(), r.errors)
	}
	if feed.result.requests > 0 && spreadRate > 0 {
		fmt.Printf("\nWith %d SSE followers the spread PATCH load ran at %.0f %% of its rate without them; "+
			"each follower received %d events, and the last of them %v after the load stopped.\n",
			feedFollowers, 100*feed.result.rps()/spreadRate, feed.events, feed.lag.Round(time.Millisecond))
	}
	fmt.Printf("\nServer peak RSS: %.1f MiB\n\n", srv.peakRSS())
	if selected(o, "hostile bodies", false) {
		if err := hostilePairs(o, srv.base, auth, ids, o.hostilePairs, patch); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.firstError != "" {
			fmt.Printf("first error of %s: %s\n", r.name, r.firstError)
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
