package main

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storage"
)

func TestUsersUnblock(t *testing.T) {
	e := newEnv(t)
	e.ok(t, "", "users", "create", "--email", "blocked@example.com", "--password", "seventeen orange kites 99")
	store := e.store(t)
	conn, err := store.GetConnectionByName(t.Context(), latchkey.DefaultConnectionName)
	if err != nil {
		t.Fatal(err)
	}
	// A block from two addresses, as brute-force protection records it.
	for _, ip := range []string{"192.0.2.1", "198.51.100.7"} {
		for range 3 {
			if _, err := store.RecordLoginFailure(t.Context(), storage.FailedLogin{
				ConnectionID: conn.ID, Identifier: "blocked@example.com", IP: ip, At: time.Now(), Threshold: 3,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := e.ok(t, "", "users", "unblock", "Blocked@Example.com")
	if !strings.Contains(out, "unblocked user") {
		t.Errorf("users unblock printed %q", out)
	}
	fs, err := store.ListLoginFailures(t.Context(), conn.ID, "blocked@example.com")
	if err != nil || len(fs) != 0 {
		t.Errorf("after unblock: %d counters (%v), want none", len(fs), err)
	}
	e.fails(t, `no user with email "nobody@example.com"`, "", "users", "unblock", "nobody@example.com")
}
