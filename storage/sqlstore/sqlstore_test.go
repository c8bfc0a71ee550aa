package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

// TestSQLiteTwoHandles stands for two processes on one SQLite file: the
// in-process write gate does not span them, so SQLite's own locking (WAL,
// busy_timeout, BEGIN IMMEDIATE) must keep the single-winner guarantees.
func TestSQLiteTwoHandles(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "shared.db")
	open := func() *sqlstore.Store {
		s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
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
	if err := a.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAuthorizeCode, Signature: "code", Active: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateChallenge(ctx, storage.Challenge{ID: "ch", Kind: "k"}); err != nil {
		t.Fatal(err)
	}
	var (
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		deactivated, claimed int
	)
	for i := range 20 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			err := s.DeactivateToken(ctx, storage.TokenAuthorizeCode, "code")
			_, cerr := s.ConsumeChallenge(ctx, "k", "ch")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				deactivated++
			case !errors.Is(err, storage.ErrConflict):
				t.Errorf("DeactivateToken: %v", err)
			}
			switch {
			case cerr == nil:
				claimed++
			case !errors.Is(cerr, storage.ErrNotFound):
				t.Errorf("ConsumeChallenge: %v", cerr)
			}
		})
	}
	wg.Wait()
	if deactivated != 1 || claimed != 1 {
		t.Errorf("winners: DeactivateToken %d, ConsumeChallenge %d; want 1 and 1", deactivated, claimed)
	}
}

// TestAbandonedTransaction checks that a transaction whose context ends
// without Commit or Rollback does not block later writers.
func TestAbandonedTransaction(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: filepath.Join(t.TempDir(), "x.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	reqCtx, cancel := context.WithCancel(ctx)
	txCtx, err := s.BeginTx(reqCtx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(txCtx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "lost", Active: true}); err != nil {
		t.Fatal(err)
	}
	cancel() // the request ended; nobody committed

	wctx, wcancel := context.WithTimeout(ctx, 3*time.Second)
	defer wcancel()
	if err := s.CreateToken(wctx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "next", Active: true}); err != nil {
		t.Fatalf("write after an abandoned transaction: %v", err)
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "lost"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("abandoned transaction's write: got %v, want ErrNotFound", err)
	}
}
