package provider_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/ory/fosite"

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
	rotates int
	creates int
}

func newCountingStore(s storage.Store) *countingStore {
	return &countingStore{Store: s, reads: map[storage.TokenKind]int{}, deletes: map[storage.TokenKind]int{}}
}

func (c *countingStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.reads)
	clear(c.deletes)
	c.begins, c.rotates, c.creates = 0, 0, 0
}

func (c *countingStore) RotateToken(ctx context.Context, r storage.Rotation) error {
	c.mu.Lock()
	c.rotates++
	c.mu.Unlock()
	return c.Store.RotateToken(ctx, r)
}

func (c *countingStore) CreateToken(ctx context.Context, t storage.OAuthToken) error {
	c.mu.Lock()
	c.creates++
	c.mu.Unlock()
	return c.Store.CreateToken(ctx, t)
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

// TestRefreshStorageCalls checks that a refresh reads the refresh token once
// and writes once, with one storage.Rotation (one statement on PostgreSQL)
// and no transaction of its own, and that rotation still holds: the old
// refresh token and access token are inactive, reusing the old refresh token
// revokes the new ones.
func TestRefreshStorageCalls(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		cs := newCountingStore(s)
		f := newFixture(t, cs)
		code := f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"})
		first := f.exchange(webClientID, code, "")
		if first.status != http.StatusOK {
			t.Fatalf("exchange: %d %v", first.status, first.body)
		}
		cs.reset()
		res := f.refresh(webClientID, first.str("refresh_token"))
		if res.status != http.StatusOK || res.str("id_token") == "" {
			t.Fatalf("refresh: %d %v", res.status, res.body)
		}
		if n := cs.reads[storage.TokenRefresh]; n != 1 || len(cs.reads) != 1 {
			t.Errorf("reads %v, want the refresh token once", cs.reads)
		}
		if cs.rotates != 1 || cs.begins != 0 || cs.creates != 0 || len(cs.deletes) != 0 {
			t.Errorf("%d rotations, %d transactions, %d creates, deletes %v; want 1, 0, 0, none",
				cs.rotates, cs.begins, cs.creates, cs.deletes)
		}
		if f.active(first.str("refresh_token"), fosite.RefreshToken) || f.active(first.str("access_token"), fosite.AccessToken) {
			t.Error("the rotated refresh token or the previous access token is still active")
		}
		if !f.active(res.str("refresh_token"), fosite.RefreshToken) || !f.active(res.str("access_token"), fosite.AccessToken) {
			t.Error("the new tokens are not active")
		}
		if again := f.refresh(webClientID, first.str("refresh_token")); again.status != http.StatusBadRequest || again.str("error") != "invalid_grant" {
			t.Fatalf("reuse: %d %v, want invalid_grant", again.status, again.body)
		}
		if f.active(res.str("refresh_token"), fosite.RefreshToken) || f.active(res.str("access_token"), fosite.AccessToken) {
			t.Error("reusing the rotated refresh token left the family active")
		}
	})
}
