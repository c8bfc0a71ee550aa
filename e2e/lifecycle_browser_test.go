package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestLifecycleBrowser follows the real mail in headless Chromium: a
// password reset from "Forgot password?" to a login with the new
// password, and a passkey recovery from "Can't use your passkey?" to a
// login with the new passkey made by the tab's virtual authenticator. The
// mail goes through a real SMTP server (mailtest), on SQLite and
// PostgreSQL.
func TestLifecycleBrowser(t *testing.T) {
	browserCtx(t) // skip (or fail under LATCHKEY_TEST_STRICT=1) without Chromium
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newLifecycleEnv(t, s)
		t.Run("password_reset", e.testBrowserPasswordReset)
		t.Run("passkey_recovery", e.testBrowserPasskeyRecovery)
	})
}

// waitText waits until the tab's page shows text.
func waitText(t *testing.T, tb *tab, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(pageText(tb), text) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("the page never showed %q: it is at %s\npage: %s\nconsole:\n%s", text, tb.location(), pageText(tb), tb.console())
}

func (e *lifecycleEnv) testBrowserPasswordReset(t *testing.T) {
	const email = "browser-reset@example.com"
	user := e.createUser(t, latchkey.DefaultConnectionName, email)
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, nil)
	tb.navigate(t, f.url)
	waitPath(t, e.pkEnv, tb, "/u/login")
	tb.do(t, "enter the email", chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), email+"\r"))
	waitPath(t, e.pkEnv, tb, "/u/login/password")
	tb.do(t, "forgot password", chromedp.WaitVisible(chromedp.CSS("#forgot-password")), chromedp.Click(chromedp.CSS("#forgot-password")))
	waitPath(t, e.pkEnv, tb, "/u/reset-password/request")
	if v := evalJS[string](t, tb, `document.getElementById("email").value`); v != email {
		t.Errorf("the email form is prefilled with %q, want %q", v, email)
	}
	n := e.mailCount()
	tb.do(t, "send the link", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	waitText(t, tb, "Check your email")
	link := e.onlyLink(t, e.lastMail(t, email, n), "/u/reset-password")

	tb.navigate(t, link)
	waitPath(t, e.pkEnv, tb, "/u/reset-password")
	tb.do(t, "a weak password", chromedp.WaitVisible(chromedp.CSS("#password")), chromedp.SendKeys(chromedp.CSS("#password"), "weak\r"))
	// The rules ("Your password must contain:") are on the page from the
	// start: wait for the refusal itself, on the re-rendered page.
	tb.do(t, "the refusal", chromedp.WaitVisible(chromedp.CSS("#password-error")))
	if msg := evalJS[string](t, tb, `document.getElementById("password-error").textContent`); !strings.Contains(msg, "Your password must contain") {
		t.Errorf("weak password refused with %q", msg)
	}
	tb.do(t, "the new password", chromedp.WaitVisible(chromedp.CSS(`#password[aria-invalid="true"]`)), chromedp.SendKeys(chromedp.CSS("#password"), newPassword+"\r"))
	waitText(t, tb, "Your password has been changed successfully.")

	// Log in with it (declining the passkey offer that follows).
	f = e.browserAuth(t, nil)
	tb.navigate(t, f.url)
	waitPath(t, e.pkEnv, tb, "/u/login")
	tb.do(t, "enter the email", chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), email+"\r"))
	waitPath(t, e.pkEnv, tb, "/u/login/password")
	// passkey.js marks the form passkey-capable; only then does the server offer
	// a passkey after the login (the "Not now" below).
	tb.do(t, "enter the new password", chromedp.WaitVisible(chromedp.CSS("#password")), chromedp.WaitReady(chromedp.CSS(`input[name="passkeys"][value="1"]`)), chromedp.SendKeys(chromedp.CSS("#password"), newPassword+"\r"))
	skip := `button[name="action"][value="skip"]`
	tb.do(t, "not now", chromedp.WaitVisible(chromedp.CSS(skip)), chromedp.Click(chromedp.CSS(skip)))
	c := e.redeem(t, f, waitCallback(t, e.pkEnv, tb))
	if c.Sub != user.ID || !slices.Contains(c.AMR, "pwd") || c.EmailVerified == nil || !*c.EmailVerified {
		t.Errorf("login after the reset: sub %q amr %v email_verified %v", c.Sub, c.AMR, c.EmailVerified)
	}
}

func (e *lifecycleEnv) testBrowserPasskeyRecovery(t *testing.T) {
	const email = "browser-recover@example.com"
	user, _ := e.passkeyUser(t, passkeytest.New(e.issuer), "", email) // that authenticator is lost
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, nil)
	tb.navigate(t, f.url)
	waitPath(t, e.pkEnv, tb, "/u/login")
	tb.do(t, "enter the email", chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), email+"\r"))
	waitPath(t, e.pkEnv, tb, "/u/login/passkey")
	tb.do(t, "can't use your passkey", chromedp.WaitVisible(chromedp.CSS("#recover-passkey")), chromedp.Click(chromedp.CSS("#recover-passkey")))
	waitPath(t, e.pkEnv, tb, "/u/recover-passkey/request")
	n := e.mailCount()
	tb.do(t, "send the link", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	waitText(t, tb, "Check your email")
	link := e.onlyLink(t, e.lastMail(t, email, n), "/u/recover-passkey")

	tb.navigate(t, link)
	waitPath(t, e.pkEnv, tb, "/u/recover-passkey")
	tb.do(t, "continue", chromedp.WaitVisible(chromedp.CSS(`button[type="submit"]`)), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	tb.do(t, "create a passkey", chromedp.WaitVisible(chromedp.CSS("#recover-create")), chromedp.Click(chromedp.CSS("#recover-create")))
	waitPath(t, e.pkEnv, tb, "/u/recover-passkey/done")
	waitText(t, tb, "Your new passkey is ready")
	if n := len(e.credentialsOf(t, user.ID)); n != 2 {
		t.Errorf("%d passkeys after recovery, want 2", n)
	}

	// The new passkey logs in (autofill on the login page).
	f = e.browserAuth(t, nil)
	tb.navigate(t, f.url)
	c := e.redeem(t, f, waitCallback(t, e.pkEnv, tb))
	if c.Sub != user.ID || !slices.Contains(c.AMR, "pop") {
		t.Errorf("login with the recovered passkey: sub %q amr %v", c.Sub, c.AMR)
	}
}
