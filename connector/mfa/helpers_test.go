package mfa

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's store, connection, clock and service.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *sqlstore.Store
	conn  storage.Connection
	clock *clock
	svc   *Service
	n     atomic.Int64
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newEnv(t *testing.T, s *sqlstore.Store, p Policy) *env {
	t.Helper()
	ctx := context.Background()
	conn, err := s.UpsertConnection(ctx, storage.Connection{Name: "Username-Password-Authentication", Type: "database", Settings: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	// Now, moved to the middle of a 30 s step (the store judges WebAuthn
	// ceremony expiry by its own clock, so the test clock stays near it).
	c := &clock{t: time.Unix(time.Now().Unix()/30*30+15, 0).UTC()}
	e := &env{t: t, ctx: ctx, store: s, conn: conn, clock: c}
	e.svc = e.service(p, nil)
	return e
}

func (e *env) service(p Policy, mutate func(*Config)) *Service {
	e.t.Helper()
	cfg := Config{Store: e.store, Policy: p, Key: testKey, Issuer: "Latchkey Test", Now: e.clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return svc
}

func (e *env) user() storage.User {
	e.t.Helper()
	u, err := e.store.CreateUser(e.ctx, storage.User{ConnectionID: e.conn.ID, Email: fmt.Sprintf("user%d@example.com", e.n.Add(1))})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// code is the TOTP code of secret at t.
func code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP enrols and confirms an authenticator for u and returns its
// secret. The clock then moves to the next step, so the confirmation code
// is not the current one.
func (e *env) enrolTOTP(u storage.User) (Enrollment, Factor) {
	e.t.Helper()
	en, err := e.svc.BeginTOTP(e.ctx, u)
	if err != nil {
		e.t.Fatalf("BeginTOTP: %v", err)
	}
	f, err := e.svc.ConfirmTOTP(e.ctx, u.ID, en.ID, code(e.t, en.Secret, e.clock.Now()))
	if err != nil {
		e.t.Fatalf("ConfirmTOTP: %v", err)
	}
	e.clock.Add(30 * time.Second)
	return en, f
}

// policy returns DefaultPolicy changed by f.
func policy(f func(*Policy)) Policy {
	p := DefaultPolicy()
	if f != nil {
		f(&p)
	}
	return p
}
