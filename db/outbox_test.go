package db

import (
	"testing"
	"time"

	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/webhooks"
)

// The events of one transaction are inserted several at a statement
// (eventChunks on SQLite, pgEventsSQL on PostgreSQL, both more than one
// statement here); each still gets exactly the deliveries its webhooks ask
// for, by type and by actor.
func TestOutboxOfManyEventsInOneWrite(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		for _, w := range []webhooks.Subscription{
			{ID: "all", URL: "https://a.example/h", Secret: "x"},
			{ID: "patched", URL: "https://a.example/h", Secret: "x", EventTypes: []string{"patched"}},
			{ID: "not-ci", URL: "https://a.example/h", Secret: "x", ExcludeActors: []string{"ci"}},
		} {
			w.Created = time.Unix(0, 0)
			if err := s.CreateWebhook(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		const n = 103 // 32 + 32 + 32 + 4 + 2 + 1 on SQLite, 64 + 39 on PostgreSQL
		cs := make([]models.OAuthClient, n)
		for i := range cs {
			cs[i] = newClient(hexID(i+1), "outbox")
		}
		ci := events.WithOrigin(ctx, events.Origin{Actor: "ci"})
		if _, err := s.CreateClients(ci, cs, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		alice := events.WithOrigin(ctx, events.Origin{Actor: "alice"})
		if _, err := s.UpdateClient(alice, hexID(7), func(c *models.OAuthClient) error {
			c.Name = "patched"
			return nil
		}, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		rdb, _ := s.r.DB()
		rows, err := rdb.QueryContext(ctx, "SELECT webhook_id, seq FROM webhook_deliveries")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]map[int64]bool{}
		for rows.Next() {
			var id string
			var seq int64
			if err := rows.Scan(&id, &seq); err != nil {
				t.Fatal(err)
			}
			if got[id] == nil {
				got[id] = map[int64]bool{}
			}
			got[id][seq] = true // (webhook_id, seq) is the primary key
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		evs, err := s.Events(ctx, 0, 1000)
		if err != nil || len(evs) != n+1 {
			t.Fatalf("%d events (%v)", len(evs), err)
		}
		for _, ev := range evs {
			want := map[string]bool{"all": true, "patched": ev.Type == events.Patched, "not-ci": ev.Actor != "ci"}
			for id, w := range want {
				if got[id][ev.Seq] != w {
					t.Errorf("event %d (%s by %s): delivery to %s %v, want %v", ev.Seq, ev.Type, ev.Actor, id, got[id][ev.Seq], w)
				}
			}
		}
	})
}
