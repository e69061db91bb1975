package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel is the PostgreSQL channel on which every change that other
// servers must see at once is announced, in the transaction that makes it,
// so that the announcement is sent if and only if the change commits.
const NotifyChannel = "clientele"

// Payloads of NotifyChannel: what a listening server should read again.
const (
	// NotifyKeys: the signing keys changed.
	NotifyKeys = "keys"
	// NotifyTokens: a token event was recorded (a token revoked, or a
	// client's tokens ended).
	NotifyTokens = "tokens"
	// NotifyEvents: a client event was recorded (SPEC §10); Listen wakes
	// the store's EventsWritten with it.
	NotifyEvents = "events"
	// NotifyReconnected is what Listen reports after every (re)connection:
	// announcements may have been missed, read everything again.
	NotifyReconnected = ""
)

// ListenApplicationName names the listening connection in
// pg_stat_activity.
const ListenApplicationName = "clientele-listen"

// Reconnection delays of Listen: doubling from the first to the last while
// connections keep failing; a connection that lived stableAfter resets it.
const (
	listenRetryFirst = 100 * time.Millisecond
	listenRetryMax   = 5 * time.Second
	stableAfter      = 10 * time.Second
)

// notifyTx announces payload on NotifyChannel when tx commits. SQLite has
// no other servers to tell.
func (s *Store) notifyTx(ctx context.Context, tx execQuerier, payload string) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, payload)
	return err
}

// CanListen reports whether Listen hears other servers: only PostgreSQL
// has any.
func (s *Store) CanListen() bool { return s.dialect == Postgres }

// Listen delivers every payload announced on NotifyChannel by any server
// sharing the store to onChange, and NotifyReconnected after each
// (re)connection. It holds one dedicated connection, outside the pools,
// reconnects by itself when it breaks (reporting why to onError), and
// returns when ctx ends. On SQLite it returns at once. onChange must not
// block for long: notifications wait meanwhile. NotifyEvents, and every
// (re)connection, also wake EventsWritten: event streams then show other
// servers' events at once instead of at their next poll.
func (s *Store) Listen(ctx context.Context, onChange func(payload string), onError func(error)) {
	if s.dialect != Postgres {
		return
	}
	retry := listenRetryFirst
	for ctx.Err() == nil {
		start := time.Now()
		err := s.listenOnce(ctx, onChange)
		if ctx.Err() != nil {
			return
		}
		if onError != nil {
			onError(fmt.Errorf("listening for changes of other servers: %s", oneLine(err)))
		}
		if time.Since(start) >= stableAfter {
			retry = listenRetryFirst
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, listenRetryMax)
	}
}

func (s *Store) listenOnce(ctx context.Context, onChange func(string)) error {
	cfg, err := pgx.ParseConfig(s.pgURL)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = ListenApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return err
	}
	s.written.Notify()
	onChange(NotifyReconnected)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Payload == NotifyEvents {
			s.written.Notify()
		}
		onChange(n.Payload)
	}
}
