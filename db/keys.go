package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
)

// Signing keys (SPEC §6). The store enforces at most one next and one
// active key with partial unique indexes, so that servers rotating or
// starting at the same instant cannot both add one.

type signingKeyRow struct {
	KID        string `gorm:"column:kid;primaryKey"`
	Alg        string
	PrivateKey []byte
	Encrypted  bool
	State      string
	Created    int64
	Activates  int64
	Retires    *int64
}

func (signingKeyRow) TableName() string { return "signing_keys" }

func (r signingKeyRow) model() models.SigningKey {
	k := models.SigningKey{KID: r.KID, Algorithm: r.Alg, PrivateKey: r.PrivateKey, Encrypted: r.Encrypted,
		State: r.State, Created: fromMillis(r.Created), Activates: fromMillis(r.Activates)}
	if r.Retires != nil {
		k.Retires = fromMillis(*r.Retires)
	}
	return k
}

// SigningKeys returns every signing key, in the order they activate.
func (s *Store) SigningKeys(ctx context.Context) ([]models.SigningKey, error) {
	var rows []signingKeyRow
	if err := s.r.WithContext(ctx).Order("activates ASC, kid ASC").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]models.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}

// AddSigningKey stores k, a next or active key, and announces it. A second
// key in the same state (or a kid stored already) is a 409 Conflict and
// stores nothing.
func (s *Store) AddSigningKey(ctx context.Context, k models.SigningKey) error {
	if k.State != models.KeyNext && k.State != models.KeyActive {
		return fmt.Errorf("store: a signing key is added as next or active, not %q", k.State)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO signing_keys
			(kid, alg, private_key, encrypted, state, created, activates) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			k.KID, k.Algorithm, k.PrivateKey, k.Encrypted, k.State, k.Created.UnixMilli(), k.Activates.UnixMilli()); err != nil {
			return err
		}
		return s.notifyTx(ctx, tx, NotifyKeys)
	})
	if apierrors.IsConflict(err) {
		return apierrors.NewConflict("a signing key in state " + k.State + " exists already")
	}
	return err
}

// AdvanceSigningKeys moves the keys along their life at now, in one
// transaction: a next key whose time has come becomes active and the active
// key it replaces retired (as of the next key's activation); retired keys
// that retired before removeBefore are deleted. It reports whether anything
// changed, and announces it if so.
func (s *Store) AdvanceSigningKeys(ctx context.Context, now, removeBefore time.Time) (bool, error) {
	changed := false
	err := s.write(ctx, func(tx *sql.Tx) error {
		changed = false
		var kid string
		var at int64
		err := tx.QueryRowContext(ctx, s.rebind("SELECT kid, activates FROM signing_keys WHERE state = ? AND activates <= ?"),
			models.KeyNext, now.UnixMilli()).Scan(&kid, &at)
		switch {
		case err == sql.ErrNoRows:
		case err != nil:
			return err
		default:
			// Retire first: the active key's unique index holds at every
			// statement.
			if _, err := tx.ExecContext(ctx, s.rebind("UPDATE signing_keys SET state = ?, retires = ? WHERE state = ?"),
				models.KeyRetired, at, models.KeyActive); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.rebind("UPDATE signing_keys SET state = ? WHERE kid = ? AND state = ?"),
				models.KeyActive, kid, models.KeyNext); err != nil {
				return err
			}
			changed = true
		}
		res, err := tx.ExecContext(ctx, s.rebind("DELETE FROM signing_keys WHERE state = ? AND retires < ?"),
			models.KeyRetired, removeBefore.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			changed = true
		}
		if !changed {
			return nil
		}
		return s.notifyTx(ctx, tx, NotifyKeys)
	})
	return changed, err
}

// SealSigningKey replaces the plain private key of kid by its sealed form;
// a key sealed already is left as it is.
func (s *Store) SealSigningKey(ctx context.Context, kid string, sealed []byte) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rebind("UPDATE signing_keys SET private_key = ?, encrypted = ? WHERE kid = ? AND encrypted = ?"),
			sealed, true, kid, false)
		return err
	})
}
