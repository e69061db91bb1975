package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	apierrors "github.com/clientele/clientele/errors"
	"github.com/clientele/clientele/models"
	"github.com/clientele/clientele/query"
)

// clientRow is the stored form of an OAuth client. Times are Unix
// milliseconds, so that both dialects sort and compare them alike; the
// *_lower columns serve the case-insensitive filters.
type clientRow struct {
	ID                          string `gorm:"primaryKey"`
	Name                        string
	NameLower                   string
	Description                 *string
	BusinessName                *string
	BusinessNameLower           *string
	HomepageURL                 *string `gorm:"column:homepage_url"`
	Tenant                      *string
	TenantLower                 *string
	AccessTokenValiditySeconds  int
	RefreshTokenValiditySeconds int
	RedirectURIs                string `gorm:"column:redirect_uris"`
	GrantTypes                  string
	AccessType                  string
	Type                        string
	Internal                    bool
	Enabled                     bool
	StrongAuthSupported         bool
	ClaimsSupported             bool
	Scope                       string
	Created                     int64
	Modified                    int64
	LastUsed                    *int64
	SecretHash                  []byte
	TokenGeneration             int64
}

func (clientRow) TableName() string { return "oauth_clients" }

func lowerPtr(s *string) *string {
	if s == nil {
		return nil
	}
	l := strings.ToLower(*s)
	return &l
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only slices of strings are encoded here
	}
	return string(b)
}

func toRow(c *models.OAuthClient) clientRow {
	r := clientRow{
		ID: c.ID, Name: c.Name, NameLower: strings.ToLower(c.Name),
		Description: c.Description, BusinessName: c.BusinessName, BusinessNameLower: lowerPtr(c.BusinessName),
		HomepageURL: c.HomepageURL, Tenant: c.Tenant, TenantLower: lowerPtr(c.Tenant),
		AccessTokenValiditySeconds: c.AccessTokenValiditySeconds, RefreshTokenValiditySeconds: c.RefreshTokenValiditySeconds,
		RedirectURIs: mustJSON(nonNil(c.RedirectURIs)), GrantTypes: mustJSON(nonNil(c.GrantTypes)),
		AccessType: string(c.AccessType), Type: string(c.Type), Internal: c.Internal, Enabled: c.Enabled,
		StrongAuthSupported: c.StrongAuthSupported, ClaimsSupported: c.ClaimsSupported,
		Scope: mustJSON(nonNil(c.Scope)), Created: c.Created.UnixMilli(), Modified: c.Modified.UnixMilli(),
		SecretHash: c.SecretHash, TokenGeneration: c.TokenGeneration,
	}
	if c.LastUsed != nil {
		ms := c.LastUsed.UnixMilli()
		r.LastUsed = &ms
	}
	return r
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func (r *clientRow) model() (models.OAuthClient, error) {
	c := models.OAuthClient{
		ID: r.ID, Name: r.Name, Description: r.Description, BusinessName: r.BusinessName,
		HomepageURL: r.HomepageURL, Tenant: r.Tenant,
		AccessTokenValiditySeconds: r.AccessTokenValiditySeconds, RefreshTokenValiditySeconds: r.RefreshTokenValiditySeconds,
		AccessType: models.AccessType(r.AccessType), Type: models.ClientType(r.Type), Internal: r.Internal,
		Enabled: r.Enabled, StrongAuthSupported: r.StrongAuthSupported, ClaimsSupported: r.ClaimsSupported,
		Created: fromMillis(r.Created), Modified: fromMillis(r.Modified),
		SecretHash: r.SecretHash, TokenGeneration: r.TokenGeneration,
	}
	if err := json.Unmarshal([]byte(r.RedirectURIs), &c.RedirectURIs); err != nil {
		return c, fmt.Errorf("client %s: redirect_uris: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.GrantTypes), &c.GrantTypes); err != nil {
		return c, fmt.Errorf("client %s: grant_types: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(r.Scope), &c.Scope); err != nil {
		return c, fmt.Errorf("client %s: scope: %w", r.ID, err)
	}
	if r.LastUsed != nil {
		t := fromMillis(*r.LastUsed)
		c.LastUsed = &t
	}
	return c, nil
}

func notFound(id string) error { return apierrors.NewNotFound("oauth client " + id) }

// now is the store's clock at millisecond precision, the precision kept.
func (s *Store) nowMillis() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// CreateClient stores c with Created = Modified = now and returns it as
// stored. A duplicate id is a 409 Conflict.
func (s *Store) CreateClient(ctx context.Context, c models.OAuthClient) (models.OAuthClient, error) {
	now := s.nowMillis()
	c = c.Clone()
	c.Created, c.Modified = now, now
	row := toRow(&c)
	if err := s.w.WithContext(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return models.OAuthClient{}, apierrors.NewConflict("oauth client " + c.ID + " already exists")
		}
		return models.OAuthClient{}, translate(err)
	}
	return c, nil
}

// GetClient returns the client id, or a 404.
func (s *Store) GetClient(ctx context.Context, id string) (models.OAuthClient, error) {
	st, err := s.rs.get(ctx, s.rebind(selectClient))
	if err != nil {
		return models.OAuthClient{}, translate(err)
	}
	row, err := scanClient(st.QueryRowContext(ctx, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return models.OAuthClient{}, notFound(id)
		}
		return models.OAuthClient{}, translate(err)
	}
	return row.model()
}

// ListClients runs q: its filter, its order made total by created and id,
// its limit and offset. total counts every client the filter matches and
// is computed only when q.Count (else -1).
func (s *Store) ListClients(ctx context.Context, q query.List) ([]models.OAuthClient, int64, error) {
	where, args := compileFilter(q.Where, s.dialect)
	base := s.r.WithContext(ctx).Model(&clientRow{})
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
	var rows []clientRow
	if err := base.Order(orderBy(q.Sort)).Limit(q.Limit).Offset(q.Offset).Find(&rows).Error; err != nil {
		return nil, 0, translate(err)
	}
	out := make([]models.OAuthClient, len(rows))
	for i := range rows {
		c, err := rows[i].model()
		if err != nil {
			return nil, 0, err
		}
		out[i] = c
	}
	return out, total, nil
}

// UpdateClient reads the client, calls fn on a copy, validates the result
// and writes it, in one transaction with one now. fn's error is returned
// as it is and nothing is written. A result equal to the stored client
// writes nothing and keeps Modified. A change that must end the client's
// tokens bumps TokenGeneration and records a token event, in the same
// transaction.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(*models.OAuthClient) error) (models.OAuthClient, error) {
	out, err := s.updateClient(ctx, id, fn)
	if err != nil {
		return models.OAuthClient{}, translate(err)
	}
	return out, nil
}

func (s *Store) updateClient(ctx context.Context, id string, fn func(*models.OAuthClient) error) (models.OAuthClient, error) {
	query := selectClient
	if s.dialect == Postgres {
		query += " FOR UPDATE"
	}
	sel, err := s.ws.get(ctx, s.rebind(query))
	if err != nil {
		return models.OAuthClient{}, err
	}
	wdb, _ := s.w.DB()
	tx, err := wdb.BeginTx(ctx, nil)
	if err != nil {
		return models.OAuthClient{}, err
	}
	defer tx.Rollback()
	row, err := scanClient(tx.StmtContext(ctx, sel).QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return models.OAuthClient{}, notFound(id)
	}
	if err != nil {
		return models.OAuthClient{}, err
	}
	cur, err := row.model()
	if err != nil {
		return models.OAuthClient{}, err
	}
	next := cur.Clone()
	if err := fn(&next); err != nil {
		return models.OAuthClient{}, err
	}
	next.ID, next.Created, next.Modified, next.LastUsed = cur.ID, cur.Created, cur.Modified, cur.LastUsed
	if err := next.Validate(); err != nil {
		return models.OAuthClient{}, err
	}
	if models.SameStoredValues(&cur, &next) {
		return cur, nil
	}
	now := s.nowMillis()
	if models.InvalidatesTokens(&cur, &next) {
		next.TokenGeneration = cur.TokenGeneration + 1
		if _, err := tx.ExecContext(ctx, s.rebind(insertEventSQL), id, nil, now.Add(clientEventLifetime).UnixMilli(), now.UnixMilli()); err != nil {
			return models.OAuthClient{}, err
		}
	}
	next.Modified = now
	newRow := toRow(&next)
	// The statement depends on what changed, and the transaction holds
	// the writer's only connection: it runs unprepared, on that connection.
	query, args := updateChanged(&row, &newRow)
	if _, err := tx.ExecContext(ctx, s.rebind(query), args...); err != nil {
		return models.OAuthClient{}, err
	}
	if err := tx.Commit(); err != nil {
		return models.OAuthClient{}, err
	}
	return next, nil
}

const insertEventSQL = "INSERT INTO token_events (client_id, jti, expires_at, created) VALUES (?, ?, ?, ?)"

// lockClient reads a client inside a transaction, locking its row on
// PostgreSQL so that concurrent updates of one client run one after the
// other (SQLite's single writer already serialises them).
func (s *Store) lockClient(tx *gorm.DB, id string) (models.OAuthClient, error) {
	var row clientRow
	q := tx
	if s.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = ?", id).Take(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return models.OAuthClient{}, notFound(id)
		}
		return models.OAuthClient{}, err
	}
	return row.model()
}

// clientEventLifetime keeps a client's token event as long as any token
// issued before it could live.
const clientEventLifetime = 24 * time.Hour

// DeleteClient deletes the client after check(current) passes, and records
// a token event so that every server drops its tokens.
func (s *Store) DeleteClient(ctx context.Context, id string, check func(*models.OAuthClient) error) error {
	err := s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := s.lockClient(tx, id)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(&cur); err != nil {
				return err
			}
		}
		if err := tx.Where("id = ?", id).Delete(&clientRow{}).Error; err != nil {
			return err
		}
		now := s.nowMillis()
		return insertEvent(tx, models.TokenEvent{ClientID: id, Created: now, ExpiresAt: now.Add(clientEventLifetime)})
	})
	return translate(err)
}

// TouchLastUsed sets last_used to now when it is null or a day old, with
// one conditional UPDATE. A missing client is no error.
func (s *Store) TouchLastUsed(ctx context.Context, id string, now time.Time) error {
	ms := now.UTC().UnixMilli()
	err := s.w.WithContext(ctx).Model(&clientRow{}).
		Where("id = ? AND (last_used IS NULL OR last_used <= ?)", id, ms-int64(24*time.Hour/time.Millisecond)).
		Update("last_used", ms).Error
	return translate(err)
}

// HasClientWithScope reports whether any client holds scope.
func (s *Store) HasClientWithScope(ctx context.Context, scope string) (bool, error) {
	var n int64
	err := s.r.WithContext(ctx).Model(&clientRow{}).
		Where(`scope LIKE ? ESCAPE '\'`, "%"+likeEscape(mustJSON(scope))+"%").Limit(1).Count(&n).Error
	if err != nil {
		return false, translate(err)
	}
	return n > 0, nil
}
