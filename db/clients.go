package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"gorm.io/gorm"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/events"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func notFound(id string) error { return apierrors.NewNotFound("oauth client " + id) }

// now is the store's clock at millisecond precision, the precision kept.
func (s *Store) nowMillis() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// CreateClient stores c with Created = Modified = now and returns it as
// stored. c must be valid (the store does not validate: the caller did,
// once). A duplicate id is a 409 Conflict. With opts.DryRun nothing is
// stored and the answer is the client as it would be.
func (s *Store) CreateClient(ctx context.Context, c models.OAuthClient, opts models.WriteOptions) (models.OAuthClient, error) {
	now := s.nowMillis()
	c = c.Clone()
	c.Created, c.Modified = now, now
	if opts.DryRun {
		return c, nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.rebind(insertClient), insertValues(&c)...); err != nil {
			return err
		}
		return s.recordChanges(ctx, tx, clientChange{id: c.ID, after: &c, origin: events.OriginFrom(ctx)})
	})
	if apierrors.IsConflict(err) {
		return models.OAuthClient{}, apierrors.NewConflict("oauth client " + c.ID + " already exists")
	}
	if err != nil {
		return models.OAuthClient{}, err
	}
	return c, nil
}

// CreateClients stores every client of cs, and their created events, in
// one transaction: all of them or, when any insert fails, none (SPEC §3,
// bulk create). Each is stored as CreateClient stores one, with the same
// now, and the answer is in the order given. With opts.DryRun nothing is
// stored.
func (s *Store) CreateClients(ctx context.Context, cs []models.OAuthClient, opts models.WriteOptions) ([]models.OAuthClient, error) {
	now := s.nowMillis()
	out := make([]models.OAuthClient, len(cs))
	for i := range cs {
		out[i] = cs[i].Clone()
		out[i].Created, out[i].Modified = now, now
	}
	if opts.DryRun || len(out) == 0 {
		return out, nil
	}
	origin := events.OriginFrom(ctx)
	var failed string
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.rebind(insertClient))
		if err != nil {
			return err
		}
		defer st.Close()
		changes := make([]clientChange, len(out))
		for i := range out {
			if _, err := st.ExecContext(ctx, insertValues(&out[i])...); err != nil {
				failed = out[i].ID
				return err
			}
			changes[i] = clientChange{id: out[i].ID, after: &out[i], origin: origin}
		}
		return s.recordChanges(ctx, tx, changes...)
	})
	if apierrors.IsConflict(err) && failed != "" {
		return nil, apierrors.NewConflict("oauth client " + failed + " already exists")
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetClient returns the client id, or a 404.
func (s *Store) GetClient(ctx context.Context, id string) (models.OAuthClient, error) {
	st, err := s.rs.get(ctx, s.rebind(selectClient))
	if err != nil {
		return models.OAuthClient{}, translate(err)
	}
	c, err := scanClient(st.QueryRowContext(ctx, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return models.OAuthClient{}, notFound(id)
		}
		return models.OAuthClient{}, translate(err)
	}
	return c, nil
}

// ListClients runs q: its filter, its order made total by created and id,
// its limit and offset. total counts every client the filter matches and
// is computed only when q.Count (else -1).
func (s *Store) ListClients(ctx context.Context, q query.List) ([]models.OAuthClient, int64, error) {
	where, args := compileFilter(q.Where, s.dialect)
	base := s.r.WithContext(ctx).Table("oauth_clients")
	if where != "" {
		base = base.Where(where, args...)
	}
	total := int64(-1)
	if q.Count {
		if err := base.Session(&gorm.Session{}).Count(&total).Error; err != nil {
			return nil, 0, translate(err)
		}
	}
	if q.Limit == 0 {
		return []models.OAuthClient{}, total, nil
	}
	rows, err := base.Select(columnNames(readColumns)).Order(orderBy(q.Sort)).Limit(q.Limit).Offset(q.Offset).Rows()
	if err != nil {
		return nil, 0, translate(err)
	}
	defer rows.Close()
	out := []models.OAuthClient{}
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, 0, translate(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, translate(err)
	}
	return out, total, nil
}

// clientEventLifetime keeps a client's token event as long as any token
// issued before it could live.
const clientEventLifetime = 24 * time.Hour

// DeleteClient deletes the client after check(current) passes, and records
// a token event so that every server drops its tokens.
func (s *Store) DeleteClient(ctx context.Context, id string, check func(*models.OAuthClient) error) error {
	st, err := s.lockingSelect(ctx)
	if err != nil {
		return translate(err)
	}
	defer s.snapshots.drop(id)
	return s.write(ctx, func(tx *sql.Tx) error {
		cur, _, err := s.readVersionedTx(ctx, tx, st, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(&cur); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind("DELETE FROM oauth_clients WHERE id = ?"), id); err != nil {
			return err
		}
		return s.recordChanges(ctx, tx, clientChange{id: id, before: &cur, origin: events.OriginFrom(ctx)})
	})
}

// TouchLastUsed sets last_used to now when it is null or a day old, with
// one conditional UPDATE that also moves the row's version, so that an
// update read before it applies again on a snapshot that shows it. A missing client is no error.
func (s *Store) TouchLastUsed(ctx context.Context, id string, now time.Time) error {
	ms := now.UTC().UnixMilli()
	defer s.snapshots.drop(id)
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rebind("UPDATE oauth_clients SET last_used = ?, version = version + 1 WHERE id = ? AND (last_used IS NULL OR last_used <= ?)"),
			ms, id, ms-int64(24*time.Hour/time.Millisecond))
		return err
	})
}

// HasClientWithScope reports whether any client holds scope.
func (s *Store) HasClientWithScope(ctx context.Context, scope string) (bool, error) {
	var n int64
	quoted, _ := json.Marshal(scope) // a string always encodes
	err := s.r.WithContext(ctx).Table("oauth_clients").
		Where(`scope LIKE ? ESCAPE '\'`, "%"+likeEscape(string(quoted))+"%").Limit(1).Count(&n).Error
	if err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}
