package db

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// migration is one versioned schema change, written for each dialect.
// Versions only grow; a released migration is never edited.
type migration struct {
	version  int
	name     string
	sqlite   []string
	postgres []string
}

var migrations = []migration{
	{
		version: 1,
		name:    "oauth clients, signing keys and token events",
		sqlite: []string{
			`CREATE TABLE oauth_clients (
				id TEXT PRIMARY KEY,
				name TEXT NOT NULL,
				name_lower TEXT NOT NULL,
				description TEXT,
				business_name TEXT,
				business_name_lower TEXT,
				homepage_url TEXT,
				tenant TEXT,
				tenant_lower TEXT,
				access_token_validity_seconds INTEGER NOT NULL,
				refresh_token_validity_seconds INTEGER NOT NULL,
				redirect_uris TEXT NOT NULL,
				grant_types TEXT NOT NULL,
				access_type TEXT NOT NULL,
				type TEXT NOT NULL,
				internal BOOLEAN NOT NULL,
				enabled BOOLEAN NOT NULL,
				strong_auth_supported BOOLEAN NOT NULL,
				claims_supported BOOLEAN NOT NULL,
				scope TEXT NOT NULL,
				created INTEGER NOT NULL,
				modified INTEGER NOT NULL,
				last_used INTEGER,
				secret_hash BLOB,
				token_generation INTEGER NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX oauth_clients_created ON oauth_clients (created, id)`,
			`CREATE INDEX oauth_clients_modified ON oauth_clients (modified, id)`,
			`CREATE INDEX oauth_clients_last_used ON oauth_clients (last_used, id)`,
			`CREATE INDEX oauth_clients_name_lower ON oauth_clients (name_lower, id)`,
			`CREATE INDEX oauth_clients_tenant_lower ON oauth_clients (tenant_lower)`,
			`CREATE INDEX oauth_clients_id_lower ON oauth_clients (lower(id))`,
			`CREATE TABLE signing_keys (
				kid TEXT PRIMARY KEY,
				alg TEXT NOT NULL,
				private_key BLOB NOT NULL,
				created INTEGER NOT NULL
			)`,
			`CREATE TABLE token_events (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				client_id TEXT NOT NULL,
				jti TEXT,
				expires_at INTEGER NOT NULL,
				created INTEGER NOT NULL
			)`,
			`CREATE INDEX token_events_created ON token_events (created)`,
			`CREATE INDEX token_events_expires_at ON token_events (expires_at)`,
		},
		postgres: []string{
			`CREATE TABLE oauth_clients (
				id TEXT PRIMARY KEY,
				name TEXT NOT NULL,
				name_lower TEXT NOT NULL,
				description TEXT,
				business_name TEXT,
				business_name_lower TEXT,
				homepage_url TEXT,
				tenant TEXT,
				tenant_lower TEXT,
				access_token_validity_seconds INTEGER NOT NULL,
				refresh_token_validity_seconds INTEGER NOT NULL,
				redirect_uris TEXT NOT NULL,
				grant_types TEXT NOT NULL,
				access_type TEXT NOT NULL,
				type TEXT NOT NULL,
				internal BOOLEAN NOT NULL,
				enabled BOOLEAN NOT NULL,
				strong_auth_supported BOOLEAN NOT NULL,
				claims_supported BOOLEAN NOT NULL,
				scope TEXT NOT NULL,
				created BIGINT NOT NULL,
				modified BIGINT NOT NULL,
				last_used BIGINT,
				secret_hash BYTEA,
				token_generation BIGINT NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX oauth_clients_created ON oauth_clients (created, id)`,
			`CREATE INDEX oauth_clients_modified ON oauth_clients (modified, id)`,
			`CREATE INDEX oauth_clients_last_used ON oauth_clients (last_used, id)`,
			`CREATE INDEX oauth_clients_name_lower ON oauth_clients (name_lower text_pattern_ops, id)`,
			`CREATE INDEX oauth_clients_tenant_lower ON oauth_clients (tenant_lower)`,
			`CREATE INDEX oauth_clients_id_lower ON oauth_clients (lower(id))`,
			`CREATE TABLE signing_keys (
				kid TEXT PRIMARY KEY,
				alg TEXT NOT NULL,
				private_key BYTEA NOT NULL,
				created BIGINT NOT NULL
			)`,
			`CREATE TABLE token_events (
				id BIGSERIAL PRIMARY KEY,
				client_id TEXT NOT NULL,
				jti TEXT,
				expires_at BIGINT NOT NULL,
				created BIGINT NOT NULL
			)`,
			`CREATE INDEX token_events_created ON token_events (created)`,
			`CREATE INDEX token_events_expires_at ON token_events (expires_at)`,
		},
	},
	{
		// Keys that existed before are the active key: the oldest, which
		// was the one signing. Any other (a start-up race could add one)
		// never signed and is retired at once, to be removed in a day.
		version:  2,
		name:     "signing key lifecycle",
		sqlite:   keyLifecycle("INTEGER", "BOOLEAN NOT NULL DEFAULT FALSE"),
		postgres: keyLifecycle("BIGINT", "BOOLEAN NOT NULL DEFAULT FALSE"),
	},
	{
		// seq is taken from the one row of event_sequence, under its row
		// lock, as the last statement of a write (db.takeSeqsSQL).
		version:  3,
		name:     "client events and their sequence",
		sqlite:   clientEvents("INTEGER"),
		postgres: clientEvents("BIGINT"),
	},
	{
		version:  4,
		name:     "the audience of a client's tokens",
		sqlite:   []string{`ALTER TABLE oauth_clients ADD COLUMN audience TEXT NOT NULL DEFAULT '[]'`},
		postgres: []string{`ALTER TABLE oauth_clients ADD COLUMN audience TEXT NOT NULL DEFAULT '[]'`},
	},
	{
		version:  5,
		name:     "a version of each client row, for compare-and-swap updates",
		sqlite:   []string{`ALTER TABLE oauth_clients ADD COLUMN version INTEGER NOT NULL DEFAULT 0`},
		postgres: []string{`ALTER TABLE oauth_clients ADD COLUMN version BIGINT NOT NULL DEFAULT 0`},
	},
	{
		// A client's one secret becomes the first of its secrets (SPEC §9),
		// created when the client last changed; its hint is unknown, as
		// only its hash was kept.
		version: 6,
		name:    "client credentials: secrets, authentication methods, keys",
		sqlite: credentials("INTEGER",
			`json_array(json_object('id', lower(hex(randomblob(16))),
				'created', strftime('%Y-%m-%dT%H:%M:%fZ', modified / 1000.0, 'unixepoch'),
				'expires', NULL, 'lastUsed', NULL, 'hint', NULL, 'hash', lower(hex(secret_hash))))`),
		postgres: credentials("BIGINT",
			`json_build_array(json_build_object('id', md5(random()::text || id),
				'created', to_char(to_timestamp(modified / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
				'expires', NULL, 'lastUsed', NULL, 'hint', NULL, 'hash', encode(secret_hash, 'hex')))::text`),
	},
	{
		// A delivery row is written with the event it carries, in the
		// same transaction (a transactional outbox); it is deleted once
		// delivered or given up.
		version:  7,
		name:     "webhooks and their deliveries",
		sqlite:   webhookTables("INTEGER"),
		postgres: webhookTables("BIGINT"),
	},
	{
		// The SHA-256 of a dynamically registered client's RFC 7592
		// registration access token (SPEC §12); NULL for every other client.
		version:  8,
		name:     "registration access tokens",
		sqlite:   []string{`ALTER TABLE oauth_clients ADD COLUMN registration_token_hash BLOB`},
		postgres: []string{`ALTER TABLE oauth_clients ADD COLUMN registration_token_hash BYTEA`},
	},
}

// webhookTables is migration 7 for a dialect's integer type.
func webhookTables(integer string) []string {
	return []string{
		`CREATE TABLE webhooks (
			id TEXT PRIMARY KEY,
			url TEXT NOT NULL,
			secret TEXT NOT NULL,
			event_types TEXT NOT NULL,
			exclude_actors TEXT NOT NULL,
			created ` + integer + ` NOT NULL
		)`,
		`CREATE TABLE webhook_deliveries (
			webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
			seq ` + integer + ` NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			first_attempt ` + integer + `,
			next_attempt ` + integer + ` NOT NULL,
			lease_until ` + integer + ` NOT NULL DEFAULT 0,
			PRIMARY KEY (webhook_id, seq)
		)`,
	}
}

// clientEvents is migration 3 for a dialect's integer type.
func clientEvents(integer string) []string {
	return []string{
		`CREATE TABLE client_events (
			seq ` + integer + ` PRIMARY KEY,
			id TEXT NOT NULL UNIQUE,
			type TEXT NOT NULL,
			client_id TEXT NOT NULL,
			actor TEXT NOT NULL,
			tracking_id TEXT NOT NULL,
			time ` + integer + ` NOT NULL,
			before TEXT,
			after TEXT
		)`,
		`CREATE INDEX client_events_client ON client_events (client_id, seq)`,
		`CREATE INDEX client_events_time ON client_events (time)`,
		`CREATE TABLE event_sequence (id INTEGER PRIMARY KEY, seq ` + integer + ` NOT NULL)`,
		`INSERT INTO event_sequence (id, seq) VALUES (1, 0)`,
	}
}

// credentials is migration 6 for a dialect's integer type and its
// expression of the JSON array holding a row's one secret.
func credentials(integer, oneSecret string) []string {
	return []string{
		`ALTER TABLE oauth_clients ADD COLUMN secrets TEXT NOT NULL DEFAULT '[]'`,
		`ALTER TABLE oauth_clients ADD COLUMN token_endpoint_auth_methods TEXT NOT NULL
			DEFAULT '["client_secret_basic","client_secret_post"]'`,
		`ALTER TABLE oauth_clients ADD COLUMN jwks TEXT`,
		`ALTER TABLE oauth_clients ADD COLUMN jwks_uri TEXT`,
		`UPDATE oauth_clients SET token_endpoint_auth_methods = '["none"]' WHERE type = 'PUBLIC'`,
		`UPDATE oauth_clients SET secrets = ` + oneSecret + ` WHERE secret_hash IS NOT NULL`,
		`ALTER TABLE oauth_clients DROP COLUMN secret_hash`,
		// The jti of every accepted client assertion, until it expires, so
		// that no server sharing the store accepts it twice (RFC 7523 §3).
		`CREATE TABLE client_assertions (
			client_id TEXT NOT NULL,
			jti TEXT NOT NULL,
			expires ` + integer + ` NOT NULL,
			PRIMARY KEY (client_id, jti)
		)`,
		`CREATE INDEX client_assertions_expires ON client_assertions (expires)`,
	}
}

// keyLifecycle is migration 2 for a dialect's integer and boolean types.
func keyLifecycle(integer, boolean string) []string {
	return []string{
		`ALTER TABLE signing_keys ADD COLUMN state TEXT NOT NULL DEFAULT 'active'`,
		`ALTER TABLE signing_keys ADD COLUMN activates ` + integer + ` NOT NULL DEFAULT 0`,
		`ALTER TABLE signing_keys ADD COLUMN retires ` + integer,
		`ALTER TABLE signing_keys ADD COLUMN encrypted ` + boolean,
		`UPDATE signing_keys SET activates = created`,
		`UPDATE signing_keys SET state = 'retired', retires = created
			WHERE kid <> (SELECT kid FROM signing_keys ORDER BY created, kid LIMIT 1)`,
		`CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active'`,
		`CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next'`,
	}
}

// migrationLock is the PostgreSQL advisory lock that serialises servers
// migrating one database at once.
const migrationLock = 0x636c6e74 // "clnt"

// migrate applies every migration not yet recorded in schema_migrations,
// each in its own transaction. On PostgreSQL an advisory lock, held on one
// connection for the whole run, makes servers that start together migrate
// once; on SQLite the single writer connection and immediate transactions
// do the same.
func (s *Store) migrate(ctx context.Context) error {
	sqlDB, err := s.w.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("taking the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for _, m := range migrations {
		if err := s.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	stmts := m.sqlite
	if s.dialect == Postgres {
		stmts = m.postgres
	}
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// rebind turns ? placeholders into PostgreSQL's $n for raw database/sql
// statements (GORM does this itself for its own).
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	return rebindPostgres(q)
}

// rebindPostgres numbers q's placeholders for PostgreSQL: ? becomes $1,
// $2, …
func rebindPostgres(q string) string {
	var b []byte
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b = append(b, '$')
			b = strconv.AppendInt(b, int64(n), 10)
			continue
		}
		b = append(b, q[i])
	}
	return string(b)
}
