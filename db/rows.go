package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
)

// The hot paths — reading one client, and the read-modify-write of an
// update — go through database/sql with prepared statements rather than
// GORM's reflection: they run on every GET and, inside the single SQLite
// writer, on every PATCH.

var clientColumns = []string{
	"id", "name", "name_lower", "description", "business_name", "business_name_lower", "homepage_url",
	"tenant", "tenant_lower", "access_token_validity_seconds", "refresh_token_validity_seconds",
	"redirect_uris", "grant_types", "access_type", "type", "internal", "enabled", "strong_auth_supported",
	"claims_supported", "scope", "created", "modified", "last_used", "secret_hash", "token_generation",
}

var selectClient = "SELECT " + strings.Join(clientColumns, ", ") + " FROM oauth_clients WHERE id = ?"

// updatable lists the columns an update may write: all but id, created and
// last_used (which only TouchLastUsed writes).
var updatable = func() []string {
	var out []string
	for _, c := range clientColumns {
		switch c {
		case "id", "created", "last_used":
			continue
		}
		out = append(out, c)
	}
	return out
}()

// updatableValues returns r's values in the order of updatable.
func updatableValues(r *clientRow) []any {
	return []any{r.Name, r.NameLower, r.Description, r.BusinessName, r.BusinessNameLower, r.HomepageURL,
		r.Tenant, r.TenantLower, r.AccessTokenValiditySeconds, r.RefreshTokenValiditySeconds,
		r.RedirectURIs, r.GrantTypes, r.AccessType, r.Type, r.Internal, r.Enabled, r.StrongAuthSupported,
		r.ClaimsSupported, r.Scope, r.Modified, r.SecretHash, r.TokenGeneration}
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case *string:
		y := b.(*string)
		return x == nil && y == nil || x != nil && y != nil && *x == *y
	case []byte:
		return bytes.Equal(x, b.([]byte))
	}
	return a == b
}

// updateChanged is the UPDATE of the columns whose values differ between
// old and new, and its arguments. Writing only those matters: SQLite
// rewrites an index entry for every indexed column in the SET list, changed
// or not.
func updateChanged(old, new *clientRow) (string, []any) {
	ov, nv := updatableValues(old), updatableValues(new)
	var b strings.Builder
	b.WriteString("UPDATE oauth_clients SET ")
	var args []any
	for i, c := range updatable {
		if sameValue(ov[i], nv[i]) {
			continue
		}
		if len(args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = ?")
		args = append(args, nv[i])
	}
	b.WriteString(" WHERE id = ?")
	return b.String(), append(args, new.ID)
}

type scanner interface{ Scan(dest ...any) error }

func scanClient(s scanner) (clientRow, error) {
	var r clientRow
	err := s.Scan(&r.ID, &r.Name, &r.NameLower, &r.Description, &r.BusinessName, &r.BusinessNameLower,
		&r.HomepageURL, &r.Tenant, &r.TenantLower, &r.AccessTokenValiditySeconds, &r.RefreshTokenValiditySeconds,
		&r.RedirectURIs, &r.GrantTypes, &r.AccessType, &r.Type, &r.Internal, &r.Enabled, &r.StrongAuthSupported,
		&r.ClaimsSupported, &r.Scope, &r.Created, &r.Modified, &r.LastUsed, &r.SecretHash, &r.TokenGeneration)
	return r, err
}

// stmts prepares each statement once per pool, on first use.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (p *stmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.m[query]; ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.m == nil {
		p.m = map[string]*sql.Stmt{}
	}
	p.m[query] = st
	return st, nil
}

func (p *stmts) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, st := range p.m {
		errs = append(errs, st.Close())
	}
	p.m = nil
	return errors.Join(errs...)
}
