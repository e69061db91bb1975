package db

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// execQuerier is a transaction as the event writer needs it.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// nextSeqSQL takes the next event seq from the one counter row. The UPDATE
// locks that row until the transaction ends, so on PostgreSQL the writers
// that have taken a seq commit one after the other, in seq order: a reader
// that sees seq n committed has every smaller seq committed or rolled back
// already, and a feed that reads "seq > last" never skips an event that
// commits late. It must be the last thing a write transaction does before
// inserting its event, so the lock is held only for that INSERT and the
// COMMIT. The price is that commits of all writers are serialised (on
// SQLite they are anyway: one writer). BenchmarkEventSeq measures it
// against a SEQUENCE, 8 parallel writers of distinct clients on PostgreSQL
// with fsync off: about 1.3 times the time per write (medians of four runs,
// noisy on a shared 2-core machine). With fsync on, the serialised part
// holds the WAL flush too, so one store's writes are bounded by one commit
// at a time.
const nextSeqSQL = "UPDATE event_sequence SET seq = seq + 1 WHERE id = 1 RETURNING seq"

const insertClientEventSQL = "INSERT INTO client_events (seq, id, type, client_id, actor, tracking_id, time, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"

// appendEvent records, inside the write transaction tx, that the client
// went from before to after (nil for none). The origin (actor, trackingId,
// and the type, which overrides typ when set) comes from ctx. It must be
// the last statement before COMMIT (see nextSeqSQL).
func (s *Store) appendEvent(ctx context.Context, tx execQuerier, typ events.Type, before, after *models.OAuthClient, now time.Time) (events.Event, error) {
	o := events.OriginFrom(ctx)
	if o.Type != "" {
		typ = o.Type
	}
	id, err := uuid.NewV7()
	if err != nil {
		return events.Event{}, err
	}
	ev := events.Event{ID: hex.EncodeToString(id[:]), Type: typ, Actor: o.Actor, TrackingID: o.TrackingID, Time: now,
		Before: snapshot(before), After: snapshot(after)}
	if ev.State() == nil {
		return events.Event{}, errors.New("store: an event needs a client before or after")
	}
	ev.ClientID = ev.State().ID
	b, err := encodeSnapshot(ev.Before)
	if err != nil {
		return events.Event{}, err
	}
	a, err := encodeSnapshot(ev.After)
	if err != nil {
		return events.Event{}, err
	}
	if err := tx.QueryRowContext(ctx, nextSeqSQL).Scan(&ev.Seq); err != nil {
		return events.Event{}, fmt.Errorf("taking an event seq: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(insertClientEventSQL), ev.Seq, ev.ID, string(ev.Type), ev.ClientID,
		ev.Actor, ev.TrackingID, now.UnixMilli(), b, a); err != nil {
		return events.Event{}, fmt.Errorf("recording the event: %w", err)
	}
	if err := s.appendDeliveries(ctx, tx, &ev); err != nil {
		return events.Event{}, fmt.Errorf("queueing the event for webhooks: %w", err)
	}
	// PostgreSQL sends one notification per transaction for equal
	// payloads, so a batch of events costs one.
	if err := s.notifyTx(ctx, tx, NotifyEvents); err != nil {
		return events.Event{}, fmt.Errorf("announcing the event: %w", err)
	}
	return ev, nil
}

// snapshot is c as an event keeps it: without the secrets' hashes, which
// no event needs.
func snapshot(c *models.OAuthClient) *models.OAuthClient {
	if c == nil {
		return nil
	}
	d := c.Clone()
	for i := range d.Secrets {
		d.Secrets[i].Hash = nil
	}
	return &d
}

func encodeSnapshot(c *models.OAuthClient) (*string, error) {
	if c == nil {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	str := string(b)
	return &str, nil
}

func decodeSnapshot(raw *string) (*models.OAuthClient, error) {
	if raw == nil {
		return nil, nil
	}
	var c models.OAuthClient
	if err := json.Unmarshal([]byte(*raw), &c); err != nil {
		return nil, err
	}
	return &c, nil
}

const eventColumns = "seq, id, type, client_id, actor, tracking_id, time, before, after"

func scanEvents(rows *sql.Rows) ([]events.Event, error) {
	defer rows.Close()
	out := []events.Event{}
	for rows.Next() {
		var (
			ev     events.Event
			typ    string
			ms     int64
			before *string
			after  *string
		)
		if err := rows.Scan(&ev.Seq, &ev.ID, &typ, &ev.ClientID, &ev.Actor, &ev.TrackingID, &ms, &before, &after); err != nil {
			return nil, err
		}
		ev.Type, ev.Time = events.Type(typ), fromMillis(ms)
		var err error
		if ev.Before, err = decodeSnapshot(before); err != nil {
			return nil, fmt.Errorf("event %d: before: %w", ev.Seq, err)
		}
		if ev.After, err = decodeSnapshot(after); err != nil {
			return nil, fmt.Errorf("event %d: after: %w", ev.Seq, err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// EventsWritten returns a channel closed when this store next commits an
// event or, while Listen runs on PostgreSQL, when it hears that another
// server did (NotifyEvents). A notification can be missed while the
// listening connection is down: followers keep polling as well.
func (s *Store) EventsWritten() <-chan struct{} { return s.written.Wait() }

// LastEventSeq is the seq of the newest committed event, 0 for none. Every
// event at or below it has committed (or never will): seq order is commit
// order.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	rdb, _ := s.r.DB()
	var seq int64
	err := rdb.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM client_events").Scan(&seq)
	return seq, translate(err)
}

// Events returns up to limit events with seq > after, in seq order.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]events.Event, error) {
	rdb, _ := s.r.DB()
	rows, err := rdb.QueryContext(ctx, s.rebind("SELECT "+eventColumns+" FROM client_events WHERE seq > ? ORDER BY seq LIMIT ?"), after, limit)
	if err != nil {
		return nil, translate(err)
	}
	evs, err := scanEvents(rows)
	return evs, translate(err)
}

// ClientHistory returns the client's events, newest first, limit of them
// after skipping offset. It is a 404 when the store knows nothing of the
// client: neither the client nor any event of it.
func (s *Store) ClientHistory(ctx context.Context, id string, limit, offset int) ([]events.Event, error) {
	rdb, _ := s.r.DB()
	rows, err := rdb.QueryContext(ctx, s.rebind("SELECT "+eventColumns+" FROM client_events WHERE client_id = ? ORDER BY seq DESC LIMIT ? OFFSET ?"), id, limit, offset)
	if err != nil {
		return nil, translate(err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return nil, translate(err)
	}
	if len(evs) > 0 {
		return evs, nil
	}
	var n int
	err = rdb.QueryRowContext(ctx, s.rebind("SELECT (SELECT count(*) FROM oauth_clients WHERE id = ?) + (SELECT count(*) FROM client_events WHERE client_id = ?)"), id, id).Scan(&n)
	if err != nil {
		return nil, translate(err)
	}
	if n == 0 {
		return nil, notFound(id)
	}
	return evs, nil
}

// ClientEvent returns the event seq of client id, or a 404.
func (s *Store) ClientEvent(ctx context.Context, id string, seq int64) (events.Event, error) {
	rdb, _ := s.r.DB()
	rows, err := rdb.QueryContext(ctx, s.rebind("SELECT "+eventColumns+" FROM client_events WHERE client_id = ? AND seq = ?"), id, seq)
	if err != nil {
		return events.Event{}, translate(err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return events.Event{}, translate(err)
	}
	if len(evs) == 0 {
		return events.Event{}, apierrors.NewNotFound(fmt.Sprintf("event %d of oauth client %s", seq, id))
	}
	return evs[0], nil
}

// PruneEvents forgets the events older than before and reports how many.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind("DELETE FROM client_events WHERE time < ?"), before.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
