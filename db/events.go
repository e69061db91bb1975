package db

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
)

// takeSeqsSQL takes the next n event seqs (the argument) from the one
// counter row and returns the last. The UPDATE locks that row until the
// transaction ends, so on PostgreSQL the writers that have taken seqs
// commit one after the other, in seq order: a reader that sees seq n
// committed has every smaller seq committed or rolled back already, and a
// feed that reads "seq > last" never skips an event that commits late. It
// must be the last thing a write transaction does before inserting its
// events, so the lock is held only for those INSERTs and the COMMIT. The
// price is that commits of all writers are serialised (on SQLite they are
// anyway: one writer). BenchmarkEventSeq measures it against a SEQUENCE, 8
// parallel writers of distinct clients on PostgreSQL with fsync off: about
// 1.3 times the time per write (medians of four runs, noisy on a shared
// 2-core machine). With fsync on, the serialised part holds the WAL flush
// too, so one store's writes are bounded by one commit at a time.
//
// The same statement announces the events to other servers' listeners
// (NotifyEvents, sent when the transaction commits): one round trip fewer
// than a statement of its own.
//
// On SQLite the same is two statements, bumpSeqSQL and readSeqSQL: there
// an UPDATE … RETURNING costs about twice the CPU of the UPDATE and a
// SELECT (BenchmarkTakeSeqs), the one writer makes the pair atomic, and
// nobody listens.
const (
	takeSeqsSQL = "UPDATE event_sequence SET seq = seq + ? WHERE id = 1 RETURNING seq, pg_notify('" +
		NotifyChannel + "', '" + NotifyEvents + "') IS NULL"
	bumpSeqSQL = "UPDATE event_sequence SET seq = seq + ? WHERE id = 1"
	readSeqSQL = "SELECT seq FROM event_sequence WHERE id = 1"
)

// execQuerier is a transaction as notifyTx needs it.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertEventsSQL inserts n events, nine values each (eventValues).
func insertEventsSQL(n int) string {
	return "INSERT INTO client_events (seq, id, type, client_id, actor, tracking_id, time, before, after) VALUES " +
		repeatJoined("(?, ?, ?, ?, ?, ?, ?, ?, ?)", n)
}

// insertClientEventSQL inserts one event.
var insertClientEventSQL = insertEventsSQL(1)

func eventValues(e *pendingEvent) []any {
	ev := &e.ev
	return []any{ev.Seq, ev.ID, string(ev.Type), ev.ClientID, ev.Actor, ev.TrackingID, ev.Time.UnixMilli(), e.before, e.after}
}

// eventChunks are the sizes in which a transaction's events (and their
// deliveries) are inserted on SQLite, largest first, from a fixed set of
// prepared statements: one statement per chunk, and at most six chunks for
// up to 63 events.
var eventChunks = func() []eventChunk {
	var out []eventChunk
	for _, n := range []int{32, 16, 8, 4, 2, 1} {
		out = append(out, eventChunk{n, insertEventsSQL(n), insertDeliveriesSQL(n)})
	}
	return out
}()

// eventChunk is one of eventChunks: its size and its two statements, built
// once rather than in every write.
type eventChunk struct {
	n                  int
	events, deliveries string
}

// pgEventsSQL[n] inserts n events and their deliveries on PostgreSQL in
// one statement, one round trip (a data-modifying WITH; SQLite has none),
// where the chunks' two statements each took up to twelve. pgx prepares
// and caches each size on each connection by itself. A transaction with
// more than pgEventsMax events takes several.
const pgEventsMax = 64

var pgEventsSQL = func() []string {
	out := make([]string, pgEventsMax+1)
	for n := 1; n <= pgEventsMax; n++ {
		out[n] = rebindPostgres("WITH e AS (" + insertEventsSQL(n) + ") " + insertDeliveriesSQL(n))
	}
	return out
}()

func repeatJoined(s string, n int) string {
	return strings.TrimSuffix(strings.Repeat(s+", ", n), ", ")
}

// takeSeqs takes n event seqs inside tx and returns the first; they run
// to first+n-1. See takeSeqsSQL for when to call it.
func (s *Store) takeSeqs(ctx context.Context, tx *sql.Tx, n int) (int64, error) {
	var last int64
	if s.dialect == SQLite {
		if _, err := s.execFixed(ctx, tx, bumpSeqSQL, n); err != nil {
			return 0, err
		}
		if err := s.queryRowFixed(ctx, tx, readSeqSQL).Scan(&last); err != nil {
			return 0, err
		}
	} else if err := s.queryRowFixed(ctx, tx, takeSeqsSQL, n).Scan(&last, new(bool)); err != nil {
		return 0, err
	}
	return last - int64(n) + 1, nil
}

// pendingEvent is an event built before its seq is taken. Its snapshots
// are held encoded only (before, after): ev.Before and ev.After are nil.
type pendingEvent struct {
	ev            events.Event
	before, after *string
}

// encodedSnapshot is a client's JSON as an event records it: of,
// encodeSnapshot(snapshot(of)). A batch makes it once for the change whose
// after of is and the next change, whose before it is; the snapshot cache
// keeps it with the entry when it is known to be the entry's.
type encodedSnapshot struct {
	of   *models.OAuthClient
	json *string
}

// encodeState is c's encodedSnapshot; nil (no client) gives nils.
func encodeState(c *models.OAuthClient) (encodedSnapshot, error) {
	j, err := encodeSnapshot(snapshot(c))
	if err != nil {
		return encodedSnapshot{}, err
	}
	return encodedSnapshot{of: c, json: j}, nil
}

// newEvent builds the event of the client going from before to after (nil
// for none). The origin (actor, trackingId, and the type, which overrides
// typ when set) comes from ctx.
func newEvent(ctx context.Context, typ events.Type, before, after encodedSnapshot, now time.Time) (pendingEvent, error) {
	o := events.OriginFrom(ctx)
	if o.Type != "" {
		typ = o.Type
	}
	id, err := uuid.NewV7()
	if err != nil {
		return pendingEvent{}, err
	}
	state := after.of
	if state == nil {
		state = before.of
	}
	if state == nil {
		return pendingEvent{}, errors.New("store: an event needs a client before or after")
	}
	ev := events.Event{ID: hex.EncodeToString(id[:]), Type: typ, ClientID: state.ID, Actor: o.Actor, TrackingID: o.TrackingID, Time: now}
	return pendingEvent{ev: ev, before: before.json, after: after.json}, nil
}

// appendEvents records evs inside the write transaction tx, with
// consecutive seqs in their order, and queues them for webhooks. It must
// be the last thing before COMMIT (see takeSeqsSQL).
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, evs []pendingEvent) error {
	if len(evs) == 0 {
		return nil
	}
	first, err := s.takeSeqs(ctx, tx, len(evs))
	if err != nil {
		return fmt.Errorf("taking event seqs: %w", err)
	}
	for i := range evs {
		evs[i].ev.Seq = first + int64(i)
	}
	if s.dialect == Postgres {
		return insertEventsPostgres(ctx, tx, evs)
	}
	for rest := evs; len(rest) > 0; {
		c := eventChunks[len(eventChunks)-1]
		for _, c = range eventChunks {
			if c.n <= len(rest) {
				break
			}
		}
		n := c.n
		chunk := rest[:n]
		rest = rest[n:]
		evArgs := make([]any, 0, 9*n)
		dlArgs := make([]any, 0, 3*n)
		for i := range chunk {
			evArgs = append(evArgs, eventValues(&chunk[i])...)
			dlArgs = append(dlArgs, deliveryValues(&chunk[i].ev)...)
		}
		if _, err := s.execFixed(ctx, tx, c.events, evArgs...); err != nil {
			return fmt.Errorf("recording the events: %w", err)
		}
		if _, err := s.execFixed(ctx, tx, c.deliveries, dlArgs...); err != nil {
			return fmt.Errorf("queueing the events for webhooks: %w", err)
		}
	}
	return nil
}

// insertEventsPostgres inserts evs and their deliveries, pgEventsMax at a
// statement.
func insertEventsPostgres(ctx context.Context, tx *sql.Tx, evs []pendingEvent) error {
	for rest := evs; len(rest) > 0; {
		n := min(len(rest), pgEventsMax)
		args := make([]any, 0, 12*n)
		for i := range rest[:n] {
			args = append(args, eventValues(&rest[i])...)
		}
		for i := range rest[:n] {
			args = append(args, deliveryValues(&rest[i].ev)...)
		}
		if _, err := tx.ExecContext(ctx, pgEventsSQL[n], args...); err != nil {
			return fmt.Errorf("recording the events: %w", err)
		}
		rest = rest[n:]
	}
	return nil
}

// snapshot is c as an event keeps it: its Clone without the secrets'
// hashes, which no event needs. Only what Clone would change is copied: a
// nil string array (Clone makes it empty, which encodes as [] rather than
// null), the object arrays, and the secrets, whose hashes go; the rest is
// shared with c, which nothing changes while the event is built.
// TestSnapshotIsCloneWithoutHashes holds it to Clone.
func snapshot(c *models.OAuthClient) *models.OAuthClient {
	if c == nil {
		return nil
	}
	d := *c
	for i := range models.Members() {
		m := &models.Members()[i]
		switch {
		case m.Name == "secrets": // copied below, without the hashes
		case m.Type == models.ObjectArray,
			m.Type == models.StringArray && reflect.ValueOf(m.Field(c)).Elem().IsNil():
			m.Copy(&d, c)
		}
	}
	d.Secrets = make([]models.Secret, len(c.Secrets))
	for i, s := range c.Secrets {
		s.Hash = nil
		d.Secrets[i] = s
	}
	d.RegistrationTokenHash = nil
	return &d
}

// encodeSnapshot is c's JSON as json.Marshal writes it, built in the
// string it is returned as (json.Encoder adds a newline, which is cut).
func encodeSnapshot(c *models.OAuthClient) (*string, error) {
	if c == nil {
		return nil, nil
	}
	var b strings.Builder
	if err := json.NewEncoder(&b).Encode(c); err != nil {
		return nil, err
	}
	str := strings.TrimSuffix(b.String(), "\n")
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
