package provider

import (
	"context"
	"crypto"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestRetiredKeysArePruned(t *testing.T) {
	ctx := context.Background()
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	p, err := New(ctx, Config{Issuer: "https://op.example", Secret: []byte("0123456789abcdef0123456789abcdef")}, s)
	if err != nil {
		t.Fatal(err)
	}
	// Generation 2, with generation 1 retired long before the retention
	// window (max lifespan + margin) ends.
	keys, err := p.generateKeys(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSigningKeys(ctx, keys, time.Now().Add(-p.keyRetention()-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := p.ReloadKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(p.keys.Load().keys); n != 2 {
		t.Fatalf("%d keys in memory, want the 2 of generation 2", n)
	}
	stored, err := s.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 || stored[0].Generation != 2 {
		t.Fatalf("stored keys %+v, want generation 2 only", stored)
	}
}

func TestSealOpen(t *testing.T) {
	p := &Provider{kek: make([]byte, 32)}
	sealed, err := p.seal("kid-1", []byte("private"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.open("kid-1", sealed); err != nil || string(got) != "private" {
		t.Fatalf("open: %q %v", got, err)
	}
	tests := []struct {
		name string
		kid  string
		have []byte
	}{
		{name: "other kid", kid: "kid-2", have: sealed},
		{name: "truncated", kid: "kid-1", have: sealed[:10]},
		{name: "flipped bit", kid: "kid-1", have: append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1)},
		{name: "unknown version", kid: "kid-1", have: append([]byte{9}, sealed[1:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := p.open(tc.kid, tc.have); err == nil {
				t.Fatal("opened")
			}
		})
	}
}

// TestInitialKeys checks that a fresh store gets the keys started with
// StartKeyGeneration, and that a store with keys keeps its own.
func TestInitialKeys(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Issuer: "https://op.example", Secret: []byte("0123456789abcdef0123456789abcdef")}
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	g := StartKeyGeneration()
	cfg.InitialKeys = g
	p, err := New(ctx, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	privs, err := g.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range signingAlgs() {
		k, err := p.currentKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		if !k.public.(interface{ Equal(crypto.PublicKey) bool }).Equal(privs[alg].Public()) {
			t.Errorf("%s: New generated its own key instead of the initial one", alg)
		}
	}

	// A restart with other initial keys keeps the stored ones.
	cfg.InitialKeys = StartKeyGeneration()
	p2, err := New(ctx, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range signingAlgs() {
		a, _ := p.currentKey(alg)
		b, _ := p2.currentKey(alg)
		if a.id != b.id {
			t.Errorf("%s: restart replaced key %s by %s", alg, a.id, b.id)
		}
	}

	// A cancelled wait fails New rather than hanging.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	cfg.InitialKeys = &KeyGeneration{done: make(chan struct{})}
	if _, err := New(cctx, cfg, sqltest.Open(t, sqlstore.DriverSQLite)); err == nil {
		t.Error("New with a cancelled context and pending keys succeeded")
	}
}
