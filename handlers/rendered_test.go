package handlers_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/handlers"
	"github.com/clientele/clientele/models"
)

// TestEventRendersSharesOneRendering: the JSON an EventRenders gives is
// RenderEvent's, the same bytes for every caller of a seq, and an event
// whose seq takes the same slot later gets its own rendering.
func TestEventRendersSharesOneRendering(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(desc string) *models.OAuthClient {
		c := models.NewClient()
		c.ID, c.Name, c.Description = "c1", "one", &desc
		c.GrantTypes = []models.GrantType{models.GrantClientCredentials}
		return &c
	}
	ev := events.Event{Seq: 7, ID: "e7", Type: events.Patched, ClientID: "c1", Time: at, Before: mk("a"), After: mk("b")}
	r := handlers.NewEventRenders()
	first, err := r.JSON(&ev)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := handlers.RenderEvent(&ev)
	want, _ := json.Marshal(wire)
	if string(first) != string(want) {
		t.Fatalf("JSON = %s, want %s", first, want)
	}
	again, _ := r.JSON(&ev)
	if &again[0] != &first[0] {
		t.Error("a second caller of the same seq got a rendering of its own")
	}
	// 4096 seqs later the slot is the same; the event is not.
	other := events.Event{Seq: 7 + 4096, ID: "e4103", Type: events.Patched, ClientID: "c1", Time: at, Before: mk("b"), After: mk("c")}
	got, _ := r.JSON(&other)
	wire, _ = handlers.RenderEvent(&other)
	if want, _ = json.Marshal(wire); string(got) != string(want) {
		t.Fatalf("JSON of seq %d = %s, want %s", other.Seq, got, want)
	}
	if back, _ := r.JSON(&ev); string(back) != string(first) {
		t.Errorf("seq 7 after seq %d = %s, want %s", other.Seq, back, first)
	}
}
