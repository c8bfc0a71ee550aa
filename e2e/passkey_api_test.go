package e2e

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestPasskeyAPI drives the passkey JSON API over HTTP with the software
// authenticator, as a native app or a custom login page would, on SQLite
// and PostgreSQL: sign-up, discoverable and email-first login, the amr and
// acr a relying party gets for synced and device-bound passkeys, acr_values
// enforcement, and ceremonies begun on one replica and finished on another.
func TestPasskeyAPI(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 1)
		synced := passkeytest.New(e.issuer)
		bound := passkeytest.New(e.issuer)
		bound.BackupEligible, bound.BackupState = false, false

		t.Run("signup_synced", func(t *testing.T) {
			a := e.authz(t, webClient, "openid email")
			cb := e.passkeySignup(t, e.newBrowser(t), a, synced, "pk-synced@example.com")
			_, _, c := e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, c, false)
			u, ok := e.userByEmail(t, "", "pk-synced@example.com")
			if !ok || c.Sub != u.ID {
				t.Fatalf("sign-up: user %v (found %v), sub %q", u.ID, ok, c.Sub)
			}
			if n := len(e.credentialsOf(t, u.ID)); n != 1 {
				t.Errorf("sign-up stored %d passkeys, want 1", n)
			}
			if pw, _ := e.store.ListCredentials(bg(), u.ID, storage.CredentialPassword); len(pw) != 0 {
				t.Errorf("a passkey sign-up stored a password")
			}
		})
		t.Run("login_discoverable", func(t *testing.T) {
			u, _ := e.userByEmail(t, "", "pk-synced@example.com")
			before := storedCount(t, e.env, u.ID)
			a := e.authz(t, webClient, "openid email")
			cb := e.passkeyLogin(t, e.newBrowser(t), a, synced, "")
			_, _, c := e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, c, false)
			if c.Sub != u.ID {
				t.Errorf("sub %q, want %q", c.Sub, u.ID)
			}
			if after := storedCount(t, e.env, u.ID); after <= before {
				t.Errorf("sign count %d after the login, was %d", after, before)
			}
		})
		t.Run("login_email_first", func(t *testing.T) {
			a := e.authz(t, webClient, "openid email")
			b := e.newBrowser(t)
			cb := e.passkeyLogin(t, b, a, synced, "PK-Synced@example.com ")
			_, _, c := e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, c, false)
			// The email-first options list the user's passkeys.
			state := e.loginState(t, e.newBrowser(t), e.authz(t, webClient, "openid"))
			cer := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state, "email": "pk-synced@example.com"})
			var opts struct {
				AllowCredentials []struct{ ID string } `json:"allowCredentials"`
			}
			if err := json.Unmarshal(cer.PublicKey, &opts); err != nil || len(opts.AllowCredentials) != 1 {
				t.Errorf("email-first options: allowCredentials %v (%v): %s", opts.AllowCredentials, err, cer.PublicKey)
			}
		})
		t.Run("concurrent_finish", func(t *testing.T) {
			// Ten copies of one valid finish at once: exactly one logs in.
			auth := passkeytest.New(e.issuer)
			u, _ := e.passkeyUser(t, auth, "", "pk-concurrent@example.com")
			b := e.newBrowser(t)
			state := e.loginState(t, b, e.authz(t, webClient, "openid"))
			c := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
			resp, err := auth.Get(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			body := map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}
			var wg sync.WaitGroup
			statuses := make([]int, 10)
			for i := range statuses {
				wg.Go(func() {
					statuses[i] = e.apiPost(t, e.newBrowser(t), pathLoginFinish, body, nil).Status
				})
			}
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch {
				case s == 200:
					ok++
				case s < 400 || s > 499:
					t.Errorf("a concurrent finish answered %d", s)
				}
			}
			sessions, err := e.store.ListUserSessions(bg(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ok != 1 || len(sessions) != 1 || storedCount(t, e.env, u.ID) != 1 {
				t.Errorf("10 concurrent finishes: %d succeeded, %d sessions, counter %d; want 1, 1, 1 (statuses %v)", ok, len(sessions), storedCount(t, e.env, u.ID), statuses)
			}
		})
		t.Run("device_bound", func(t *testing.T) {
			a := e.authz(t, webClient, "openid email")
			cb := e.passkeySignup(t, e.newBrowser(t), a, bound, "pk-bound@example.com")
			_, _, c := e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, c, true)
			a = e.authz(t, webClient, "openid email")
			cb = e.passkeyLogin(t, e.newBrowser(t), a, bound, "")
			_, _, c = e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, c, true)
		})
		t.Run("acr_phrh_satisfied_by_device_bound", func(t *testing.T) {
			a := e.authz(t, webClient, "openid").set("acr_values", "phrh")
			cb := e.passkeyLogin(t, e.newBrowser(t), a, bound, "")
			_, _, c := e.mustExchange(t, a, cb.Code)
			if c.ACR != "phrh" {
				t.Errorf("acr %q, want phrh", c.ACR)
			}
		})
		t.Run("acr_phrh_not_satisfied_by_synced", func(t *testing.T) {
			synced := passkeytest.New(e.issuer)
			e.passkeyUser(t, synced, "", "pk-synced-phrh@example.com")
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid").set("acr_values", "phrh")
			state := e.loginState(t, b, a)
			c := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
			resp, err := synced.Get(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			fin := e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
			if fin.Status != 200 {
				// Refusing the ceremony outright is acceptable too.
				t.Logf("finish refused: %d %s", fin.Status, fin.Raw)
				return
			}
			p := b.get(t, e.redirectOf(t, fin))
			if p.Location == nil {
				// Back on a page asking for a suitable passkey: no code.
				t.Logf("phrh with a synced passkey: the browser is on %s", p.URL.Path)
				return
			}
			cb := p.callback(t, a.redirect())
			if cb.Code != "" {
				_, _, claims := e.mustExchange(t, a, cb.Code)
				t.Fatalf("acr_values=phrh answered with a code for a synced passkey (acr %q, amr %v)", claims.ACR, claims.AMR)
			}
			if cb.Error != "unmet_authentication_requirements" {
				t.Errorf("error %q, want unmet_authentication_requirements", cb.Error)
			}
		})
	})
}

// TestPasskeyAPIReplicas begins each ceremony on one replica and finishes
// it on the other (two latchkey.New over one database behind a round-robin
// balancer), on SQLite and PostgreSQL.
func TestPasskeyAPIReplicas(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 2)
		auth := passkeytest.New(e.issuer)
		crossed := func(t *testing.T, begin, finish string) {
			t.Helper()
			if b, f := e.lb.lastServed(begin), e.lb.lastServed(finish); b == f || b < 0 {
				t.Errorf("%s on replica %d and %s on replica %d: want different replicas", begin, b, finish, f)
			}
		}
		a := e.authz(t, webClient, "openid email")
		cb := e.passkeySignup(t, e.newBrowser(t), a, auth, "pk-replicas@example.com")
		crossed(t, pathRegisterBegin, pathRegisterFinish)
		_, _, c := e.mustExchange(t, a, cb.Code)
		checkPasskeyClaims(t, c, false)
		for range 3 {
			a := e.authz(t, webClient, "openid email")
			cb := e.passkeyLogin(t, e.newBrowser(t), a, auth, "")
			crossed(t, pathLoginBegin, pathLoginFinish)
			_, _, c := e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, c, false)
		}
	})
}

// checkPasskeyClaims checks a passkey login's amr and acr (docs/amr.md):
// pop, user and mfa always (the authenticators verify the user), then hwk
// and phrh for a device-bound passkey, swk and phr for a synced one.
func checkPasskeyClaims(t testing.TB, c idClaims, deviceBound bool) {
	t.Helper()
	want, not, acr := []string{"pop", "user", "mfa", "swk"}, "hwk", "phr"
	if deviceBound {
		want, not, acr = []string{"pop", "user", "mfa", "hwk"}, "swk", "phrh"
	}
	if !hasAll(c.AMR, want...) || slices.Contains(c.AMR, not) || slices.Contains(c.AMR, "pwd") {
		t.Errorf("amr %v, want %v without %s or pwd", c.AMR, want, not)
	}
	if c.ACR != acr {
		t.Errorf("acr %q, want %q", c.ACR, acr)
	}
}
