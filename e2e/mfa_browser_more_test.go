package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestMFABrowserMore covers in headless Chromium, on SQLite and PostgreSQL,
// what TestMFABrowser does not: a recovery code in place of the TOTP code
// (single use: the same code is refused next time), step-up with the
// multi-factor acr_values for a user already logged in with a password (no
// password asked again), and a post-login action that denies access (its
// reason on the page, access_denied for the client).
func TestMFABrowserMore(t *testing.T) {
	browserCtx(t) // skip (or fail under LATCHKEY_TEST_STRICT=1) without Chromium
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newMFAEnv(t, s, func(cfg *latchkey.Config) {
			cfg.Actions.Hooks = []actions.Action{claimsHook()}
		})
		t.Run("recovery_code", func(t *testing.T) { testMFABrowserRecoveryCode(t, e) })
		t.Run("step_up_logged_in_user", func(t *testing.T) { testMFABrowserStepUp(t, e) })
		t.Run("deny_action", func(t *testing.T) { testMFABrowserDeny(t, e) })
	})
}

// browserEnrollTOTPWithCodes is browserEnrollTOTP that also reads the
// recovery codes shown once.
func browserEnrollTOTPWithCodes(t *testing.T, e *pkEnv, tb *tab) []string {
	t.Helper()
	waitPath(t, e, tb, "/u/mfa/enroll")
	tb.do(t, "read the enrolment page", chromedp.WaitVisible(chromedp.CSS("#mfa-secret")))
	secret := strings.TrimSpace(evalJS[string](t, tb, `document.getElementById("mfa-secret").textContent`))
	tb.do(t, "confirm the authenticator", chromedp.SendKeys(chromedp.CSS("#code"), totpCode(t, secret, 0)+"\r"))
	tb.do(t, "see the recovery codes", chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	codes := evalJS[[]string](t, tb, `Array.from(document.querySelectorAll("#recovery-codes li")).map(li => li.textContent.trim())`)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	tb.do(t, "continue past the recovery codes", chromedp.Click(chromedp.CSS("#mfa-continue")))
	return codes
}

func testMFABrowserRecoveryCode(t *testing.T, e *pkEnv) {
	email := "mfa-browser-recovery@example.com"
	mfaBrowserUser(t, e, connMFAAlways, email)
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, map[string]string{"connection": connMFAAlways})
	passwordLogin(t, e, tb, f, email)
	codes := browserEnrollTOTPWithCodes(t, e, tb)
	e.redeem(t, f, afterMFA(t, e, tb))

	useCode := func(tb *tab, code string) {
		t.Helper()
		waitPath(t, e, tb, "/u/mfa")
		tb.do(t, "use a recovery code", chromedp.WaitVisible(chromedp.CSS("#mfa-use-recovery")), chromedp.Click(chromedp.CSS("#mfa-use-recovery")))
		tb.do(t, "enter the recovery code", chromedp.WaitVisible(chromedp.CSS(`#code[autocomplete="off"]`)), chromedp.SendKeys(chromedp.CSS("#code"), code+"\r"))
	}
	tb2 := newTab(t, authOptions{Synced: true})
	f = e.browserAuth(t, map[string]string{"connection": connMFAAlways})
	passwordLogin(t, e, tb2, f, email)
	useCode(tb2, codes[0])
	c := e.redeem(t, f, afterMFA(t, e, tb2))
	if len(c.AMR) == 0 || c.AMR[0] != "pwd" || !slices.Contains(c.AMR, "mfa") || slices.Contains(c.AMR, "otp") || c.ACR != provider.ACRMultiFactor {
		t.Errorf("recovery-code login: amr %v acr %q, want pwd and mfa without otp, multi-factor", c.AMR, c.ACR)
	}

	// The same code again: refused, with the message on the page.
	tb3 := newTab(t, authOptions{Synced: true})
	f = e.browserAuth(t, map[string]string{"connection": connMFAAlways})
	passwordLogin(t, e, tb3, f, email)
	useCode(tb3, codes[0])
	waitVisibleText(t, tb3, "#mfa-error")
}

// waitVisibleText waits until the element shows some text.
func waitVisibleText(t *testing.T, tb *tab, sel string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		txt := evalJS[string](t, tb, `(() => { const el = document.querySelector(`+"`"+sel+"`"+`); return el && !el.hidden ? el.textContent.trim() : ""; })()`)
		if txt != "" {
			return txt
		}
	}
	t.Fatalf("%s never showed a message; page at %s", sel, tb.location())
	return ""
}

func testMFABrowserStepUp(t *testing.T, e *pkEnv) {
	// The default connection's policy is never: the password login has no
	// MFA, and the multi-factor acr asks for it without the password again.
	email := "mfa-browser-stepup@example.com"
	e.createUser(t, latchkey.DefaultConnectionName, email)
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, nil)
	passwordLogin(t, e, tb, f, email)
	c := e.redeem(t, f, afterMFA(t, e, tb))
	if slices.Contains(c.AMR, "mfa") {
		t.Fatalf("password login: amr %v", c.AMR)
	}

	f = e.browserAuth(t, map[string]string{"acr_values": provider.ACRMultiFactor})
	tb.navigate(t, f.url)
	waitPath(t, e, tb, "/u/mfa/enroll")
	browserEnrollTOTP(t, e, tb)
	c2 := e.redeem(t, f, afterMFA(t, e, tb))
	checkMFAClaims(t, c2, "pwd", "otp", "mfa")
	if c2.Sub != c.Sub || c2.Sid == c.Sid {
		t.Errorf("step-up: sub %q (was %q), sid %q (was %q): want the same user in a new session", c2.Sub, c.Sub, c2.Sid, c.Sid)
	}
}

func testMFABrowserDeny(t *testing.T, e *pkEnv) {
	email := "denied-browser@example.com"
	e.createUser(t, latchkey.DefaultConnectionName, email)
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, nil)
	passwordLogin(t, e, tb, f, email)
	waitPath(t, e, tb, "/u/denied")
	if msg := waitVisibleText(t, tb, "#denied-message"); msg != "Your account is not allowed to use this application." {
		t.Errorf("denied page says %q", msg)
	}
	tb.do(t, "return to the application", chromedp.Click(chromedp.CSS("#denied-return")))
	q := waitCallback(t, e, tb)
	if q.Get("error") != "access_denied" || q.Get("error_description") != "Your account is not allowed to use this application." || q.Get("state") != f.state {
		t.Errorf("client got error %q (%q), state %q", q.Get("error"), q.Get("error_description"), q.Get("state"))
	}
}
