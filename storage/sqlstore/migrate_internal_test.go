package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/latchkey/latchkey/storage"
)

// TestMigrateUpgrade checks that a database at an older version is brought
// forward by later steps only, and that a failing step leaves the previous
// version intact.
func TestMigrateUpgrade(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: filepath.Join(t.TempDir(), "up.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	v1 := migrations()[:1]
	if err := s.migrate(ctx, v1); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	if _, err := s.sqlDB.ExecContext(ctx, `INSERT INTO connections (id, name, created_at, updated_at) VALUES ('c', 'database', '2024-01-01 00:00:00+00:00', '2024-01-01 00:00:00+00:00')`); err != nil {
		t.Fatal(err)
	}

	broken := append(append([]migration{}, v1...), migration{version: 2, name: "broken", stmts: []string{
		`ALTER TABLE connections ADD COLUMN note text NOT NULL DEFAULT ''`,
		`THIS IS NOT SQL`,
	}})
	if err := s.migrate(ctx, broken); err == nil {
		t.Fatal("migrate with a broken step succeeded")
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("SchemaVersion after failed step = %d, %v; want 1", v, err)
	}

	v2 := append(append([]migration{}, v1...), migration{version: 2, name: "note", stmts: []string{
		`ALTER TABLE connections ADD COLUMN note text NOT NULL DEFAULT ''`,
	}})
	if err := s.migrate(ctx, v2); err != nil {
		t.Fatalf("migrate to 2: %v", err)
	}
	if err := s.migrate(ctx, v2); err != nil {
		t.Fatalf("migrate to 2 again: %v", err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != 2 {
		t.Fatalf("SchemaVersion = %d, %v; want 2", v, err)
	}
	var note string
	if err := s.sqlDB.QueryRowContext(ctx, `SELECT note FROM connections WHERE id = 'c'`).Scan(&note); err != nil {
		t.Fatalf("existing row after upgrade: %v", err)
	}
	// Rows written before the upgrade still read through the store.
	if c, err := s.GetConnectionByName(ctx, "database"); err != nil || c.ID != "c" {
		t.Fatalf("GetConnectionByName after upgrade = %+v, %v", c, err)
	}
	// A binary older than the database refuses to touch it.
	if err := s.migrate(ctx, v1); err == nil {
		t.Fatal("migrate down to 1 succeeded; want an error")
	}
}

func TestSQLiteDSN(t *testing.T) {
	tests := []struct {
		name       string
		have       string
		want       string
		wantMemory bool
		wantErr    bool
	}{
		{name: "plain path", have: "latchkey.db",
			want: "latchkey.db?_pragma=busy_timeout%2810000%29&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate"},
		{name: "own pragmas kept", have: "file:x.db?_pragma=busy_timeout(1)&_txlock=deferred",
			want: "file:x.db?_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29&_pragma=busy_timeout%281%29&_txlock=deferred"},
		{name: "memory", have: ":memory:", wantMemory: true,
			want: ":memory:?_pragma=busy_timeout%2810000%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29&_txlock=immediate"},
		{name: "sqlite scheme", have: "sqlite:///var/lib/latchkey.db?_txlock=exclusive",
			want: "/var/lib/latchkey.db?_pragma=busy_timeout%2810000%29&_pragma=journal_mode%28WAL%29&_pragma=foreign_keys%281%29&_pragma=synchronous%28NORMAL%29&_txlock=exclusive"},
		{name: "empty path", have: "?_txlock=immediate", wantErr: true},
		{name: "time format rejected", have: "x.db?_time_format=sqlite", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, memory, err := sqliteDSN(tt.have)
			if (err != nil) != tt.wantErr {
				t.Fatalf("sqliteDSN(%q) error = %v, wantErr %v", tt.have, err, tt.wantErr)
			}
			if got != tt.want || memory != tt.wantMemory {
				t.Errorf("sqliteDSN(%q) = %q, %v; want %q, %v", tt.have, got, memory, tt.want, tt.wantMemory)
			}
		})
	}
}

func TestOpenMemory(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: ":memory:"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

func TestMapErr(t *testing.T) {
	tests := []struct {
		name string
		have error
		want error
	}{
		{"record not found", gorm.ErrRecordNotFound, storage.ErrNotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, storage.ErrAlreadyExists},
		{"foreign key violation", &pgconn.PgError{Code: "23503"}, storage.ErrNotFound},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, storage.ErrConflict},
		{"deadlock", fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), storage.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mapErr(tt.have)
			if !errors.Is(got, tt.want) {
				t.Errorf("mapErr(%v) = %v, want %v", tt.have, got, tt.want)
			}
			var pgErr *pgconn.PgError
			if errors.As(tt.have, &pgErr) && !errors.As(got, &pgErr) {
				t.Errorf("mapErr(%v) lost the driver error", tt.have)
			}
		})
	}
	other := errors.New("boom")
	if got := mapErr(other); got != other {
		t.Errorf("mapErr(other) = %v, want it unchanged", got)
	}
}
