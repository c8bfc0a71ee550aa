package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestMigrateAccountLifecycle upgrades a database at version 2, holding
// users, tokens and challenges, to migration 3 (login failures and the
// subject and user-challenge indexes) on each backend.
func TestMigrateAccountLifecycle(t *testing.T) {
	for _, backend := range sqltest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: backend, DSN: sqltest.DSN(t, backend)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			if err := s.MigrateTo(ctx, 2); err != nil {
				t.Fatalf("migrate to 2: %v", err)
			}
			u, err := s.CreateUser(ctx, storage.User{ConnectionID: "c1", Email: "ada@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenRefresh, Signature: "r", Subject: u.ID, Active: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateChallenge(ctx, storage.Challenge{ID: "ch", Kind: "email.reset", UserID: u.ID}); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrate to latest: %v", err)
			}
			if v, err := s.SchemaVersion(ctx); err != nil || v != sqlstore.LatestSchemaVersion() || v < 3 {
				t.Fatalf("SchemaVersion = %d, %v", v, err)
			}
			if n, err := s.DeactivateTokensBySubject(ctx, storage.TokenRefresh, u.ID); err != nil || n != 1 {
				t.Errorf("DeactivateTokensBySubject on an upgraded database = %d, %v; want 1", n, err)
			}
			if n, err := s.DeleteUserChallenges(ctx, "email.reset", u.ID); err != nil || n != 1 {
				t.Errorf("DeleteUserChallenges on an upgraded database = %d, %v; want 1", n, err)
			}
			f, err := s.RecordLoginFailure(ctx, storage.FailedLogin{ConnectionID: "c1", Identifier: "ada@example.com", IP: "192.0.2.1", Threshold: 1})
			if err != nil || !f.Blocked() {
				t.Errorf("RecordLoginFailure on an upgraded database = %+v, %v", f, err)
			}
			if got, err := s.GetUser(ctx, u.ID); err != nil || got.Email != "ada@example.com" {
				t.Errorf("user after upgrade = %+v, %v", got, err)
			}
		})
	}
}

// TestLoginBlockAcrossHandles stands for two replicas on one database:
// failures recorded through either handle add up, and a block recorded by
// one is seen by the other.
func TestLoginBlockAcrossHandles(t *testing.T) {
	for _, backend := range sqltest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			dsn := sqltest.DSN(t, backend)
			open := func() *sqlstore.Store {
				s, err := sqlstore.Open(ctx, sqlstore.Config{Driver: backend, DSN: dsn})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				if err := s.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				return s
			}
			a, b := open(), open()
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range errs {
				s := a
				if i%2 == 1 {
					s = b
				}
				wg.Go(func() {
					_, errs[i] = s.RecordLoginFailure(ctx, storage.FailedLogin{
						ConnectionID: "c1", Identifier: "ada@example.com", IP: "192.0.2.1", At: time.Now(), Threshold: 10,
					})
				})
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("RecordLoginFailure: %v", err)
				}
			}
			for name, s := range map[string]*sqlstore.Store{"a": a, "b": b} {
				f, err := s.GetLoginFailure(ctx, "c1", "ada@example.com", "192.0.2.1")
				if err != nil || f.Count != 20 || !f.Blocked() {
					t.Errorf("handle %s sees %+v, %v; want 20 failures, blocked", name, f, err)
				}
			}
			if _, err := b.ResetLoginFailures(ctx, "c1", "ada@example.com", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := a.GetLoginFailure(ctx, "c1", "ada@example.com", "192.0.2.1"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("handle a after b's reset: %v, want ErrNotFound", err)
			}
		})
	}
}
