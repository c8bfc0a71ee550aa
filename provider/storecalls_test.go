package provider_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// countingStore counts the token reads and the writes outside a
// transaction that the provider makes.
type countingStore struct {
	storage.Store
	mu      sync.Mutex
	reads   map[storage.TokenKind]int
	deletes map[storage.TokenKind]int
	begins  int
}

func newCountingStore(s storage.Store) *countingStore {
	return &countingStore{Store: s, reads: map[storage.TokenKind]int{}, deletes: map[storage.TokenKind]int{}}
}

func (c *countingStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.reads)
	clear(c.deletes)
	c.begins = 0
}

func (c *countingStore) GetToken(ctx context.Context, kind storage.TokenKind, sig string) (storage.OAuthToken, error) {
	c.mu.Lock()
	c.reads[kind]++
	c.mu.Unlock()
	return c.Store.GetToken(ctx, kind, sig)
}

func (c *countingStore) DeleteToken(ctx context.Context, kind storage.TokenKind, sig string) error {
	c.mu.Lock()
	c.deletes[kind]++
	c.mu.Unlock()
	return c.Store.DeleteToken(ctx, kind, sig)
}

func (c *countingStore) BeginTx(ctx context.Context) (context.Context, error) {
	c.mu.Lock()
	c.begins++
	c.mu.Unlock()
	return c.Store.BeginTx(ctx)
}

// TestCodeExchangeStorageCalls checks that a code exchange reads the code
// once (fosite asks twice), commits one transaction and writes nothing
// outside it, and that the code stays single use.
func TestCodeExchangeStorageCalls(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		cs := newCountingStore(s)
		f := newFixture(t, cs)
		code := f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"})
		cs.reset()
		res := f.exchange(webClientID, code, "")
		if res.status != http.StatusOK || res.str("id_token") == "" {
			t.Fatalf("exchange: %d %v", res.status, res.body)
		}
		if n := cs.reads[storage.TokenAuthorizeCode]; n != 1 {
			t.Errorf("code read %d times, want 1", n)
		}
		if cs.begins != 1 {
			t.Errorf("%d transactions, want 1", cs.begins)
		}
		if len(cs.deletes) != 0 {
			t.Errorf("deletes outside the transaction: %v", cs.deletes)
		}
		if again := f.exchange(webClientID, code, ""); again.status != http.StatusBadRequest || again.str("error") != "invalid_grant" {
			t.Errorf("second exchange: %d %v, want invalid_grant", again.status, again.body)
		}
		if f.active(res.str("access_token"), "access_token") {
			t.Error("reusing the code left its access token active")
		}
	})
}
