package handlers

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// pagedStore holds events 1..total and counts the reads of them.
type pagedStore struct {
	Store
	total int64
	reads atomic.Int64
}

func (p *pagedStore) Events(_ context.Context, after int64, limit int) ([]events.Event, error) {
	p.reads.Add(1)
	var out []events.Event
	for seq := after + 1; seq <= p.total && len(out) < limit; seq++ {
		c := models.NewClient()
		c.ID, c.Name = "c1", "one"
		out = append(out, events.Event{Seq: seq, ID: "e", Type: events.Created, ClientID: "c1",
			Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), After: &c})
	}
	return out, nil
}

// TestFeedHubSharesPages: streams behind the hub that ask for the same
// page share one read of it; a full page is kept for those that come
// later, a short one (events may still join it) is read again.
func TestFeedHubSharesPages(t *testing.T) {
	store := &pagedStore{total: feedBatch + 100}
	h := newFeedHub(store, NewEventRenders(), slog.New(slog.DiscardHandler), nil)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			frames, err := h.page(t.Context(), 0)
			if err != nil || len(frames) != feedBatch || frames[0].seq != 1 || frames[feedBatch-1].seq != feedBatch {
				t.Errorf("page after 0: %d frames, %v", len(frames), err)
			}
		})
	}
	wg.Wait()
	if n := store.reads.Load(); n != 1 {
		t.Fatalf("10 streams at the same page read the store %d times, want once", n)
	}
	for range 2 {
		frames, err := h.page(t.Context(), feedBatch)
		if err != nil || len(frames) != 100 || frames[0].seq != feedBatch+1 {
			t.Fatalf("page after %d: %d frames, %v", feedBatch, len(frames), err)
		}
	}
	if n := store.reads.Load(); n != 3 {
		t.Fatalf("the short page was read %d times in all, want twice (not kept)", n-1)
	}
	// keepPages full pages later, the first is no longer kept.
	store.total = (keepPages + 2) * feedBatch
	for i := range keepPages + 1 {
		if _, err := h.page(t.Context(), int64(i+1)*feedBatch); err != nil {
			t.Fatal(err)
		}
	}
	before := store.reads.Load()
	if _, err := h.page(t.Context(), 0); err != nil || store.reads.Load() != before+1 {
		t.Errorf("the oldest page after %d newer ones: %d reads, want it read again", keepPages, store.reads.Load()-before)
	}
}
