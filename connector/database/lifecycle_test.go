package database

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/mail/mailtest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// liveConn opens a connection on the real clock: emailed tokens and
// brute-force expiry are checked against the store's clock.
func liveConn(t *testing.T, s storage.Store, h *password.Hasher, settings string) *Connection {
	t.Helper()
	c := openConn(t, s, h, settings)
	c.now = time.Now
	return c
}

// from returns ctx carrying a client IP.
func from(ctx context.Context, ip string) context.Context {
	return connector.WithClientIP(ctx, netip.MustParseAddr(ip))
}

func TestUsernameRules(t *testing.T) {
	def := defaultUsernameSettings()
	wide := UsernameSettings{UsernameMin: 3, UsernameMax: 128}
	tests := []struct {
		name     string
		rules    UsernameSettings
		have     string
		expected bool
	}{
		{"plain", def, "jdoe", true},
		{"one character", def, "j", true},
		{"fifteen", def, strings.Repeat("a", 15), true},
		{"sixteen", def, strings.Repeat("a", 16), false},
		{"every special", def, "a_+-.!#$'^`~@z", true},
		{"at sign but not an email", def, "ada@home", true},
		{"email format", def, "ada@home.example", false},
		{"space", def, "john doe", false},
		{"non-ascii letter", def, "jöhn", false},
		{"upper case (callers normalise)", def, "JDOE", false},
		{"slash", def, "a/b", false},
		{"percent", def, "a%b", false},
		{"empty", def, "", false},
		{"under custom min", wide, "ab", false},
		{"custom min", wide, "abc", true},
		{"custom max", wide, strings.Repeat("z", 128), true},
		{"over custom max", wide, strings.Repeat("z", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rules.check(tt.have)
			if (err == nil) != tt.expected {
				t.Fatalf("check(%q) = %v, want valid %v", tt.have, err, tt.expected)
			}
			var fe *connector.FieldError
			if err != nil && (!errors.As(err, &fe) || fe.Field != "username") {
				t.Fatalf("check(%q) = %v, want a username FieldError", tt.have, err)
			}
		})
	}
}

func TestLifecycleSettings(t *testing.T) {
	good := []struct {
		name  string
		have  string
		check func(Settings) bool
	}{
		{"defaults", `{}`, func(s Settings) bool {
			return !s.RequiresUsername && s.UsernameMin == 1 && s.UsernameMax == 15 &&
				s.BruteForce.Enabled && s.BruteForce.Threshold == 10 && !s.BruteForce.AccountLockout && s.BruteForce.BlockDuration == 0
		}},
		{"usernames", `{"requires_username": true, "username_min": 3, "username_max": 128}`, func(s Settings) bool {
			return s.RequiresUsername && s.UsernameMin == 3 && s.UsernameMax == 128
		}},
		{"brute force", `{"brute_force": {"enabled": true, "threshold": 5, "account_lockout": true,
			"ip_allow_list": ["192.0.2.0/24", "2001:db8::1"], "block_duration": "1h30m"}}`, func(s Settings) bool {
			b := s.BruteForce
			return b.Threshold == 5 && b.AccountLockout && len(b.IPAllowList) == 2 && time.Duration(b.BlockDuration) == 90*time.Minute
		}},
		{"brute force off keeps the threshold", `{"brute_force": {"enabled": false}}`, func(s Settings) bool {
			return !s.BruteForce.Enabled && s.BruteForce.Threshold == 10
		}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tt.have))
			if err != nil {
				t.Fatalf("ParseSettings: %v", err)
			}
			if !tt.check(s) {
				t.Fatalf("ParseSettings = %+v %+v", s.UsernameSettings, s.BruteForce)
			}
		})
	}
	bad := []struct{ name, have, expected string }{
		{"username min zero", `{"username_min": -1}`, "username_min"},
		{"username max over 128", `{"username_max": 129}`, "username_max"},
		{"username max under min", `{"username_min": 5, "username_max": 4}`, "username_max"},
		{"threshold zero", `{"brute_force": {"threshold": -3}}`, "brute_force: threshold"},
		{"threshold huge", `{"brute_force": {"threshold": 5000}}`, "brute_force: threshold"},
		{"bad cidr", `{"brute_force": {"ip_allow_list": ["192.0.2.0/33"]}}`, "ip_allow_list"},
		{"not an address", `{"brute_force": {"ip_allow_list": ["example.com"]}}`, "ip_allow_list"},
		{"bad duration", `{"brute_force": {"block_duration": "forever"}}`, "duration"},
		{"duration too short", `{"brute_force": {"block_duration": "1s"}}`, "block_duration"},
		{"duration as a number", `{"brute_force": {"block_duration": 60}}`, "duration"},
		{"unknown brute force field", `{"brute_force": {"treshold": 5}}`, `unknown field "treshold"`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSettings([]byte(tt.have))
			if err == nil || !strings.Contains(err.Error(), tt.expected) {
				t.Fatalf("ParseSettings(%s) = %v, want an error containing %q", tt.have, err, tt.expected)
			}
		})
	}
}

func TestAllowList(t *testing.T) {
	ps, err := parseAllowList([]string{"192.0.2.0/24", " 2001:db8::/32 ", "198.51.100.7", "::ffff:203.0.113.9", "::ffff:203.0.113.0/120"})
	if err != nil {
		t.Fatal(err)
	}
	contains := func(ip string) bool {
		a := netip.MustParseAddr(ip).Unmap()
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	for ip, want := range map[string]bool{
		"192.0.2.200": true, "192.0.3.1": false, "2001:db8:1::5": true, "2001:db9::1": false,
		"198.51.100.7": true, "198.51.100.8": false, "203.0.113.9": true, "203.0.113.77": true, "::ffff:192.0.2.1": true,
	} {
		if got := contains(ip); got != want {
			t.Errorf("allow list contains %s = %v, want %v", ip, got, want)
		}
	}
}

func FuzzParseAllowList(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "::ffff:1.2.3.4/128", "fe80::1%eth0", "1.2.3.4/-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := parseAllowList([]string{s})
		if err != nil {
			return
		}
		if len(ps) != 1 || !ps[0].IsValid() || ps[0] != ps[0].Masked() || ps[0].Addr().Is4In6() || ps[0].Addr().Zone() != "" {
			t.Fatalf("parseAllowList(%q) = %v", s, ps)
		}
	})
}

func FuzzUsername(f *testing.F) {
	for _, s := range []string{"jdoe", "a_+-.!#$'^`~@z", "ada@home.example", "jöhn", " Bo_77 ", strings.Repeat("x", 20)} {
		f.Add(s)
	}
	rules := UsernameSettings{UsernameMin: 1, UsernameMax: 128}
	f.Fuzz(func(t *testing.T, s string) {
		u := normalizeIdentifier(s)
		if rules.check(u) != nil {
			return
		}
		if validateEmail(u) == nil {
			t.Fatalf("username %q is in email format", u)
		}
		for _, r := range u {
			if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune(usernameSpecials, r)) {
				t.Fatalf("username %q has %q", u, r)
			}
		}
	})
}

func TestUsernames(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		c := openConn(t, s, h, `{"requires_username": true, "username_min": 3, "username_max": 20}`)

		_, _, err := c.Signup(ctx, connector.Profile{Email: "ada@example.com"}, goodPassword)
		var fe *connector.FieldError
		if !errors.As(err, &fe) || fe.Field != "username" || fe.Message != msgUsernameRequired {
			t.Fatalf("Signup without a username = %v, want username required", err)
		}
		_, _, err = c.Signup(ctx, connector.Profile{Email: "ada@example.com", Username: "ad"}, goodPassword)
		if !errors.As(err, &fe) || fe.Field != "username" {
			t.Fatalf("Signup with a short username = %v", err)
		}
		u := mustSignup(t, c, connector.Profile{Email: "ada@example.com", Username: " Ada@Home "}, goodPassword)
		if u.Username != "ada@home" {
			t.Fatalf("Username = %q", u.Username)
		}
		for _, id := range []string{"ada@example.com", "ADA@home", "ada@home"} {
			if got, _, err := c.Login(ctx, id, goodPassword); err != nil || got.ID != u.ID {
				t.Errorf("Login(%q) = %+v, %v", id, got, err)
			}
		}
		if _, err := c.CreateUser(ctx, connector.Profile{Email: "bo@example.com"}, ""); !errors.As(err, &fe) {
			t.Errorf("CreateUser without a username on a requires_username connection = %v", err)
		}
		// Usernames stay optional elsewhere.
		o := openConn(t, s, h, `{}`)
		mustSignup(t, o, connector.Profile{Email: "cy@example.com"}, goodPassword)
	})
}

func TestBruteForce(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		const wrong = "Wrong-Horse-1"

		fail := func(t *testing.T, c *Connection, ctx context.Context, id string, n int) {
			t.Helper()
			for i := range n {
				if _, _, err := c.Login(ctx, id, wrong); !errors.Is(err, connector.ErrInvalidCredentials) {
					t.Fatalf("failure %d for %s: %v, want ErrInvalidCredentials", i+1, id, err)
				}
			}
		}
		blocked := func(t *testing.T, c *Connection, ctx context.Context, id, pw string) {
			t.Helper()
			u, m, err := c.Login(ctx, id, pw)
			if !errors.Is(err, connector.ErrLoginBlocked) || u.ID != "" || m.Kind != "" {
				t.Fatalf("Login(%s) while blocked = %+v, %v; want ErrLoginBlocked", id, u, err)
			}
		}

		t.Run("threshold per identifier and address", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 3}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			a, b := from(ctx, "192.0.2.1"), from(ctx, "2001:db8::7")
			fail(t, c, a, "ada@example.com", 3)
			// The right password does not help once blocked.
			blocked(t, c, a, "ada@example.com", goodPassword)
			blocked(t, c, a, "  ADA@example.com ", wrong)
			// Another address, and another identifier from the same address,
			// are unaffected.
			if _, _, err := c.Login(b, "ada@example.com", goodPassword); err != nil {
				t.Fatalf("Login from another address: %v", err)
			}
			fail(t, c, a, "bo@example.com", 2)
			// An administrator lifts the block.
			u, _ := c.LookupUser(ctx, "ada@example.com")
			fs, err := c.LoginFailures(ctx, "ada@example.com")
			if err != nil || len(fs) != 1 || !fs[0].Blocked() || fs[0].IP != "192.0.2.1" || fs[0].Count != 3 {
				t.Fatalf("LoginFailures = %+v, %v", fs, err)
			}
			if err := c.ResetLoginFailures(ctx, u); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Login(a, "ada@example.com", goodPassword); err != nil {
				t.Fatalf("Login after unblock: %v", err)
			}
		})

		t.Run("unknown accounts are blocked alike", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 3}}`)
			a := from(ctx, "192.0.2.1")
			fail(t, c, a, "nobody@example.com", 3)
			blocked(t, c, a, "nobody@example.com", wrong)
			fail(t, c, a, "nobody", 3) // a username that does not exist
			blocked(t, c, a, "nobody", wrong)
		})

		t.Run("success resets the count", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 3}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			a := from(ctx, "192.0.2.1")
			fail(t, c, a, "ada@example.com", 2)
			if _, _, err := c.Login(a, "ada@example.com", goodPassword); err != nil {
				t.Fatal(err)
			}
			fail(t, c, a, "ada@example.com", 2)
			if _, _, err := c.Login(a, "ada@example.com", goodPassword); err != nil {
				t.Fatalf("Login after 2+2 failures separated by a success: %v", err)
			}
		})

		t.Run("account lockout", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 4, "account_lockout": true}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
				fail(t, c, from(ctx, ip), "ada@example.com", 1)
				if i < 3 {
					if _, _, err := c.Login(from(ctx, "198.51.100.1"), "other@example.com", wrong); !errors.Is(err, connector.ErrInvalidCredentials) {
						t.Fatal(err)
					}
				}
			}
			// Four failures from four addresses: blocked everywhere.
			blocked(t, c, from(ctx, "203.0.113.50"), "ada@example.com", goodPassword)
			if _, _, err := c.Login(from(ctx, "203.0.113.50"), "other@example.com", wrong); !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Fatalf("other identifier: %v", err)
			}
		})

		t.Run("no lockout without the option", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 2}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
				fail(t, c, from(ctx, ip), "ada@example.com", 1)
			}
			if _, _, err := c.Login(from(ctx, "192.0.2.4"), "ada@example.com", goodPassword); err != nil {
				t.Fatalf("Login from a fresh address: %v", err)
			}
		})

		t.Run("allow list", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 2, "ip_allow_list": ["192.0.2.0/24"]}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			fail(t, c, from(ctx, "192.0.2.9"), "ada@example.com", 5)
			if _, _, err := c.Login(from(ctx, "192.0.2.9"), "ada@example.com", goodPassword); err != nil {
				t.Fatalf("allow-listed address blocked: %v", err)
			}
			fail(t, c, from(ctx, "::ffff:198.51.100.1"), "ada@example.com", 2)
			blocked(t, c, from(ctx, "198.51.100.1"), "ada@example.com", goodPassword)
		})

		t.Run("disabled", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"enabled": false, "threshold": 1}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			fail(t, c, from(ctx, "192.0.2.1"), "ada@example.com", 3)
			if _, _, err := c.Login(from(ctx, "192.0.2.1"), "ada@example.com", goodPassword); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("without a client address", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 2}}`)
			fail(t, c, ctx, "ada@example.com", 2)
			blocked(t, c, ctx, "ada@example.com", wrong)
			fs, _ := c.LoginFailures(ctx, "ada@example.com")
			if len(fs) != 1 || fs[0].IP != unknownIP {
				t.Fatalf("LoginFailures = %+v", fs)
			}
		})

		t.Run("block duration", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 2, "block_duration": "1h"}}`)
			mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			a := from(ctx, "192.0.2.1")
			fail(t, c, a, "ada@example.com", 2)
			blocked(t, c, a, "ada@example.com", goodPassword)
			// The same failures an hour and a minute ago have expired.
			c2 := liveConn(t, s, h, `{"brute_force": {"threshold": 2, "block_duration": "1h"}}`)
			mustSignup(t, c2, connector.Profile{Email: "ada@example.com"}, goodPassword)
			c2.now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
			fail(t, c2, a, "ada@example.com", 2)
			c2.now = time.Now
			if _, _, err := c2.Login(a, "ada@example.com", goodPassword); err != nil {
				t.Fatalf("Login after the block expired: %v", err)
			}
		})

		t.Run("concurrent failures block once", func(t *testing.T) {
			c := liveConn(t, s, h, `{"brute_force": {"threshold": 10}}`)
			a := from(ctx, "192.0.2.1")
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() { _, _, _ = c.Login(a, "ada@example.com", wrong) })
			}
			wg.Wait()
			fs, err := c.LoginFailures(ctx, "ada@example.com")
			if err != nil || len(fs) != 1 || fs[0].Count < 10 || !fs[0].Blocked() {
				t.Fatalf("after 20 concurrent failures: %+v, %v", fs, err)
			}
		})
	})
}

// mailConn is a live connection sending mail through a real SMTP server
// (STARTTLS, AUTH PLAIN) in process.
func mailConn(t *testing.T, s storage.Store, h *password.Hasher, settings string) (*Connection, *mailtest.Server) {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{TLS: true, Username: "latchkey", Password: "smtp-secret"})
	sender, err := mail.NewSMTP(mail.Config{
		Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSStartTLS, Username: "latchkey", Password: "smtp-secret",
		From: "Latchkey <no-reply@id.example.com>", TLSConfig: srv.ClientTLS(), Timeout: 10 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := liveConn(t, s, h, settings)
	c.SetMail(Mail{Sender: sender, Link: func(kind LinkKind, token string) string {
		return "https://id.example.com/u/" + string(kind) + "?token=" + url.QueryEscape(token)
	}})
	t.Cleanup(c.WaitMail)
	return c, srv
}

// linkToken follows a mailed link to its token, checking the page.
func linkToken(t *testing.T, m mailtest.Received, kind LinkKind) string {
	t.Helper()
	links := m.Links()
	if len(links) != 1 {
		t.Fatalf("mail %q has links %v, want one", m.Subject, links)
	}
	u, err := url.Parse(links[0])
	if err != nil || u.Path != "/u/"+string(kind) {
		t.Fatalf("link %q: %v, want the %s page", links[0], err, kind)
	}
	tok := u.Query().Get("token")
	if len(tok) < 43 {
		t.Fatalf("token %q is shorter than 256 bits", tok)
	}
	if !strings.Contains(m.HTML, "href=\"https://id.example.com/u/"+string(kind)) {
		t.Errorf("HTML part lacks the link:\n%s", m.HTML)
	}
	return tok
}

func TestPasswordReset(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		const newPassword = "Brand-New-Staple-42"

		t.Run("by mail: newest link only, once, ends sessions and tokens, lifts blocks", func(t *testing.T) {
			c, srv := mailConn(t, s, h, `{"brute_force": {"threshold": 2}}`)
			u := mustSignup(t, c, connector.Profile{Email: "ada@example.com", Username: "ada"}, goodPassword)
			for i, sig := range []string{"r1", "r2"} {
				if err := s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenRefresh, Signature: sig, Subject: u.ID, Active: true}); err != nil {
					t.Fatal(i, err)
				}
			}
			if err := s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "a1", Subject: u.ID, Active: true}); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CreateSession(ctx, storage.Session{ID: "sess", TokenHash: []byte("h"), UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			a := from(ctx, "192.0.2.1")
			for range 2 {
				_, _, _ = c.Login(a, "ada", "Wrong-Horse-1")
			}
			if _, _, err := c.Login(a, "ada", goodPassword); !errors.Is(err, connector.ErrLoginBlocked) {
				t.Fatalf("setup: Login = %v, want blocked", err)
			}
			c.WaitMail()
			if m := srv.Last("ada@example.com", 5*time.Second); !strings.Contains(m.Subject, "blocked") {
				t.Fatalf("first mail %q, want the unblock notice", m.Subject)
			}

			if err := c.SendPasswordReset(ctx, " ADA@example.com"); err != nil {
				t.Fatal(err)
			}
			c.WaitMail()
			first := linkToken(t, srv.Last("ada@example.com", 5*time.Second), LinkResetPassword)
			if err := c.SendPasswordReset(ctx, "ada@example.com"); err != nil {
				t.Fatal(err)
			}
			c.WaitMail()
			msgs := srv.Messages()
			if len(msgs) != 3 {
				t.Fatalf("messages = %d, want 3 (unblock, two resets)", len(msgs))
			}
			second := linkToken(t, msgs[2], LinkResetPassword)
			if first == second {
				t.Fatal("two reset links share a token")
			}
			if _, err := c.ResetPassword(ctx, first, newPassword); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("older link: %v, want ErrInvalidToken", err)
			}
			if got, err := c.CheckPasswordReset(ctx, second); err != nil || got.ID != u.ID {
				t.Fatalf("CheckPasswordReset = %+v, %v", got, err)
			}
			// A password the policy refuses leaves the link usable.
			var pe *connector.PolicyError
			if _, err := c.ResetPassword(ctx, second, "password"); !errors.As(err, &pe) {
				t.Fatalf("weak password: %v, want a PolicyError", err)
			}
			if got, err := c.ResetPassword(ctx, second, newPassword); err != nil || got.ID != u.ID {
				t.Fatalf("ResetPassword = %+v, %v", got, err)
			}
			if _, err := c.ResetPassword(ctx, second, "Another-Staple-43"); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("second use of the link: %v, want ErrInvalidToken", err)
			}
			if _, _, err := c.Login(from(ctx, "198.51.100.1"), "ada@example.com", goodPassword); !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Fatalf("Login with the old password: %v", err)
			}
			if _, _, err := c.Login(from(ctx, "198.51.100.1"), "ada@example.com", newPassword); err != nil {
				t.Fatalf("Login with the reset password: %v", err)
			}
			if _, err := s.GetSession(ctx, "sess"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("session after reset: %v, want ErrNotFound", err)
			}
			for _, tk := range []struct {
				kind storage.TokenKind
				sig  string
			}{{storage.TokenRefresh, "r1"}, {storage.TokenRefresh, "r2"}, {storage.TokenAccess, "a1"}} {
				if got, err := s.GetToken(ctx, tk.kind, tk.sig); err != nil || got.Active {
					t.Errorf("token %s after reset: active %v, %v", tk.sig, got.Active, err)
				}
			}
			// The reset lifted the block and proved the email.
			if _, _, err := c.Login(a, "ada", newPassword); err != nil {
				t.Fatalf("Login from the blocked address after reset: %v", err)
			}
			if got, _ := s.GetUser(ctx, u.ID); !got.EmailVerified {
				t.Error("email not verified by the reset link")
			}
		})

		t.Run("unknown, invalid and blocked emails give no token", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "bo@example.com"}, goodPassword)
			if _, err := s.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Blocked = true; return nil }); err != nil {
				t.Fatal(err)
			}
			for _, email := range []string{"nobody@example.com", "not an email", "", "bo@example.com"} {
				if tok, err := c.StartPasswordReset(ctx, email); tok != "" || err != nil {
					t.Errorf("StartPasswordReset(%q) = %q, %v; want \"\", nil", email, tok, err)
				}
			}
		})

		t.Run("expired", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			mustSignup(t, c, connector.Profile{Email: "cy@example.com"}, goodPassword)
			c.now = func() time.Time { return time.Now().Add(-PasswordResetTTL - time.Minute) }
			tok, err := c.StartPasswordReset(ctx, "cy@example.com")
			if err != nil || tok == "" {
				t.Fatal(tok, err)
			}
			c.now = time.Now
			if _, err := c.CheckPasswordReset(ctx, tok); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("CheckPasswordReset expired: %v", err)
			}
			if _, err := c.ResetPassword(ctx, tok, newPassword); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("ResetPassword expired: %v", err)
			}
		})

		t.Run("single use under concurrency", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			mustSignup(t, c, connector.Profile{Email: "dee@example.com"}, goodPassword)
			tok, err := c.StartPasswordReset(ctx, "dee@example.com")
			if err != nil {
				t.Fatal(err)
			}
			var (
				wg   sync.WaitGroup
				mu   sync.Mutex
				wins int
			)
			for range 10 {
				wg.Go(func() {
					_, err := c.ResetPassword(ctx, tok, newPassword)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, ErrInvalidToken), errors.Is(err, storage.ErrConflict):
					default:
						t.Errorf("ResetPassword: %v", err)
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d resets succeeded with one link, want 1", wins)
			}
		})

		t.Run("a token of another kind or connection does not reset", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			other := liveConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "eve@example.com"}, goodPassword)
			link, _, err := c.StartEmailVerification(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ResetPassword(ctx, link, newPassword); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("verification token as reset token: %v", err)
			}
			tok, _ := c.StartPasswordReset(ctx, "eve@example.com")
			if _, err := other.ResetPassword(ctx, tok, newPassword); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("reset token on another connection: %v", err)
			}
			// Changing the email voids the link.
			if _, err := s.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Email = "eve2@example.com"; return nil }); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ResetPassword(ctx, tok, newPassword); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("reset token after an email change: %v", err)
			}
		})
	})
}

func TestEmailVerification(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())

		t.Run("by mailed link", func(t *testing.T) {
			c, srv := mailConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
			if err := c.SendVerificationEmail(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			m := srv.Last("ada@example.com", 5*time.Second)
			tok := linkToken(t, m, LinkVerifyEmail)
			if len(m.Code()) != 6 {
				t.Fatalf("mail has no 6-digit code:\n%s", m.Text)
			}
			got, err := c.VerifyEmail(ctx, tok)
			if err != nil || !got.EmailVerified || got.ID != u.ID {
				t.Fatalf("VerifyEmail = %+v, %v", got, err)
			}
			if _, err := c.VerifyEmail(ctx, tok); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("second VerifyEmail: %v", err)
			}
			// The code went with the link.
			if _, err := c.VerifyEmailCode(ctx, u.ID, m.Code()); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("code after the link was used: %v", err)
			}
		})

		t.Run("by code, with attempts", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "bo@example.com"}, goodPassword)
			link, code, err := c.StartEmailVerification(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			wrongCode := "000000"
			if code == wrongCode {
				wrongCode = "000001"
			}
			for i := range maxCodeAttempts - 1 {
				if _, err := c.VerifyEmailCode(ctx, u.ID, wrongCode); !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("wrong code %d: %v", i, err)
				}
			}
			got, err := c.VerifyEmailCode(ctx, u.ID, " "+code+" ")
			if err != nil || !got.EmailVerified {
				t.Fatalf("VerifyEmailCode = %+v, %v", got, err)
			}
			if _, err := c.VerifyEmail(ctx, link); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("link after the code was used: %v", err)
			}
			// Another user cannot use the code.
			other := mustSignup(t, c, connector.Profile{Email: "cy@example.com"}, goodPassword)
			if _, err := c.VerifyEmailCode(ctx, other.ID, code); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("code of another user: %v", err)
			}
		})

		t.Run("too many wrong codes void the code", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "dee@example.com"}, goodPassword)
			_, code, err := c.StartEmailVerification(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			wrongCode := "999999"
			if code == wrongCode {
				wrongCode = "999998"
			}
			for range maxCodeAttempts {
				_, _ = c.VerifyEmailCode(ctx, u.ID, wrongCode)
			}
			if _, err := c.VerifyEmailCode(ctx, u.ID, code); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("right code after %d wrong ones: %v, want ErrInvalidToken", maxCodeAttempts, err)
			}
		})

		t.Run("a new verification voids the old", func(t *testing.T) {
			c := liveConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "eve@example.com"}, goodPassword)
			oldLink, oldCode, _ := c.StartEmailVerification(ctx, u.ID)
			newLink, newCode, err := c.StartEmailVerification(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.VerifyEmail(ctx, oldLink); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("old link: %v", err)
			}
			if oldCode != newCode {
				if _, err := c.VerifyEmailCode(ctx, u.ID, oldCode); !errors.Is(err, ErrInvalidToken) {
					t.Errorf("old code: %v", err)
				}
			}
			if _, err := c.VerifyEmail(ctx, newLink); err != nil {
				t.Errorf("new link: %v", err)
			}
		})
	})
}

func TestPasskeyRecovery(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		c, srv := mailConn(t, s, h, `{}`)
		pk, err := c.CreateUser(ctx, connector.Profile{Email: "pk@example.com"}, "")
		if err != nil {
			t.Fatal(err)
		}
		mustSignup(t, c, connector.Profile{Email: "pw@example.com"}, goodPassword)
		if _, err := s.CreateSession(ctx, storage.Session{ID: "pk-sess", TokenHash: []byte("pk"), UserID: pk.ID, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		// Accounts with a password reset it instead; unknown emails get
		// nothing.
		for _, email := range []string{"pw@example.com", "nobody@example.com"} {
			if tok, err := c.StartPasskeyRecovery(ctx, email); tok != "" || err != nil {
				t.Errorf("StartPasskeyRecovery(%s) = %q, %v", email, tok, err)
			}
		}
		if err := c.SendPasskeyRecovery(ctx, "pk@example.com"); err != nil {
			t.Fatal(err)
		}
		c.WaitMail()
		tok := linkToken(t, srv.Last("pk@example.com", 5*time.Second), LinkRecoverPasskey)
		// The recovery link is no reset link and no login.
		if _, err := c.ResetPassword(ctx, tok, "Brand-New-Staple-42"); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("recovery token as reset token: %v", err)
		}
		got, err := c.ConsumeRecovery(ctx, tok)
		if err != nil || got.ID != pk.ID || !got.EmailVerified {
			t.Fatalf("ConsumeRecovery = %+v, %v", got, err)
		}
		if _, err := c.ConsumeRecovery(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("second ConsumeRecovery: %v", err)
		}
		if _, err := s.GetSession(ctx, "pk-sess"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("session after recovery: %v", err)
		}
		if creds, _ := s.ListCredentials(ctx, pk.ID, ""); len(creds) != 0 {
			t.Errorf("recovery created credentials: %+v", creds)
		}
	})
}

func TestUnblockByMail(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		c, srv := mailConn(t, s, h, `{"brute_force": {"threshold": 3, "account_lockout": true}}`)
		mustSignup(t, c, connector.Profile{Email: "ada@example.com", Username: "ada"}, goodPassword)
		a := from(ctx, "192.0.2.1")
		for range 3 {
			_, _, _ = c.Login(a, "ada", "Wrong-Horse-1")
		}
		// Unknown identifiers are blocked without mail.
		for range 3 {
			_, _, _ = c.Login(a, "ghost@example.com", "Wrong-Horse-1")
		}
		c.WaitMail()
		msgs := srv.Messages()
		if len(msgs) != 1 || msgs[0].To[0] != "ada@example.com" {
			t.Fatalf("messages = %+v, want one unblock mail to ada (one per block, lockout included)", msgs)
		}
		tok := linkToken(t, msgs[0], LinkUnblock)
		if _, _, err := c.Login(a, "ada", goodPassword); !errors.Is(err, connector.ErrLoginBlocked) {
			t.Fatalf("Login before unblock: %v", err)
		}
		if _, err := c.Unblock(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Unblock(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("second Unblock: %v", err)
		}
		if _, _, err := c.Login(a, "ada", goodPassword); err != nil {
			t.Fatalf("Login after unblock: %v", err)
		}
	})
}

func TestEmailLimit(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		c := liveConn(t, s, h, `{}`)
		u := mustSignup(t, c, connector.Profile{Email: "ada@example.com"}, goodPassword)
		_, err := c.CreateUser(ctx, connector.Profile{Email: "pk@example.com"}, "")
		if err != nil {
			t.Fatal(err)
		}
		for i := range MaxEmailsPerHour {
			if tok, err := c.StartPasswordReset(ctx, "ada@example.com"); tok == "" || err != nil {
				t.Fatalf("reset %d: %q, %v", i+1, tok, err)
			}
			if tok, err := c.StartPasskeyRecovery(ctx, "pk@example.com"); tok == "" || err != nil {
				t.Fatalf("recovery %d: %q, %v", i+1, tok, err)
			}
			if _, _, err := c.StartEmailVerification(ctx, u.ID); err != nil {
				t.Fatalf("verification %d: %v", i+1, err)
			}
		}
		if tok, err := c.StartPasswordReset(ctx, "ada@example.com"); tok != "" || err != nil {
			t.Errorf("reset past the limit: %q, %v; want silence", tok, err)
		}
		if tok, err := c.StartPasskeyRecovery(ctx, "pk@example.com"); tok != "" || err != nil {
			t.Errorf("recovery past the limit: %q, %v; want silence", tok, err)
		}
		if _, _, err := c.StartEmailVerification(ctx, u.ID); !errors.Is(err, ErrTooManyEmails) {
			t.Errorf("verification past the limit: %v, want ErrTooManyEmails", err)
		}
		// The limit is per user: others are unaffected.
		mustSignup(t, c, connector.Profile{Email: "bo@example.com"}, goodPassword)
		if tok, err := c.StartPasswordReset(ctx, "bo@example.com"); tok == "" || err != nil {
			t.Errorf("another user's reset: %q, %v", tok, err)
		}
	})
}
