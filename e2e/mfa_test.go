package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestMFA drives the MFA step over HTTP with go-oidc as the relying party,
// on SQLite and PostgreSQL: TOTP enrolment after a password sign-up (the
// code computed from the secret the page shows), TOTP and recovery-code
// logins, replays, attempt caps, step-up with acr_values for a logged-in
// user (amr and acr kept through prompt=none and refresh), and passkey
// logins under "always" with and without "a verified passkey satisfies
// MFA".
func TestMFA(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newMFAEnv(t, s, nil)

		var secret string
		var codes []string
		const email = "mfa-totp@example.com"
		t.Run("password_signup_enrols_totp", func(t *testing.T) {
			a := e.authz(t, webClient, "openid email").set("connection", connMFAAlways)
			b := e.newBrowser(t)
			p := e.passwordSignup(t, b, a, email)
			if b.sessionCookieSet(0) {
				t.Errorf("a session cookie was set before the second factor")
			}
			var next *page
			secret, codes, next = enrollTOTP(t, b, p)
			_, _, c := e.mustExchange(t, a, e.codeOf(t, a, next))
			checkMFAClaims(t, c, "pwd", "otp", "mfa")
		})
		t.Run("password_and_totp_login", func(t *testing.T) {
			a := e.authz(t, webClient, "openid email").set("connection", connMFAAlways)
			b := e.newBrowser(t)
			p := b.login(t, b.get(t, a.String()), email, userPassword)
			wantMFAPage(t, p)
			if !strings.Contains(p.Body, `autocomplete="one-time-code"`) || !strings.Contains(p.Body, "Use a recovery code") {
				t.Errorf("MFA page lacks the one-time-code field or the recovery-code link")
			}
			code := totpCode(t, secret, 30e9)
			p2 := b.submit(t, p, fields{"code": code})
			tok, _, c := e.mustExchange(t, a, e.codeOf(t, a, p2))
			checkMFAClaims(t, c, "pwd", "otp", "mfa")

			// The same code again, in another login: refused.
			b2 := e.newBrowser(t)
			a2 := e.authz(t, webClient, "openid email").set("connection", connMFAAlways)
			p = b2.login(t, b2.get(t, a2.String()), email, userPassword)
			wantMFAPage(t, p)
			p = b2.submit(t, p, fields{"code": code})
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "already used") {
				t.Errorf("replayed TOTP code: status %d, want 400 with 'already used':\n%s", p.Status, excerpt(p.Body))
			}

			// prompt=none and refresh keep amr and acr.
			a3 := e.authz(t, webClient, "openid email offline_access").set("connection", connMFAAlways).set("prompt", "none")
			tok3, _, c3 := e.mustExchange(t, a3, e.codeOf(t, a3, b.get(t, a3.String())))
			checkMFAClaims(t, c3, "pwd", "otp", "mfa")
			if c3.Sid != c.Sid {
				t.Errorf("prompt=none: sid %q, want %q", c3.Sid, c.Sid)
			}
			_ = tok
			refreshed, err := e.oauth2Config(t, webClient).TokenSource(e.rpCtx, tok3).Token()
			if err != nil {
				t.Fatalf("refresh: %v", describe(err))
			}
			if refreshed.AccessToken == tok3.AccessToken {
				// Force a refresh: the token source returns a valid token as is.
				tok3.Expiry = tok3.Expiry.Add(-24 * 3600e9)
				if refreshed, err = e.oauth2Config(t, webClient).TokenSource(e.rpCtx, tok3).Token(); err != nil {
					t.Fatalf("refresh: %v", describe(err))
				}
			}
			_, cr := e.verifyIDToken(t, webClient, refreshed)
			checkMFAClaims(t, cr, "pwd", "otp", "mfa")
		})
		t.Run("recovery_code_single_use", func(t *testing.T) {
			login := func() (*browser, *authz, *page) {
				a := e.authz(t, webClient, "openid email").set("connection", connMFAAlways)
				b := e.newBrowser(t)
				p := b.login(t, b.get(t, a.String()), email, userPassword)
				wantMFAPage(t, p)
				return b, a, b.get(t, linkOf(t, p, "mfa-use-recovery"))
			}
			b, a, p := login()
			p = b.submit(t, p, fields{"code": codes[0]})
			_, _, c := e.mustExchange(t, a, e.codeOf(t, a, p))
			if !slices.Contains(c.AMR, "mfa") || slices.Contains(c.AMR, "otp") || c.ACR != provider.ACRMultiFactor {
				t.Errorf("recovery-code login: amr %v acr %q, want mfa without otp, multi-factor", c.AMR, c.ACR)
			}
			b, _, p = login()
			p = b.submit(t, p, fields{"code": codes[0]})
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("used recovery code: status %d (Location %v), want 400", p.Status, p.Location)
			}
		})
		t.Run("account_page", func(t *testing.T) {
			// A password user of the default connection adds an
			// authenticator app on the account page, sees the recovery
			// codes once, and removes it.
			a := e.authz(t, webClient, "openid")
			b := e.newBrowser(t)
			e.codeOf(t, a, e.passwordSignup(t, b, a, "mfa-account@example.com"))
			p := b.get(t, e.url("/u/account"))
			p = b.get(t, linkOf(t, p, "account-mfa"))
			if p.path() != "/u/account/mfa" || !strings.Contains(p.Body, `id="mfa-none"`) {
				t.Fatalf("MFA section: %s (status %d):\n%s", p.URL, p.Status, excerpt(p.Body))
			}
			_, accCodes, p := enrollTOTP(t, b, b.get(t, linkOf(t, p, "mfa-add-otp")))
			if len(accCodes) != 10 || !strings.Contains(p.Body, "Authenticator app added.") || !strings.Contains(p.Body, `data-kind="otp"`) || !strings.Contains(p.Body, `data-kind="recovery-code"`) {
				t.Fatalf("after enrolment: %d codes, page:\n%s", len(accCodes), excerpt(p.Body))
			}
			p = b.submit(t, p, fields{"id": firstFactorID(t, p, "otp")})
			if !strings.Contains(p.Body, "Removed.") || strings.Contains(p.Body, `data-kind="otp"`) {
				t.Errorf("after removing the app:\n%s", excerpt(p.Body))
			}
			// Under "always" the last factor stays: the TOTP user logs in
			// with a recovery code and cannot remove the app.
			a = e.authz(t, webClient, "openid").set("connection", connMFAAlways)
			b = e.newBrowser(t)
			p = b.login(t, b.get(t, a.String()), email, userPassword)
			p = b.submit(t, b.get(t, linkOf(t, p, "mfa-use-recovery")), fields{"code": codes[1]})
			e.codeOf(t, a, p)
			p = b.get(t, e.url("/u/account/mfa"))
			p = b.submit(t, p, fields{"id": firstFactorID(t, p, "otp")})
			if p.Status != http.StatusConflict || !strings.Contains(p.Body, "last second step") {
				t.Errorf("removing the last factor under always: status %d:\n%s", p.Status, excerpt(p.Body))
			}
		})
		t.Run("attempt_caps", func(t *testing.T) {
			const capEmail = "mfa-caps@example.com"
			a := e.authz(t, webClient, "openid").set("connection", connMFAAlways)
			b := e.newBrowser(t)
			capSecret, _, _ := enrollTOTP(t, b, e.passwordSignup(t, b, a, capEmail))
			// Per challenge: after mfaPerChallenge wrong codes the
			// challenge is spent, and the login starts over.
			b = e.newBrowser(t)
			p := b.login(t, b.get(t, e.authz(t, webClient, "openid").set("connection", connMFAAlways).String()), capEmail, userPassword)
			wantMFAPage(t, p)
			mfaPage := p
			for i := range mfaPerChallenge {
				p = b.submit(t, mfaPage, fields{"code": "000000"})
				if p.Status != http.StatusBadRequest {
					t.Fatalf("wrong code %d: status %d, want 400", i+1, p.Status)
				}
			}
			p = b.submit(t, mfaPage, fields{"code": "000000"})
			if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Start over") {
				t.Fatalf("wrong code %d: status %d, want 429 with Start over:\n%s", mfaPerChallenge+1, p.Status, excerpt(p.Body))
			}
			// The spent challenge refuses even the right code.
			p = b.submit(t, mfaPage, fields{"code": totpCode(t, capSecret, 30e9)})
			if p.Location != nil {
				t.Fatalf("right code on a spent login: redirected to %v", p.Location)
			}
			// Per user: a new login, and the remaining wrong codes reach the
			// user's limit; then the right code is refused too, with 429.
			b = e.newBrowser(t)
			p = b.login(t, b.get(t, e.authz(t, webClient, "openid").set("connection", connMFAAlways).String()), capEmail, userPassword)
			wantMFAPage(t, p)
			mfaPage = p
			limited := false
			for range mfaPerUser {
				p = b.submit(t, mfaPage, fields{"code": "000000"})
				if p.Status == http.StatusTooManyRequests {
					limited = true
					break
				}
			}
			if !limited {
				t.Fatalf("no 429 after %d wrong codes of one user", mfaPerChallenge+mfaPerUser)
			}
			p = b.submit(t, mfaPage, fields{"code": totpCode(t, capSecret, 30e9)})
			if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Try again in") || p.Header.Get("Retry-After") == "" {
				t.Errorf("right code over the user limit: status %d, Retry-After %q, want 429:\n%s", p.Status, p.Header.Get("Retry-After"), excerpt(p.Body))
			}
		})
		t.Run("step_up_logged_in_user", func(t *testing.T) {
			// The default connection's policy is never: a password login has
			// no MFA; acr_values=multi-factor asks for it, without the
			// password again.
			a := e.authz(t, webClient, "openid email")
			b := e.newBrowser(t)
			p := e.passwordSignup(t, b, a, "mfa-stepup@example.com")
			_, _, c := e.mustExchange(t, a, e.codeOf(t, a, p))
			if slices.Contains(c.AMR, "mfa") || c.ACR != "" {
				t.Fatalf("password login: amr %v acr %q", c.AMR, c.ACR)
			}
			a2 := e.authz(t, webClient, "openid email").set("acr_values", provider.ACRMultiFactor)
			// prompt=none cannot step up.
			none := e.authz(t, webClient, "openid").set("acr_values", provider.ACRMultiFactor).set("prompt", "none")
			if cb := b.get(t, none.String()).callback(t, none.redirect()); cb.Error != "login_required" {
				t.Errorf("prompt=none step-up: error %q, want login_required", cb.Error)
			}
			p = b.get(t, a2.String())
			if strings.Contains(p.path(), "password") || strings.HasPrefix(p.path(), "/u/login") {
				t.Fatalf("step-up asked for the password again: %s", p.URL)
			}
			_, _, next := enrollTOTP(t, b, p)
			_, _, c2 := e.mustExchange(t, a2, e.codeOf(t, a2, next))
			checkMFAClaims(t, c2, "pwd", "otp", "mfa")
			if c2.Sid == c.Sid || c2.Sub != c.Sub {
				t.Errorf("step-up: sid %q (was %q), sub %q (was %q): want a new session of the same user", c2.Sid, c.Sid, c2.Sub, c.Sub)
			}
			// The stepped-up session satisfies the next request silently.
			a3 := e.authz(t, webClient, "openid").set("acr_values", provider.ACRMultiFactor).set("prompt", "none")
			_, _, c3 := e.mustExchange(t, a3, e.codeOf(t, a3, b.get(t, a3.String())))
			checkMFAClaims(t, c3, "pwd", "otp", "mfa")
		})
		t.Run("passkey_satisfies_mfa", func(t *testing.T) {
			auth := passkeytest.New(e.issuer)
			e.passkeyUser(t, auth, connMFAPasskeyOK, "mfa-pk-ok@example.com")
			a := e.authz(t, webClient, "openid").set("connection", connMFAPasskeyOK)
			_, _, c := e.mustExchange(t, a, e.codeOf(t, a, e.passkeyFirstFactor(t, e.newBrowser(t), a, auth)))
			if slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "pop") {
				t.Errorf("passkey login with passkey_satisfies_mfa: amr %v, want pop without otp", c.AMR)
			}
		})
		t.Run("passkey_then_totp_when_always", func(t *testing.T) {
			auth := passkeytest.New(e.issuer)
			e.passkeyUser(t, auth, connMFAAlways, "mfa-pk-always@example.com")
			a := e.authz(t, webClient, "openid").set("connection", connMFAAlways)
			b := e.newBrowser(t)
			p := e.passkeyFirstFactor(t, b, a, auth)
			_, _, next := enrollTOTP(t, b, p)
			_, _, c := e.mustExchange(t, a, e.codeOf(t, a, next))
			checkMFAClaims(t, c, "pop", "otp", "mfa")
		})
		t.Run("local_enrollment_offer_survives_mfa", func(t *testing.T) {
			// A login with a phone's passkey (cross-device) on a connection
			// that asks MFA: after the second factor comes the offer of a
			// passkey on this device, as without MFA.
			phone := passkeytest.New(e.issuer)
			phone.Attachment = "cross-platform"
			phone.Transports = []string{"hybrid", "internal"}
			e.passkeyUser(t, phone, connMFAAlways, "mfa-pk-phone@example.com")
			a := e.authz(t, webClient, "openid").set("connection", connMFAAlways)
			b := e.newBrowser(t)
			_, _, next := enrollTOTP(t, b, e.passkeyFirstFactor(t, b, a, phone))
			if next.Location != nil || next.path() != "/u/passkey/enroll" || !strings.Contains(next.Body, "on this device") {
				t.Fatalf("after MFA following a cross-device login: want the offer of a passkey on this device, got %s (status %d, Location %v)", next.URL, next.Status, next.Location)
			}
		})
	})
}

// TestMFAActions runs post-login actions in the login flow on SQLite and
// PostgreSQL: a Go hook that denies (the reason on the page, access_denied
// to the client) and adds custom claims (in the ID token, and in the
// access token's introspection), and Auth0's JavaScript passkey MFA-skip
// action under the policy "always".
func TestMFAActions(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newMFAEnv(t, s, func(cfg *latchkey.Config) {
			cfg.Actions.Dir = "../actions/testdata"
			cfg.Actions.PostLogin = []actions.Config{{Name: "passkey-mfa", Script: "passkey-mfa.js"}}
			cfg.Actions.Hooks = []actions.Action{claimsHook()}
		})
		t.Run("deny", func(t *testing.T) {
			a := e.authz(t, webClient, "openid email")
			b := e.newBrowser(t)
			p := e.passwordSignup(t, b, a, "denied@example.com")
			if p.path() != "/u/denied" || p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Your account is not allowed to use this application.") {
				t.Fatalf("denied login: got %s (status %d):\n%s", p.URL, p.Status, excerpt(p.Body))
			}
			if b.sessionCookieSet(0) {
				t.Errorf("a denied login set a session cookie")
			}
			cb := b.get(t, linkOf(t, p, "denied-return")).callback(t, a.redirect())
			if cb.Error != "access_denied" || cb.ErrorDescription != "Your account is not allowed to use this application." || cb.State != a.state() {
				t.Errorf("client got error %q (%q), state %q", cb.Error, cb.ErrorDescription, cb.State)
			}
		})
		t.Run("js_skips_mfa_for_passkeys_and_claims", func(t *testing.T) {
			auth := passkeytest.New(e.issuer)
			e.passkeyUser(t, auth, connMFAAlways, "actions-pk@example.com")
			a := e.authz(t, webClient, "openid").set("connection", connMFAAlways)
			tok, _, c := e.mustExchange(t, a, e.codeOf(t, a, e.passkeyFirstFactor(t, e.newBrowser(t), a, auth)))
			if slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "pop") {
				t.Errorf("passkey login skipped by the action: amr %v, want pop without otp", c.AMR)
			}
			if c.All["https://example.com/plan"] != "pro" {
				t.Errorf("ID token custom claim: %v", c.All["https://example.com/plan"])
			}
			if _, ok := c.All["https://example.com/tier"]; ok {
				t.Errorf("the access-token claim is in the ID token")
			}
			in := e.introspect(t, tok.AccessToken)
			if in.Body["https://example.com/tier"] != "gold" {
				t.Errorf("introspection lacks the access-token claim: %s", in.Raw)
			}
		})
		t.Run("js_requires_mfa_for_passwords", func(t *testing.T) {
			// The same action asks for MFA after a password, also on the
			// default connection whose policy is never.
			a := e.authz(t, webClient, "openid")
			b := e.newBrowser(t)
			p := e.passwordSignup(t, b, a, "actions-pw@example.com")
			_, _, next := enrollTOTP(t, b, p)
			_, _, c := e.mustExchange(t, a, e.codeOf(t, a, next))
			checkMFAClaims(t, c, "pwd", "otp", "mfa")
			if c.All["https://example.com/plan"] != "pro" {
				t.Errorf("ID token custom claim after MFA: %v", c.All["https://example.com/plan"])
			}
		})
	})
}

// firstFactorID returns the id of the first factor of kind on the account
// page's MFA section.
func firstFactorID(t testing.TB, p *page, kind string) string {
	t.Helper()
	i := strings.Index(p.Body, `data-kind="`+kind+`"`)
	if i < 0 {
		t.Fatalf("no %s factor on %s", kind, p.URL)
	}
	rest := p.Body[i:]
	const marker = `name="id" value="`
	j := strings.Index(rest, marker)
	if j < 0 {
		t.Fatalf("no id field for the %s factor", kind)
	}
	rest = rest[j+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}
