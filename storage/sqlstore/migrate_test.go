package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestMigrate(t *testing.T) {
	for _, backend := range sqltest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: backend, DSN: sqltest.DSN(t, backend)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })

			if v, err := s.SchemaVersion(ctx); err != nil || v != 0 {
				t.Fatalf("SchemaVersion of an empty database = %d, %v; want 0", v, err)
			}
			// Replicas starting together.
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { errs[i] = s.Migrate(ctx) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("concurrent Migrate %d: %v", i, err)
				}
			}
			want := sqlstore.LatestSchemaVersion()
			if v, err := s.SchemaVersion(ctx); err != nil || v != want {
				t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, want)
			}
			// A second run is a no-op.
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("second Migrate: %v", err)
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != want {
				t.Fatalf("SchemaVersion after second Migrate = %d, %v; want %d", v, err, want)
			}
		})
	}
}

func TestDriverForDSN(t *testing.T) {
	tests := []struct {
		name string
		have string
		want string
	}{
		{"url", "postgres://u@h/db", sqlstore.DriverPostgres},
		{"url long scheme", "postgresql://u@h/db?sslmode=disable", sqlstore.DriverPostgres},
		{"keyword value", "host=localhost user=postgres dbname=x", sqlstore.DriverPostgres},
		{"keyword value host later", "user=postgres host=/run/postgresql", sqlstore.DriverPostgres},
		{"file", "latchkey.db", sqlstore.DriverSQLite},
		{"sqlite uri", "file:latchkey.db?_pragma=foreign_keys(1)", sqlstore.DriverSQLite},
		{"memory", ":memory:", sqlstore.DriverSQLite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sqlstore.DriverForDSN(tt.have); got != tt.want {
				t.Errorf("DriverForDSN(%q) = %q, want %q", tt.have, got, tt.want)
			}
		})
	}
}
