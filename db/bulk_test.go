package db

import (
	"fmt"
	"path/filepath"
	"testing"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

func bulkClients(from, n int) []models.OAuthClient {
	out := make([]models.OAuthClient, n)
	for i := range out {
		out[i] = newClient(hexID(from+i), fmt.Sprintf("bulk %04d", i))
	}
	return out
}

func countAll(t *testing.T, s *Store) int64 {
	t.Helper()
	_, total, err := s.ListClients(ctx, query.List{Limit: 0, Count: true})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// CreateClients stores all of its clients and one created event each, or,
// when any insert fails (element 500 of 1000 here), nothing at all.
func TestCreateClientsAllOrNothing(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		octx := events.WithOrigin(ctx, events.Origin{Actor: "bulk", TrackingID: hexID(7)})
		if _, err := s.CreateClient(ctx, newClient(hexID(5000), "existing"), models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		before := countAll(t, s)
		last, err := s.LastEventSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cs := bulkClients(1, 1000)
		cs[500].ID = hexID(5000) // already stored
		if _, err := s.CreateClients(octx, cs, models.WriteOptions{}); !apierrors.IsConflict(err) {
			t.Fatalf("a duplicate in element 500: %v, want a conflict", err)
		}
		if n := countAll(t, s); n != before {
			t.Errorf("%d clients after a refused bulk create, want %d", n, before)
		}
		if seq, _ := s.LastEventSeq(ctx); seq != last {
			t.Errorf("events recorded by a refused bulk create: %d → %d", last, seq)
		}

		if got, err := s.CreateClients(octx, bulkClients(1, 3), models.WriteOptions{DryRun: true}); err != nil || len(got) != 3 || got[0].Created.IsZero() {
			t.Fatalf("dry run: %v %+v", err, got)
		}
		if n := countAll(t, s); n != before {
			t.Errorf("a dry run stored clients")
		}

		cs = bulkClients(1, 1000)
		got, err := s.CreateClients(octx, cs, models.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := countAll(t, s); n != before+1000 {
			t.Errorf("%d clients, want %d", n, before+1000)
		}
		for _, i := range []int{0, 500, 999} {
			stored, err := s.GetClient(ctx, cs[i].ID)
			if err != nil || got[i].ID != cs[i].ID || !models.SameStoredValues(&stored, &got[i]) {
				t.Errorf("[%d]: %v %+v\nanswered %+v", i, err, stored, got[i])
			}
		}
		evs, err := s.Events(ctx, last, 2000)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1000 {
			t.Fatalf("%d events, want 1000", len(evs))
		}
		for i, ev := range evs {
			if ev.Type != events.Created || ev.ClientID != cs[i].ID || ev.Actor != "bulk" || ev.TrackingID != hexID(7) {
				t.Fatalf("event %d: %+v", i, ev)
			}
		}
	})
}

// BenchmarkCreateClients creates 1 000 clients in one call on a SQLite
// file, as one bulk create does, against 1 000 calls of CreateClient.
func BenchmarkCreateClients(b *testing.B) {
	s, err := Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	next := 1
	b.Run("bulk-1000", func(b *testing.B) {
		for range b.N {
			if _, err := s.CreateClients(ctx, bulkClients(next, 1000), models.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			next += 1000
		}
	})
	b.Run("single-x1000", func(b *testing.B) {
		for range b.N {
			for _, c := range bulkClients(next, 1000) {
				if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			next += 1000
		}
	})
}
