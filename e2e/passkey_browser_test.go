package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestPasskeyBrowser drives the hosted pages and their passkey.js in
// headless Chromium with a virtual authenticator, and go-oidc as the
// relying party (the browser client, redirecting to the env's app), on
// SQLite and PostgreSQL. One provider per backend serves every case; each
// case has its own tab, cookies and authenticator.
func TestPasskeyBrowser(t *testing.T) {
	browserCtx(t) // skip (or fail under LATCHKEY_TEST_STRICT=1) without Chromium
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 1)
		for _, c := range []struct {
			name string
			fn   func(t *testing.T, e *pkEnv)
		}{
			{"signup", testBrowserSignup},
			{"login_autofill_synced", testBrowserAutofill},
			{"login_autofill_device_bound", testBrowserDeviceBound},
			{"signup_and_login_device_bound", testBrowserDeviceBoundSignup},
			{"login_button", testBrowserButton},
			{"login_email_then_passkey", testBrowserEmailFirst},
			{"acr_phrh_with_synced_passkey", testBrowserACRPhrh},
			{"uv_missing", testBrowserUVMissing},
			{"progressive_enrollment_and_account", testBrowserEnrollAndAccount},
			{"progressive_enrollment_not_now_remind_later", testBrowserEnrollLater},
		} {
			t.Run(c.name, func(t *testing.T) { c.fn(t, e) })
		}
	})
}

// TestPasskeyBrowserReplicas: a passkey sign-up and login in Chromium
// against two instances over one database behind a round-robin balancer:
// every ceremony is begun on one instance and finished on the other.
func TestPasskeyBrowserReplicas(t *testing.T) {
	browserCtx(t)
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 2)
		tb := newTab(t, authOptions{Synced: true})
		email := "pk-browser-replicas@example.com"
		q := browserSignup(t, e, tb, email)
		if b, f := e.lb.lastServed(pathRegisterBegin), e.lb.lastServed(pathRegisterFinish); b == f {
			t.Errorf("registration begun and finished on replica %d", b)
		}
		_ = q
		for i := range 2 {
			f := e.browserAuth(t, map[string]string{"prompt": "login"})
			tb.navigate(t, f.url)
			c := e.redeem(t, f, waitCallback(t, e, tb))
			checkPasskeyClaims(t, c, false)
			if b, fin := e.lb.lastServed(pathLoginBegin), e.lb.lastServed(pathLoginFinish); b == fin {
				t.Errorf("login %d begun and finished on replica %d", i, b)
			}
		}
	})
}

// bflow is an authorization request of the browser client.
type bflow struct {
	url, state, nonce, verifier string
}

// browserAuth builds an authorization URL for the browser client with
// PKCE, a state and a nonce, plus extra parameters.
func (e *pkEnv) browserAuth(t testing.TB, extra map[string]string) bflow {
	t.Helper()
	f := bflow{state: randomString(t, 12), nonce: randomString(t, 12), verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)}
	for k, v := range extra {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	f.url = e.browserOAuth2(t, "openid", "email").AuthCodeURL(f.state, opts...)
	return f
}

func (e *pkEnv) browserOAuth2(t testing.TB, scopes ...string) *oauth2.Config {
	t.Helper()
	ep := e.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &oauth2.Config{ClientID: browserClient, ClientSecret: secrets.web, RedirectURL: e.appURL + "/callback", Endpoint: ep, Scopes: scopes}
}

// redeem checks an authorization response and exchanges its code; it
// returns the verified ID token's claims.
func (e *pkEnv) redeem(t testing.TB, f bflow, q url.Values) idClaims {
	t.Helper()
	if q.Get("error") != "" || q.Get("code") == "" {
		t.Fatalf("authorization response: error %q (%s), no code", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != f.state || q.Get("iss") != e.issuer {
		t.Errorf("authorization response: state %q iss %q, want %q %q", q.Get("state"), q.Get("iss"), f.state, e.issuer)
	}
	tok, err := e.browserOAuth2(t).Exchange(e.rpCtx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", describe(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: browserClient}).Verify(e.rpCtx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != f.nonce {
		t.Errorf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitCallback waits until the tab reaches the app's callback and returns
// its query; it fails the test with the page's state after 15 s.
func waitCallback(t testing.TB, e *pkEnv, tb *tab) url.Values {
	t.Helper()
	q, ok := pollCallback(e, tb, 15*time.Second)
	if !ok {
		t.Fatalf("the browser never reached the app: it is at %s\npage: %s\nconsole:\n%s", tb.location(), pageText(tb), tb.console())
	}
	return q
}

// pollCallback polls the tab's location for the app's callback.
func pollCallback(e *pkEnv, tb *tab, timeout time.Duration) (url.Values, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if loc := tb.location(); strings.HasPrefix(loc, e.appURL+"/callback") {
			u, err := url.Parse(loc)
			if err == nil {
				return u.Query(), true
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return nil, false
}

// waitPath waits until the tab shows a provider page with this path.
func waitPath(t testing.TB, e *pkEnv, tb *tab, path string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if u, err := url.Parse(tb.location()); err == nil && strings.HasPrefix(u.String(), e.issuer) && u.Path == path {
			if err := chromedp.Do(tb.ctx, chromedp.WaitReady(chromedp.CSS("body"))); err == nil {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("want the page %s, the browser is at %s\npage: %s\nconsole:\n%s", path, tb.location(), pageText(tb), tb.console())
}

// pageText is the visible text of the page (for failure messages).
func pageText(tb *tab) string {
	s, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return excerpt(s)
}

// do runs chromedp steps or fails the test with the page's state.
func (tb *tab) do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		t.Fatalf("%s: %v\nat %s\npage: %s\nconsole:\n%s", what, err, tb.location(), pageText(tb), tb.console())
	}
}

// passkeyError is the text of the page's visible passkey error ("" when
// hidden or absent).
func passkeyError(tb *tab) string {
	s, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`(() => {
		const el = document.getElementById("passkey-error");
		return el && !el.hidden ? el.textContent.trim() : "";
	})()`))
	return s
}

// addCredential puts a credential a passkeytest authenticator made (and
// the provider stored) on the tab's virtual authenticator. The raw
// command is used because the typed one sends fields this Chromium
// refuses (see ../../shared/notes/browser-e2e.md).
func (tb *tab) addCredential(t testing.TB, c *passkeytest.Credential, synced bool) {
	t.Helper()
	key, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	std := base64.StdEncoding.EncodeToString
	cmd := cdp.Command[map[string]any, cdp.Empty]{Method: "WebAuthn.addCredential"}
	_, err = chromedp.Call(tb.ctx, cmd, map[string]any{
		"authenticatorId": tb.authID,
		"credential": map[string]any{
			"credentialId":         std(c.ID),
			"isResidentCredential": true,
			"rpId":                 c.RPID,
			"privateKey":           std(key),
			"userHandle":           std(c.UserHandle),
			"signCount":            c.SignCount,
			"backupEligibility":    synced,
			"backupState":          synced,
		},
	})
	if err != nil {
		t.Fatalf("add credential to the virtual authenticator: %v", err)
	}
}

// seededTab is a tab whose authenticator holds a passkey of a new user of
// connection (registered through the connector), synced or device-bound.
func seededTab(t *testing.T, e *pkEnv, connection, email string, synced bool) (*tab, storage.User) {
	t.Helper()
	soft := passkeytest.New(e.issuer)
	soft.BackupEligible, soft.BackupState = synced, synced
	u, cred := e.passkeyUser(t, soft, connection, email)
	tb := newTab(t, authOptions{Synced: synced})
	tb.addCredential(t, cred, synced)
	return tb, u
}

// browserSignup signs email up with a passkey through the sign-up pages and
// returns the callback's query.
func browserSignup(t *testing.T, e *pkEnv, tb *tab, email string) url.Values {
	t.Helper()
	return browserSignupKind(t, e, tb, email, false)
}

// browserSignupKind is browserSignup for a synced or device-bound
// authenticator (the tab's), checking the claims of that kind.
func browserSignupKind(t *testing.T, e *pkEnv, tb *tab, email string, deviceBound bool) url.Values {
	t.Helper()
	f := e.browserAuth(t, map[string]string{"prompt": "create"})
	tb.navigate(t, f.url)
	startPasskeySignup(t, e, tb, email)
	q := waitCallback(t, e, tb)
	c := e.redeem(t, f, q)
	checkPasskeyClaims(t, c, deviceBound)
	return q
}

// startPasskeySignup fills in the sign-up page's email (passkey.js hides
// the password when the browser can create passkeys), then presses
// "Continue" on the "Create a passkey" page (this device).
func startPasskeySignup(t *testing.T, e *pkEnv, tb *tab, email string) {
	t.Helper()
	waitPath(t, e, tb, "/u/signup")
	tb.do(t, "enter the email on the sign-up page",
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email+"\r"),
	)
	sel := `[data-passkey-create-button][data-hint="client-device"]`
	tb.do(t, "continue on the create-a-passkey page", chromedp.WaitVisible(chromedp.CSS(sel)))
	if body := pageText(tb); !strings.Contains(body, "Try another way") {
		t.Errorf("the sign-up passkey page lacks \"Try another way\":\n%s", body)
	}
	tb.do(t, "continue on the create-a-passkey page", chromedp.Click(chromedp.CSS(sel)))
}

func testBrowserSignup(t *testing.T, e *pkEnv) {
	tb := newTab(t, authOptions{Synced: true})
	email := "pk-browser-signup-" + strings.ToLower(randomString(t, 4)) + "@example.com"
	q := browserSignup(t, e, tb, email)
	u, ok := e.userByEmail(t, "", email)
	if !ok {
		t.Fatalf("no user %s after the sign-up (callback %v)", email, q)
	}
	creds := e.credentialsOf(t, u.ID)
	if len(creds) != 1 {
		t.Fatalf("%d passkeys stored, want 1", len(creds))
	}
	held := tb.credentials(t)
	if len(held) != 1 || string(held[0].CredentialID) != string(creds[0].ExternalID) {
		t.Errorf("the authenticator holds %d credentials; the stored one is not it", len(held))
	}
	if !held[0].IsResidentCredential {
		t.Errorf("the passkey is not discoverable (resident)")
	}
}

func testBrowserAutofill(t *testing.T, e *pkEnv) {
	tb, u := seededTab(t, e, "", "pk-browser-autofill@example.com", true)
	f := e.browserAuth(t, nil)
	// The markup, checked separately: headless Chromium auto-accepts a
	// conditional request even without it.
	b := e.newBrowser(t)
	p := b.get(t, f.url)
	if p.path() != "/u/login" || !strings.Contains(p.Body, `autocomplete="username webauthn"`) {
		t.Errorf("the login page's identifier field lacks autocomplete=\"username webauthn\" (page %s)", p.URL.Path)
	}
	tb.navigate(t, f.url)
	c := e.redeem(t, f, waitCallback(t, e, tb))
	checkPasskeyClaims(t, c, false)
	if c.Sub != u.ID {
		t.Errorf("sub %q, want %q", c.Sub, u.ID)
	}
}

func testBrowserDeviceBound(t *testing.T, e *pkEnv) {
	tb, u := seededTab(t, e, "", "pk-browser-bound@example.com", false)
	f := e.browserAuth(t, map[string]string{"acr_values": "phrh"})
	tb.navigate(t, f.url)
	c := e.redeem(t, f, waitCallback(t, e, tb))
	checkPasskeyClaims(t, c, true)
	if c.Sub != u.ID {
		t.Errorf("sub %q, want %q", c.Sub, u.ID)
	}
}

// testBrowserDeviceBoundSignup: a credential the virtual authenticator
// creates with BE=0/BS=0 signs up and logs in with hwk and phrh, and
// satisfies acr_values=phrh.
func testBrowserDeviceBoundSignup(t *testing.T, e *pkEnv) {
	tb := newTab(t, authOptions{Synced: false})
	email := "pk-browser-bound-signup@example.com"
	browserSignupKind(t, e, tb, email, true)
	u, _ := e.userByEmail(t, "", email)
	f := e.browserAuth(t, map[string]string{"prompt": "login", "acr_values": "phrh"})
	tb.navigate(t, f.url)
	c := e.redeem(t, f, waitCallback(t, e, tb))
	checkPasskeyClaims(t, c, true)
	if c.Sub != u.ID {
		t.Errorf("sub %q, want %q", c.Sub, u.ID)
	}
	if held := tb.credentials(t); len(held) != 1 || held[0].BackupEligibility || held[0].BackupState {
		t.Errorf("the authenticator's credential is not device-bound: %+v", held)
	}
}

func testBrowserButton(t *testing.T, e *pkEnv) {
	tb, u := seededTab(t, e, "", "pk-browser-button@example.com", true)
	// Presence off: the page's conditional request parks instead of
	// being accepted at once.
	tb.presence(t, false)
	f := e.browserAuth(t, nil)
	tb.navigate(t, f.url)
	tb.do(t, "wait for the passkey button", chromedp.WaitVisible(chromedp.CSS(`[data-passkey-button]`)))
	time.Sleep(400 * time.Millisecond) // the conditional request is pending now
	if loc := tb.location(); !strings.Contains(loc, "/u/login") {
		t.Fatalf("with presence off the page left the login page: %s", loc)
	}
	begins, finishes := e.lb.calls(pathLoginBegin), e.lb.calls(pathLoginFinish)
	tb.presence(t, true)
	tb.do(t, "click Continue with a passkey", chromedp.Click(chromedp.CSS(`[data-passkey-button]`)))
	deadline := time.Now().Add(15 * time.Second)
	var q url.Values
	for time.Now().Before(deadline) {
		if msg := passkeyError(tb); msg != "" {
			t.Errorf("the page showed an error while switching to the button: %q", msg)
			break
		}
		var ok bool
		if q, ok = pollCallback(e, tb, 25*time.Millisecond); ok {
			break
		}
	}
	if q == nil {
		q = waitCallback(t, e, tb)
	}
	c := e.redeem(t, f, q)
	checkPasskeyClaims(t, c, false)
	if c.Sub != u.ID {
		t.Errorf("sub %q, want %q", c.Sub, u.ID)
	}
	// The login went through the button's modal request (a ceremony begun
	// after the click), not through the parked conditional one: the page
	// aborted that one first, or Chromium would have refused the second.
	if b, f := e.lb.calls(pathLoginBegin)-begins, e.lb.calls(pathLoginFinish)-finishes; b != 1 || f != 1 {
		t.Errorf("after the click: %d login/begin and %d login/finish calls, want 1 and 1 (the button's ceremony)", b, f)
	}
	if strings.Contains(tb.console(), "exception") {
		t.Errorf("the page threw:\n%s", tb.console())
	}
}

func testBrowserEmailFirst(t *testing.T, e *pkEnv) {
	// The button-only connection starts no conditional request, so the
	// email is typed first.
	email := "pk-browser-email@example.com"
	tb, u := seededTab(t, e, connButton, email, true)
	f := e.browserAuth(t, map[string]string{"connection": connButton})
	if p := e.newBrowser(t).get(t, f.url); !strings.Contains(p.Body, "data-passkey-button") || strings.Contains(p.Body, "data-autofill") {
		t.Errorf("challenge_ui=button: the login page should have the passkey button and no autofill")
	}
	tb.navigate(t, f.url)
	waitPath(t, e, tb, "/u/login")
	tb.do(t, "enter the email", chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), email+"\r"))
	// The passkey step (the user's passkeys, or the password) waits for
	// "Continue".
	waitPath(t, e, tb, "/u/login/passkey")
	tb.do(t, "continue with the passkey", chromedp.WaitVisible(chromedp.CSS(`[data-passkey-step-button]`)), chromedp.Click(chromedp.CSS(`[data-passkey-step-button]`)))
	q := waitCallback(t, e, tb)
	c := e.redeem(t, f, q)
	checkPasskeyClaims(t, c, false)
	if c.Sub != u.ID {
		t.Errorf("sub %q, want %q", c.Sub, u.ID)
	}
}

func testBrowserACRPhrh(t *testing.T, e *pkEnv) {
	tb, _ := seededTab(t, e, "", "pk-browser-phrh@example.com", true)
	f := e.browserAuth(t, map[string]string{"acr_values": "phrh"})
	tb.navigate(t, f.url)
	// The synced passkey logs in by autofill; the request is not
	// satisfied: an error for the client, or a page asking for another
	// passkey. Never a code.
	q, ok := pollCallback(e, tb, 5*time.Second)
	if !ok {
		loc, _ := url.Parse(tb.location())
		if loc == nil || !strings.HasPrefix(loc.String(), e.issuer+"/u/") {
			t.Fatalf("phrh with a synced passkey: the browser is at %s", tb.location())
		}
		t.Logf("phrh with a synced passkey: the page asks for more (%s): %s", loc.Path, excerpt(pageText(tb)))
		return
	}
	if q.Get("code") != "" {
		c := e.redeem(t, f, q)
		t.Fatalf("acr_values=phrh with a synced passkey gave a code (acr %q amr %v)", c.ACR, c.AMR)
	}
	if q.Get("error") != "unmet_authentication_requirements" {
		t.Errorf("error %q (%s), want unmet_authentication_requirements", q.Get("error"), q.Get("error_description"))
	}
}

func testBrowserUVMissing(t *testing.T, e *pkEnv) {
	tb := newTab(t, authOptions{Synced: true})
	tb.badUV(t, true)
	email := "pk-browser-nouv@example.com"
	before := e.snapshot(t)
	f := e.browserAuth(t, map[string]string{"prompt": "create"})
	tb.navigate(t, f.url)
	startPasskeySignup(t, e, tb, email)
	var msg string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && msg == "" {
		msg = passkeyError(tb)
		time.Sleep(25 * time.Millisecond)
	}
	if msg == "" {
		t.Fatalf("no error shown when the authenticator did not verify the user; at %s\npage: %s\nconsole:\n%s", tb.location(), pageText(tb), tb.console())
	}
	if !strings.Contains(strings.ToLower(msg), "verif") {
		t.Errorf("the error does not say the user was not verified: %q", msg)
	}
	if _, ok := e.userByEmail(t, "", email); ok {
		t.Errorf("a sign-up refused for missing UV created the user")
	}
	if d := before.diff(e.snapshot(t)); d != "" {
		t.Errorf("a refused sign-up changed the store:\n%s", d)
	}
	if _, ok := pollCallback(e, tb, 10*time.Millisecond); ok {
		t.Errorf("the browser reached the app")
	}
}

func testBrowserEnrollAndAccount(t *testing.T, e *pkEnv) {
	email := "pk-browser-enroll@example.com"
	user := e.signup(t, email, userPassword)
	tb := newTab(t, authOptions{Synced: true})
	f := e.browserAuth(t, nil)
	tb.navigate(t, f.url)
	waitPath(t, e, tb, "/u/login")
	// The authenticator holds no passkey: the autofill request is rejected
	// (headless Chromium does so at once); the page must not show it.
	time.Sleep(500 * time.Millisecond)
	if msg := passkeyError(tb); msg != "" {
		t.Errorf("a rejected autofill request shows an error: %q", msg)
	}
	tb.do(t, "enter the email", chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), email+"\r"))
	waitPath(t, e, tb, "/u/login/password")
	tb.do(t, "enter the password", chromedp.WaitVisible(chromedp.CSS("#password")), chromedp.WaitReady(chromedp.CSS(`input[name="passkeys"][value="1"]`)), chromedp.SendKeys(chromedp.CSS("#password"), userPassword+"\r"))
	// Progressive enrollment: "Create a passkey", with "Not now" and
	// "Remind me later".
	tb.do(t, "the create-a-passkey offer", chromedp.WaitVisible(chromedp.CSS(`[data-passkey-create-button]`)))
	body := pageText(tb)
	for _, want := range []string{"Create a passkey", "Not now", "Remind me later"} {
		if !strings.Contains(body, want) {
			t.Errorf("the enrollment page lacks %q:\n%s", want, body)
		}
	}
	tb.do(t, "create the passkey", chromedp.Click(chromedp.CSS(`[data-passkey-create-button]`)))
	c := e.redeem(t, f, waitCallback(t, e, tb))
	if c.Sub != user.ID || !slices.Contains(c.AMR, "pwd") {
		t.Errorf("after enrollment: sub %q amr %v", c.Sub, c.AMR)
	}
	creds := e.credentialsOf(t, user.ID)
	if len(creds) != 1 {
		t.Fatalf("%d passkeys after enrollment, want 1", len(creds))
	}

	// The account page lists it; rename it, then delete it (the password
	// remains, so it is not the last way to sign in).
	tb.navigate(t, e.issuer+"/u/account")
	tb.do(t, "the account page", chromedp.WaitVisible(chromedp.CSS(".passkey-item")))
	if !strings.Contains(pageText(tb), creds[0].Name) {
		t.Errorf("the account page does not show the passkey %q:\n%s", creds[0].Name, pageText(tb))
	}
	nameSel := `.passkey-item input[name="name"]`
	tb.do(t, "rename",
		chromedp.WaitVisible(chromedp.CSS(nameSel)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+nameSel+`').select()`),
		chromedp.SendKeys(chromedp.CSS(nameSel), "Work laptop\r"),
	)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cs := e.credentialsOf(t, user.ID); len(cs) == 1 && cs[0].Name == "Work laptop" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if cs := e.credentialsOf(t, user.ID); len(cs) != 1 || cs[0].Name != "Work laptop" {
		t.Fatalf("rename: stored %v", cs)
	}
	tb.do(t, "the renamed passkey", chromedp.WaitVisible(chromedp.CSS(".passkey-item")))
	if !strings.Contains(pageText(tb), "Work laptop") {
		t.Errorf("the account page does not show the new name:\n%s", pageText(tb))
	}
	tb.do(t, "delete", chromedp.Click(chromedp.CSS(`.passkey-item button[aria-label^="Delete"]`)))
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(e.credentialsOf(t, user.ID)) != 0 {
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(e.credentialsOf(t, user.ID)); n != 0 {
		t.Fatalf("delete: %d passkeys remain", n)
	}
}

// passwordLogin logs in through the identifier and password pages of the
// tab and returns when the next page (or the app) is reached.
func passwordLogin(t *testing.T, e *pkEnv, tb *tab, f bflow, email string) {
	t.Helper()
	tb.navigate(t, f.url)
	waitPath(t, e, tb, "/u/login")
	tb.do(t, "enter the email", chromedp.WaitVisible(chromedp.CSS("#username")), chromedp.SendKeys(chromedp.CSS("#username"), email+"\r"))
	waitPath(t, e, tb, "/u/login/password")
	tb.do(t, "enter the password", chromedp.WaitVisible(chromedp.CSS("#password")), chromedp.WaitReady(chromedp.CSS(`input[name="passkeys"][value="1"]`)), chromedp.SendKeys(chromedp.CSS("#password"), userPassword+"\r"))
}

// testBrowserEnrollLater: "Not now" asks again at the next login;
// "Remind me later" does not (for 30 days). Neither creates a passkey.
func testBrowserEnrollLater(t *testing.T, e *pkEnv) {
	email := "pk-browser-later@example.com"
	user := e.signup(t, email, userPassword)
	tb := newTab(t, authOptions{Synced: true})
	for _, button := range []string{"skip", "later"} {
		f := e.browserAuth(t, map[string]string{"prompt": "login"})
		passwordLogin(t, e, tb, f, email)
		sel := `button[name="action"][value="` + button + `"]`
		tb.do(t, "the offer's "+button+" button", chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		c := e.redeem(t, f, waitCallback(t, e, tb))
		if c.Sub != user.ID || !slices.Contains(c.AMR, "pwd") {
			t.Errorf("after %s: sub %q amr %v", button, c.Sub, c.AMR)
		}
	}
	// After "Remind me later" the password login goes straight back.
	f := e.browserAuth(t, map[string]string{"prompt": "login"})
	passwordLogin(t, e, tb, f, email)
	q := waitCallback(t, e, tb)
	e.redeem(t, f, q)
	if n := len(e.credentialsOf(t, user.ID)); n != 0 {
		t.Errorf("%d passkeys after declining, want 0", n)
	}
}
