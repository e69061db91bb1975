package token

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// Errors of Check: the token is dead.
var (
	ErrRevoked       = errors.New("token revoked")
	ErrClientInvalid = errors.New("the token's client is deleted, disabled, rotated or no longer holds CLIENT_CREDENTIALS")
	ErrSecretGone    = errors.New("the secret the token was issued with is deleted or expired")
)

// StateStore is what the Tracker reads.
type StateStore interface {
	GetClient(ctx context.Context, id string) (models.OAuthClient, error)
	// TokenEvents returns the unexpired events created at or after since.
	TokenEvents(ctx context.Context, since time.Time) ([]models.TokenEvent, error)
	PurgeTokenEvents(ctx context.Context, before time.Time) error
}

// TrackerOptions tune a Tracker; zero values take the defaults.
type TrackerOptions struct {
	// PollInterval is how often the store's events are read (default 1 s),
	// which bounds how late another server's change is seen.
	PollInterval time.Duration
	// MaxClients bounds the cached client states (default 100 000).
	MaxClients int
	// Clock is time.Now by default.
	Clock func() time.Time
}

const (
	// pollOverlap re-reads recent events on every poll, so that an event
	// committed late by another server is still seen.
	pollOverlap = 10 * time.Second
	purgeEvery  = time.Minute
	// longestLifetime is the longest access-token lifetime (SPEC §2), and
	// so how far back revocations matter.
	longestLifetime = 24 * time.Hour
)

// clientState is what a token check needs of its client.
type clientState struct {
	exists     bool
	usable     bool // enabled, CONFIDENTIAL, holding CLIENT_CREDENTIALS
	generation int64
	// secrets maps the id of each secret the client holds to its expiry
	// (zero for none).
	secrets map[string]time.Time
}

// secretAlive reports whether the secret id is held and unexpired at now.
func (st clientState) secretAlive(id string, now time.Time) bool {
	exp, ok := st.secrets[id]
	return ok && (exp.IsZero() || now.Before(exp))
}

type eventKey struct {
	clientID, jti string
	created       int64
}

// Tracker knows, in memory, whether issued tokens are still alive: the
// state of the clients whose tokens it has seen and the revoked token ids.
// Local writes update it at once; Run brings in other servers' changes
// within PollInterval. A check that hits the cache costs no store call.
type Tracker struct {
	store StateStore
	opts  TrackerOptions

	mu      sync.RWMutex
	clients map[string]clientState
	revoked map[string]time.Time // jti → expiry

	// changes counts local and polled changes; a load that raced with one
	// is not cached, so a stale read never overwrites a newer state.
	changes atomic.Uint64
	loads   singleflight.Group
	ready   atomic.Bool
	// wake asks Run to poll now; a pending wake absorbs further ones.
	wake chan struct{}
}

// NewTracker returns a Tracker reading s.
func NewTracker(s StateStore, opts TrackerOptions) *Tracker {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.MaxClients <= 0 {
		opts.MaxClients = 100_000
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Tracker{store: s, opts: opts, clients: map[string]clientState{}, revoked: map[string]time.Time{},
		wake: make(chan struct{}, 1)}
}

// stateOf is what a check reads of c; a change of it is what
// models.TokenStateChanged reports, and what makes the store record a
// token event for the other servers.
func stateOf(c *models.OAuthClient) clientState {
	st := clientState{exists: true, usable: c.CanGetTokens(), generation: c.TokenGeneration}
	if len(c.Secrets) > 0 {
		st.secrets = make(map[string]time.Time, len(c.Secrets))
		for _, s := range c.Secrets {
			var exp time.Time
			if s.Expires != nil {
				exp = *s.Expires
			}
			st.secrets[s.ID] = exp
		}
	}
	return st
}

// Check reports whether a verified token is still alive. A client seen for
// the first time is loaded once (concurrent checks share the load); store
// failures are returned as they are, never taken for a valid token.
func (t *Tracker) Check(ctx context.Context, c Claims) error {
	t.mu.RLock()
	_, revoked := t.revoked[c.JTI]
	st, known := t.clients[c.ClientID]
	t.mu.RUnlock()
	if revoked {
		return ErrRevoked
	}
	if !known {
		var err error
		if st, err = t.load(ctx, c.ClientID); err != nil {
			return err
		}
	}
	if !st.exists || !st.usable || st.generation != c.Generation {
		return ErrClientInvalid
	}
	if c.SecretID != "" && !st.secretAlive(c.SecretID, t.opts.Clock()) {
		return ErrSecretGone
	}
	return nil
}

// load reads one client's state from the store and caches it unless a
// change came in meanwhile.
func (t *Tracker) load(ctx context.Context, id string) (clientState, error) {
	v, err, _ := t.loads.Do(id, func() (any, error) {
		before := t.changes.Load()
		c, err := t.store.GetClient(ctx, id)
		var st clientState
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, err
		default:
			st = stateOf(&c)
		}
		t.mu.Lock()
		if t.changes.Load() == before {
			t.putLocked(id, st)
		}
		t.mu.Unlock()
		return st, nil
	})
	if err != nil {
		return clientState{}, err
	}
	return v.(clientState), nil
}

// putLocked caches st, first making room when the cache is full: dropping
// an entry is always safe, it is simply loaded again.
func (t *Tracker) putLocked(id string, st clientState) {
	if _, ok := t.clients[id]; !ok && len(t.clients) >= t.opts.MaxClients {
		drop := t.opts.MaxClients/10 + 1
		for k := range t.clients {
			delete(t.clients, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	t.clients[id] = st
}

// ClientChanged records a local write of c.
func (t *Tracker) ClientChanged(c models.OAuthClient) {
	t.mu.Lock()
	t.changes.Add(1)
	if _, ok := t.clients[c.ID]; ok {
		t.clients[c.ID] = stateOf(&c)
	}
	t.mu.Unlock()
}

// ClientDeleted records a local deletion.
func (t *Tracker) ClientDeleted(id string) {
	t.mu.Lock()
	t.changes.Add(1)
	t.putLocked(id, clientState{})
	t.mu.Unlock()
}

// Revoked records a local revocation of token jti, which expires at exp.
func (t *Tracker) Revoked(jti string, exp time.Time) {
	t.mu.Lock()
	t.revoked[jti] = exp
	t.mu.Unlock()
}

// Wake makes Run read the store's events now instead of at the next tick:
// another server announced a change. It never blocks.
func (t *Tracker) Wake() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Ready reports whether the first load of revocations is done.
func (t *Tracker) Ready() bool { return t.ready.Load() }

// Run loads every unexpired revocation, then polls the store's events every
// PollInterval, and at once on Wake, until ctx ends. A failed poll is
// retried at the next tick from the last successful one, so nothing is
// missed while the store is away.
func (t *Tracker) Run(ctx context.Context) error {
	since := t.opts.Clock().Add(-longestLifetime)
	seen := map[eventKey]time.Time{}
	var lastPurge time.Time
	tick := time.NewTicker(t.opts.PollInterval)
	defer tick.Stop()
	for {
		start := t.opts.Clock()
		if err := t.poll(ctx, since, seen); err == nil {
			since = start.Add(-pollOverlap)
			t.ready.Store(true)
			for k, created := range seen {
				if created.Before(since) {
					delete(seen, k)
				}
			}
		}
		if start.Sub(lastPurge) >= purgeEvery {
			if err := t.store.PurgeTokenEvents(ctx, start); err == nil {
				lastPurge = start
			}
			t.forgetExpired(start)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-t.wake:
		}
	}
}

func (t *Tracker) poll(ctx context.Context, since time.Time, seen map[eventKey]time.Time) error {
	events, err := t.store.TokenEvents(ctx, since)
	if err != nil {
		return err
	}
	for _, ev := range events {
		k := eventKey{clientID: ev.ClientID, jti: ev.JTI, created: ev.Created.UnixNano()}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = ev.Created
		t.mu.Lock()
		if ev.JTI != "" {
			t.revoked[ev.JTI] = ev.ExpiresAt
		} else {
			// Drop the state: the next check loads it fresh.
			t.changes.Add(1)
			delete(t.clients, ev.ClientID)
		}
		t.mu.Unlock()
	}
	return nil
}

func (t *Tracker) forgetExpired(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for jti, exp := range t.revoked {
		if exp.Before(now) {
			delete(t.revoked, jti)
		}
	}
}
