package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// testLoginPages: the identifier-first pages refuse a wrong password on
// the page (no redirect, no code), then accept the right one; the session
// cookie is HttpOnly and SameSite=Lax, and a new session starts at each
// login.
func testLoginPages(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	p := b.get(t, a.String())
	if p.path() != "/u/login" {
		t.Fatalf("want the login page, got %s", p.URL)
	}
	// The pages cannot be framed (clickjacking) nor cached.
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") && p.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("login page can be framed: CSP %q, X-Frame-Options %q", csp, p.Header.Get("X-Frame-Options"))
	}
	if cc := p.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("login page Cache-Control = %q, want no-store", cc)
	}
	p = b.submit(t, p, fields{"username": e.alice.Email})
	if p.path() != "/u/login/password" {
		t.Fatalf("want the password page, got %s", p.URL)
	}
	wrong := b.submit(t, p, fields{"password": userPassword + "-wrong"})
	if wrong.Location != nil || wrong.path() != "/u/login/password" {
		t.Fatalf("wrong password: got %s (Location %v), want the password page again", wrong.URL, wrong.Location)
	}
	if wrong.Status >= 500 {
		t.Errorf("wrong password: status %d", wrong.Status)
	}
	if !strings.Contains(wrong.Body, `role="alert"`) {
		t.Errorf("wrong password: no error shown on the page")
	}
	p = b.submit(t, wrong, fields{"password": userPassword})
	cb := p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("right password after a wrong one: error %q", cb.Error)
	}
	// The finished request cannot be finished again: not by posting the
	// password page once more (the back button), nor by its resume URL.
	again := b.submit(t, wrong, fields{"password": userPassword})
	if again.Location != nil && again.Location.Query().Get("code") != "" {
		t.Errorf("re-posting a finished login issued a second code")
	}
	if again.Status >= 500 {
		t.Errorf("re-posting a finished login: status %d", again.Status)
	}
	state := wrong.URL.Query().Get("state")
	again = b.get(t, e.url("/authorize/resume")+"?"+url.Values{"state": {state}}.Encode())
	if again.Location != nil && again.Location.Query().Get("code") != "" {
		t.Errorf("resuming a finished login issued a second code")
	}

	var session *http.Cookie
	for _, c := range *b.setCookies {
		if strings.Contains(strings.ToLower(c.Name), "latchkey") && c.Value != "" && c.MaxAge >= 0 {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no session cookie among %v", *b.setCookies)
	}
	if !session.HttpOnly {
		t.Errorf("session cookie %s is not HttpOnly", session.Name)
	}
	if session.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie %s SameSite = %v, want Lax", session.Name, session.SameSite)
	}
	if session.Path != "/" {
		t.Errorf("session cookie %s Path = %q, want /", session.Name, session.Path)
	}

	// The email is matched case-insensitively.
	b3 := e.newBrowser(t)
	a = e.authz(t, webClient, "openid")
	p = b3.get(t, a.String())
	cb = b3.login(t, p, strings.ToUpper(e.alice.Email), userPassword).callback(t, webRedirect)
	if cb.Code == "" {
		t.Errorf("login with the email in upper case: error %q", cb.Error)
	} else if _, _, c := e.mustExchange(t, a, cb.Code); c.Sub != e.alice.ID {
		t.Errorf("login with the email in upper case: sub %q, want Alice", c.Sub)
	}

	// An unknown email does not log anybody in.
	b2 := e.newBrowser(t)
	p = b2.get(t, e.authz(t, webClient, "openid").String())
	p = b2.submit(t, p, fields{"username": "nobody@example.com"})
	if p.Location != nil {
		t.Errorf("unknown email: redirected to %s", p.Location)
	}
	if p.path() == "/u/login/password" {
		p = b2.submit(t, p, fields{"password": userPassword})
		if p.Location != nil {
			t.Errorf("unknown email with a password: redirected to %s", p.Location)
		}
	}
}

// testLoginCSRF: the login forms refuse a post without the page's CSRF
// token, or from another site.
func testLoginCSRF(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	p := b.get(t, a.String())
	p = b.submit(t, p, fields{"username": e.alice.Email})
	if p.path() != "/u/login/password" {
		t.Fatalf("want the password page, got %s", p.URL)
	}
	for name, f := range map[string]fields{
		"no token":     {"password": userPassword, "csrf": ""},
		"forged token": {"password": userPassword, "csrf": "forged-" + randomString(t, 16)},
	} {
		r := b.submit(t, p, f)
		if r.Location != nil {
			t.Errorf("%s: logged in and redirected to %s", name, r.Location)
		}
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s: status %d, want 4xx", name, r.Status)
		}
	}
	cross := b.submitWith(t, p, fields{"password": userPassword}, http.Header{
		"Origin": {"https://evil.example.com"}, "Sec-Fetch-Site": {"cross-site"},
	})
	if cross.Location != nil || cross.Status != http.StatusForbidden {
		t.Errorf("cross-site post: status %d Location %v, want 403 and no redirect", cross.Status, cross.Location)
	}
	// The page still works afterwards.
	cb := b.submit(t, p, fields{"password": userPassword}).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Errorf("valid post after refused ones: error %q", cb.Error)
	}
}

// testLogoutConfirm: without an id_token_hint the person confirms the
// logout on a page first; a cross-site GET alone logs nobody out.
func testLogoutConfirm(t *testing.T, e *env) {
	ep := e.endpoint(t, "end_session_endpoint")
	b := e.newBrowser(t)
	e.code(t, b, e.authz(t, webClient, "openid"), e.alice.Email, userPassword)
	state := randomString(t, 8)
	p := b.get(t, ep+"?"+url.Values{"client_id": {webClient}, "post_logout_redirect_uri": {webPostLogout}, "state": {state}}.Encode())
	if p.Location != nil {
		t.Fatalf("logout without id_token_hint redirected at once to %s, want a confirmation page", p.Location)
	}
	if p.Status != http.StatusOK {
		t.Errorf("confirmation page: status %d", p.Status)
	}
	// Not logged out yet.
	if cb := b.get(t, e.authz(t, webClient, "openid").set("prompt", "none").String()).callback(t, webRedirect); cb.Code == "" {
		t.Fatalf("logged out before confirming: error %q", cb.Error)
	}
	p = b.submit(t, p, fields{press("confirm", "yes"): ""})
	if p.Location == nil || p.Location.Query().Get("state") != state ||
		p.Location.Scheme+"://"+p.Location.Host+p.Location.Path != webPostLogout {
		t.Fatalf("after confirming: %s (status %d), want a redirect to %s with state", p.Location, p.Status, webPostLogout)
	}
	a := e.authz(t, webClient, "openid").set("prompt", "none")
	cb := b.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" {
		t.Errorf("prompt=none after a confirmed logout: error %q code %q, want login_required", cb.Error, cb.Code)
	}
}

// testResumeOtherBrowser: the state of someone else's pending request
// gives no code to a browser that has not logged in.
func testResumeOtherBrowser(t *testing.T, e *env) {
	victim := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	p := victim.get(t, a.String())
	if p.path() != "/u/login" {
		t.Fatalf("want the login page, got %s", p.URL)
	}
	state := p.URL.Query().Get("state")
	attacker := e.newBrowser(t)
	r := attacker.get(t, e.url("/authorize/resume")+"?"+url.Values{"state": {state}}.Encode())
	if r.Location != nil && r.Location.Query().Get("code") != "" {
		t.Fatalf("resume by a browser that has not logged in issued a code: %s", r.Location)
	}
	// And the victim can still finish.
	cb := victim.login(t, p, e.alice.Email, userPassword).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Errorf("victim's login: error %q", cb.Error)
	}
}
