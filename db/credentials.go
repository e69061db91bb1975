package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/clientele/clientele/clientkeys"
	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// RecordAssertion records the jti of a client assertion of clientID until
// expires, and returns clientkeys.ErrReplayed when that jti is recorded already and
// not yet expired. Every server sharing the store sees the record, so an
// assertion is accepted once across all of them (RFC 7523 §3, SPEC §6).
func (s *Store) RecordAssertion(ctx context.Context, clientID, jti string, expires time.Time) error {
	now := s.now().UTC().UnixMilli()
	// It rides a group commit (groupcommit.go), whose leader serves other
	// requests too: its context does not end with this request's.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return s.commit(gctx, &groupedWrite{
		// After every client id: a byte no id holds, then the key.
		id:    "\xff" + clientID + "\x00" + jti,
		query: recordAssertionSQL, fixed: true,
		args:      []any{clientID, jti, expires.UTC().UnixMilli(), now},
		unchanged: clientkeys.ErrReplayed,
	})
}

// recordAssertionSQL records a jti unless its record is there and not yet
// expired (an expired one no longer guards anything, and is replaced): one
// statement, prepared with the write path's, that changes a row exactly
// when the jti is accepted.
const recordAssertionSQL = `INSERT INTO client_assertions (client_id, jti, expires) VALUES (?, ?, ?)
	ON CONFLICT (client_id, jti) DO UPDATE SET expires = excluded.expires WHERE client_assertions.expires <= ?`

// PurgeAssertions forgets the assertion records that expired before t.
func (s *Store) PurgeAssertions(ctx context.Context, t time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rebind("DELETE FROM client_assertions WHERE expires < ?"), t.UTC().UnixMilli())
		return err
	})
}

// TouchSecret sets the lastUsed of the client's secret secretID to now,
// unless it moved within models.SecretLastUsedEvery. Like TouchLastUsed it
// is bookkeeping, not a change: modified stays, no event is written. A
// client or secret that is gone is no error.
func (s *Store) TouchSecret(ctx context.Context, clientID, secretID string, now time.Time) error {
	now = now.UTC().Truncate(time.Millisecond)
	st, err := s.lockingSelect(ctx)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		c, version, err := s.readVersionedTx(ctx, tx, st, clientID)
		if apierrors.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		i := c.FindSecret(secretID)
		if i < 0 {
			return nil
		}
		if last := c.Secrets[i].LastUsed; last != nil && now.Sub(*last) < models.SecretLastUsedEvery {
			return nil
		}
		c.Secrets[i].LastUsed = &now
		col, _ := models.LookupMember("secrets")
		s.snapshots.drop(clientID)
		// The version moves, so that an update planned on the row before
		// this one plans again rather than write the old lastUsed back.
		_, err = tx.ExecContext(ctx, s.rebind("UPDATE oauth_clients SET secrets = ?, version = version + 1 WHERE id = ? AND version = ?"),
			col.ColumnValue(&c), clientID, version)
		return err
	})
}
