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

func TestSmoke(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		u, err := s.CreateUser(ctx, storage.User{ConnectionID: "c1", Email: " A@B.com ", EmailVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.GetUserByEmail(ctx, "c1", "a@b.COM")
		if err != nil || g.ID != u.ID || !g.EmailVerified || !g.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("%+v %+v %v", u, g, err)
		}
		_, err = s.CreateUser(ctx, storage.User{ConnectionID: "c1", Email: "a@b.com"})
		if !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatal(err)
		}
		_, err = s.CreateChallenge(ctx, storage.Challenge{ID: "x", Kind: "k", Data: []byte("d"), ExpiresAt: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := s.ConsumeChallenge(ctx, "k", "x")
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
					if string(c.Data) != "d" || c.ExpiresAt.IsZero() {
						t.Errorf("%+v", c)
					}
				} else if !errors.Is(err, storage.ErrNotFound) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatal(wins)
		}
		if err := s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "s", Active: true}); err != nil {
			t.Fatal(err)
		}
		wins = 0
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.DeactivateToken(ctx, storage.TokenAccess, "s")
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					wins++
				} else if !errors.Is(err, storage.ErrConflict) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatal(wins)
		}
		if err := s.UseJTI(ctx, "j", time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.UseJTI(ctx, "j", time.Now().Add(time.Minute)); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatal(err)
		}
	})
}
