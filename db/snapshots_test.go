package db

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
)

// A cached snapshot is the client exactly as reading its row gives it, at
// the row's version: answers and ETags computed from it are a read's.
func TestCachedSnapshotIsTheStoredClient(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		c := newClient(hexID(1), "Cached")
		d, tenant := "a description", "acme"
		c.Description, c.Tenant = &d, &tenant
		c.RedirectURIs = []string{"https://a.example/cb", "https://b.example/cb"}
		c.Scope = []string{"sp:oauth-client:read"}
		c.Secrets = append(c.Secrets, models.Secret{ID: "s-2", Hash: []byte("h-2"), Created: time.Unix(60, 0).UTC()})
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		for i, change := range []func(*models.OAuthClient){
			func(x *models.OAuthClient) { x.Description = nil },
			func(x *models.OAuthClient) { x.RedirectURIs = nil; x.Name = "Renamed" },
			func(x *models.OAuthClient) { x.Secrets = x.Secrets[:1]; x.Enabled = !x.Enabled },
		} {
			if _, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
				change(x)
				return nil
			}, models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			cached, cv, ok := s.snapshots.get(c.ID)
			if !ok {
				t.Fatalf("change %d: nothing cached", i)
			}
			read, rv, err := s.readVersioned(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cv != rv || !reflect.DeepEqual(cached, read) {
				t.Errorf("change %d: cached at version %d\n%+v\nread at version %d\n%+v", i, cv, cached, rv, read)
			}
		}
		if err := s.DeleteClient(ctx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := s.snapshots.get(c.ID); ok {
			t.Error("a deleted client's snapshot is still cached")
		}
	})
}

// Another server's write makes this server's cached snapshot stale: an
// update then applies again on the row as stored, and an answer that
// writes nothing (a failed check, a no-op) is never computed from the
// stale snapshot alone.
func TestStaleSnapshotIsNeverAnAnswer(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			u := "sqlite://" + filepath.Join(t.TempDir(), "c.db")
			if b == "postgres" {
				u = pgtest.URL(t)
			}
			var a, other *Store
			for _, s := range []**Store{&a, &other} {
				var err error
				if *s, err = Open(ctx, u); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { (*s).Close() })
			}
			c, err := a.CreateClient(ctx, newClient(hexID(1), "stale"), models.WriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			setDescription := func(s *Store, d string) {
				t.Helper()
				if _, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
					x.Description = &d
					return nil
				}, models.WriteOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			setDescription(a, "from a") // cached by a
			setDescription(other, "from the other server")
			errWrong := errors.New("wrong description")
			check := func(x *models.OAuthClient) error {
				if x.Description == nil {
					return fmt.Errorf("%w: none", errWrong)
				}
				if *x.Description != "from the other server" {
					return fmt.Errorf("%w: %q", errWrong, *x.Description)
				}
				return nil
			}
			// A check that passes only on the stored state, writing nothing.
			got, err := a.UpdateClient(ctx, c.ID, check, models.WriteOptions{})
			if err != nil || got.Description == nil || *got.Description != "from the other server" {
				t.Errorf("no-op update: %+v, %v", got, err)
			}
			// A dry run, which writes nothing either.
			setDescription(a, "from a again")
			setDescription(other, "from the other server")
			if _, err := a.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
				if err := check(x); err != nil {
					return err
				}
				x.Name = "dry"
				return nil
			}, models.WriteOptions{DryRun: true}); err != nil {
				t.Errorf("dry run: %v", err)
			}
			// A change: the other server's description survives it.
			setDescription(a, "from a, once more")
			setDescription(other, "from the other server")
			got, err = a.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error {
				x.Name = "renamed by a"
				return nil
			}, models.WriteOptions{})
			if err != nil || got.Name != "renamed by a" || got.Description == nil || *got.Description != "from the other server" {
				t.Errorf("change: %+v, %v", got, err)
			}
		})
	}
}

// Updates of many clients at once share commits (group commit) and lose
// nothing: each client ends with every one of its updates applied, and
// each update has its own event.
func TestGroupCommitLosesNothing(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		const clients, perClient = 20, 15
		for i := 0; i < clients; i++ {
			if _, err := s.CreateClient(ctx, newClient(hexID(i+1), "group"), models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		before, err := s.LastEventSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < clients; i++ {
			for j := 0; j < perClient; j++ {
				wg.Add(1)
				go func(id string, j int) {
					defer wg.Done()
					if _, err := s.UpdateClient(ctx, id, func(x *models.OAuthClient) error {
						x.RedirectURIs = append(x.RedirectURIs, fmt.Sprintf("https://a.example/%d", j))
						return nil
					}, models.WriteOptions{}); err != nil {
						t.Error(err)
					}
				}(hexID(i+1), j)
			}
		}
		wg.Wait()
		for i := 0; i < clients; i++ {
			c, err := s.GetClient(ctx, hexID(i+1))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.RedirectURIs) != perClient {
				t.Errorf("client %d has %d of %d redirect URIs", i+1, len(c.RedirectURIs), perClient)
			}
		}
		evs, err := s.Events(ctx, before, 10*clients*perClient)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != clients*perClient {
			t.Errorf("%d events for %d updates", len(evs), clients*perClient)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Seq != evs[i-1].Seq+1 {
				t.Errorf("seq %d follows %d", evs[i].Seq, evs[i-1].Seq)
			}
		}
	})
}

// A client deleted and created again by another server starts its row's
// version over: this server's cached snapshot of the old client, at the
// same version number, must still be found stale.
func TestRecreatedClientIsNotTheCachedOne(t *testing.T) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) {
			u := "sqlite://" + filepath.Join(t.TempDir(), "c.db")
			if b == "postgres" {
				u = pgtest.URL(t)
			}
			var a, other *Store
			for _, s := range []**Store{&a, &other} {
				var err error
				if *s, err = Open(ctx, u); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { (*s).Close() })
			}
			old := newClient(hexID(1), "old")
			d := "the old client's"
			old.Description = &d
			if _, err := a.CreateClient(ctx, old, models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			rename := func(s *Store, name string) models.OAuthClient {
				t.Helper()
				got, err := s.UpdateClient(ctx, old.ID, func(x *models.OAuthClient) error {
					x.Name = name
					return nil
				}, models.WriteOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			rename(a, "old, renamed") // a caches the old client at version 1
			if err := other.DeleteClient(ctx, old.ID, nil); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // a later created
			if _, err := other.CreateClient(ctx, newClient(old.ID, "new"), models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			rename(other, "new, renamed") // the new client at version 1
			got := rename(a, "new, renamed by a")
			if got.Description != nil {
				t.Errorf("the answer carries the old client's description: %q", *got.Description)
			}
			stored, err := other.GetClient(ctx, old.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Name != "new, renamed by a" || stored.Description != nil || !stored.Created.Equal(got.Created) {
				t.Errorf("stored %+v, answered %+v", stored, got)
			}
		})
	}
}
