package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/clientele/clientele/events"
)

// feedHubFrames bounds the rendered events a server keeps for its
// streams: memory does not grow with the events the store keeps.
const feedHubFrames = 4096

// frame is one event rendered once as a Server-Sent Events message.
type frame struct {
	seq  int64
	data []byte
}

// feedHub reads the feed once per server and renders each event once, for
// every stream that has caught up: ten followers cost one read and one
// rendering per event, not ten. It runs only while a stream follows it.
// Every event with base < seq <= last is in frames, in seq order; a stream
// behind base reads the store itself until it catches up.
type feedHub struct {
	store Store
	log   *slog.Logger
	stop  <-chan struct{}
	// render renders an event as its stream message: sseFrame with the
	// server's EventRenders (tests make it fail).
	render func(*events.Event) ([]byte, error)

	mu        sync.Mutex
	base      int64
	frames    []frame
	followers int
	// running is true while run's goroutine lives; ready once it has
	// taken its base.
	running bool
	ready   bool
	grown   *events.Signal

	// pages are the store's pages read for the streams behind the hub,
	// by the seq they start after (see page); kept the newest keepPages.
	pages     map[int64]*sharedPage
	pageOrder []int64

	// unrendered is the seq of the event that last failed to render, so
	// that the failure is logged once rather than at every retry. Owned
	// by run's goroutine.
	unrendered int64
}

// keepPages bounds the full pages kept for the streams behind the hub.
const keepPages = 4

// sharedPage is one read of the store, rendered, for every stream that
// asks for the same page while it is read or kept.
type sharedPage struct {
	done   chan struct{}
	frames []frame
	err    error
}

func newFeedHub(store Store, renders *EventRenders, log *slog.Logger, stop <-chan struct{}) *feedHub {
	return &feedHub{store: store, log: log, stop: stop, grown: events.NewSignal(),
		render: func(ev *events.Event) ([]byte, error) { return sseFrame(renders, ev) },
		pages:  map[int64]*sharedPage{}}
}

func (h *feedHub) last() int64 {
	if n := len(h.frames); n > 0 {
		return h.frames[n-1].seq
	}
	return h.base
}

// join counts a stream in, starting the hub's reader for the first.
func (h *feedHub) join() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.followers++
	if !h.running {
		h.running, h.ready, h.frames = true, false, nil
		go h.run()
	}
}

func (h *feedHub) leave() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.followers--
}

// after returns up to max frames with seq > after and the channel closed
// when more arrive; ok is false when the hub cannot answer for after (it
// is not running yet, or after is older than its base).
func (h *feedHub) after(after int64, max int) (out []frame, grown <-chan struct{}, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	grown = h.grown.Wait()
	if !h.ready || after < h.base {
		return nil, grown, false
	}
	i := len(h.frames)
	for i > 0 && h.frames[i-1].seq > after {
		i--
	}
	end := min(len(h.frames), i+max)
	return h.frames[i:end], grown, true
}

// run follows the store from its newest event while anyone follows the hub.
func (h *feedHub) run() {
	ctx := context.Background()
	base, err := h.store.LastEventSeq(ctx)
	h.mu.Lock()
	if err != nil {
		h.running = false
		h.mu.Unlock()
		h.log.Warn("event feed", "error", err.Error())
		return
	}
	h.base, h.ready = base, true
	h.mu.Unlock()
	poll := time.NewTimer(feedPollEvery)
	defer poll.Stop()
	for {
		h.mu.Lock()
		if h.followers == 0 {
			h.running, h.ready = false, false
			h.mu.Unlock()
			return
		}
		last := h.last()
		h.mu.Unlock()
		wake := h.store.EventsWritten()
		evs, err := h.store.Events(ctx, last, feedBatch)
		if err != nil {
			h.log.Warn("event feed", "error", err.Error())
		}
		// A full batch is followed at once by the next, unless one of its
		// events failed to render: reading the same batch again at once
		// would fail the same way, so the hub waits as after a short one.
		if len(evs) > 0 && h.append(evs) && len(evs) == feedBatch {
			continue
		}
		poll.Reset(feedPollEvery)
		select {
		case <-wake:
			select {
			case <-time.After(feedBatchGap):
			case <-h.stop:
				return
			}
		case <-poll.C:
		case <-h.stop:
			return
		}
	}
}

// append renders evs and adds them to the frames, and reports whether all
// of them rendered. When one fails, none of evs is added (the streams wait
// at the event before it, so that none skips it) and the failure is
// logged, once for each seq that fails.
func (h *feedHub) append(evs []events.Event) bool {
	fresh := make([]frame, 0, len(evs))
	for i := range evs {
		data, err := h.render(&evs[i])
		if err != nil {
			if evs[i].Seq != h.unrendered {
				h.unrendered = evs[i].Seq
				h.log.Error("rendering an event", "seq", evs[i].Seq, "error", err.Error())
			}
			return false
		}
		fresh = append(fresh, frame{seq: evs[i].Seq, data: data})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.frames = append(h.frames, fresh...)
	if drop := len(h.frames) - feedHubFrames; drop > 0 {
		h.base = h.frames[drop-1].seq
		h.frames = append([]frame(nil), h.frames[drop:]...)
	}
	h.grown.Notify()
	return true
}

// sseFrame is ev as one Server-Sent Events message, its data the JSON
// that renders shares with the pages and the webhooks.
func sseFrame(renders *EventRenders, ev *events.Event) ([]byte, error) {
	data, err := renders.JSON(ev)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(data)+64)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, ev.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, ev.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...), nil
}

// page returns the frames of up to feedBatch events with seq > after, read
// from the store once for every stream behind the hub that asks for it:
// ten streams that start from the beginning together cost one read and one
// rendering per page, not ten. A stream that asks while a page is read
// waits for that read; it may then miss events committed since the read
// began, which its next page (seq > the last it got) brings. A full page
// is kept for streams that follow a little later: seq increases in commit
// order, so no event can join a full page once it was read.
func (h *feedHub) page(ctx context.Context, after int64) ([]frame, error) {
	h.mu.Lock()
	p := h.pages[after]
	if p == nil {
		p = &sharedPage{done: make(chan struct{})}
		h.pages[after] = p
		h.mu.Unlock()
		// The read is shared: the asking stream leaving must not end it.
		p.frames, p.err = h.readPage(context.WithoutCancel(ctx), after)
		close(p.done)
		h.mu.Lock()
		if p.err != nil || len(p.frames) < feedBatch {
			delete(h.pages, after)
		} else {
			h.pageOrder = append(h.pageOrder, after)
			if len(h.pageOrder) > keepPages {
				delete(h.pages, h.pageOrder[0])
				h.pageOrder = h.pageOrder[1:]
			}
		}
	}
	h.mu.Unlock()
	select {
	case <-p.done:
		return p.frames, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *feedHub) readPage(ctx context.Context, after int64) ([]frame, error) {
	evs, err := h.store.Events(ctx, after, feedBatch)
	if err != nil {
		return nil, err
	}
	out := make([]frame, 0, len(evs))
	for i := range evs {
		data, err := h.render(&evs[i])
		if err != nil {
			return nil, fmt.Errorf("rendering event %d: %w", evs[i].Seq, err)
		}
		out = append(out, frame{seq: evs[i].Seq, data: data})
	}
	return out, nil
}
