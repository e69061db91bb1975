package db

import (
	"context"
	"database/sql"
)

// NotifyChannel is the PostgreSQL channel on which every change that other
// servers must see at once is announced, in the transaction that makes it.
const NotifyChannel = "clientele"

// Payloads of NotifyChannel: what a listening server should read again.
const (
	// NotifyKeys: the signing keys changed.
	NotifyKeys = "keys"
	// NotifyTokens: a token event was recorded.
	NotifyTokens = "tokens"
)

// notifyTx announces payload on NotifyChannel when tx commits. SQLite has
// no other servers to tell.
func (s *Store) notifyTx(ctx context.Context, tx *sql.Tx, payload string) error {
	if s.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", NotifyChannel, payload)
	return err
}
