package provider_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// benchBackends runs fn per backend with a fresh fixture whose logs are
// discarded.
func benchBackends(b *testing.B, fn func(b *testing.B, f *fixture)) {
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			f := newFixture(b, sqltest.Open(b, backend), func(c *provider.Config) {
				c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			})
			b.ReportAllocs()
			b.ResetTimer()
			fn(b, f)
		})
	}
}

func BenchmarkClientCredentials(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *fixture) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res := f.token(serviceClientID, f.secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}})
				if res.status != http.StatusOK {
					b.Errorf("status %d %v", res.status, res.body)
					return
				}
			}
		})
	})
}

func BenchmarkCodeExchange(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *fixture) {
		for b.Loop() {
			b.StopTimer()
			code := f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"})
			b.StartTimer()
			if res := f.exchange(webClientID, code, ""); res.status != http.StatusOK {
				b.Fatalf("status %d %v", res.status, res.body)
			}
		}
	})
}

func BenchmarkRefresh(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *fixture) {
		b.StopTimer()
		rt := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"}), "").str("refresh_token")
		b.StartTimer()
		for b.Loop() {
			res := f.refresh(webClientID, rt)
			if res.status != http.StatusOK {
				b.Fatalf("status %d %v", res.status, res.body)
			}
			rt = res.str("refresh_token")
		}
	})
}

func BenchmarkIntrospection(b *testing.B) {
	benchBackends(b, func(b *testing.B, f *fixture) {
		b.StopTimer()
		at := f.token(serviceClientID, f.secret, url.Values{"grant_type": {"client_credentials"}}).str("access_token")
		b.StartTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !f.active(at, fosite.AccessToken) {
					b.Error("inactive")
					return
				}
			}
		})
	})
}
