package clientkeys

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func reasonOf(t *testing.T, err error) string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *Error", err)
	}
	return e.Reason
}

func TestFetcherRefusesPrivateAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a refused address was reached")
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	f := newFetcher(false, time.Now, 500*time.Millisecond)
	for _, uri := range []string{
		srv.URL + "/jwks",                    // 127.0.0.1
		"http://localhost" + port + "/jwks",  // a name that resolves to loopback
		"http://[::1]" + port + "/jwks",      // IPv6 loopback
		"http://10.0.0.1/jwks",               // private: refused before any packet leaves
		"http://169.254.169.254/latest/meta", // link-local: cloud metadata
		"http://0.0.0.0" + port + "/jwks",    // unspecified
		// The blocks the fetcher once let through (all of netguard's
		// table is tested there).
		"http://[::ffff:127.0.0.1]" + port + "/jwks", // IPv4-mapped loopback
		"http://[64:ff9b::7f00:1]/jwks",              // NAT64 of loopback
		"http://[2002:a00:1::1]/jwks",                // 6to4 of 10.0.0.1
		"http://198.18.0.1/jwks",                     // benchmarking
		"http://192.0.0.8/jwks",                      // IETF protocol assignments
		"http://240.0.0.1/jwks",                      // reserved
		"http://203.0.113.1/jwks",                    // documentation
	} {
		_, err := f.Keys(context.Background(), uri, "")
		if r := reasonOf(t, err); !strings.Contains(r, "not public") {
			t.Errorf("%s: reason %q", uri, r)
		}
	}
}

func TestFetcherCachesAndRefetchesForUnknownKid(t *testing.T) {
	keys := newKeys(t)
	body := atomic.Value{}
	body.Store(publicSet(t, keys[0]))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	c := &clock{t: now}
	f := newFetcher(true, c.now, time.Second)
	ctx := context.Background()

	if _, err := f.Keys(ctx, srv.URL, "es256"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Keys(ctx, srv.URL, "es256"); err != nil || hits.Load() != 1 {
		t.Fatalf("a cached set was fetched again: hits %d, %v", hits.Load(), err)
	}
	// The client adds a key; an assertion names it.
	body.Store(publicSet(t, keys[0], keys[1]))
	c.t = c.t.Add(RefetchAfter - time.Second)
	set, _ := f.Keys(ctx, srv.URL, "es384")
	if hits.Load() != 1 || hasKid(set, "es384") {
		t.Fatalf("refetched within %s of the last fetch: hits %d", RefetchAfter, hits.Load())
	}
	c.t = c.t.Add(2 * time.Second)
	set, err := f.Keys(ctx, srv.URL, "es384")
	if err != nil || hits.Load() != 2 || !hasKid(set, "es384") {
		t.Fatalf("an unknown kid past %s: hits %d, %v", RefetchAfter, hits.Load(), err)
	}
	// Past CacheFor, even a known kid fetches again.
	c.t = c.t.Add(CacheFor)
	if _, err := f.Keys(ctx, srv.URL, "es256"); err != nil || hits.Load() != 3 {
		t.Fatalf("past %s: hits %d, %v", CacheFor, hits.Load(), err)
	}
}

func TestFetcherBadServers(t *testing.T) {
	keys := newKeys(t)
	good := publicSet(t, keys[0])
	mux := http.NewServeMux()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/good", http.StatusFound)
	})
	mux.HandleFunc("/good", func(w http.ResponseWriter, _ *http.Request) { w.Write(good) })
	mux.HandleFunc("/huge", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"keys":[` + strings.Repeat(" ", MaxSetBytes) + `]}`))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/private", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`))
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>")) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	timeout := 300 * time.Millisecond
	cases := map[string]string{
		srv.URL + "/redirect":              "redirect",
		srv.URL + "/huge":                  "larger than",
		srv.URL + "/slow":                  "no answer within",
		srv.URL + "/500":                   "status 500",
		srv.URL + "/private":               "not an acceptable key set",
		srv.URL + "/html":                  "not an acceptable key set",
		downURL:                            "connection failed",
		"http://no-such-host.invalid/jwks": "does not resolve",
	}
	for uri, want := range cases {
		f := newFetcher(true, time.Now, timeout)
		start := time.Now()
		_, err := f.Keys(context.Background(), uri, "")
		took := time.Since(start)
		if r := reasonOf(t, err); !strings.Contains(r, want) {
			t.Errorf("%s: reason %q, want %q", uri, r, want)
		}
		if took > timeout+3*time.Second {
			t.Errorf("%s took %s, more than the timeout", uri, took)
		}
	}
}
