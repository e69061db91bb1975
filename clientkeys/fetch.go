package clientkeys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/clientele/clientele/internal/netguard"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Limits of a jwksUri fetch (SPEC §6).
const (
	FetchTimeout = 5 * time.Second
	MaxSetBytes  = 64 << 10
	CacheFor     = 5 * time.Minute
	RefetchAfter = 30 * time.Second
)

// Fetcher fetches and caches clients' remote key sets. A fetch never
// follows a redirect, reads at most MaxSetBytes, gives up after
// FetchTimeout, and, unless allowPrivate, connects only to a public address
// (netguard.Public) — checked on the address actually dialled, after name
// resolution, so a name that resolves to 127.0.0.1 is refused as well as a
// literal one.
type Fetcher struct {
	client  *http.Client
	now     func() time.Time
	timeout time.Duration

	mu    sync.Mutex
	cache map[string]*entry
}

type entry struct {
	mu      sync.Mutex // held during a fetch, so one fetch per URI runs at a time
	set     jwk.Set
	fetched time.Time // last fetch attempt, successful or not
	good    time.Time // last successful fetch
}

// NewFetcher returns a Fetcher. now is the clock of the cache.
func NewFetcher(allowPrivate bool, now func() time.Time) *Fetcher {
	return newFetcher(allowPrivate, now, FetchTimeout)
}

func newFetcher(allowPrivate bool, now func() time.Time, timeout time.Duration) *Fetcher {
	transport := &http.Transport{
		Proxy:                  nil, // the address checked must be the address reached
		DialContext:            netguard.Dialer(timeout, allowPrivate).DialContext,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 16 << 10,
		DisableKeepAlives:      true,
	}
	return &Fetcher{
		client: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return errRedirect
			},
		},
		now:     now,
		timeout: timeout,
		cache:   map[string]*entry{},
	}
}

var errRedirect = errors.New("redirects are not followed")

// Keys returns the key set at uri. A cached set younger than CacheFor is
// used when it holds kid (or kid is empty); otherwise the set is fetched
// again, but not more often than once per RefetchAfter. Errors are
// *Error values that name the reason and hold no key material.
func (f *Fetcher) Keys(ctx context.Context, uri, kid string) (jwk.Set, error) {
	f.mu.Lock()
	e := f.cache[uri]
	if e == nil {
		e = &entry{}
		f.cache[uri] = e
	}
	f.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	if e.set != nil && now.Sub(e.good) < CacheFor && (kid == "" || hasKid(e.set, kid)) {
		return e.set, nil
	}
	if !e.fetched.IsZero() && now.Sub(e.fetched) < RefetchAfter {
		if e.set != nil && now.Sub(e.good) < CacheFor {
			return e.set, nil // the caller finds the kid missing
		}
		return nil, refuse("the jwks_uri could not be fetched recently; retry later")
	}
	e.fetched = now
	set, err := f.fetch(ctx, uri)
	if err != nil {
		return nil, err
	}
	e.set, e.good = set, now
	return set, nil
}

// Forget drops the cached set of uri, for a client whose jwksUri changed.
func (f *Fetcher) Forget(uri string) {
	f.mu.Lock()
	delete(f.cache, uri)
	f.mu.Unlock()
}

func hasKid(set jwk.Set, kid string) bool {
	_, ok := set.LookupKeyID(kid)
	return ok
}

func (f *Fetcher) fetch(ctx context.Context, uri string) (jwk.Set, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, refuse("the jwks_uri is not a valid URL")
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, refuse("fetching the jwks_uri failed: " + fetchReason(err, f.timeout))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, refuse(fmt.Sprintf("fetching the jwks_uri failed: status %d", resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSetBytes+1))
	if err != nil {
		return nil, refuse("fetching the jwks_uri failed: " + fetchReason(err, f.timeout))
	}
	if len(body) > MaxSetBytes {
		return nil, refuse(fmt.Sprintf("the jwks_uri document is larger than %d bytes", MaxSetBytes))
	}
	if problems := Check(body); len(problems) > 0 {
		return nil, refuse("the jwks_uri document is not an acceptable key set: " + problems[0].String())
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, refuse("the jwks_uri document is not a JWK Set")
	}
	return set, nil
}

// fetchReason names why a fetch failed in words safe to show a client.
func fetchReason(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, errRedirect):
		return "it redirects, and redirects are not followed"
	case errors.Is(err, netguard.ErrNotPublic):
		return "the address is not public (loopback, private, link-local or another special-purpose block; see --allow-private-jwks-uri)"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.As(err, new(*net.DNSError)):
		return "its host name does not resolve"
	case errors.As(err, new(*net.OpError)):
		return "the connection failed"
	}
	return "the request failed"
}
