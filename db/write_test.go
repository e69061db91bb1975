package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
)

func TestUnavailableByErrorType(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"sqlite busy", sqlite3.Error{Code: sqlite3.ErrBusy}, true},
		{"sqlite locked, wrapped", fmt.Errorf("update: %w", sqlite3.Error{Code: sqlite3.ErrLocked}), true},
		{"sqlite I/O error", sqlite3.Error{Code: sqlite3.ErrIoErr}, true},
		{"sqlite constraint", sqlite3.Error{Code: sqlite3.ErrConstraint}, false},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"postgres shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"postgres syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"pgx closed connection", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"network", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"deadline", context.DeadlineExceeded, true},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), true},
		// Text is not a type: a message that merely reads like an outage is not one.
		{"message only", errors.New("conn closed: failed to connect"), false},
	} {
		if got := unavailable(tc.err); got != tc.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestDuplicateByErrorType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sqlite3.Error{Code: sqlite3.ErrConstraint, ExtendedCode: sqlite3.ErrConstraintPrimaryKey}, true},
		{sqlite3.Error{Code: sqlite3.ErrConstraint, ExtendedCode: sqlite3.ErrConstraintNotNull}, false},
		{&pgconn.PgError{Code: "23505"}, true},
		{&pgconn.PgError{Code: "23502"}, false},
		{errors.New("UNIQUE constraint failed"), false},
	} {
		if got := duplicate(tc.err); got != tc.want {
			t.Errorf("duplicate(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestDryRunStoresNothing(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, err := s.CreateClient(ctx, newClient(hexID(1), "dry"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		got, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error { x.Enabled = false; return nil }, models.WriteOptions{DryRun: true})
		if err != nil || got.Enabled || got.TokenGeneration != 1 || !got.Modified.After(c.Modified) {
			t.Errorf("dry-run answer %+v (%v)", got, err)
		}
		if stored, _ := s.GetClient(ctx, c.ID); !stored.Enabled || stored.TokenGeneration != 0 || !stored.Modified.Equal(c.Modified) {
			t.Errorf("a dry run stored %+v", stored)
		}
		if evs, _ := s.TokenEvents(ctx, time.Time{}); len(evs) != 0 {
			t.Errorf("a dry run recorded token events %+v", evs)
		}
		if _, err := s.CreateClient(ctx, newClient(hexID(2), "never"), models.WriteOptions{DryRun: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetClient(ctx, hexID(2)); !apierrors.IsNotFound(err) {
			t.Errorf("a dry-run create stored the client: %v", err)
		}
	})
}

// Updates of one client that fail, pass, dry-run and write, all at once:
// each gets its own answer, and every write is kept.
func TestMixedConcurrentUpdates(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, err := s.CreateClient(ctx, newClient(hexID(1), "mixed"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 60
		refused := apierrors.NewPreconditionFailed("refused")
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				uri := fmt.Sprintf("https://w%d.example/cb", i)
				_, errs[i] = s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
					x.RedirectURIs = append(x.RedirectURIs, uri)
					if i%3 == 1 {
						return refused
					}
					return nil
				}, models.WriteOptions{DryRun: i%3 == 2})
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			if want := error(nil); i%3 == 1 {
				if !errors.Is(err, refused) {
					t.Errorf("update %d: %v, want its own error", i, err)
				}
			} else if err != want {
				t.Errorf("update %d: %v", i, err)
			}
		}
		got, _ := s.GetClient(ctx, c.ID)
		want := map[string]bool{}
		for i := 0; i < n; i += 3 {
			want[fmt.Sprintf("https://w%d.example/cb", i)] = true
		}
		if len(got.RedirectURIs) != len(want) {
			t.Errorf("stored %d URIs, want %d: %v", len(got.RedirectURIs), len(want), got.RedirectURIs)
		}
		for _, u := range got.RedirectURIs {
			if !want[u] {
				t.Errorf("stored %s, which was refused or a dry run", u)
			}
		}
	})
}

// Two stores on one database stand for two servers: their updates of one
// client meet only in the compare-and-swap, and none is lost.
func TestTwoStoresLoseNothing(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			u := "sqlite://" + filepath.Join(t.TempDir(), "c.db")
			if b == "postgres" {
				u = pgtest.URL(t)
			}
			var stores [2]*Store
			for i := range stores {
				s, err := Open(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			c, err := stores[0].CreateClient(ctx, newClient(hexID(1), "shared"), models.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			const writers = 40
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					_, err := stores[i%2].UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
						x.RedirectURIs = append(x.RedirectURIs, fmt.Sprintf("https://w%d.example/cb", i))
						return nil
					}, models.WriteOptions{})
					errs <- err
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			got, _ := stores[1].GetClient(ctx, c.ID)
			if len(got.RedirectURIs) != writers {
				t.Errorf("stored %d URIs, want %d", len(got.RedirectURIs), writers)
			}
		})
	}
}

// A stale snapshot never overwrites: an update read before another
// server's write applies again on the newer row.
func TestCompareAndSwapRetries(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, err := s.CreateClient(ctx, newClient(hexID(1), "cas"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		got, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
			calls++
			if calls == 1 {
				// Another writer changes the row after this snapshot was read.
				if err := s.write(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, s.rebind("UPDATE oauth_clients SET name = ?, version = version + 1 WHERE id = ?"), "renamed", c.ID)
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			x.Tenant = &[]string{"t"}[0]
			return nil
		}, models.WriteOptions{})
		if err != nil || calls != 2 || got.Name != "renamed" || *got.Tenant != "t" {
			t.Errorf("after a concurrent write: %d calls, %+v (%v)", calls, got, err)
		}
		if stored, _ := s.GetClient(ctx, c.ID); stored.Name != "renamed" || stored.Tenant == nil {
			t.Errorf("stored %+v", stored)
		}
	})
}

// When other writers win every compare-and-swap, the batch runs once more
// with the row locked, and succeeds.
func TestLockedFallback(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c, err := s.CreateClient(ctx, newClient(hexID(1), "contended"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		got, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
			calls++
			if calls <= optimisticAttempts {
				if err := s.TouchLastUsed(ctx, c.ID, time.Now().Add(time.Duration(calls)*48*time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			x.RedirectURIs = append(x.RedirectURIs, "https://kept.example/cb")
			return nil
		}, models.WriteOptions{})
		if err != nil || calls != optimisticAttempts+1 || len(got.RedirectURIs) != 1 {
			t.Errorf("%d calls, %+v (%v)", calls, got, err)
		}
		if stored, _ := s.GetClient(ctx, c.ID); len(stored.RedirectURIs) != 1 || stored.LastUsed == nil {
			t.Errorf("stored %+v", stored)
		}
	})
}

// goroutinesCreated is how many goroutines the process has started.
func goroutinesCreated() uint64 {
	m := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// On SQLite a write's BEGIN and a group commit's statements run on the
// leader's goroutine (Store.uninterrupted). With the caller's ctx,
// go-sqlite3 starts a goroutine beside each statement, to interrupt it:
// eight goroutines an update in all. What is left are database/sql's own
// watchers, of the transaction and of the seq's read in it: two.
func TestGroupCommitRunsItsStatementsOnTheLeader(t *testing.T) {
	_, _, update := openRevised(t)
	update(0) // prepares the fixed statements
	const updates = 200
	before := goroutinesCreated()
	for i := 1; i <= updates; i++ {
		update(i)
	}
	if per := float64(goroutinesCreated()-before) / updates; per > 2.5 {
		t.Errorf("%.2f goroutines started per update, want 2", per)
	}
}

// Every change of what a token check reads of a client records a token
// event, so that other servers read it again: those that end tokens and
// those that let them live again; nothing else does.
func TestTokenStateChanges(t *testing.T) {
	soon, later := time.Unix(100, 0), time.Unix(200, 0)
	base := newClient(hexID(1), "c")
	base.Secrets = []models.Secret{{ID: "a", Expires: &later}, {ID: "b"}}
	restore := events.Origin{Type: events.Restored}
	tests := []struct {
		name   string
		mutate func(*models.OAuthClient)
		want   bool
	}{
		{"the description", func(c *models.OAuthClient) { c.Description = new("d") }, false},
		{"a secret's lastUsed", func(c *models.OAuthClient) { c.Secrets[1].LastUsed = &soon }, false},
		{"a secret added", func(c *models.OAuthClient) { c.Secrets = append(c.Secrets, models.Secret{ID: "c"}) }, true},
		{"a secret deleted", func(c *models.OAuthClient) { c.Secrets = c.Secrets[1:] }, true},
		{"a grace shortened", func(c *models.OAuthClient) { c.Secrets[0].Expires = &soon }, true},
		{"an expiry given", func(c *models.OAuthClient) { c.Secrets[1].Expires = &later }, true},
		{"a grace lifted", func(c *models.OAuthClient) { c.Secrets[0].Expires = nil }, true},
		{"disabled", func(c *models.OAuthClient) { c.Enabled = false }, true},
		{"CLIENT_CREDENTIALS lost", func(c *models.OAuthClient) { c.GrantTypes = []models.GrantType{models.GrantAuthorizationCode} }, true},
		{"the token generation bumped", func(c *models.OAuthClient) { c.TokenGeneration++ }, true},
	}
	for _, tt := range tests {
		after := base.Clone()
		tt.mutate(&after)
		if got := tokenStateChanges(clientChange{before: &base, after: &after}); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
		// The way back is a change of the same kind.
		if got := tokenStateChanges(clientChange{before: &after, after: &base}); got != tt.want {
			t.Errorf("%s, undone: %v, want %v", tt.name, got, tt.want)
		}
	}
	if tokenStateChanges(clientChange{after: &base}) {
		t.Error("a create records a token event")
	}
	if !tokenStateChanges(clientChange{after: &base, origin: restore}) {
		t.Error("a restore records no token event")
	}
	if !tokenStateChanges(clientChange{before: &base}) {
		t.Error("a delete records no token event")
	}
}
