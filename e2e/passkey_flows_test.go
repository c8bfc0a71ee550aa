package e2e

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestPasskeyFlows: the flows around a passkey ceremony over HTTP, on
// SQLite and PostgreSQL: a demanded acr met by a password login followed
// by a new passkey (or refused when the person declines), an essential
// acr claim, amr/acr/auth_time kept after prompt=none and refresh, and the
// offer of a passkey on this device after a cross-device login.
func TestPasskeyFlows(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 1)

		// passwordStep logs in with a password in b, reporting (as
		// passkey.js does) that the browser can create passkeys, and
		// returns the page after the password.
		passwordStep := func(t *testing.T, b *browser, a *authz, email string) *page {
			t.Helper()
			p := b.get(t, a.String())
			p = b.submit(t, p, fields{"username": email})
			if p.path() != "/u/login/password" {
				t.Fatalf("want the password page, got %s", p.URL)
			}
			return b.submit(t, p, fields{"password": userPassword, "passkeys": "1"})
		}

		t.Run("acr_phr_password_then_new_passkey", func(t *testing.T) {
			email := "pk-flow-required@example.com"
			u := e.signup(t, email, userPassword)
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid").set("acr_values", "phr")
			p := passwordStep(t, b, a, email)
			if p.Location != nil || p.path() != "/u/passkey/enroll" || !strings.Contains(p.Body, "requires a passkey") {
				t.Fatalf("acr_values=phr after a password: want the required passkey offer, got %s (Location %v)", p.URL, p.Location)
			}
			state := p.URL.Query().Get("state")
			c := e.mustBegin(t, b, pathRegisterBegin, map[string]any{"state": state})
			resp, _, err := passkeytest.New(e.issuer).Create(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			fin := e.apiPost(t, b, pathRegisterFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
			cb := b.get(t, e.redirectOf(t, fin)).callback(t, a.redirect())
			e.checkResponse(t, a, cb)
			if cb.Code == "" {
				t.Fatalf("after the new passkey: error %q (%s)", cb.Error, cb.ErrorDescription)
			}
			_, _, claims := e.mustExchange(t, a, cb.Code)
			if claims.ACR != "phr" || !hasAll(claims.AMR, "pwd", "pop", "swk") || claims.Sub != u.ID {
				t.Errorf("password then passkey: acr %q amr %v sub %q", claims.ACR, claims.AMR, claims.Sub)
			}
		})

		t.Run("acr_phr_password_declined", func(t *testing.T) {
			email := "pk-flow-declined@example.com"
			e.signup(t, email, userPassword)
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid").set("acr_values", "phr")
			p := passwordStep(t, b, a, email)
			if p.path() != "/u/passkey/enroll" {
				t.Fatalf("want the required passkey offer, got %s (Location %v)", p.URL, p.Location)
			}
			cb := b.submit(t, p, fields{press("action", "skip"): ""}).callback(t, a.redirect())
			e.checkResponse(t, a, cb)
			if cb.Code != "" || cb.Error != "unmet_authentication_requirements" {
				t.Errorf("declined passkey under acr_values=phr: code %q error %q, want unmet_authentication_requirements", cb.Code, cb.Error)
			}
		})

		t.Run("essential_acr_phrh_with_synced_passkey", func(t *testing.T) {
			synced := passkeytest.New(e.issuer)
			e.passkeyUser(t, synced, "", "pk-flow-essential@example.com")
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid").set("claims", `{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}`)
			state := e.loginState(t, b, a)
			c := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
			resp, err := synced.Get(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			fin := e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
			if fin.Status != 200 {
				return // refused outright: no token either
			}
			p := b.get(t, e.redirectOf(t, fin))
			if p.Location == nil {
				return // a page asks for a suitable passkey
			}
			cb := p.callback(t, a.redirect())
			if cb.Code != "" {
				_, _, claims := e.mustExchange(t, a, cb.Code)
				t.Fatalf("an essential acr phrh answered with a code for a synced passkey (acr %q)", claims.ACR)
			}
			if cb.Error != "unmet_authentication_requirements" {
				t.Errorf("error %q, want unmet_authentication_requirements", cb.Error)
			}
		})

		t.Run("claims_kept_after_prompt_none_and_refresh", func(t *testing.T) {
			bound := passkeytest.New(e.issuer)
			bound.BackupEligible, bound.BackupState = false, false
			e.passkeyUser(t, bound, "", "pk-flow-kept@example.com")
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid offline_access")
			cb := e.passkeyLogin(t, b, a, bound, "")
			tok, _, first := e.mustExchange(t, a, cb.Code)
			checkPasskeyClaims(t, first, true)
			same := func(what string, c idClaims) {
				t.Helper()
				if c.ACR != first.ACR || !slices.Equal(c.AMR, first.AMR) || c.AuthTime != first.AuthTime {
					t.Errorf("%s: acr %q amr %v auth_time %d, want %q %v %d", what, c.ACR, c.AMR, c.AuthTime, first.ACR, first.AMR, first.AuthTime)
				}
			}
			a2 := e.authz(t, webClient, "openid").set("prompt", "none")
			cb2 := b.get(t, a2.String()).callback(t, a2.redirect())
			if cb2.Code == "" {
				t.Fatalf("prompt=none: error %q", cb2.Error)
			}
			_, _, c2 := e.mustExchange(t, a2, cb2.Code)
			same("prompt=none", c2)
			a3 := e.authz(t, webClient, "openid").set("prompt", "none").set("acr_values", "phrh")
			if cb3 := b.get(t, a3.String()).callback(t, a3.redirect()); cb3.Code == "" {
				t.Errorf("prompt=none with acr_values=phrh after a device-bound login: error %q", cb3.Error)
			}
			r := e.token(t, webClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			if r.Status != 200 {
				t.Fatalf("refresh: %d %s", r.Status, r.Raw)
			}
			idt, err := e.verifier(t, webClient).Verify(e.rpCtx, r.str("id_token"))
			if err != nil {
				t.Fatalf("refreshed ID token: %v", err)
			}
			var c4 idClaims
			if err := idt.Claims(&c4); err != nil {
				t.Fatal(err)
			}
			same("refresh", c4)
		})

		t.Run("local_enrollment_after_cross_device_login", func(t *testing.T) {
			phone := passkeytest.New(e.issuer)
			phone.Attachment = "cross-platform"
			phone.Transports = []string{"hybrid", "internal"}
			u, _ := e.passkeyUser(t, phone, "", "pk-flow-phone@example.com")
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid")
			state := e.loginState(t, b, a)
			c := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
			resp, err := phone.Get(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			fin := e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
			p := b.get(t, e.redirectOf(t, fin))
			if p.Location != nil || p.path() != "/u/passkey/enroll" || !strings.Contains(p.Body, "on this device") {
				t.Fatalf("after a cross-device login: want the offer of a passkey on this device, got %s (Location %v)", p.URL, p.Location)
			}
			laptop := passkeytest.New(e.issuer)
			rc := e.mustBegin(t, b, pathRegisterBegin, map[string]any{"state": state, "hint": "client-device"})
			created, _, err := laptop.Create(rc.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			rf := e.apiPost(t, b, pathRegisterFinish, map[string]any{"state": state, "ceremony": rc.ID, "credential": json.RawMessage(created)}, nil)
			cb := b.get(t, e.redirectOf(t, rf)).callback(t, a.redirect())
			if cb.Code == "" {
				t.Fatalf("after the local passkey: error %q", cb.Error)
			}
			if n := len(e.credentialsOf(t, u.ID)); n != 2 {
				t.Errorf("%d passkeys after local enrollment, want 2", n)
			}
			// The laptop's passkey logs in without an offer.
			e.passkeyLogin(t, e.newBrowser(t), e.authz(t, webClient, "openid"), laptop, "")
		})
	})
}
