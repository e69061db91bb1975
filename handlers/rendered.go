package handlers

import (
	"encoding/json"
	"sync"

	"github.com/clientele/clientele/events"
)

// renderedSlots bounds the rendered events an EventRenders keeps: memory
// does not grow with the events the store keeps.
const renderedSlots = 4096

// EventRenders renders each event's wire form once per process and shares
// the bytes: the event streams, the JSON pages and every webhook's
// delivery of the same event take the same JSON instead of computing its
// patch again (a patch is the costly part of an event). An event never
// changes once committed (seq names it for good), so a rendering kept by
// seq stays right; the newest renderedSlots seqs asked for are kept.
type EventRenders struct {
	mu    sync.Mutex
	slots [renderedSlots]renderedEvent
}

type renderedEvent struct {
	seq  int64
	json json.RawMessage
}

// NewEventRenders returns an empty EventRenders.
func NewEventRenders() *EventRenders { return &EventRenders{} }

// JSON is ev's wire form (RenderEvent) as JSON. The bytes are shared:
// callers must not modify them.
func (r *EventRenders) JSON(ev *events.Event) (json.RawMessage, error) {
	slot := &r.slots[uint64(ev.Seq)%renderedSlots]
	r.mu.Lock()
	if slot.seq == ev.Seq && slot.json != nil {
		b := slot.json
		r.mu.Unlock()
		return b, nil
	}
	r.mu.Unlock()
	// Rendered outside the lock: two callers may both render a seq the
	// first time, which costs one rendering more and is still right.
	out, err := RenderEvent(ev)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	*slot = renderedEvent{seq: ev.Seq, json: b}
	r.mu.Unlock()
	return b, nil
}

// renderJSONArray is evs' wire forms as one JSON array, in evs' order.
func (r *EventRenders) renderJSONArray(evs []events.Event) ([]byte, error) {
	n := 2
	parts := make([]json.RawMessage, len(evs))
	for i := range evs {
		b, err := r.JSON(&evs[i])
		if err != nil {
			return nil, err
		}
		parts[i] = b
		n += len(b) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '[')
	for i, b := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, b...)
	}
	return append(out, ']'), nil
}
