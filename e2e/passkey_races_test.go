package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestPasskeyRaces: what two requests at once must not break, on SQLite and
// PostgreSQL: two sign-ups of one email make one account, two
// registrations at the passkey limit store one passkey, two deletions
// never remove a passkey-only user's last passkey. And an email-first
// login does not tell an unknown email from a user without passkeys.
func TestPasskeyRaces(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 1)
		// both runs fn twice at once and returns the two answers.
		both := func(fn func(i int) jsonResponse) [2]jsonResponse {
			var out [2]jsonResponse
			var wg sync.WaitGroup
			for i := range out {
				wg.Go(func() { out[i] = fn(i) })
			}
			wg.Wait()
			return out
		}
		ok := func(rs [2]jsonResponse) int {
			n := 0
			for _, r := range rs {
				if r.Status == http.StatusOK {
					n++
				} else if r.Status < 400 || r.Status > 499 {
					t.Errorf("status %d: %s", r.Status, r.Raw)
				}
			}
			return n
		}

		t.Run("two_signups_of_one_email", func(t *testing.T) {
			email := "pk-race-signup@example.com"
			type begun struct {
				b     *browser
				state string
				c     ceremony
				resp  []byte
			}
			var bs [2]begun
			for i := range bs {
				b := e.newBrowser(t)
				p := b.get(t, e.authz(t, webClient, "openid").set("prompt", "create").String())
				state := p.URL.Query().Get("state")
				c := e.mustBegin(t, b, pathRegisterBegin, map[string]any{"state": state, "email": email})
				resp, _, err := passkeytest.New(e.issuer).Create(c.PublicKey, passkeytest.Tamper{})
				if err != nil {
					t.Fatal(err)
				}
				bs[i] = begun{b, state, c, resp}
			}
			rs := both(func(i int) jsonResponse {
				return e.apiPost(t, bs[i].b, pathRegisterFinish, map[string]any{"state": bs[i].state, "ceremony": bs[i].c.ID, "credential": json.RawMessage(bs[i].resp)}, nil)
			})
			u, found := e.userByEmail(t, "", email)
			if n := ok(rs); n != 1 || !found || len(e.credentialsOf(t, u.ID)) != 1 {
				t.Errorf("two sign-ups of one email: %d succeeded, user found %v; want exactly one account with one passkey (%d %s / %d %s)",
					n, found, rs[0].Status, rs[0].Raw, rs[1].Status, rs[1].Raw)
			}
		})

		t.Run("two_registrations_at_the_limit", func(t *testing.T) {
			// A password user of the one-passkey connection, logged in
			// twice, adds a passkey from both sessions at once.
			conn := connMaxOne
			email := "pk-race-max@example.com"
			b0 := e.newBrowser(t)
			p := b0.get(t, e.authz(t, webClient, "openid").set("prompt", "create").set("connection", conn).String())
			p = b0.submit(t, p, fields{"email": email, "password": userPassword, "method": "password"})
			if cb := p.callback(t, webRedirect); cb.Code == "" {
				t.Fatalf("password sign-up: %q", cb.Error)
			}
			u, _ := e.userByEmail(t, conn, email)
			var cs [2]ceremony
			var resps [2][]byte
			var bs [2]*browser
			for i := range bs {
				bs[i] = e.newBrowser(t)
				e.code(t, bs[i], e.authz(t, webClient, "openid").set("connection", conn), email, userPassword)
				cs[i] = e.mustBegin(t, bs[i], pathRegisterBegin, map[string]any{})
				var err error
				if resps[i], _, err = passkeytest.New(e.issuer).Create(cs[i].PublicKey, passkeytest.Tamper{}); err != nil {
					t.Fatal(err)
				}
			}
			rs := both(func(i int) jsonResponse {
				return e.apiPost(t, bs[i], pathRegisterFinish, map[string]any{"ceremony": cs[i].ID, "credential": json.RawMessage(resps[i])}, nil)
			})
			if n, have := ok(rs), len(e.credentialsOf(t, u.ID)); n != 1 || have != 1 {
				t.Errorf("two registrations at a limit of 1: %d succeeded, %d stored; want 1 and 1", n, have)
			}
		})

		t.Run("two_deletions_of_a_passkey_only_user", func(t *testing.T) {
			auth := passkeytest.New(e.issuer)
			u, _ := e.passkeyUser(t, auth, "", "pk-race-delete@example.com")
			b := e.newBrowser(t)
			e.passkeyLogin(t, b, e.authz(t, webClient, "openid"), auth, "")
			c := e.mustBegin(t, b, pathRegisterBegin, map[string]any{})
			resp, _, err := passkeytest.New(e.issuer).Create(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			if r := e.apiPost(t, b, pathRegisterFinish, map[string]any{"ceremony": c.ID, "credential": json.RawMessage(resp)}, nil); r.Status != http.StatusOK {
				t.Fatalf("add a second passkey: %d %s", r.Status, r.Raw)
			}
			keys := e.credentialsOf(t, u.ID)
			if len(keys) != 2 {
				t.Fatalf("%d passkeys, want 2", len(keys))
			}
			csrf := formValue(t, b.get(t, e.url("/u/account")), "csrf")
			var wg sync.WaitGroup
			for _, k := range keys {
				wg.Go(func() {
					req, _ := http.NewRequest(http.MethodPost, e.url("/u/account/passkeys/delete"),
						strings.NewReader(url.Values{"csrf": {csrf}, "id": {k.ID}}.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Origin", b.origin)
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					if resp, err := b.client.Do(req); err == nil {
						resp.Body.Close()
					}
				})
			}
			wg.Wait()
			if n := len(e.credentialsOf(t, u.ID)); n != 1 {
				t.Errorf("two deletions at once left a passkey-only user %d passkeys, want 1", n)
			}
		})

		t.Run("email_first_does_not_tell_who_exists", func(t *testing.T) {
			e.signup(t, "pk-race-password@example.com", userPassword)
			answer := func(email string) jsonResponse {
				b := e.newBrowser(t)
				state := e.loginState(t, b, e.authz(t, webClient, "openid"))
				return e.apiPost(t, b, pathLoginBegin, map[string]any{"state": state, "email": email}, nil)
			}
			known, unknown := answer("pk-race-password@example.com"), answer("nobody-here@example.com")
			if known.Status != unknown.Status || known.str("error") != unknown.str("error") || known.str("error_description") != unknown.str("error_description") {
				t.Errorf("email first: a user without passkeys gets %d %s, an unknown email %d %s",
					known.Status, known.Raw, unknown.Status, unknown.Raw)
			}
		})
	})
}
