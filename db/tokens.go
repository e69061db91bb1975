package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/clientele/clientele/models"
)

type tokenEventRow struct {
	ID        int64 `gorm:"primaryKey;autoIncrement"`
	ClientID  string
	JTI       *string `gorm:"column:jti"`
	ExpiresAt int64
	Created   int64
}

func (tokenEventRow) TableName() string { return "token_events" }

// RevokeToken records the revocation of one token for every server.
func (s *Store) RevokeToken(ctx context.Context, ev models.TokenEvent) error {
	if ev.Created.IsZero() {
		ev.Created = s.nowMillis()
	}
	return s.write(ctx, func(tx *sql.Tx) error { return s.insertTokenEvent(ctx, tx, ev) })
}

// TokenEvents returns the unexpired events created at or after since,
// oldest first.
func (s *Store) TokenEvents(ctx context.Context, since time.Time) ([]models.TokenEvent, error) {
	var rows []tokenEventRow
	err := s.r.WithContext(ctx).Where("created >= ? AND expires_at > ?", since.UnixMilli(), s.now().UnixMilli()).
		Order("created ASC, id ASC").Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]models.TokenEvent, len(rows))
	for i, r := range rows {
		out[i] = models.TokenEvent{ClientID: r.ClientID, ExpiresAt: fromMillis(r.ExpiresAt), Created: fromMillis(r.Created)}
		if r.JTI != nil {
			out[i].JTI = *r.JTI
		}
	}
	return out, nil
}

// PurgeTokenEvents forgets the events that expired before before.
func (s *Store) PurgeTokenEvents(ctx context.Context, before time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.rebind("DELETE FROM token_events WHERE expires_at < ?"), before.UnixMilli())
		return err
	})
}
