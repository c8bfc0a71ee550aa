package handlers

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func testCookieOptions() CookieOptions {
	return CookieOptions{
		HashKey:  bytes.Repeat([]byte{7}, 32),
		BlockKey: bytes.Repeat([]byte{8}, 32),
		Lifetime: time.Hour,
	}
}

func TestNewSessionManagerChecksOptions(t *testing.T) {
	good := testCookieOptions()
	for _, tc := range []struct {
		name  string
		have  func(*CookieOptions)
		https bool
	}{
		{"short hash key", func(c *CookieOptions) { c.HashKey = c.HashKey[:16] }, true},
		{"no block key", func(c *CookieOptions) { c.BlockKey = nil }, true},
		{"odd block key", func(c *CookieOptions) { c.BlockKey = c.BlockKey[:20] }, true},
		{"http without insecure", func(*CookieOptions) {}, false},
		{"no lifetime", func(c *CookieOptions) { c.Lifetime = 0 }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.have(&c)
			if _, err := newSessionManager(nil, nil, c, tc.https); err == nil {
				t.Fatal("newSessionManager accepted bad options")
			}
		})
	}
	if _, err := newSessionManager(nil, nil, good, true); err != nil {
		t.Fatalf("good options: %v", err)
	}
}

func TestSessionManager(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := context.Background()
		conn, err := store.UpsertConnection(ctx, storage.Connection{Name: "db", Type: "database"})
		if err != nil {
			t.Fatal(err)
		}
		u, err := store.CreateUser(ctx, storage.User{ConnectionID: conn.ID, Email: "jane@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := newSessionManager(store, nil, testCookieOptions(), true)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		m.now = func() time.Time { return now }
		methods := []connector.Method{{Kind: connector.MethodPassword, Time: now}}

		req := func(cookies ...*http.Cookie) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "https://id.example.com/", nil)
			r.RemoteAddr = "192.0.2.7:1234"
			for _, c := range cookies {
				r.AddCookie(c)
			}
			return r
		}

		if _, ok := m.current(req()); ok {
			t.Fatal("a request without a cookie has a session")
		}
		if _, ok := m.current(req(&http.Cookie{Name: sessionCookieSecure, Value: "forged"})); ok {
			t.Fatal("a forged cookie has a session")
		}

		w := httptest.NewRecorder()
		s, err := m.start(w, req(), u, conn.ID, methods)
		if err != nil {
			t.Fatal(err)
		}
		if s.IP != "192.0.2.7" || s.AuthTime.IsZero() || !s.ExpiresAt.After(now) || len(s.AMR) != 1 {
			t.Errorf("session = %+v", s)
		}
		c := w.Result().Cookies()[0]
		got, ok := m.current(req(c))
		if !ok || got.ID != s.ID {
			t.Fatalf("current = %+v, %v", got, ok)
		}
		// A cookie sealed under other keys is refused.
		other, _ := newSessionManager(store, nil, CookieOptions{HashKey: bytes.Repeat([]byte{9}, 32), BlockKey: bytes.Repeat([]byte{9}, 32), Lifetime: time.Hour}, true)
		if _, ok := other.current(req(c)); ok {
			t.Error("a cookie sealed under other keys was accepted")
		}

		// Expired server-side: no session.
		now = now.Add(2 * time.Hour)
		if _, ok := m.current(req(c)); ok {
			t.Error("an expired session is current")
		}
		now = now.Add(-2 * time.Hour)

		// end deletes the row and expires the cookie.
		w = httptest.NewRecorder()
		if err := m.end(w, req(c)); err != nil {
			t.Fatal(err)
		}
		ended := w.Result().Cookies()
		if len(ended) != 1 || ended[0].Name != sessionCookieSecure || ended[0].MaxAge >= 0 || !ended[0].Secure || !ended[0].HttpOnly {
			t.Errorf("end cookie = %+v", ended)
		}
		if _, err := store.GetSession(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("session row after end: %v", err)
		}
		if _, ok := m.current(req(c)); ok {
			t.Error("the cookie still names a session after end")
		}
		// end without a session only expires the cookie.
		w = httptest.NewRecorder()
		if err := m.end(w, req()); err != nil || len(w.Result().Cookies()) != 1 {
			t.Errorf("end without session: %v, %v", err, w.Result().Cookies())
		}
	})
}
