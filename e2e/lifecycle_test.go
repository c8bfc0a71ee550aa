package e2e

import (
	"context"
	"encoding/json"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/mail/mailtest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// Connections of the account-lifecycle tests.
const (
	connBruteForce = "e2e-lc-brute-force" // brute_force threshold 3
	connLockout    = "e2e-lc-lockout"     // threshold 3 and account lockout
	connAllowList  = "e2e-lc-allow-list"  // threshold 3, loopback allow-listed
	connUsernames  = "e2e-lc-usernames"   // requires_username
	bfThreshold    = 3

	// Auth0's brute-force message and the reset page's answer.
	wantBlocked    = "Your account has been blocked after multiple consecutive login attempts."
	wantCheckEmail = "If an account exists for "
	newPassword    = "Quartz-Pelican-Orbit-77!"
	mailWait       = 10 * time.Second
)

// lifecycleEnv is an env whose mail goes to a real SMTP server in process.
type lifecycleEnv struct {
	*pkEnv
	smtp *mailtest.Server
}

// newLifecycleEnv starts a provider (the MFA test configuration, which
// holds the passkey connections) with SMTP to a mailtest server and the
// lifecycle connections.
func newLifecycleEnv(t *testing.T, s storage.Store) *lifecycleEnv {
	t.Helper()
	smtp := mailtest.Start(t, mailtest.Options{Username: "latchkey", Password: "smtp-secret"})
	e := newMFAEnv(t, s, func(cfg *latchkey.Config) {
		cfg.Mail.SMTP = latchkey.SMTPConfig{Host: smtp.Host(), Port: smtp.Port(), TLS: mail.TLSNone,
			Username: "latchkey", Password: "smtp-secret", From: "Latchkey <no-reply@example.com>", Timeout: 5 * time.Second}
		bf := func(name string, extra map[string]any) latchkey.ConnectionConfig {
			b := map[string]any{"threshold": bfThreshold}
			for k, v := range extra {
				b[k] = v
			}
			// No sign-up: an unknown email then gets the password page, as
			// a known one does.
			return latchkey.ConnectionConfig{Name: name, Type: latchkey.ConnectorTypeDatabase,
				Settings: map[string]any{"brute_force": b, "disable_signup": true}}
		}
		cfg.Connections = append(cfg.Connections,
			bf(connBruteForce, nil),
			bf(connLockout, map[string]any{"account_lockout": true}),
			bf(connAllowList, map[string]any{"ip_allow_list": []string{"127.0.0.1", "::1"}}),
			latchkey.ConnectionConfig{Name: connUsernames, Type: latchkey.ConnectorTypeDatabase, Settings: map[string]any{"requires_username": true}},
		)
	})
	return &lifecycleEnv{pkEnv: e, smtp: smtp}
}

// TestLifecycle drives the account lifecycle over HTTP, with mail through
// a real SMTP server: verification by link and by code, password reset,
// passkey recovery, brute-force protection and its unblocking, usernames
// and the account page's sections.
func TestLifecycle(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newLifecycleEnv(t, s)
		t.Run("verification_link", e.testVerificationLink)
		t.Run("verification_code", e.testVerificationCode)
		t.Run("verification_resend_cap", e.testVerificationResendCap)
		t.Run("password_reset", e.testPasswordReset)
		t.Run("passkey_recovery", e.testPasskeyRecovery)
		t.Run("brute_force", e.testBruteForce)
		t.Run("lockout_and_allow_list", e.testLockoutAndAllowList)
		t.Run("usernames", e.testUsernames)
		t.Run("account_sections", e.testAccountSections)
		t.Run("delete_account", e.testDeleteAccount)
		t.Run("no_dev_outbox_with_smtp", func(t *testing.T) {
			if p := e.newBrowser(t).get(t, e.url("/dev/outbox")); p.Status != http.StatusNotFound {
				t.Errorf("/dev/outbox with SMTP configured: status %d, want 404", p.Status)
			}
		})
	})
}

// lastMail waits for the newest message to rcpt that arrived after the
// first n messages.
func (e *lifecycleEnv) lastMail(t *testing.T, rcpt string, after int) mailtest.Received {
	t.Helper()
	deadline := time.Now().Add(mailWait)
	for {
		msgs := e.smtp.Messages()
		for i := len(msgs) - 1; i >= after; i-- {
			for _, to := range msgs[i].To {
				if strings.EqualFold(to, rcpt) {
					return msgs[i]
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new mail to %s within %v (have %d messages)", rcpt, mailWait, len(msgs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mailCount is the number of messages received so far.
func (e *lifecycleEnv) mailCount() int { return len(e.smtp.Messages()) }

// onlyLink returns the one link of a message, checking that it points at
// the issuer's page.
func (e *lifecycleEnv) onlyLink(t *testing.T, m mailtest.Received, path string) string {
	t.Helper()
	links := m.Links()
	if len(links) != 1 {
		t.Fatalf("mail %q has links %v, want one", m.Subject, links)
	}
	u, err := url.Parse(links[0])
	if err != nil || !strings.HasPrefix(links[0], e.issuer+path+"?") || u.Query().Get("token") == "" {
		t.Fatalf("mail %q links to %s, want %s%s?token=…", m.Subject, links[0], e.issuer, path)
	}
	return links[0]
}

// useLink opens an emailed link and presses its page's button.
func useLink(t *testing.T, b *browser, link string) *page {
	t.Helper()
	p := b.get(t, link)
	if p.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d:\n%s", link, p.Status, excerpt(p.Body))
	}
	return b.submit(t, p, fields{})
}

// wantText checks p's status and that its body holds text.
func wantText(t *testing.T, p *page, status int, text string) {
	t.Helper()
	if p.Status != status || !strings.Contains(p.Body, html.EscapeString(text)) {
		t.Fatalf("%s: status %d, want %d with %q:\n%s", p.URL, p.Status, status, text, excerpt(p.Body))
	}
}

// signupOn signs email up with a password on connection and returns the
// stored user and the browser, which is logged in.
func (e *lifecycleEnv) signupOn(t *testing.T, connection, email string) (storage.User, *browser) {
	t.Helper()
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email").set("connection", connection)
	e.codeOf(t, a, e.passwordSignup(t, b, a, email))
	u, ok := e.userByEmail(t, connection, email)
	if !ok {
		t.Fatalf("sign-up of %s stored no user", email)
	}
	return u, b
}

// createUser creates a user with userPassword on connection through the
// connector, as an administrator does (connections without sign-up).
func (e *pkEnv) createUser(t *testing.T, connection, email string) storage.User {
	t.Helper()
	srv := e.server.(*latchkey.Server)
	c, err := srv.Connectors().Lookup(bg(), connection)
	if err != nil {
		t.Fatal(err)
	}
	cu, ok := c.(interface {
		CreateUser(ctx context.Context, p connector.Profile, pw string) (storage.User, error)
	})
	if !ok {
		t.Fatalf("connection %q cannot create users", connection)
	}
	u, err := cu.CreateUser(bg(), connector.Profile{Email: email}, userPassword)
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

func (e *lifecycleEnv) testVerificationLink(t *testing.T) {
	const email = "verify-link@example.com"
	n := e.mailCount()
	u, _ := e.signupOn(t, "", email)
	if u.EmailVerified {
		t.Fatal("a new user's email is verified before any mail")
	}
	m := e.lastMail(t, email, n)
	if !strings.Contains(m.Subject, "Verify your email") || len(m.Code()) != 6 {
		t.Fatalf("verification mail: subject %q, code %q", m.Subject, m.Code())
	}
	link := e.onlyLink(t, m, "/u/email/verify")
	// Opening the link changes nothing (mail scanners fetch links).
	b := e.newBrowser(t)
	p := b.get(t, link)
	if got, _ := e.userByEmail(t, "", email); got.EmailVerified {
		t.Fatal("GET of the link verified the email")
	}
	wantText(t, b.submit(t, p, fields{}), http.StatusOK, "Your email address was successfully verified.")
	// The ID token says so.
	a := e.authz(t, webClient, "openid email")
	cb := e.code(t, e.newBrowser(t), a, email, userPassword)
	_, _, claims := e.mustExchange(t, a, cb.Code)
	if claims.EmailVerified == nil || !*claims.EmailVerified {
		t.Errorf("email_verified = %v after the link, want true", claims.EmailVerified)
	}
	// Each link once.
	wantText(t, useLink(t, e.newBrowser(t), link), http.StatusBadRequest, "The link is invalid, has expired or was already used.")
}

func (e *lifecycleEnv) testVerificationCode(t *testing.T) {
	const email = "verify-code@example.com"
	n := e.mailCount()
	_, b := e.signupOn(t, "", email)
	first := e.lastMail(t, email, n)
	p := b.get(t, e.url("/u/account/profile"))
	wantText(t, p, http.StatusOK, "not verified")
	// Resend: a new mail; the first code is void.
	n = e.mailCount()
	p = b.submit(t, p, fields{press("resend", "1"): ""})
	wantText(t, p, http.StatusOK, "We've sent you a new verification email.")
	second := e.lastMail(t, email, n)
	if first.Code() == second.Code() {
		t.Skip("the two codes collided (1 in a million)")
	}
	wantText(t, b.submit(t, p, fields{"code": first.Code()}), http.StatusBadRequest, "The code is wrong or has expired.")
	p = b.submit(t, b.get(t, e.url("/u/account/profile")), fields{"code": second.Code()})
	wantText(t, p, http.StatusOK, "Your email address was successfully verified.")
	if u, _ := e.userByEmail(t, "", email); !u.EmailVerified {
		t.Error("the code did not verify the email")
	}
	// The link of the second mail is void too once the code was used.
	wantText(t, useLink(t, e.newBrowser(t), e.onlyLink(t, second, "/u/email/verify")), http.StatusBadRequest, "no longer valid")
}

// testVerificationResendCap: "Resend the email" stops at 5 mails an hour
// (the sign-up's included).
func (e *lifecycleEnv) testVerificationResendCap(t *testing.T) {
	const email = "verify-cap@example.com"
	_, b := e.signupOn(t, "", email)
	for i := 2; i <= 5; i++ {
		wantText(t, b.submit(t, b.get(t, e.url("/u/account/profile")), fields{press("resend", "1"): ""}), http.StatusOK, "We've sent you a new verification email.")
	}
	n := e.mailCount()
	wantText(t, b.submit(t, b.get(t, e.url("/u/account/profile")), fields{press("resend", "1"): ""}), http.StatusTooManyRequests, msgTooManyEmailsText)
	time.Sleep(100 * time.Millisecond)
	if e.mailCount() != n {
		t.Error("a sixth verification mail was sent within the hour")
	}
}

// msgTooManyEmailsText is the account page's answer past the hourly cap.
const msgTooManyEmailsText = "We have sent several emails in the last hour."

func (e *lifecycleEnv) testPasswordReset(t *testing.T) {
	const email = "reset@example.com"
	e.signupOn(t, "", email)
	// A logged-in browser and a refresh token from before the reset.
	before := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email offline_access")
	tok, _, _ := e.mustExchange(t, a, e.code(t, before, a, email, userPassword).Code)
	if tok.RefreshToken == "" || !e.active(t, tok.RefreshToken) {
		t.Fatal("no active refresh token before the reset")
	}

	// "Forgot password?" on the password page, then the email form.
	b := e.newBrowser(t)
	p := b.get(t, e.authz(t, webClient, "openid email").String())
	p = b.submit(t, p, fields{"username": email})
	p = b.get(t, linkOf(t, p, "forgot-password"))
	wantText(t, p, http.StatusOK, "Forgot your password?")
	form := p
	n := e.mailCount()
	known := b.submit(t, form, fields{"email": email})
	wantText(t, known, http.StatusOK, wantCheckEmail+email)
	unknown := b.submit(t, form, fields{"email": "nobody-here@example.com"})
	if strings.ReplaceAll(unknown.Body, "nobody-here@example.com", email) != known.Body || unknown.Status != known.Status {
		t.Errorf("the answer differs for an unknown email:\n%s\n---\n%s", excerpt(known.Body), excerpt(unknown.Body))
	}
	older := e.onlyLink(t, e.lastMail(t, email, n), "/u/reset-password")
	n = e.mailCount()
	b.submit(t, form, fields{"email": email})
	newest := e.onlyLink(t, e.lastMail(t, email, n), "/u/reset-password")

	// Only the newest link works.
	wantText(t, b.get(t, older), http.StatusBadRequest, "Only the newest link we sent works.")
	p = b.get(t, newest)
	wantText(t, p, http.StatusOK, "Change your password")
	// The policy applies, with the rule's message; the link survives.
	p = b.submit(t, p, fields{"password": "short"})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "Your password must contain") {
		t.Fatalf("weak password: status %d:\n%s", p.Status, excerpt(p.Body))
	}
	p = b.submit(t, p, fields{"password": newPassword})
	wantText(t, p, http.StatusOK, "Your password has been changed successfully.")
	// Once.
	wantText(t, b.get(t, newest), http.StatusBadRequest, "no longer valid")

	// Sessions ended, the refresh token revoked.
	if e.active(t, tok.RefreshToken) {
		t.Error("the refresh token is still active after the reset")
	}
	if r, err := e.tryToken(t, webClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}); err == nil && r.Status == http.StatusOK {
		t.Error("refresh with the old refresh token succeeded after the reset")
	}
	if p := before.get(t, e.authz(t, webClient, "openid").String()); p.Location != nil || p.path() != "/u/login" {
		t.Errorf("the browser logged in before the reset is still logged in: %v %s", p.Location, p.URL)
	}
	// The new password works, the old one not.
	if p := before.login(t, before.get(t, e.authz(t, webClient, "openid").String()), email, userPassword); p.Location != nil {
		t.Error("the old password still logs in")
	}
	e.code(t, e.newBrowser(t), e.authz(t, webClient, "openid"), email, newPassword)
}

func (e *lifecycleEnv) testPasskeyRecovery(t *testing.T) {
	const email = "recover@example.com"
	lost := passkeytest.New(e.issuer)
	u, _ := e.passkeyUser(t, lost, "", email)

	// "Can't use your passkey?" on the email-first passkey step.
	b := e.newBrowser(t)
	p := b.get(t, e.authz(t, webClient, "openid email").String())
	p = b.submit(t, p, fields{"username": email})
	if p.path() != "/u/login/passkey" {
		t.Fatalf("passkey-only user: want the passkey step, got %s", p.URL)
	}
	p = b.get(t, linkOf(t, p, "recover-passkey"))
	n := e.mailCount()
	wantText(t, b.submit(t, p, fields{"email": email}), http.StatusOK, "we've sent an email with a link to set up a new passkey")
	link := e.onlyLink(t, e.lastMail(t, email, n), "/u/recover-passkey")

	// A user with a password gets no recovery mail (they reset it).
	n = e.mailCount()
	b.submit(t, p, fields{"email": "reset@example.com"})

	mark := len(*b.setCookies)
	p = useLink(t, b, link)
	wantText(t, p, http.StatusOK, "Set up a new passkey")
	api, grant := dataAttr(t, p, "data-api"), dataAttr(t, p, "data-state")
	// Only enrolling a passkey: the grant is no session, and the login
	// JSON API does not take it.
	if b.sessionCookieSet(mark) {
		t.Error("the recovery link started a session")
	}
	if r := e.apiPost(t, b, pathRegisterBegin, map[string]any{}, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("account registration after recovery: status %d, want 401 (no session)", r.Status)
	}
	found := passkeytest.New(e.issuer)
	c := e.mustBegin(t, b, api+"/register/begin", map[string]any{"state": grant})
	resp, _, err := found.Create(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		t.Fatal(err)
	}
	fin := e.apiPost(t, b, api+"/register/finish", map[string]any{"state": grant, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
	wantText(t, b.get(t, e.redirectOf(t, fin)), http.StatusOK, "Your new passkey is ready")
	if b.sessionCookieSet(mark) {
		t.Error("enrolling the recovered passkey started a session")
	}
	// The grant is spent.
	if r := e.apiPost(t, b, api+"/register/begin", map[string]any{"state": grant}, nil); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("second use of the grant: status %d %s", r.Status, r.Raw)
	}
	if got := len(e.credentialsOf(t, u.ID)); got != 2 {
		t.Errorf("the user has %d passkeys after recovery, want 2", got)
	}
	if e.mailCount() != n {
		t.Errorf("a user with a password got a passkey-recovery mail")
	}
	// The new passkey logs in.
	a := e.authz(t, webClient, "openid email")
	cb := e.passkeyLogin(t, e.newBrowser(t), a, found, email)
	_, _, claims := e.mustExchange(t, a, cb.Code)
	if !hasAll(claims.AMR, "pop") || claims.EmailVerified == nil || !*claims.EmailVerified {
		t.Errorf("login with the recovered passkey: amr %v, email_verified %v", claims.AMR, claims.EmailVerified)
	}
}

var reDataAttr = func(name string) *regexp.Regexp { return regexp.MustCompile(name + `="([^"]*)"`) }

// dataAttr returns the first value of an attribute on p.
func dataAttr(t *testing.T, p *page, name string) string {
	t.Helper()
	m := reDataAttr(name).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no %s on %s:\n%s", name, p.URL, excerpt(p.Body))
	}
	return html.UnescapeString(m[1])
}

// passwordAttempt submits one password for identifier on connection and
// returns the password page's answer.
func (e *lifecycleEnv) passwordAttempt(t *testing.T, b *browser, connection, identifier, password string) *page {
	t.Helper()
	p := b.get(t, e.authz(t, webClient, "openid").set("connection", connection).String())
	return b.login(t, p, identifier, password)
}

func (e *lifecycleEnv) testBruteForce(t *testing.T) {
	const email = "bf@example.com"
	e.createUser(t, connBruteForce, email)
	b := e.newBrowser(t)
	n := e.mailCount()
	for _, id := range []string{email, "bf-unknown@example.com"} {
		for i := range bfThreshold {
			if p := e.passwordAttempt(t, b, connBruteForce, id, "wrong password "+string(rune('a'+i))); p.Status != http.StatusBadRequest {
				t.Fatalf("failure %d of %s: status %d", i+1, id, p.Status)
			}
		}
	}
	known := e.passwordAttempt(t, b, connBruteForce, email, userPassword)
	unknown := e.passwordAttempt(t, b, connBruteForce, "bf-unknown@example.com", userPassword)
	wantText(t, known, http.StatusTooManyRequests, wantBlocked)
	if clean := func(p *page) string {
		s := strings.ReplaceAll(p.Body, "bf-unknown@example.com", email)
		return regexp.MustCompile(`state=[^"&]+|name="csrf" value="[^"]+"`).ReplaceAllString(s, "")
	}; clean(known) != clean(unknown) || known.Status != unknown.Status {
		t.Errorf("a blocked login differs for an unknown email:\n%s\n---\n%s", excerpt(known.Body), excerpt(unknown.Body))
	}
	// The owner got an unblock link.
	link := e.onlyLink(t, e.lastMail(t, email, n), "/u/unblock")
	wantText(t, useLink(t, e.newBrowser(t), link), http.StatusOK, "Your account has been unblocked.")
	e.code(t, b, e.authz(t, webClient, "openid").set("connection", connBruteForce), email, userPassword)
	wantText(t, useLink(t, e.newBrowser(t), link), http.StatusBadRequest, "no longer valid")

	// Blocked again, then a password reset lifts the block.
	b = e.newBrowser(t)
	n = e.mailCount()
	for i := range bfThreshold {
		e.passwordAttempt(t, b, connBruteForce, email, "wrong again "+string(rune('a'+i)))
	}
	wantText(t, e.passwordAttempt(t, b, connBruteForce, email, userPassword), http.StatusTooManyRequests, wantBlocked)
	// The new block's unblock mail goes out in the background: wait for it,
	// so that it cannot pass for the reset mail below.
	e.onlyLink(t, e.lastMail(t, email, n), "/u/unblock")
	n = e.mailCount()
	p := b.get(t, e.url("/u/reset-password/request?connection="+url.QueryEscape(connBruteForce)))
	b.submit(t, p, fields{"email": email})
	reset := e.onlyLink(t, e.lastMail(t, email, n), "/u/reset-password")
	if !strings.Contains(reset, "connection="+url.QueryEscape(connBruteForce)) {
		t.Errorf("reset link %s does not name its connection", reset)
	}
	wantText(t, b.submit(t, b.get(t, reset), fields{"password": newPassword}), http.StatusOK, "Password changed")
	e.code(t, b, e.authz(t, webClient, "openid").set("connection", connBruteForce), email, newPassword)
}

// browserFrom returns a browser whose connections come from local address
// ip (a loopback address other than 127.0.0.1 is another client for the
// brute-force counters).
func (e *lifecycleEnv) browserFrom(t *testing.T, ip string) *browser {
	t.Helper()
	b := e.newBrowser(t)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	b.client.Transport = recordingTransport{into: b.setCookies, rt: &http.Transport{DialContext: d.DialContext}}
	return b
}

// recordingTransport is cookieRecorder over a given transport.
type recordingTransport struct {
	into *[]*http.Cookie
	rt   http.RoundTripper
}

func (c recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err == nil {
		*c.into = append(*c.into, resp.Cookies()...)
	}
	return resp, err
}

func (e *lifecycleEnv) testLockoutAndAllowList(t *testing.T) {
	const email = "lockout@example.com"
	for _, conn := range []string{connBruteForce, connLockout, connAllowList} {
		e.createUser(t, conn, email)
	}
	first, other := e.newBrowser(t), e.browserFrom(t, "127.0.0.2")
	for _, conn := range []string{connBruteForce, connLockout, connAllowList} {
		for i := range bfThreshold + 1 {
			e.passwordAttempt(t, first, conn, email, "wrong "+string(rune('a'+i)))
		}
	}
	// Per address: another address still logs in; with lockout, not.
	e.code(t, other, e.authz(t, webClient, "openid").set("connection", connBruteForce), email, userPassword)
	wantText(t, e.passwordAttempt(t, other, connLockout, email, userPassword), http.StatusTooManyRequests, wantBlocked)
	// The allow list is never blocked.
	e.code(t, first, e.authz(t, webClient, "openid").set("connection", connAllowList), email, userPassword)
}

func (e *lifecycleEnv) testUsernames(t *testing.T) {
	const email = "named@example.com"
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email").set("connection", connUsernames).set("prompt", "create")
	p := b.get(t, a.String())
	if !strings.Contains(p.Body, `name="username"`) {
		t.Fatalf("sign-up page of a connection requiring usernames has no username field:\n%s", excerpt(p.Body))
	}
	wantText(t, b.submit(t, p, fields{"email": email, "password": userPassword, "username": ""}), http.StatusBadRequest, "Username is required.")
	p = b.submit(t, p, fields{"email": email, "password": userPassword, "username": "no spaces please"})
	wantText(t, p, http.StatusBadRequest, "Username must be 1 to 15 characters")
	e.codeOf(t, a, b.submit(t, p, fields{"email": email, "password": userPassword, "username": "Named_1"}))
	u, _ := e.userByEmail(t, connUsernames, email)
	if u.Username != "named_1" {
		t.Errorf("username stored as %q", u.Username)
	}
	// Login by username or email.
	for _, id := range []string{"named_1", email} {
		b := e.newBrowser(t)
		a := e.authz(t, webClient, "openid").set("connection", connUsernames)
		p := b.get(t, a.String())
		if !strings.Contains(p.Body, "Username or email address") {
			t.Errorf("login page does not ask for a username or email")
		}
		e.codeOf(t, a, b.login(t, p, id, userPassword))
	}
}

func (e *lifecycleEnv) testAccountSections(t *testing.T) {
	const email = "sections@example.com"
	u, b := e.signupOn(t, "", email)
	other := e.newBrowser(t)
	e.code(t, other, e.authz(t, webClient, "openid"), email, userPassword)

	p := b.get(t, e.url("/u/account/profile"))
	for _, want := range []string{"Profile", "Change password", "Signed-in sessions", "Delete your account", "(this browser)"} {
		wantText(t, p, http.StatusOK, want)
	}
	if n := strings.Count(p.Body, `class="session-item"`); n != 2 {
		t.Errorf("%d sessions listed, want 2", n)
	}
	// The passkeys page links here.
	if pk := b.get(t, e.url("/u/account")); !strings.Contains(pk.Body, `id="account-profile"`) {
		t.Errorf("the passkeys page does not link the profile")
	}

	// Profile.
	p = b.submit(t, p, fields{"name": "Section Tester", "given_name": "Section", "family_name": "Tester"})
	wantText(t, p, http.StatusOK, "Profile saved.")
	if got, _ := e.userByEmail(t, "", email); got.Name != "Section Tester" || got.GivenName != "Section" || got.FamilyName != "Tester" {
		t.Errorf("profile stored as %q %q %q", got.Name, got.GivenName, got.FamilyName)
	}

	// Change password: the current one first, then the policy.
	wantText(t, b.submit(t, p, fields{"current_password": "not it", "password": newPassword}), http.StatusBadRequest, "Your current password is wrong.")
	p = b.submit(t, b.get(t, e.url("/u/account/profile")), fields{"current_password": userPassword, "password": "password"})
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "field-error") {
		t.Fatalf("weak new password: status %d:\n%s", p.Status, excerpt(p.Body))
	}
	p = b.submit(t, p, fields{"current_password": userPassword, "password": newPassword})
	wantText(t, p, http.StatusOK, "Password changed.")
	// The other browser was signed out; this one not.
	if q := other.get(t, e.authz(t, webClient, "openid").String()); q.Location != nil {
		t.Error("the other session survived the password change")
	}
	e.code(t, b, e.authz(t, webClient, "openid"), email, "")

	// Sessions: sign one out, then all others.
	other = e.newBrowser(t)
	e.code(t, other, e.authz(t, webClient, "openid"), email, newPassword)
	third := e.newBrowser(t)
	e.code(t, third, e.authz(t, webClient, "openid"), email, newPassword)
	sessions, err := e.store.ListUserSessions(bg(), u.ID)
	if err != nil || len(sessions) != 3 {
		t.Fatalf("sessions: %d, %v; want 3", len(sessions), err)
	}
	p = b.get(t, e.url("/u/account/profile"))
	ids := regexp.MustCompile(`name="id" value="([^"]+)"`).FindAllStringSubmatch(p.Body, -1)
	if len(ids) != 2 {
		t.Fatalf("%d sign-out buttons, want 2 (not this browser's)", len(ids))
	}
	wantText(t, b.submit(t, p, fields{"id": ids[0][1]}), http.StatusOK, "The session was signed out.")
	if left, _ := e.store.ListUserSessions(bg(), u.ID); len(left) != 2 {
		t.Errorf("%d sessions after signing one out, want 2", len(left))
	}
	wantText(t, b.submit(t, b.get(t, e.url("/u/account/profile")), fields{press("others", "1"): ""}), http.StatusOK, "Every other session was signed out.")
	if left, _ := e.store.ListUserSessions(bg(), u.ID); len(left) != 1 {
		t.Errorf("%d sessions after signing out the others, want 1", len(left))
	}
	for _, x := range []*browser{other, third} {
		if q := x.get(t, e.authz(t, webClient, "openid").String()); q.Location != nil {
			t.Error("a signed-out browser still logs in without a password")
		}
	}
}

func (e *lifecycleEnv) testDeleteAccount(t *testing.T) {
	const email = "delete-me@example.com"
	u, b := e.signupOn(t, "", email)
	a := e.authz(t, webClient, "openid offline_access")
	tok, _, _ := e.mustExchange(t, a, e.code(t, b, a, email, "").Code)

	// A login older than a few minutes must be renewed first.
	sessions, err := e.store.ListUserSessions(bg(), u.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %v", sessions, err)
	}
	if _, err := e.store.UpdateSession(bg(), sessions[0].ID, func(s *storage.Session) error {
		s.AuthTime = s.AuthTime.Add(-10 * time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	p := b.get(t, e.url("/u/account/delete"))
	wantText(t, p, http.StatusOK, "log in again before deleting your account")
	if strings.Contains(p.Body, `name="confirm"`) {
		t.Fatal("the deletion form is offered without a recent login")
	}
	// Re-authentication: a login flow for the same person, back to the page.
	p = b.get(t, linkOf(t, p, "reauthenticate"))
	if p.path() != "/u/login" || !strings.Contains(p.Body, `value="`+email+`"`) {
		t.Fatalf("re-authentication: got %s:\n%s", p.URL, excerpt(p.Body))
	}
	p = b.login(t, p, email, userPassword)
	if p.path() != "/u/account/delete" || !strings.Contains(p.Body, `name="confirm"`) {
		t.Fatalf("after re-authenticating: got %s (status %d):\n%s", p.URL, p.Status, excerpt(p.Body))
	}
	wantText(t, b.submit(t, p, fields{"confirm": "someone-else@example.com"}), http.StatusBadRequest, "Type your email address exactly")
	wantText(t, b.submit(t, p, fields{"confirm": email}), http.StatusOK, "Your account has been deleted.")
	if _, ok := e.userByEmail(t, "", email); ok {
		t.Error("the user still exists")
	}
	if e.active(t, tok.RefreshToken) || e.active(t, tok.AccessToken) {
		t.Error("tokens are still active after the deletion")
	}
	if left, _ := e.store.ListUserSessions(bg(), u.ID); len(left) != 0 {
		t.Errorf("%d sessions left", len(left))
	}
}

// TestDevOutbox: without SMTP, an http://localhost issuer shows the mail
// at /dev/outbox, with its links.
func TestDevOutbox(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newMFAEnv(t, s, nil)
		b := e.newBrowser(t)
		a := e.authz(t, webClient, "openid email")
		e.codeOf(t, a, e.passwordSignup(t, b, a, "outbox@example.com"))
		p := e.newBrowser(t).get(t, e.url("/dev/outbox"))
		wantText(t, p, http.StatusOK, "Verify your email for Latchkey")
		link := dataHref(t, p, e.issuer+"/u/email/verify?")
		wantText(t, useLink(t, e.newBrowser(t), link), http.StatusOK, "Your email address was successfully verified.")
	})
}

// dataHref returns the first link on p starting with prefix.
func dataHref(t *testing.T, p *page, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`href="(` + regexp.QuoteMeta(html.EscapeString(prefix)) + `[^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no link to %s on %s:\n%s", prefix, p.URL, excerpt(p.Body))
	}
	return html.UnescapeString(m[1])
}
