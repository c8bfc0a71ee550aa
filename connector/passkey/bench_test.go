package passkey_test

import (
	"testing"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// BenchmarkCeremonies measures the relying party's side of each ceremony
// (begin, the software authenticator's answer, finish) through the store:
//
//	go test -run '^$' -bench Ceremonies ./connector/passkey
//
// With LATCHKEY_TEST_POSTGRES_DSN set it also runs on PostgreSQL.
func BenchmarkCeremonies(b *testing.B) {
	for _, backend := range sqltest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, sqltest.Open(b, backend))
			u := e.user()
			a := passkeytest.New(origin)
			e.register(e.rp, u, a)

			b.Run("register", func(b *testing.B) {
				ru := e.user()
				rp := e.newRP(func(p *passkey.Policy) { p.MaxPasskeys = passkey.MaxPasskeysLimit })
				n := 0
				for b.Loop() {
					if n == passkey.MaxPasskeysLimit { // a fresh user when the cap is near
						ru, n = e.user(), 0
					}
					n++
					c, err := rp.BeginRegistration(e.ctx, ru, passkey.RegistrationOptions{})
					if err != nil {
						b.Fatal(err)
					}
					resp, _, err := passkeytest.New(origin).Create(c.PublicKey, passkeytest.Tamper{})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := rp.FinishRegistration(e.ctx, c.ID, resp); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("login-discoverable", func(b *testing.B) {
				for b.Loop() {
					c, err := e.rp.BeginLogin(e.ctx, nil, passkey.LoginOptions{})
					if err != nil {
						b.Fatal(err)
					}
					resp, err := a.Get(c.PublicKey, passkeytest.Tamper{})
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := e.rp.FinishLogin(e.ctx, c.ID, resp); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("login-email-first", func(b *testing.B) {
				for b.Loop() {
					c, err := e.rp.BeginLogin(e.ctx, &u, passkey.LoginOptions{})
					if err != nil {
						b.Fatal(err)
					}
					resp, err := a.Get(c.PublicKey, passkeytest.Tamper{})
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := e.rp.FinishLogin(e.ctx, c.ID, resp); err != nil {
						b.Fatal(err)
					}
				}
			})
			// Many users logging in at once, each with their own passkey.
			b.Run("login-parallel", func(b *testing.B) {
				type account struct{ a *passkeytest.Authenticator }
				pool := make(chan account, 16)
				for range cap(pool) {
					acc := account{passkeytest.New(origin)}
					e.register(e.rp, e.user(), acc.a)
					pool <- acc
				}
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						acc := <-pool
						c, err := e.rp.BeginLogin(e.ctx, nil, passkey.LoginOptions{})
						if err == nil {
							var resp []byte
							if resp, err = acc.a.Get(c.PublicKey, passkeytest.Tamper{}); err == nil {
								_, _, err = e.rp.FinishLogin(e.ctx, c.ID, resp)
							}
						}
						pool <- acc
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
