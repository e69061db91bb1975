package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		bad  bool
	}{
		{"100/10s", Rate{100, 10 * time.Second}, false},
		{"5/1m", Rate{5, time.Minute}, false},
		{"0", Rate{}, false},
		{"x/10s", Rate{}, true},
		{"10", Rate{}, true},
		{"-1/10s", Rate{}, true},
		{"10/0s", Rate{}, true},
		{"10/10ms", Rate{}, true},
		{"10/soon", Rate{}, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("ParseRate(%q) error = %v, want error %v", tt.in, err, tt.bad)
		}
		if got != tt.want {
			t.Errorf("ParseRate(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if r, _ := ParseRate("0"); !r.Off() {
		t.Error("0 is not off")
	}
}

func TestAllowLimitsAndRecovers(t *testing.T) {
	c := newClock()
	l := New(Rate{Limit: 3, Window: 10 * time.Second}, c.now)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, retry := l.Allow("a")
	if ok {
		t.Fatal("fourth request allowed")
	}
	if retry <= 0 || retry > 20*time.Second {
		t.Errorf("retryAfter = %v", retry)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key is limited too")
	}
	// Retry-After is honest: just before it the key is still limited, after
	// it a request passes.
	c.add(retry - 2*time.Millisecond)
	if ok, _ := l.Allow("a"); ok {
		t.Errorf("allowed %v before Retry-After", 2*time.Millisecond)
	}
	c.add(4 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("refused after Retry-After")
	}
	// Two idle windows later the key has its whole budget back.
	c.add(20 * time.Second)
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("after idling, request %d refused", i)
		}
	}
}

func TestSlidingWindowHasNoEdgeBurst(t *testing.T) {
	c := newClock()
	l := New(Rate{Limit: 10, Window: 10 * time.Second}, c.now)
	c.add(9 * time.Second) // late in a window
	for i := 0; i < 10; i++ {
		l.Allow("k")
	}
	c.add(2 * time.Second) // early in the next one
	allowed := 0
	for i := 0; i < 10; i++ {
		if ok, _ := l.Allow("k"); ok {
			allowed++
		}
	}
	if allowed > 2 {
		t.Errorf("allowed %d right after a full window; a fixed window would allow 10", allowed)
	}
}

func TestBlockedCountsNothing(t *testing.T) {
	c := newClock()
	l := New(Rate{Limit: 2, Window: time.Minute}, c.now)
	if b, _ := l.Blocked("ip"); b {
		t.Fatal("unknown key blocked")
	}
	for i := 0; i < 10; i++ {
		l.Blocked("ip")
	}
	l.Allow("ip")
	if b, _ := l.Blocked("ip"); b {
		t.Fatal("blocked after one of two")
	}
	l.Allow("ip")
	b, retry := l.Blocked("ip")
	if !b || retry <= 0 {
		t.Fatalf("Blocked = %v, %v after two of two", b, retry)
	}
}

func TestOffAndNil(t *testing.T) {
	var nilLimiter *Limiter
	if ok, _ := nilLimiter.Allow("x"); !ok {
		t.Error("nil limiter refused")
	}
	l := New(Rate{}, nil)
	for i := 0; i < 1000; i++ {
		if ok, _ := l.Allow("x"); !ok {
			t.Fatal("off limiter refused")
		}
	}
}

func TestKeysAreBounded(t *testing.T) {
	c := newClock()
	l := New(Rate{Limit: 5, Window: time.Minute}, c.now)
	for i := 0; i < 3*MaxKeys; i++ {
		if i%MaxKeys == 0 {
			c.add(time.Second)
		}
		l.Allow(fmt.Sprintf("key-%d", i))
	}
	if n := l.Len(); n > MaxKeys {
		t.Errorf("holds %d keys, want at most %d", n, MaxKeys)
	}
}

func TestConcurrentUse(t *testing.T) {
	l := New(Rate{Limit: 100, Window: time.Hour}, nil)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if ok, _ := l.Allow("shared"); ok {
					allowed.Add(1)
				}
				l.Blocked("shared")
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 100 {
		t.Errorf("allowed %d of 800 concurrent requests, want exactly 100", got)
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(Rate{Limit: 1 << 30, Window: time.Minute}, nil)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("client-%d", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(keys[i%len(keys)])
			i++
		}
	})
}
