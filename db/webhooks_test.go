package db

import (
	"testing"
	"time"

	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/webhooks"
)

// TestDeliveriesOneWebhookAtATime checks the outbox's queries on each
// backend: DueDeliveries offers each webhook's oldest delivery only, and
// DeliveryDoneNext hands the next one to one server and to no other.
func TestDeliveriesOneWebhookAtATime(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		now := time.Now()
		for _, id := range []string{"w1", "w2"} {
			if err := s.CreateWebhook(ctx, webhooks.Subscription{ID: id, URL: "https://example.com/" + id, Secret: "s", Created: now}); err != nil {
				t.Fatal(err)
			}
		}
		c := newClient(hexID(1), "one")
		if _, err := s.CreateClient(ctx, c, models.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"two", "three"} {
			if _, err := s.UpdateClient(ctx, c.ID, func(x *models.OAuthClient) error { x.Description = &d; return nil }, models.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		due, err := s.DueDeliveries(ctx, now.Add(time.Second), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 2 || due[0].Seq != due[1].Seq || due[0].WebhookID == due[1].WebhookID {
			t.Fatalf("due: %+v, want the first event once for each webhook", due)
		}
		first := due[0]
		at, until := now.Add(time.Second), now.Add(time.Minute)
		if ok, err := s.LeaseDelivery(ctx, first, at, until); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		next, ok, err := s.DeliveryDoneNext(ctx, first, at, until)
		if err != nil || !ok || next.Seq != first.Seq+1 || next.WebhookID != first.WebhookID {
			t.Fatalf("done, next: %+v %v %v; want seq %d of %s", next, ok, err, first.Seq+1, first.WebhookID)
		}
		// Another server finishing the same delivery finds the next one
		// leased already.
		if again, ok, err := s.DeliveryDoneNext(ctx, first, at, until); err != nil || ok {
			t.Fatalf("second server: %+v %v %v, want nothing", again, ok, err)
		}
		// The leased one is not due; the other webhook's first still is.
		due, err = s.DueDeliveries(ctx, at, 10)
		if err != nil || len(due) != 1 || due[0].WebhookID == first.WebhookID {
			t.Fatalf("due: %+v %v, want only the other webhook's", due, err)
		}
		// Create, two updates: three events, then nothing follows.
		last, ok, err := s.DeliveryDoneNext(ctx, next, at, until)
		if err != nil || !ok || last.Seq != first.Seq+2 {
			t.Fatalf("done, next: %+v %v %v; want seq %d", last, ok, err, first.Seq+2)
		}
		if after, ok, err := s.DeliveryDoneNext(ctx, last, at, until); err != nil || ok {
			t.Fatalf("after the last: %+v %v %v, want nothing", after, ok, err)
		}
	})
}
