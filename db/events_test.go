package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/internal/pgtest"
	"github.com/clientele/clientele/models"
)

func TestEveryWriteRecordsOneEvent(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		octx := events.WithOrigin(ctx, events.Origin{Actor: "caller", TrackingID: hexID(42)})
		c, err := s.CreateClient(octx, newClient(hexID(1), "One"), models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Refused and empty writes record nothing.
		if _, err := s.CreateClient(octx, newClient(hexID(1), "again"), models.WriteOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := s.UpdateClient(octx, c.ID, func(x *models.OAuthClient) error { x.Name = "x"; return apierrors.NewConflict("no") }, models.WriteOptions{}); err == nil {
			t.Fatal("refused update succeeded")
		}
		if _, err := s.UpdateClient(octx, c.ID, func(*models.OAuthClient) error { return nil }, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(octx, c.ID, func(*models.OAuthClient) error { return apierrors.NewPreconditionFailed("no") }); err == nil {
			t.Fatal("refused delete succeeded")
		}
		// Real writes record one event each, of the type ctx names.
		if _, err := s.UpdateClient(octx, c.ID, func(x *models.OAuthClient) error { x.Name = "Two"; return nil }, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateClient(events.WithType(octx, events.SecretRotated), c.ID, func(x *models.OAuthClient) error {
			x.Secrets = []models.Secret{{ID: "new", Hash: []byte("new")}}
			return nil
		}, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(octx, c.ID, nil); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		want := []events.Type{events.Created, events.Patched, events.SecretRotated, events.Deleted}
		if len(evs) != len(want) {
			t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
		}
		for i, ev := range evs {
			if ev.Type != want[i] || ev.ClientID != c.ID || ev.Actor != "caller" || ev.TrackingID != hexID(42) ||
				len(ev.ID) != 32 || (i > 0 && ev.Seq <= evs[i-1].Seq) || ev.Time.IsZero() {
				t.Errorf("event %d: %+v", i, ev)
			}
			for _, snap := range []*models.OAuthClient{ev.Before, ev.After} {
				for _, sec := range secretsOf(snap) {
					if sec.Hash != nil {
						t.Errorf("event %d keeps a secret hash", i)
					}
				}
			}
		}
		if evs[0].Before != nil || evs[0].After.Name != "One" || evs[1].Before.Name != "One" || evs[1].After.Name != "Two" ||
			evs[3].After != nil || evs[3].State().Name != "Two" {
			t.Errorf("snapshots: %+v", evs)
		}
		// History outlives the client, newest first, paged.
		h, err := s.ClientHistory(ctx, c.ID, 2, 1)
		if err != nil || len(h) != 2 || h[0].Seq != evs[2].Seq || h[1].Seq != evs[1].Seq {
			t.Errorf("history page: %+v, %v", h, err)
		}
		if h, err := s.ClientHistory(ctx, c.ID, 10, 10); err != nil || len(h) != 0 {
			t.Errorf("history past the end: %+v, %v", h, err)
		}
		if _, err := s.ClientHistory(ctx, hexID(9), 10, 0); !apierrors.IsNotFound(err) {
			t.Errorf("history of an unknown client: %v", err)
		}
		if ev, err := s.ClientEvent(ctx, c.ID, evs[1].Seq); err != nil || ev.ID != evs[1].ID {
			t.Errorf("ClientEvent: %+v, %v", ev, err)
		}
		if _, err := s.ClientEvent(ctx, hexID(9), evs[1].Seq); !apierrors.IsNotFound(err) {
			t.Errorf("event of another client: %v", err)
		}
		if page, err := s.Events(ctx, evs[1].Seq, 2); err != nil || len(page) != 2 || page[0].Seq != evs[2].Seq {
			t.Errorf("Events after %d: %+v, %v", evs[1].Seq, page, err)
		}
	})
}

func TestPruneEvents(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return clock }
		if _, err := s.CreateClient(ctx, newClient(hexID(1), "old"), models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(ctx, hexID(1), nil); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(48 * time.Hour)
		if _, err := s.CreateClient(ctx, newClient(hexID(2), "new"), models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		n, err := s.PruneEvents(ctx, clock.Add(-24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d (%v), want 2", n, err)
		}
		if _, err := s.ClientHistory(ctx, hexID(1), 10, 0); !apierrors.IsNotFound(err) {
			t.Errorf("history of a pruned deleted client: %v", err)
		}
		if h, err := s.ClientHistory(ctx, hexID(2), 10, 0); err != nil || len(h) != 1 {
			t.Errorf("history kept: %+v, %v", h, err)
		}
		// Seqs keep growing after a prune.
		if err := s.DeleteClient(ctx, hexID(2), nil); err != nil {
			t.Fatal(err)
		}
		evs, _ := s.Events(ctx, 0, 10)
		if len(evs) != 2 || evs[1].Seq != 4 {
			t.Errorf("after prune: %+v", evs)
		}
	})
}

// TestFeedNeverSkips follows the feed while concurrent writers commit, with
// random delays inside their transactions: every event the follower sees
// arrives once, in seq order, and at the end it has seen all of them.
func TestFeedNeverSkips(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		const writers, each = 8, 25
		for w := 0; w < writers; w++ {
			if _, err := s.CreateClient(ctx, newClient(hexID(w+1), fmt.Sprint("w", w)), models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		fctx, stop := context.WithCancel(ctx)
		var seen []int64
		followed := make(chan error, 1)
		go func() {
			last := int64(0)
			for {
				// Whether the writers were done is read before the
				// page: an empty page that began before the last commit
				// must not end the follow.
				done := fctx.Err() != nil
				evs, err := s.Events(ctx, last, 50)
				if err != nil {
					followed <- err
					return
				}
				for _, ev := range evs {
					seen = append(seen, ev.Seq)
					last = ev.Seq
				}
				if len(evs) == 0 {
					if done {
						followed <- nil
						return
					}
					time.Sleep(time.Millisecond)
				}
			}
		}()
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < each; i++ {
					if _, err := s.UpdateClient(ctx, hexID(w%3+1), func(x *models.OAuthClient) error {
						time.Sleep(time.Duration((w*7+i*3)%5) * time.Millisecond)
						x.Name = fmt.Sprintf("w%d-%d", w, i)
						return nil
					}, models.WriteOptions{}); err != nil {
						t.Error(err)
					}
				}
			}(w)
		}
		wg.Wait()
		stop()
		if err := <-followed; err != nil {
			t.Fatal(err)
		}
		all, err := s.Events(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != writers+writers*each || len(seen) != len(all) {
			t.Fatalf("stored %d events, follower saw %d, want %d", len(all), len(seen), writers+writers*each)
		}
		for i := range all {
			if seen[i] != all[i].Seq {
				t.Fatalf("follower saw seq %d at %d, want %d", seen[i], i, all[i].Seq)
			}
		}
	})
}

// BenchmarkEventSeq measures on PostgreSQL what taking seq from the locked
// counter row costs against a SEQUENCE (which does not serialise commits,
// and so lets a feed skip a late commit): parallel transactions that each
// change their own client and record an event, the two ways, in one run.
func BenchmarkEventSeq(b *testing.B) {
	s, err := Open(ctx, pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	wdb, _ := s.w.DB()
	if _, err := wdb.Exec("CREATE SEQUENCE IF NOT EXISTS bench_event_seq START 1000000000"); err != nil {
		b.Fatal(err)
	}
	const clients = 64
	for i := 0; i < clients; i++ {
		if _, err := s.CreateClient(ctx, newClient(hexID(i+1), "bench"), models.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, v := range []struct {
		name, seq string
		args      []any
	}{
		{"counter-row", s.rebind(takeSeqsSQL), []any{1}},
		{"sequence", "SELECT nextval('bench_event_seq')", nil},
	} {
		b.Run(v.name, func(b *testing.B) {
			var n atomic.Int64
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					id := hexID(int(i%clients) + 1)
					err := s.write(ctx, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, "UPDATE oauth_clients SET description = $1 WHERE id = $2", fmt.Sprint(i), id); err != nil {
							return err
						}
						var seq int64
						if err := tx.QueryRowContext(ctx, v.seq, v.args...).Scan(&seq); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, s.rebind(insertClientEventSQL), seq, fmt.Sprintf("%032x", seq), "patched", id, "bench", "", 0, nil, nil)
						return err
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func secretsOf(c *models.OAuthClient) []models.Secret {
	if c == nil {
		return nil
	}
	return c.Secrets
}
