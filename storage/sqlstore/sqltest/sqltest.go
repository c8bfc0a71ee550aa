package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// Registers the "pgx" database/sql driver used to create and drop
	// databases (gorm.io/driver/postgres already depends on it).
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/latchkey/latchkey/storage/sqlstore"
)

// Environment variables read by this package.
const (
	// EnvPostgresDSN points at a PostgreSQL server whose user may create
	// databases, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
	EnvPostgresDSN = "LATCHKEY_TEST_POSTGRES_DSN"
	// EnvStrict, when "1", makes a missing EnvPostgresDSN fail the test
	// instead of skipping PostgreSQL (CI sets it).
	EnvStrict = "LATCHKEY_TEST_STRICT"
)

// Backends returns the backends to test against: "sqlite" always, and
// "postgres" when EnvPostgresDSN is set. With EnvStrict=1 and no DSN it
// fails t rather than silently dropping PostgreSQL.
func Backends(t testing.TB) []string {
	t.Helper()
	backends := []string{sqlstore.DriverSQLite}
	if os.Getenv(EnvPostgresDSN) != "" {
		return append(backends, sqlstore.DriverPostgres)
	}
	if os.Getenv(EnvStrict) == "1" {
		t.Fatalf("%s=1 but %s is not set: PostgreSQL tests cannot run", EnvStrict, EnvPostgresDSN)
	}
	return backends
}

// ForEach runs fn as a subtest per backend ("sqlite", "postgres"), each with
// a fresh migrated store.
func ForEach(t *testing.T, fn func(t *testing.T, s *sqlstore.Store)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) {
			fn(t, Open(t, b))
		})
	}
}

// Open returns a fresh, migrated store for backend, closed (and for
// PostgreSQL its database dropped) when the test ends.
func Open(t testing.TB, backend string) *sqlstore.Store {
	t.Helper()
	dsn := DSN(t, backend)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: backend, DSN: dsn})
	if err != nil {
		t.Fatalf("open %s store: %v", backend, err)
	}
	// Registered after DSN's cleanup, so it runs first: close, then drop.
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close %s store: %v", backend, err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate %s store: %v", backend, err)
	}
	return s
}

// DSN returns the DSN of a fresh, empty (unmigrated) database for backend:
// a file in t.TempDir() for SQLite, a new database on the EnvPostgresDSN
// server for PostgreSQL (dropped WITH (FORCE) when the test ends). Use it
// for tests that open the store themselves, such as cmd/ end-to-end tests.
func DSN(t testing.TB, backend string) string {
	t.Helper()
	switch backend {
	case sqlstore.DriverSQLite:
		return filepath.Join(t.TempDir(), "latchkey.db")
	case sqlstore.DriverPostgres:
		return postgresDatabase(t)
	default:
		t.Fatalf("unknown backend %q", backend)
		return ""
	}
}

func postgresDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgresDSN)
	if admin == "" {
		t.Fatalf("%s is not set", EnvPostgresDSN)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random database name: %v", err)
	}
	name := "latchkey_t_" + hex.EncodeToString(b[:])
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("build postgres DSN: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	defer db.Close()
	// name is generated above: hex only, safe to splice.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := sql.Open("pgx", admin)
		if err != nil {
			t.Errorf("connect to postgres: %v", err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return dsn
}

// withDatabase returns dsn pointing at database name instead.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse postgres URL: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// Keyword/value form: a later key overrides an earlier one.
	return dsn + " dbname=" + name, nil
}
