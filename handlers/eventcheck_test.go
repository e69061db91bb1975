package handlers_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/clientele/clientele/handlers"
)

// secretsSeen holds every secret value the tests of this package were
// shown or made; checkEvents looks for each in every event.
var secretsSeen struct {
	sync.Mutex
	values map[string]bool
}

func rememberSecret(s string) {
	if s == "" {
		return
	}
	secretsSeen.Lock()
	defer secretsSeen.Unlock()
	if secretsSeen.values == nil {
		secretsSeen.values = map[string]bool{}
	}
	secretsSeen.values[s] = true
}

// rememberSecretsIn records the secret member of a response body, if any.
func rememberSecretsIn(body []byte) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "secret" || k == "client_secret" || k == "registration_access_token") {
					rememberSecret(s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// checkEvents holds every event the env's store recorded to SPEC §10: its
// patch applied to the representation before (by evanphx/json-patch, not
// by our own code) gives the representation after, its ETags are those of
// the two representations, and no secret value the tests have seen
// appears in it, rendered or stored.
func (e *env) checkEvents(t *testing.T) {
	t.Helper()
	after := int64(0)
	for {
		evs, err := e.store.Events(context.Background(), after, 500)
		if err != nil {
			t.Errorf("reading the events: %v", err)
			return
		}
		if len(evs) == 0 {
			return
		}
		for i := range evs {
			ev := &evs[i]
			after = ev.Seq
			wire, err := handlers.RenderEvent(ev)
			if err != nil {
				t.Errorf("event %d: %v", ev.Seq, err)
				continue
			}
			before, afterDoc := []byte("{}"), []byte("{}")
			if ev.Before != nil {
				body, etag := handlers.RenderClient(ev.Before, ev.Time)
				before = body
				if wire.ETagBefore == nil || *wire.ETagBefore != etag {
					t.Errorf("event %d: etagBefore %v, want %s", ev.Seq, wire.ETagBefore, etag)
				}
			}
			if ev.After != nil {
				body, etag := handlers.RenderClient(ev.After, ev.Time)
				afterDoc = body
				if wire.ETagAfter == nil || *wire.ETagAfter != etag {
					t.Errorf("event %d: etagAfter %v, want %s", ev.Seq, wire.ETagAfter, etag)
				}
			}
			ops, _ := json.Marshal(wire.Patch)
			p, err := jsonpatch.DecodePatch(ops)
			if err != nil {
				t.Errorf("event %d: patch %s: %v", ev.Seq, ops, err)
				continue
			}
			got, err := p.Apply(before)
			if err != nil {
				t.Errorf("event %d: applying %s to %s: %v", ev.Seq, ops, before, err)
				continue
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			_ = json.Unmarshal(afterDoc, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("event %d (%s): patch %s gives %s, want %s", ev.Seq, ev.Type, ops, got, afterDoc)
			}
			rendered, _ := json.Marshal(wire)
			stored, _ := json.Marshal([]any{ev.Before, ev.After})
			secretsSeen.Lock()
			for s := range secretsSeen.values {
				if strings.Contains(string(rendered), s) || strings.Contains(string(stored), s) {
					t.Errorf("event %d holds a secret value", ev.Seq)
				}
			}
			secretsSeen.Unlock()
		}
	}
}
