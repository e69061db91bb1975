// Package ratelimit limits requests per key (a client id, a remote address)
// with a sliding window over two fixed windows, as Cloudflare and Kong do:
// cheap, memory-bounded and without the burst at window edges of a plain
// fixed window.
package ratelimit

import (
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a number of requests per window. The zero Rate is off.
type Rate struct {
	Limit  int
	Window time.Duration
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.Limit <= 0 || r.Window <= 0 }

// String is the form ParseRate reads.
func (r Rate) String() string {
	if r.Off() {
		return "0"
	}
	return strconv.Itoa(r.Limit) + "/" + r.Window.String()
}

// ParseRate parses "100/10s", "5/1m" or "0" (off).
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "off" {
		return Rate{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/DURATION such as 100/10s, or 0 for off", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 1 {
		return Rate{}, fmt.Errorf("rate %q: the count must be a positive integer", s)
	}
	window, err := time.ParseDuration(w)
	if err != nil || window < time.Second {
		return Rate{}, fmt.Errorf("rate %q: the window must be a duration of at least 1s, such as 10s or 1m", s)
	}
	return Rate{Limit: limit, Window: window}, nil
}

const (
	shards = 64
	// MaxKeys bounds the memory of a Limiter: past it, each shard forgets
	// its keys that have been idle longest.
	MaxKeys = 100_000
)

// Limiter counts requests per key. It is safe for concurrent use.
type Limiter struct {
	rate   Rate
	now    func() time.Time
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu   sync.Mutex
	keys map[string]*counter
}

// counter holds the counts of the current and the previous window.
type counter struct {
	windowStart int64 // start of the current window, in ns
	current     int
	previous    int
}

// New returns a limiter for r; clock is time.Now when nil.
func New(r Rate, clock func() time.Time) *Limiter {
	if clock == nil {
		clock = time.Now
	}
	l := &Limiter{rate: r, now: clock, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].keys = make(map[string]*counter)
	}
	return l
}

func (l *Limiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%shards]
}

// estimate returns the sliding-window count of c at now, after rolling c
// forward to now's window.
func (l *Limiter) estimate(c *counter, now int64) float64 {
	w := int64(l.rate.Window)
	start := now - now%w
	switch {
	case start == c.windowStart:
	case start-c.windowStart == w:
		c.previous, c.current = c.current, 0
		c.windowStart = start
	default:
		c.previous, c.current = 0, 0
		c.windowStart = start
	}
	elapsed := float64(now-start) / float64(w)
	return float64(c.previous)*(1-elapsed) + float64(c.current)
}

// retryAfter is how long until one more request fits (estimate+1 ≤ limit)
// if no request comes in meanwhile.
func (l *Limiter) retryAfter(c *counter, now int64) time.Duration {
	w := float64(l.rate.Window)
	start := float64(c.windowStart)
	target := float64(l.rate.Limit - 1)
	cur, prev := float64(c.current), float64(c.previous)
	// Within this window: prev*(1-f) + cur ≤ target, f the elapsed fraction.
	if prev > 0 && cur <= target {
		t := start + w*(1-(target-cur)/prev)
		return time.Duration(t-float64(now)) + time.Millisecond
	}
	// In the next window: cur*(1-x) ≤ target.
	x := 1 - target/cur
	return time.Duration(start+w+w*x-float64(now)) + time.Millisecond
}

// Allow counts one request for key. When the key is over its limit it
// returns false and how long until a request would be allowed; the request
// is not counted then.
func (l *Limiter) Allow(key string) (bool, time.Duration) { return l.take(key, true) }

// Blocked reports, without counting anything, whether key is at its limit
// now, and if so for how long.
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	ok, retry := l.take(key, false)
	return !ok, retry
}

// take reports whether one more request of key fits, counting it when
// count is set and it fits.
func (l *Limiter) take(key string, count bool) (bool, time.Duration) {
	if l == nil || l.rate.Off() {
		return true, 0
	}
	now := l.now().UnixNano()
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.keys[key]
	if c == nil {
		if !count {
			return true, 0
		}
		s.evictIfFull(now, int64(l.rate.Window))
		c = &counter{windowStart: now - now%int64(l.rate.Window)}
		s.keys[key] = c
	}
	if l.estimate(c, now)+1 > float64(l.rate.Limit) {
		return false, l.retryAfter(c, now)
	}
	if count {
		c.current++
	}
	return true, 0
}

// evictIfFull makes room in a full shard: first every key idle for two
// windows (it counts nothing any more), then, if that is not enough, the
// half with the oldest windows.
func (s *shard) evictIfFull(now, window int64) {
	if len(s.keys) < MaxKeys/shards {
		return
	}
	for k, c := range s.keys {
		if now-c.windowStart >= 2*window {
			delete(s.keys, k)
		}
	}
	if len(s.keys) < MaxKeys/shards {
		return
	}
	var oldest int64 = now
	for _, c := range s.keys {
		if c.windowStart < oldest {
			oldest = c.windowStart
		}
	}
	cut := oldest + (now-oldest)/2
	for k, c := range s.keys {
		if c.windowStart <= cut {
			delete(s.keys, k)
		}
	}
}

// Len is the number of keys held, for tests and metrics.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.keys)
		s.mu.Unlock()
	}
	return n
}
