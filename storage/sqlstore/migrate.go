package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// migration is one step of the schema. Steps are applied in order, each in
// the same transaction as its schema_migrations row, and are never edited
// once released: a change to the schema is a new step.
type migration struct {
	version int
	name    string
	// stmts are run one by one. "{ts}" and "{blob}" become the dialect's
	// timestamp and binary types.
	stmts []string
}

// migrations returns the schema history. Append only.
func migrations() []migration {
	return []migration{
		{version: 1, name: "initial schema", stmts: []string{
			`CREATE TABLE connections (
			id         text PRIMARY KEY,
			name       text NOT NULL,
			type       text NOT NULL DEFAULT '',
			settings   {blob},
			created_at {ts} NOT NULL,
			updated_at {ts} NOT NULL
		)`,
			`CREATE UNIQUE INDEX connections_name ON connections (name)`,

			`CREATE TABLE users (
			id             text PRIMARY KEY,
			connection_id  text NOT NULL,
			email          text NOT NULL DEFAULT '',
			email_verified boolean NOT NULL DEFAULT FALSE,
			username       text NOT NULL DEFAULT '',
			name           text NOT NULL DEFAULT '',
			given_name     text NOT NULL DEFAULT '',
			family_name    text NOT NULL DEFAULT '',
			nickname       text NOT NULL DEFAULT '',
			picture        text NOT NULL DEFAULT '',
			locale         text NOT NULL DEFAULT '',
			blocked        boolean NOT NULL DEFAULT FALSE,
			metadata       {blob},
			created_at     {ts} NOT NULL,
			updated_at     {ts} NOT NULL,
			last_login_at  {ts}
		)`,
			`CREATE UNIQUE INDEX users_connection_email ON users (connection_id, email) WHERE email <> ''`,
			`CREATE UNIQUE INDEX users_connection_username ON users (connection_id, username) WHERE username <> ''`,

			`CREATE TABLE credentials (
			id           text PRIMARY KEY,
			user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			kind         text NOT NULL,
			secret       text NOT NULL DEFAULT '',
			external_id  {blob},
			public_key   {blob},
			attributes   {blob},
			name         text NOT NULL DEFAULT '',
			sign_count   bigint NOT NULL DEFAULT 0,
			created_at   {ts} NOT NULL,
			updated_at   {ts} NOT NULL,
			last_used_at {ts}
		)`,
			// WebAuthn credential IDs are unique across all users.
			`CREATE UNIQUE INDEX credentials_external_id ON credentials (external_id) WHERE external_id IS NOT NULL`,
			`CREATE INDEX credentials_user_kind ON credentials (user_id, kind)`,
			// A user has at most one current password.
			`CREATE UNIQUE INDEX credentials_one_password ON credentials (user_id) WHERE kind = 'password'`,

			`CREATE TABLE clients (
			id                         text PRIMARY KEY,
			name                       text NOT NULL DEFAULT '',
			secret_hash                text NOT NULL DEFAULT '',
			public                     boolean NOT NULL DEFAULT FALSE,
			first_party                boolean NOT NULL DEFAULT FALSE,
			token_endpoint_auth_method text NOT NULL DEFAULT '',
			redirect_uris              text NOT NULL DEFAULT '[]',
			post_logout_redirect_uris  text NOT NULL DEFAULT '[]',
			grant_types                text NOT NULL DEFAULT '[]',
			response_types             text NOT NULL DEFAULT '[]',
			scopes                     text NOT NULL DEFAULT '[]',
			audience                   text NOT NULL DEFAULT '[]',
			web_origins                text NOT NULL DEFAULT '[]',
			connections                text NOT NULL DEFAULT '[]',
			id_token_signing_alg       text NOT NULL DEFAULT '',
			jwks                       {blob},
			jwks_uri                   text NOT NULL DEFAULT '',
			created_at                 {ts} NOT NULL,
			updated_at                 {ts} NOT NULL
		)`,

			`CREATE TABLE sessions (
			id            text PRIMARY KEY,
			token_hash    {blob} NOT NULL,
			user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			connection_id text NOT NULL DEFAULT '',
			auth_time     {ts} NOT NULL,
			amr           text NOT NULL DEFAULT '[]',
			acr           text NOT NULL DEFAULT '',
			evidence      {blob},
			ip            text NOT NULL DEFAULT '',
			user_agent    text NOT NULL DEFAULT '',
			created_at    {ts} NOT NULL,
			last_seen_at  {ts} NOT NULL,
			expires_at    {ts}
		)`,
			`CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash)`,
			`CREATE INDEX sessions_user_id ON sessions (user_id)`,
			`CREATE INDEX sessions_expires_at ON sessions (expires_at)`,

			`CREATE TABLE auth_requests (
			id            text PRIMARY KEY,
			client_id     text NOT NULL DEFAULT '',
			form          text NOT NULL DEFAULT '',
			connection_id text NOT NULL DEFAULT '',
			state         {blob},
			created_at    {ts} NOT NULL,
			expires_at    {ts}
		)`,
			`CREATE INDEX auth_requests_expires_at ON auth_requests (expires_at)`,

			`CREATE TABLE consents (
			user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			client_id  text NOT NULL,
			scopes     text NOT NULL DEFAULT '[]',
			created_at {ts} NOT NULL,
			updated_at {ts} NOT NULL,
			PRIMARY KEY (user_id, client_id)
		)`,

			`CREATE TABLE signing_keys (
			id                text PRIMARY KEY,
			generation        bigint NOT NULL,
			algorithm         text NOT NULL,
			public_jwk        {blob},
			private_encrypted {blob},
			created_at        {ts} NOT NULL,
			retired_at        {ts}
		)`,
			`CREATE UNIQUE INDEX signing_keys_generation_algorithm ON signing_keys (generation, algorithm)`,

			`CREATE TABLE oauth_tokens (
			kind             text NOT NULL,
			signature        text NOT NULL,
			request_id       text NOT NULL DEFAULT '',
			client_id        text NOT NULL DEFAULT '',
			subject          text NOT NULL DEFAULT '',
			session_id       text NOT NULL DEFAULT '',
			active           boolean NOT NULL DEFAULT TRUE,
			access_signature text NOT NULL DEFAULT '',
			requested_at     {ts} NOT NULL,
			expires_at       {ts},
			data             {blob},
			PRIMARY KEY (kind, signature)
		)`,
			`CREATE INDEX oauth_tokens_request_id ON oauth_tokens (request_id)`,
			`CREATE INDEX oauth_tokens_expires_at ON oauth_tokens (expires_at)`,

			`CREATE TABLE used_jtis (
			jti        text PRIMARY KEY,
			expires_at {ts} NOT NULL
		)`,
			`CREATE INDEX used_jtis_expires_at ON used_jtis (expires_at)`,

			`CREATE TABLE challenges (
			id         text PRIMARY KEY,
			kind       text NOT NULL,
			user_id    text NOT NULL DEFAULT '',
			data       {blob},
			created_at {ts} NOT NULL,
			expires_at {ts}
		)`,
			`CREATE INDEX challenges_expires_at ON challenges (expires_at)`,
		}},
		// A refresh rotates its family: DeactivateTokensByRequestID finds
		// the family's active tokens among every token the grant ever had,
		// which through request_id alone grew with the chain's length (an
		// 800-long chain cost PostgreSQL 20 ms per refresh). The partial
		// index holds only active tokens, so the lookup stays O(1).
		{version: 2, name: "index of active tokens by family", stmts: []string{
			`CREATE INDEX oauth_tokens_active_request ON oauth_tokens (request_id, kind) WHERE active`,
		}},
		{version: 3, name: "account lifecycle", stmts: []string{
			// Brute-force counters: one row per (connection, identifier, IP),
			// ip '*' being the account-wide counter. Upserted atomically.
			`CREATE TABLE login_failures (
			connection_id text NOT NULL,
			identifier    text NOT NULL,
			ip            text NOT NULL,
			failures      bigint NOT NULL DEFAULT 0,
			first_at      {ts} NOT NULL,
			last_at       {ts} NOT NULL,
			blocked_at    {ts},
			expires_at    {ts},
			PRIMARY KEY (connection_id, identifier, ip)
		)`,
			`CREATE INDEX login_failures_expires_at ON login_failures (expires_at)`,
			// Revoking a user's tokens (password reset) and invalidating a
			// user's older email links.
			`CREATE INDEX oauth_tokens_subject ON oauth_tokens (subject, kind)`,
			`CREATE INDEX challenges_user_kind ON challenges (user_id, kind)`,
		}},
	}
}

// migrationLockID is the PostgreSQL advisory lock key Migrate holds
// ("latchkey" in ASCII).
const migrationLockID = 0x6c617463686b6579

// LatestSchemaVersion is the schema version this build migrates to.
func LatestSchemaVersion() int {
	m := migrations()
	return m[len(m)-1].version
}

// Migrate brings the schema up to LatestSchemaVersion. It is safe to run from
// several replicas at once: on PostgreSQL the whole run holds a transaction
// advisory lock; on SQLite it runs in one BEGIN IMMEDIATE transaction. Every
// step and its schema_migrations row commit together, so a failed run leaves
// the previous version intact.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrate(ctx, migrations())
}

// migrate applies the steps of ms that the database lacks.
func (s *Store) migrate(ctx context.Context, ms []migration) error {
	tx, err := s.sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return wrap("migrate schema", err)
	}
	defer func() { _ = tx.Rollback() }()

	if s.driver == DriverPostgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockID)); err != nil {
			return wrap("migrate schema: lock", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.dialect(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint PRIMARY KEY,
		name       text NOT NULL DEFAULT '',
		applied_at {ts} NOT NULL
	)`)); err != nil {
		return wrap("migrate schema: create schema_migrations", err)
	}
	current, err := queryVersion(ctx, tx)
	if err != nil {
		return wrap("migrate schema", err)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("migrate schema: database is at version %d, newer than this build (%d)", current, latest)
	}
	applied := 0
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		for i, stmt := range m.stmts {
			if _, err := tx.ExecContext(ctx, s.dialect(stmt)); err != nil {
				return wrap(fmt.Sprintf("migrate schema: version %d statement %d", m.version, i+1), err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, s.now()); err != nil {
			return wrap(fmt.Sprintf("migrate schema: record version %d", m.version), err)
		}
		applied++
		s.log.InfoContext(ctx, "schema migrated", "version", m.version, "name", m.name)
	}
	if err := tx.Commit(); err != nil {
		return wrap("migrate schema: commit", err)
	}
	if applied == 0 {
		s.log.DebugContext(ctx, "schema up to date", "version", current)
	}
	return nil
}

// SchemaVersion returns the highest applied migration (0 for an empty
// database).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	if !s.gdb.WithContext(ctx).Migrator().HasTable("schema_migrations") {
		return 0, nil
	}
	v, err := queryVersion(ctx, s.sqlDB)
	if err != nil {
		return 0, wrap("read schema version", err)
	}
	return v, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func queryVersion(ctx context.Context, q querier) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		return 0, err
	}
	return int(v.Int64), nil
}

// dialect fills the type placeholders of a DDL statement.
func (s *Store) dialect(stmt string) string {
	if s.driver == DriverPostgres {
		return strings.NewReplacer("{ts}", "timestamptz", "{blob}", "bytea").Replace(stmt)
	}
	return strings.NewReplacer("{ts}", "datetime", "{blob}", "blob").Replace(stmt)
}

// rebind turns ? placeholders into PostgreSQL's $n for raw database/sql use.
func (s *Store) rebind(q string) string {
	if s.driver != DriverPostgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
