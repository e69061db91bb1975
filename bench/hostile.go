package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clientele/clientele/internal/worstcase"
)

// The hostile scenario (issue 10, item 5): the ordinary spread PATCH load,
// alone and then, back to back, while hostileConns connections send
// worst-case PATCH bodies at other clients without pause. Issue 10's
// target: the ordinary PATCHes' p99 with the hostile bodies at most 2× the
// figure without them.

// hostileConns is how many connections send worst-case bodies.
const hostileConns = 8

// hostileBodies names the worst-case bodies sent: the dearest in CPU (a
// long array written, then tested; a test of 10 900 numbers) and one of
// each shape SPEC §4.3 bounds: 64 KiB at the deepest depth allowed, the
// most operations, the largest copy growth (BENCHMARKS.md, worst-case
// bodies), that last also in 1.5 KB. Every one is refused, after the work.
var hostileBodies = []string{
	"a 32 KB array written and tested",
	"64 KiB of numbers to compare",
	"merge patch at depth 32, 64 KiB",
	"100 operations at depth 32",
	"doubling copies",
	"doubling copies in 1.5 KB",
}

// hostileStats counts the answers to the hostile bodies.
type hostileStats struct {
	sent     int
	byStatus map[int]int
	errors   int
	p50, p99 time.Duration
}

// pickBodies returns the worst-case bodies named, separated by '|';
// hostileBodies when names is empty.
func pickBodies(names string) ([]worstcase.Body, error) {
	byName := map[string]worstcase.Body{}
	for _, b := range worstcase.Bodies() {
		byName[b.Name] = b
	}
	list := hostileBodies
	if names != "" {
		list = strings.Split(names, "|")
	}
	bodies := make([]worstcase.Body, len(list))
	for i, name := range list {
		b, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("no worst-case body is named %q", name)
		}
		bodies[i] = b
	}
	return bodies, nil
}

// sendHostile sends bodies in turn on hostileConns connections, each
// connection at its own client of targets, until stop is closed.
func sendHostile(base, auth string, targets []string, bodies []worstcase.Body, stop <-chan struct{}) hostileStats {
	tr := &http.Transport{MaxIdleConnsPerHost: hostileConns, MaxConnsPerHost: hostileConns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var mu sync.Mutex
	st := hostileStats{byStatus: map[int]int{}}
	var lat []time.Duration
	var wg sync.WaitGroup
	var sent atomic.Int64
	for w := 0; w < hostileConns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			target := base + "/oauth-clients/" + targets[w%len(targets)]
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Bounded like every loop of bench.
				if sent.Add(1) > 1_000_000 {
					return
				}
				b := bodies[i%len(bodies)]
				req, _ := http.NewRequest(http.MethodPatch, target, strings.NewReader(b.Body))
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", b.Media)
				t0 := time.Now()
				resp, err := client.Do(req)
				d := time.Since(t0)
				status := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				st.sent++
				lat = append(lat, d)
				if status == 0 || status >= 500 || status < 400 {
					st.errors++
				}
				st.byStatus[status]++
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		st.p50, st.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return st
}

// loadAverage is the first field of /proc/loadavg, "?" where there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// hostilePairs runs the ordinary load without and then with the hostile
// bodies, pairs times, and prints each pair and the ratio of the p99s.
// ids are the seeded clients: the hostile bodies go to the last
// hostileConns of them, the ordinary PATCHes to (up to 1 000 of) the rest.
func hostilePairs(o options, base, auth string, ids []string, pairs int, patch func(id string, n int) *http.Request) error {
	bodies, err := pickBodies(o.hostileBodies)
	if err != nil {
		return err
	}
	names := make([]string, len(bodies))
	for i, b := range bodies {
		names[i] = b.Name
	}
	targets := ids[len(ids)-hostileConns:]
	ordinary := ids[:len(ids)-hostileConns]
	if len(ordinary) > 1000 {
		ordinary = ordinary[:1000]
	}
	sc := scenario{name: fmt.Sprintf("PATCH, spread over %d other clients", len(ordinary)),
		make: func(w, i int) *http.Request { return patch(ordinary[rand.IntN(len(ordinary))], w*1_000_000+i) }}
	fmt.Printf("### Hostile bodies: %d connections of worst-case PATCH bodies (%s), each at its own client\n\n",
		hostileConns, strings.Join(names, "; "))
	fmt.Println("| pair | ordinary PATCH | load avg | req/s | p50 | p99 | errors | hostile bodies answered (status: count) | hostile p50 / p99 |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---|---:|")
	var ratios []string
	for p := 1; p <= pairs; p++ {
		la := loadAverage()
		alone := load(o, sc)
		fmt.Printf("| %d | alone | %s | %.0f | %s | %s | %d | | |\n", p, la, alone.rps(), ms(alone.p50), ms(alone.p99), alone.errors)

		la = loadAverage()
		stop := make(chan struct{})
		done := make(chan hostileStats, 1)
		go func() { done <- sendHostile(base, auth, targets, bodies, stop) }()
		time.Sleep(500 * time.Millisecond) // the hostile bodies under way first
		with := load(o, sc)
		close(stop)
		st := <-done
		var statuses []string
		for _, code := range sortedKeys(st.byStatus) {
			statuses = append(statuses, fmt.Sprintf("%d: %d", code, st.byStatus[code]))
		}
		fmt.Printf("| %d | with hostile bodies | %s | %.0f | %s | %s | %d | %s | %s / %s |\n", p, la, with.rps(), ms(with.p50), ms(with.p99),
			with.errors, strings.Join(statuses, ", "), ms(st.p50), ms(st.p99))
		if st.errors > 0 {
			fmt.Printf("\n%d hostile bodies were answered with a status outside 4xx (0: no answer)\n\n", st.errors)
		}
		if alone.p99 > 0 {
			ratios = append(ratios, fmt.Sprintf("%.2f×", float64(with.p99)/float64(alone.p99)))
		}
	}
	fmt.Printf("\nOrdinary PATCH p99 with the hostile bodies, as a multiple of the p99 without them (target ≤ 2×): %s\n\n",
		strings.Join(ratios, ", "))
	return nil
}

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
