package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// benchParallelism × GOMAXPROCS goroutines stand for concurrent requests.
const benchParallelism = 8

// benchToken is a token shaped like an access token from client_credentials.
func benchToken(sig string) storage.OAuthToken {
	return storage.OAuthToken{
		Kind: storage.TokenAccess, Signature: sig, RequestID: "req-" + sig, ClientID: "svc", Subject: "svc",
		Active: true, RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
		Data: make([]byte, 600),
	}
}

// BenchmarkCreateToken inserts tokens from parallel goroutines (one durable
// commit each), the write half of a client_credentials grant.
func BenchmarkCreateToken(b *testing.B) {
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := sqltest.Open(b, backend)
			ctx := context.Background()
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.CreateToken(ctx, benchToken(fmt.Sprint(n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetToken reads tokens from parallel goroutines, as introspection
// does.
func BenchmarkGetToken(b *testing.B) {
	const tokens = 1000
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := sqltest.Open(b, backend)
			ctx := context.Background()
			for i := range tokens {
				if err := s.CreateToken(ctx, benchToken(fmt.Sprint(i))); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetToken(ctx, storage.TokenAccess, fmt.Sprint(n.Add(1)%tokens)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkClientCredentials is the storage work of one client_credentials
// grant: read the client, insert the token.
func BenchmarkClientCredentials(b *testing.B) {
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := sqltest.Open(b, backend)
			ctx := context.Background()
			if _, err := s.CreateClient(ctx, storage.Client{
				ID: "svc", SecretHash: "x", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api"},
			}); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.GetClient(ctx, "svc"); err != nil {
						b.Error(err)
						return
					}
					if err := s.CreateToken(ctx, benchToken(fmt.Sprint(n.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRotateLongFamily is the write half of a refresh late in a long
// refresh-token chain: the family already has 2,000 inactive tokens, and
// each rotation deactivates the presented refresh token and the family's
// access tokens, then stores a new pair, in one transaction. Its cost must
// not grow with the chain (the partial index of active tokens).
func BenchmarkRotateLongFamily(b *testing.B) {
	const history = 1000
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			s := sqltest.Open(b, backend)
			ctx := context.Background()
			pair := func(ctx context.Context, i int, active bool) error {
				for _, kind := range []storage.TokenKind{storage.TokenAccess, storage.TokenRefresh} {
					t := benchToken(fmt.Sprintf("%s-%d", kind, i))
					t.Kind, t.RequestID, t.Active = kind, "family", active
					if err := s.CreateToken(ctx, t); err != nil {
						return err
					}
				}
				return nil
			}
			for i := range history {
				if err := pair(ctx, i, false); err != nil {
					b.Fatal(err)
				}
			}
			if err := pair(ctx, history, true); err != nil {
				b.Fatal(err)
			}
			i := history
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				err := s.InTx(ctx, func(ctx context.Context) error {
					if err := s.DeactivateToken(ctx, storage.TokenRefresh, fmt.Sprintf("%s-%d", storage.TokenRefresh, i)); err != nil {
						return err
					}
					if n, err := s.DeactivateTokensByRequestID(ctx, storage.TokenAccess, "family"); err != nil || n != 1 {
						return fmt.Errorf("deactivated %d access tokens: %w", n, err)
					}
					i++
					return pair(ctx, i, true)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
