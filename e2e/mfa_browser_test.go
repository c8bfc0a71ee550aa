package e2e

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestMFABrowser drives the MFA pages (and mfa.js) in headless Chromium
// with go-oidc as the relying party, on SQLite and PostgreSQL: a password
// login with TOTP enrolment (the code computed from the secret the page
// shows) and a later TOTP login; passkey logins with "a verified passkey
// satisfies MFA" on (no prompt) and off (the TOTP enrolment comes, amr has
// pop, otp and mfa); a security key (a usb virtual authenticator,
// non-resident credential) as the second factor; and Auth0's JavaScript
// passkey MFA-skip action.
func TestMFABrowser(t *testing.T) {
	browserCtx(t) // skip (or fail under LATCHKEY_TEST_STRICT=1) without Chromium
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newMFAEnv(t, s, nil)
		t.Run("password_totp_enrolment_and_login", func(t *testing.T) { testMFABrowserTOTP(t, e) })
		t.Run("passkey_satisfies_mfa", func(t *testing.T) { testMFABrowserPasskey(t, e, connMFAPasskeyOK, false) })
		t.Run("passkey_then_totp", func(t *testing.T) { testMFABrowserPasskey(t, e, connMFAAlways, true) })
		t.Run("security_key_second_factor", func(t *testing.T) { testMFABrowserSecurityKey(t, e) })
		ea := newMFAEnv(t, s, func(cfg *latchkey.Config) {
			cfg.Actions.Dir = "../actions/testdata"
			cfg.Actions.PostLogin = []actions.Config{{Name: "passkey-mfa", Script: "passkey-mfa.js"}}
		})
		t.Run("js_action_skips_mfa_for_passkeys", func(t *testing.T) { testMFABrowserPasskey(t, ea, connMFAAlways, false) })
	})
}

// mfaBrowserUser creates a password user of a connection over HTTP (the
// sign-up stops at the MFA step, which the browser test then does).
func mfaBrowserUser(t *testing.T, e *pkEnv, connection, email string) {
	t.Helper()
	a := e.authz(t, webClient, "openid").set("connection", connection)
	p := e.passwordSignup(t, e.newBrowser(t), a, email)
	if p.path() != "/u/mfa/enroll" {
		t.Fatalf("sign-up of %s: want the enrolment page, got %s", email, p.URL)
	}
}

// afterMFA waits for the callback, declining the passkey offer a password
// login in a passkey-capable browser gets after the second factor.
func afterMFA(t *testing.T, e *pkEnv, tb *tab) url.Values {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if q, ok := pollCallback(e, tb, 100*time.Millisecond); ok {
			return q
		}
		if u, err := url.Parse(tb.location()); err == nil && u.Path == "/u/passkey/enroll" {
			sel := `button[name="action"][value="skip"]`
			tb.do(t, "decline the passkey offer", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		}
	}
	return waitCallback(t, e, tb)
}

// browserEnrollTOTP reads the secret on the enrolment page, types a code
// computed from it and continues past the recovery codes.
func browserEnrollTOTP(t *testing.T, e *pkEnv, tb *tab) string {
	t.Helper()
	waitPath(t, e, tb, "/u/mfa/enroll")
	tb.do(t, "read the enrolment page", chromedp.WaitVisible(chromedp.CSS("#mfa-secret")))
	secret := evalJS[string](t, tb, `document.getElementById("mfa-secret").textContent`)
	autocomplete := evalJS[string](t, tb, `document.getElementById("code").getAttribute("autocomplete")`)
	qrLoaded := false
	for deadline := time.Now().Add(5 * time.Second); !qrLoaded && time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		qrLoaded = evalJS[bool](t, tb, `(() => { const i = document.getElementById("mfa-qr"); return !!i && i.complete && i.naturalWidth > 0; })()`)
	}
	if !qrLoaded {
		t.Errorf("the QR code image did not load (CSP?)")
	}
	if autocomplete != "one-time-code" {
		t.Errorf("code field autocomplete %q", autocomplete)
	}
	tb.do(t, "confirm the authenticator", chromedp.SendKeys(chromedp.CSS("#code"), totpCode(t, strings.TrimSpace(secret), 0)+"\r"))
	tb.do(t, "continue past the recovery codes", chromedp.WaitVisible(chromedp.CSS("#recovery-codes")), chromedp.Click(chromedp.CSS("#mfa-continue")))
	return strings.TrimSpace(secret)
}

func testMFABrowserTOTP(t *testing.T, e *pkEnv) {
	email := "mfa-browser-totp@example.com"
	mfaBrowserUser(t, e, connMFAAlways, email)
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, map[string]string{"connection": connMFAAlways})
	passwordLogin(t, e, tb, f, email)
	secret := browserEnrollTOTP(t, e, tb)
	c := e.redeem(t, f, afterMFA(t, e, tb))
	checkMFAClaims(t, c, "pwd", "otp", "mfa")

	// A later login asks for the code.
	tb2 := newTab(t, authOptions{Synced: true})
	f = e.browserAuth(t, map[string]string{"connection": connMFAAlways})
	passwordLogin(t, e, tb2, f, email)
	waitPath(t, e, tb2, "/u/mfa")
	tb2.do(t, "enter the TOTP code", chromedp.WaitVisible(chromedp.CSS("#code")), chromedp.SendKeys(chromedp.CSS("#code"), totpCode(t, secret, 30*time.Second)+"\r"))
	c = e.redeem(t, f, afterMFA(t, e, tb2))
	checkMFAClaims(t, c, "pwd", "otp", "mfa")
}

// testMFABrowserPasskey logs in with a synced passkey (autofill) on a
// connection whose policy is always; wantPrompt says whether the TOTP
// enrolment must come after it.
func testMFABrowserPasskey(t *testing.T, e *pkEnv, connection string, wantPrompt bool) {
	email := "mfa-browser-pk-" + strings.ToLower(randomString(t, 4)) + "@example.com"
	tb, u := seededTab(t, e, connection, email, true)
	f := e.browserAuth(t, map[string]string{"connection": connection})
	tb.navigate(t, f.url)
	if !wantPrompt {
		c := e.redeem(t, f, waitCallback(t, e, tb))
		if c.Sub != u.ID || slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "pop") || c.ACR != "phr" {
			t.Errorf("passkey login without MFA: sub %q amr %v acr %q", c.Sub, c.AMR, c.ACR)
		}
		return
	}
	browserEnrollTOTP(t, e, tb)
	c := e.redeem(t, f, afterMFA(t, e, tb))
	checkMFAClaims(t, c, "pop", "otp", "mfa")
}

func testMFABrowserSecurityKey(t *testing.T, e *pkEnv) {
	email := "mfa-browser-sk@example.com"
	mfaBrowserUser(t, e, connMFAAlways, email)
	tb := newTab(t, authOptions{Transport: webauthn.AuthenticatorTransportUsb})
	f := e.browserAuth(t, map[string]string{"connection": connMFAAlways})
	passwordLogin(t, e, tb, f, email)
	waitPath(t, e, tb, "/u/mfa/enroll")
	tb.do(t, "add a security key", chromedp.WaitVisible(chromedp.CSS("#mfa-add-security-key")), chromedp.Click(chromedp.CSS("#mfa-add-security-key")))
	waitPath(t, e, tb, "/u/mfa")
	creds := tb.credentials(t)
	if len(creds) != 1 || creds[0].IsResidentCredential {
		t.Errorf("the security key holds %d credentials (resident: %v), want one non-resident", len(creds), len(creds) == 1 && creds[0].IsResidentCredential)
	}
	tb.do(t, "use the security key", chromedp.WaitVisible(chromedp.CSS("#mfa-security-key")), chromedp.Click(chromedp.CSS("#mfa-security-key")))
	c := e.redeem(t, f, afterMFA(t, e, tb))
	if len(c.AMR) == 0 || c.AMR[0] != "pwd" || !hasAll(c.AMR, "pop", "mfa") || slices.Contains(c.AMR, "otp") || c.ACR != "http://schemas.openid.net/pape/policies/2007/06/multi-factor" {
		t.Errorf("security key login: amr %v acr %q, want pwd, pop, mfa and multi-factor", c.AMR, c.ACR)
	}
}
