package db

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientele/clientele/clientkeys"
	"github.com/clientele/clientele/models"
)

// An assertion's jti is accepted once per client until it expires; then
// it may be recorded again, with its new expiry. Another client's jti of
// the same value is its own.
func TestRecordAssertion(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return now }
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(time.Minute)); err != nil {
			t.Fatalf("first use: %v", err)
		}
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(time.Minute)); !errors.Is(err, clientkeys.ErrReplayed) {
			t.Fatalf("the same jti again: %v, want ErrReplayed", err)
		}
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(5*time.Minute)); !errors.Is(err, clientkeys.ErrReplayed) {
			t.Fatalf("the same jti with a later expiry: %v, want ErrReplayed", err)
		}
		if err := s.RecordAssertion(ctx, "c2", "j1", now.Add(time.Minute)); err != nil {
			t.Fatalf("another client's jti: %v", err)
		}
		// At its expiry the record guards nothing: the jti is recorded
		// anew, and guards until its new expiry.
		now = now.Add(time.Minute)
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(2*time.Minute)); err != nil {
			t.Fatalf("the jti after its record expired: %v", err)
		}
		now = now.Add(time.Minute)
		if err := s.RecordAssertion(ctx, "c1", "j1", now.Add(time.Minute)); !errors.Is(err, clientkeys.ErrReplayed) {
			t.Fatalf("the jti before its new record expired: %v, want ErrReplayed", err)
		}
		if p := s.prepared.Load(); p == nil || (*p)[recordAssertionSQL] == nil {
			t.Error("the assertion's statement is not among the prepared writes")
		}
		var n int
		if err := s.wdb.QueryRow("SELECT count(*) FROM client_assertions").Scan(&n); err != nil || n != 2 {
			t.Errorf("%d records (%v), want 2", n, err)
		}
	})
}

// Concurrent uses of one jti: exactly one is accepted, on every store,
// while other clients' jtis and PATCHes share the same group commits.
func TestRecordAssertionConcurrently(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		for i := 1; i <= 4; i++ {
			if _, err := s.CreateClient(ctx, newClient(hexID(i), fmt.Sprint("c", i)), models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		expires := s.now().Add(time.Minute)
		var wg sync.WaitGroup
		var accepted, replayed, others atomic.Int32
		for g := range 48 {
			wg.Go(func() {
				var err error
				switch g % 3 {
				case 0: // the one jti, many times
					if err = s.RecordAssertion(ctx, hexID(1), "shared", expires); err == nil {
						accepted.Add(1)
					} else if errors.Is(err, clientkeys.ErrReplayed) {
						replayed.Add(1)
						err = nil
					}
				case 1: // a jti of its own
					err = s.RecordAssertion(ctx, hexID(g%4+1), fmt.Sprint("own-", g), expires)
					others.Add(1)
				default: // a PATCH beside them
					_, err = s.UpdateClient(ctx, hexID(g%4+1), func(c *models.OAuthClient) error {
						c.RedirectURIs = append(c.RedirectURIs, fmt.Sprintf("https://a.example/%d", g))
						return nil
					}, models.WriteOptions{})
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if accepted.Load() != 1 || replayed.Load() != 15 {
			t.Errorf("the shared jti: %d accepted, %d replays; want 1 and 15", accepted.Load(), replayed.Load())
		}
		var n int
		if err := s.wdb.QueryRow("SELECT count(*) FROM client_assertions").Scan(&n); err != nil || n != 17 {
			t.Errorf("%d records (%v), want 17", n, err)
		}
		uris := 0
		for i := 1; i <= 4; i++ {
			c, err := s.GetClient(ctx, hexID(i))
			if err != nil {
				t.Fatal(err)
			}
			uris += len(c.RedirectURIs)
		}
		if uris != 16 {
			t.Errorf("%d redirect URIs stored, want 16", uris)
		}
	})
}

// Assertions that queue while the writer is busy share one transaction:
// a burst of private_key_jwt token requests is not one commit each.
func TestRecordAssertionsShareCommits(t *testing.T) {
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Hold the writer, as a long commit would.
	release, held := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	defer unblock()
	go s.write(ctx, func(*sql.Tx) error { close(held); <-release; return nil })
	<-held
	before := s.ckpt.commits.Load()
	expires := s.now().Add(time.Minute)
	const n = 24
	var wg sync.WaitGroup
	record := func(i int) {
		wg.Go(func() {
			if err := s.RecordAssertion(ctx, "c1", fmt.Sprint("j", i), expires); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor := func(what string, done func() bool) {
		for deadline := time.Now().Add(10 * time.Second); !done(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited 10 s for %s", what)
			}
		}
	}
	// The first leads a group of its own and waits for the writer...
	waits := s.wdb.Stats().WaitCount
	record(0)
	waitFor("the first to wait for the writer", func() bool { return s.wdb.Stats().WaitCount > waits })
	// ...and the others queue behind it.
	for i := 1; i < n; i++ {
		record(i)
	}
	waitFor("the others to queue", func() bool {
		s.commits.mu.Lock()
		defer s.commits.mu.Unlock()
		return len(s.commits.waiting) == n-1
	})
	unblock()
	wg.Wait()
	// The held write, the first leader's, and one for all the rest.
	if got := s.ckpt.commits.Load() - before; got != 3 {
		t.Errorf("%d commits for the held write and %d assertions, want 3", got, n)
	}
}
