package db

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/webhooks"
)

// TestDeliveriesOneWebhookAtATime checks the outbox's queries on each
// backend: DueDeliveries offers each webhook's oldest delivery only, and
// DeliveriesDoneNext hands the next one to one server and to no other.
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
		next, ok, err := s.DeliveriesDoneNext(ctx, first.WebhookID, []int64{first.Seq}, at, until)
		if err != nil || !ok || next.Seq != first.Seq+1 || next.WebhookID != first.WebhookID {
			t.Fatalf("done, next: %+v %v %v; want seq %d of %s", next, ok, err, first.Seq+1, first.WebhookID)
		}
		// Another server finishing the same delivery finds the next one
		// leased already.
		if again, ok, err := s.DeliveriesDoneNext(ctx, first.WebhookID, []int64{first.Seq}, at, until); err != nil || ok {
			t.Fatalf("second server: %+v %v %v, want nothing", again, ok, err)
		}
		// The leased one is not due; the other webhook's first still is.
		due, err = s.DueDeliveries(ctx, at, 10)
		if err != nil || len(due) != 1 || due[0].WebhookID == first.WebhookID {
			t.Fatalf("due: %+v %v, want only the other webhook's", due, err)
		}
		// Create, two updates: three events, then nothing follows.
		last, ok, err := s.DeliveriesDoneNext(ctx, next.WebhookID, []int64{next.Seq}, at, until)
		if err != nil || !ok || last.Seq != first.Seq+2 {
			t.Fatalf("done, next: %+v %v %v; want seq %d", last, ok, err, first.Seq+2)
		}
		if after, ok, err := s.DeliveriesDoneNext(ctx, last.WebhookID, []int64{last.Seq}, at, until); err != nil || ok {
			t.Fatalf("after the last: %+v %v %v, want nothing", after, ok, err)
		}
	})
}

// TestDeliveryRuns checks what a run of one webhook's deliveries needs of
// each backend: the ones after its oldest, in order, and the end of the
// run in one write that forgets exactly the seqs done (a seq between them
// that was not attempted stays) and leases the next, or records a failure.
func TestDeliveryRuns(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		now := time.Now()
		if err := s.CreateWebhook(ctx, webhooks.Subscription{ID: "w", URL: "https://example.com/w", Secret: "s", Created: now}); err != nil {
			t.Fatal(err)
		}
		queueDeliveries(t, s, "w", 1, 6, now)
		seqs := func(ds []webhooks.Delivery) []int64 {
			out := []int64{}
			for _, d := range ds {
				out = append(out, d.Seq)
			}
			return out
		}
		after, err := s.PendingDeliveries(ctx, "w", 1, 3)
		if err != nil || fmt.Sprint(seqs(after)) != "[2 3 4]" {
			t.Fatalf("pending after 1: %v %v, want [2 3 4]", seqs(after), err)
		}
		at, until := now.Add(time.Second), now.Add(time.Minute)
		next, ok, err := s.DeliveriesDoneNext(ctx, "w", []int64{1, 2, 4}, at, until)
		if err != nil || !ok || next.Seq != 3 {
			t.Fatalf("done 1, 2, 4: next %+v %v %v, want 3 leased", next, ok, err)
		}
		if left, _ := s.PendingDeliveries(ctx, "w", 0, 10); fmt.Sprint(seqs(left)) != "[3 5 6]" {
			t.Fatalf("left: %v, want [3 5 6]", seqs(left))
		}
		// 3 and 5 succeeded, 6 failed: 6 waits for its retry, unleased.
		if err := s.DeliveryFailed(ctx, webhooks.Delivery{WebhookID: "w", Seq: 6, Attempts: 1, FirstAttempt: at}, []int64{3, 5}, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.DueDeliveries(ctx, at.Add(time.Minute), 10); len(due) != 0 {
			t.Fatalf("due before the retry: %+v", due)
		}
		due, err := s.DueDeliveries(ctx, at.Add(2*time.Hour), 10)
		if err != nil || len(due) != 1 || due[0].Seq != 6 || due[0].Attempts != 1 || due[0].FirstAttempt.UnixMilli() != at.UnixMilli() {
			t.Fatalf("due at the retry: %+v %v, want seq 6 after one attempt", due, err)
		}
	})
}

// queueDeliveries gives webhook id pending deliveries for seqs from..to,
// due at due.
func queueDeliveries(tb testing.TB, s *Store, id string, from, to int64, due time.Time) {
	tb.Helper()
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.rebind("INSERT INTO webhook_deliveries (webhook_id, seq, next_attempt) VALUES (?, ?, ?)"))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for seq := from; seq <= to; seq++ {
			if _, err := stmt.ExecContext(ctx, id, seq, due.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// TestDueDeliveries checks the head of each webhook's queue: only the
// oldest pending delivery, only when due and unleased, soonest due first.
func TestDueDeliveries(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		now := time.UnixMilli(time.Now().UnixMilli())
		for _, id := range []string{"a", "b", "c", "d"} {
			if err := s.CreateWebhook(ctx, webhooks.Subscription{ID: id, URL: "https://h.example/" + id, Secret: "whsec_AAAA", Created: now}); err != nil {
				t.Fatal(err)
			}
		}
		queueDeliveries(t, s, "a", 5, 9, now.Add(-time.Second))    // due
		queueDeliveries(t, s, "b", 3, 4, now.Add(-2*time.Second))  // due sooner
		queueDeliveries(t, s, "c", 7, 8, now.Add(time.Minute))     // not yet due
		queueDeliveries(t, s, "d", 1, 1, now.Add(-3*time.Second))  // due, leased below
		queueDeliveries(t, s, "d", 2, 2, now.Add(-10*time.Second)) // behind its head
		if ok, err := s.LeaseDelivery(ctx, webhooks.Delivery{WebhookID: "d", Seq: 1}, now, now.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("lease: %v %v", ok, err)
		}
		got, err := s.DueDeliveries(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		if want := "[b/3 a/5]"; fmt.Sprint(heads(got)) != want {
			t.Errorf("due %v, want %s", heads(got), want)
		}
		if got, _ := s.DueDeliveries(ctx, now, 1); fmt.Sprint(heads(got)) != "[b/3]" {
			t.Errorf("limit 1: %v", heads(got))
		}
		if err := s.DeliveryDone(ctx, webhooks.Delivery{WebhookID: "b", Seq: 3}); err != nil {
			t.Fatal(err)
		}
		later := now.Add(2 * time.Minute) // c is due and d's lease has run out
		if got, _ := s.DueDeliveries(ctx, later, 10); fmt.Sprint(heads(got)) != "[d/1 b/4 a/5 c/7]" {
			t.Errorf("two minutes later: %v", heads(got))
		}
	})
}

func heads(ds []webhooks.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s/%d", d.WebhookID, d.Seq))
	}
	return out
}

// scanDueDeliveriesSQL is how DueDeliveries once asked: for every pending
// delivery, whether it is its webhook's oldest. Kept to compare.
const scanDueDeliveriesSQL = `SELECT d.webhook_id, d.seq, d.attempts, d.first_attempt FROM webhook_deliveries d
	WHERE d.seq = (SELECT min(e.seq) FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id)
	AND d.next_attempt <= ? AND d.lease_until <= ? ORDER BY d.next_attempt LIMIT ?`

// BenchmarkDueDeliveries measures finding the due deliveries, which the
// dispatcher does after every commit, with two healthy webhooks and one
// whose receiver has refused for a while (backlog pending deliveries), by
// the query DueDeliveries makes (head: one lookup per webhook) and by the
// scan it replaced.
func BenchmarkDueDeliveries(b *testing.B) {
	for _, backlog := range []int64{0, 10_000, 100_000} {
		s, err := Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "w.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		now := time.Now()
		for _, id := range []string{"healthy1", "healthy2", "dead"} {
			if err := s.CreateWebhook(ctx, webhooks.Subscription{ID: id, URL: "https://h.example/" + id, Secret: "whsec_AAAA", Created: now}); err != nil {
				b.Fatal(err)
			}
		}
		if backlog > 0 {
			queueDeliveries(b, s, "dead", 1, backlog, now.Add(time.Hour))
		}
		queueDeliveries(b, s, "healthy1", backlog+1, backlog+1, now)
		queueDeliveries(b, s, "healthy2", backlog+1, backlog+1, now)
		for _, q := range []struct{ name, sql string }{{"head", ""}, {"scan", scanDueDeliveriesSQL}} {
			b.Run(fmt.Sprintf("query=%s/backlog=%d", q.name, backlog), func(b *testing.B) {
				rdb, _ := s.r.DB()
				ms := now.UnixMilli()
				for b.Loop() {
					if q.sql == "" {
						if due, err := s.DueDeliveries(ctx, now, 16); err != nil || len(due) != 2 {
							b.Fatalf("%v %v, want 2 due", due, err)
						}
						continue
					}
					rows, err := rdb.QueryContext(ctx, s.rebind(q.sql), ms, ms, 16)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for rows.Next() {
						n++
					}
					rows.Close()
					if n != 2 {
						b.Fatalf("%d due, want 2", n)
					}
				}
			})
		}
	}
}
