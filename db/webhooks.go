package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/webhooks"
)

// insertDeliveriesSQL is the outbox: with each of n events, one delivery
// row for every webhook that wants it (its types empty or naming the
// event's type, its excluded actors not naming the event's actor), due at
// once. The lists are JSON arrays of strings, matched as quoted strings;
// each event is three values (deliveryValues), its seq and the two
// patterns.
func insertDeliveriesSQL(n int) string {
	return `INSERT INTO webhook_deliveries (webhook_id, seq, next_attempt)
	SELECT w.id, x.column1, 0 FROM webhooks w JOIN (VALUES ` + repeatJoined("(CAST(? AS BIGINT), ?, ?)", n) + `) AS x
	ON (w.event_types = '[]' OR w.event_types LIKE x.column2 ESCAPE '\') AND w.exclude_actors NOT LIKE x.column3 ESCAPE '\'`
}

// deliveryValues are ev's values in insertDeliveriesSQL.
func deliveryValues(ev *events.Event) []any {
	typ, _ := json.Marshal(string(ev.Type))
	actor, _ := json.Marshal(ev.Actor)
	return []any{ev.Seq, "%" + likeEscape(string(typ)) + "%", "%" + likeEscape(string(actor)) + "%"}
}

func webhookNotFound(id string) error { return apierrors.NewNotFound("webhook " + id) }

// CreateWebhook stores w; it receives the events committed after it.
func (s *Store) CreateWebhook(ctx context.Context, w webhooks.Subscription) error {
	types, _ := json.Marshal(nonNilStrings(w.EventTypes))
	actors, _ := json.Marshal(nonNilStrings(w.ExcludeActors))
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rebind("INSERT INTO webhooks (id, url, secret, event_types, exclude_actors, created) VALUES (?, ?, ?, ?, ?, ?)"),
			w.ID, w.URL, w.Secret, string(types), string(actors), w.Created.UnixMilli())
		return err
	})
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const webhookColumns = "id, url, secret, event_types, exclude_actors, created"

func scanWebhook(sc scanner) (webhooks.Subscription, error) {
	var (
		w             webhooks.Subscription
		types, actors string
		created       int64
	)
	if err := sc.Scan(&w.ID, &w.URL, &w.Secret, &types, &actors, &created); err != nil {
		return w, err
	}
	w.Created = fromMillis(created)
	if err := json.Unmarshal([]byte(types), &w.EventTypes); err != nil {
		return w, err
	}
	return w, json.Unmarshal([]byte(actors), &w.ExcludeActors)
}

// Webhooks returns every webhook, oldest first.
func (s *Store) Webhooks(ctx context.Context) ([]webhooks.Subscription, error) {
	rdb, _ := s.r.DB()
	rows, err := rdb.QueryContext(ctx, "SELECT "+webhookColumns+" FROM webhooks ORDER BY created, id")
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []webhooks.Subscription{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, w)
	}
	return out, translate(rows.Err())
}

// Webhook returns the webhook id, or a 404.
func (s *Store) Webhook(ctx context.Context, id string) (webhooks.Subscription, error) {
	rdb, _ := s.r.DB()
	w, err := scanWebhook(rdb.QueryRowContext(ctx, s.rebind("SELECT "+webhookColumns+" FROM webhooks WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, webhookNotFound(id)
	}
	return w, translate(err)
}

// DeleteWebhook deletes the webhook and its pending deliveries, or is a 404.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind("DELETE FROM webhook_deliveries WHERE webhook_id = ?"), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.rebind("DELETE FROM webhooks WHERE id = ?"), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return webhookNotFound(id)
		}
		return nil
	})
}

// DueDeliveries returns, for up to limit webhooks, the oldest pending
// delivery when it is due at now and no server holds its lease: each
// webhook gets its events one at a time, in seq order.
//
// The query starts from the webhooks (CROSS JOIN keeps SQLite's planner
// to that order) and finds each one's oldest delivery by its primary key,
// so that its cost grows with the webhooks, not with the deliveries
// waiting: it runs after every write, and a backlog of thousands (a
// receiver that is down) must not make every round scan it, as the
// min(seq)-per-row form did (59 % of the server's CPU in the feed bench).
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]webhooks.Delivery, error) {
	rdb, _ := s.r.DB()
	ms := now.UnixMilli()
	rows, err := rdb.QueryContext(ctx, s.rebind(`SELECT d.webhook_id, d.seq, d.attempts, d.first_attempt FROM webhooks w
		CROSS JOIN webhook_deliveries d WHERE d.webhook_id = w.id
		AND d.seq = (SELECT e.seq FROM webhook_deliveries e WHERE e.webhook_id = w.id ORDER BY e.seq LIMIT 1)
		AND d.next_attempt <= ? AND d.lease_until <= ? ORDER BY d.next_attempt LIMIT ?`), ms, ms, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []webhooks.Delivery
	for rows.Next() {
		var (
			d     webhooks.Delivery
			first *int64
		)
		if err := rows.Scan(&d.WebhookID, &d.Seq, &d.Attempts, &first); err != nil {
			return nil, translate(err)
		}
		if first != nil {
			d.FirstAttempt = fromMillis(*first)
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// LeaseDelivery gives this server the delivery until until, if it is still
// due and unleased at now: of several servers, one wins.
func (s *Store) LeaseDelivery(ctx context.Context, d webhooks.Delivery, now, until time.Time) (bool, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE webhook_deliveries SET lease_until = ?
			WHERE webhook_id = ? AND seq = ? AND lease_until <= ? AND next_attempt <= ?`),
			until.UnixMilli(), d.WebhookID, d.Seq, now.UnixMilli(), now.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// DeliveryDone forgets a delivery that succeeded or was given up.
func (s *Store) DeliveryDone(ctx context.Context, d webhooks.Delivery) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rebind("DELETE FROM webhook_deliveries WHERE webhook_id = ? AND seq = ?"), d.WebhookID, d.Seq)
		return err
	})
}

// PendingDeliveries returns up to limit of the webhook's deliveries after
// seq, in seq order. It takes no lease: the server holding the lease of
// the webhook's oldest delivery is the only one that attempts any of its
// deliveries (DueDeliveries offers only the oldest), so it may go on
// with these in order before it ends them in one write.
func (s *Store) PendingDeliveries(ctx context.Context, webhookID string, after int64, limit int) ([]webhooks.Delivery, error) {
	rdb, _ := s.r.DB()
	rows, err := rdb.QueryContext(ctx, s.rebind(`SELECT seq, attempts, first_attempt FROM webhook_deliveries
		WHERE webhook_id = ? AND seq > ? ORDER BY seq LIMIT ?`), webhookID, after, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []webhooks.Delivery
	for rows.Next() {
		d := webhooks.Delivery{WebhookID: webhookID}
		var first *int64
		if err := rows.Scan(&d.Seq, &d.Attempts, &first); err != nil {
			return nil, translate(err)
		}
		if first != nil {
			d.FirstAttempt = fromMillis(*first)
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// deleteDeliveries forgets the webhook's deliveries of the seqs done.
func (s *Store) deleteDeliveries(ctx context.Context, tx *sql.Tx, webhookID string, done []int64) error {
	if len(done) == 0 {
		return nil
	}
	args := make([]any, 0, len(done)+1)
	args = append(args, webhookID)
	for _, seq := range done {
		args = append(args, seq)
	}
	_, err := tx.ExecContext(ctx, s.rebind("DELETE FROM webhook_deliveries WHERE webhook_id = ? AND seq IN ("+repeatJoined("?", len(done))+")"), args...)
	return err
}

// DeliveriesDoneNext forgets the webhook's deliveries of the seqs done,
// which succeeded (or were given up), and in the same transaction leases
// its oldest delivery until until, if it is due and unleased at now (of
// several servers, one wins, as with LeaseDelivery): a webhook that keeps
// up costs one write per run of deliveries, not one per delivery.
func (s *Store) DeliveriesDoneNext(ctx context.Context, webhookID string, done []int64, now, until time.Time) (webhooks.Delivery, bool, error) {
	next := webhooks.Delivery{WebhookID: webhookID}
	ok := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := s.deleteDeliveries(ctx, tx, webhookID, done); err != nil {
			return err
		}
		var first *int64
		err := tx.QueryRowContext(ctx, s.rebind(`UPDATE webhook_deliveries SET lease_until = ?
			WHERE webhook_id = ? AND seq = (SELECT min(e.seq) FROM webhook_deliveries e WHERE e.webhook_id = ?)
			AND lease_until <= ? AND next_attempt <= ? RETURNING seq, attempts, first_attempt`),
			until.UnixMilli(), webhookID, webhookID, now.UnixMilli(), now.UnixMilli()).Scan(&next.Seq, &next.Attempts, &first)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if first != nil {
			next.FirstAttempt = fromMillis(*first)
		}
		ok = true
		return nil
	})
	if err != nil {
		return webhooks.Delivery{}, false, err
	}
	return next, ok, nil
}

// DeliveryFailed records a failed attempt of d and when to try next, and
// forgets the webhook's deliveries of the seqs done, which succeeded
// before it, in the same transaction.
func (s *Store) DeliveryFailed(ctx context.Context, d webhooks.Delivery, done []int64, next time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := s.deleteDeliveries(ctx, tx, d.WebhookID, done); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.rebind(`UPDATE webhook_deliveries SET attempts = ?, first_attempt = ?, next_attempt = ?, lease_until = 0
			WHERE webhook_id = ? AND seq = ?`), d.Attempts, d.FirstAttempt.UnixMilli(), next.UnixMilli(), d.WebhookID, d.Seq)
		return err
	})
}
