package latchkey

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// machineSecret is the benchmark machine client's secret.
var machineSecret = strings.Repeat("m", 40)

func benchConfig() Config {
	cfg := baseConfig()
	cfg.Clients = []ClientConfig{{
		ID: "machine", Secret: machineSecret, FirstParty: true,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"},
	}}
	return cfg
}

// firstToken opens and migrates a fresh store at dsn, starts Latchkey on it
// and gets one client_credentials token: what a fresh install does before
// its first token. Like `latchkey serve`, it starts generating the signing
// keys before migrating.
func firstToken(b *testing.B, driver, dsn string) {
	ctx := context.Background()
	cfg := benchConfig()
	cfg.InitialKeys = provider.StartKeyGeneration()
	store, err := sqlstore.Open(ctx, sqlstore.Config{Driver: driver, DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	srv, err := New(ctx, cfg, store, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	req := httptest.NewRequest(http.MethodPost, "http://localhost:8080/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", machineSecret)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
}

// BenchmarkFirstToken measures a fresh install from an empty database to
// its first access token: open, migrate, New (key generation, seeding) and
// one client_credentials grant. Target: 150 ms.
func BenchmarkFirstToken(b *testing.B) {
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				var dsn string
				if backend == sqlstore.DriverSQLite {
					dsn = filepath.Join(b.TempDir(), "latchkey.db")
				} else {
					dsn = sqltest.DSN(b, backend)
				}
				b.StartTimer()
				firstToken(b, backend, dsn)
			}
		})
	}
}

// BenchmarkStart measures New on a database that already holds keys,
// connections and clients: a restart. Target: well under the 250 ms start-up
// budget.
func BenchmarkStart(b *testing.B) {
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			store := sqltest.Open(b, backend)
			ctx := context.Background()
			srv, err := New(ctx, benchConfig(), store, nil)
			if err != nil {
				b.Fatal(err)
			}
			_ = srv.Close()
			for b.Loop() {
				srv, err := New(ctx, benchConfig(), store, nil)
				if err != nil {
					b.Fatal(err)
				}
				_ = srv.Close()
			}
		})
	}
}
