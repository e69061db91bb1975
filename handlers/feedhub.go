package handlers

import (
	"context"
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
	store   Store
	renders *EventRenders
	log     *slog.Logger
	stop    <-chan struct{}

	mu        sync.Mutex
	base      int64
	frames    []frame
	followers int
	// running is true while run's goroutine lives; ready once it has
	// taken its base.
	running bool
	ready   bool
	grown   *events.Signal
}

func newFeedHub(store Store, renders *EventRenders, log *slog.Logger, stop <-chan struct{}) *feedHub {
	return &feedHub{store: store, renders: renders, log: log, stop: stop, grown: events.NewSignal()}
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
		if len(evs) > 0 {
			h.append(evs)
		}
		if len(evs) == feedBatch {
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

func (h *feedHub) append(evs []events.Event) {
	fresh := make([]frame, 0, len(evs))
	for i := range evs {
		data, err := sseFrame(h.renders, &evs[i])
		if err != nil {
			h.log.Error("rendering an event", "seq", evs[i].Seq, "error", err.Error())
			return
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
