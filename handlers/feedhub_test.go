package handlers

import (
	"context"
	"errors"
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

// fullStore always has a full batch after any seq, and reports each read
// on reads until done is closed.
type fullStore struct {
	Store
	reads   chan int64
	written chan struct{}
	done    <-chan struct{}
}

func (f *fullStore) LastEventSeq(context.Context) (int64, error) { return 0, nil }

// EventsWritten fires when the test sends on written.
func (f *fullStore) EventsWritten() <-chan struct{} { return f.written }

func (f *fullStore) Events(_ context.Context, after int64, limit int) ([]events.Event, error) {
	select {
	case f.reads <- after:
	case <-f.done:
	}
	out := make([]events.Event, limit)
	for i := range out {
		c := models.NewClient()
		c.ID, c.Name = "c1", "one"
		out[i] = events.Event{Seq: after + int64(i) + 1, ID: "e", Type: events.Created, ClientID: "c1",
			Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), After: &c}
	}
	return out, nil
}

// TestFeedHubWaitsAfterAnEventFailsToRender: a full batch is normally
// followed at once by the next read, but when one of its events cannot be
// rendered, reading the same batch again at once fails the same way. The
// hub then waits as after a short batch (for a write or its poll), rather
// than reading the store in a loop, and logs the failure once; it adds
// none of that batch, so no stream skips the event.
func TestFeedHubWaitsAfterAnEventFailsToRender(t *testing.T) {
	stop := make(chan struct{})
	store := &fullStore{reads: make(chan int64, 1), written: make(chan struct{}, 1), done: stop}
	var logged atomic.Int64
	log := slog.New(countingHandler{&logged})
	h := newFeedHub(store, NewEventRenders(), log, stop)
	render := h.render
	h.render = func(ev *events.Event) ([]byte, error) {
		if ev.Seq == 7 {
			return nil, errors.New("cannot render")
		}
		return render(ev)
	}
	h.join()
	defer close(stop)
	if after := <-store.reads; after != 0 {
		t.Fatalf("first read after %d, want 0", after)
	}
	// The next read comes with a write or the poll (feedPollEvery), not
	// at once.
	select {
	case after := <-store.reads:
		t.Fatalf("read again after %d at once, after a batch that failed to render", after)
	case <-time.After(feedPollEvery / 5):
	}
	store.written <- struct{}{}
	if after := <-store.reads; after != 0 {
		t.Fatalf("the read after a write is after %d, want 0 again: the failed batch must not be skipped", after)
	}
	if frames, _, ok := h.after(0, feedBatch); !ok || len(frames) != 0 {
		t.Errorf("the hub holds %d frames of the batch (ok %v), want none", len(frames), ok)
	}
	if n := logged.Load(); n != 1 {
		t.Errorf("the failure was logged %d times over two reads, want once", n)
	}
}

// countingHandler counts the records logged at error level.
type countingHandler struct{ n *atomic.Int64 }

func (c countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		c.n.Add(1)
	}
	return nil
}
func (c countingHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c countingHandler) WithGroup(string) slog.Handler      { return c }
