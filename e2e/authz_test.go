package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// expectErrorPage checks that p is the provider's HTML error page: a 4xx
// status, HTML, and no redirect anywhere.
func expectErrorPage(t testing.TB, p *page, wantStatus int) {
	t.Helper()
	if p.Status != wantStatus {
		t.Errorf("status %d, want %d", p.Status, wantStatus)
	}
	if loc := p.Header.Get("Location"); loc != "" {
		t.Errorf("Location: %s — an error page must not redirect", loc)
	}
	if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
		t.Errorf("Content-Type %q, want an HTML page", p.Header.Get("Content-Type"))
	}
	if !strings.Contains(strings.ToLower(p.Body), "<html") {
		t.Errorf("the body is not an HTML page: %s", excerpt(p.Body))
	}
}

// testLogout: RP-initiated logout with id_token_hint, a registered
// post_logout_redirect_uri and state; an unregistered one gets an error
// page; after logout prompt=none needs a login.
func testLogout(t *testing.T, e *env) {
	ep := e.endpoint(t, "end_session_endpoint")
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, _, c := e.mustExchange(t, a, cb.Code)
	idToken, _ := tok.Extra("id_token").(string)

	// An unregistered post_logout_redirect_uri: error page, no redirect,
	// and the session stays.
	for _, bad := range []string{"https://evil.example.com/logged-out", webPostLogout + "/x", webRedirect} {
		p := b.get(t, ep+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {bad}, "state": {"s1"}}.Encode())
		expectErrorPage(t, p, http.StatusBadRequest)
	}
	a = e.authz(t, webClient, "openid").set("prompt", "none")
	p := b.get(t, a.String())
	if cb := p.callback(t, webRedirect); cb.Code == "" {
		t.Fatalf("after a refused logout, prompt=none: error %q, want a code (still logged in)", cb.Error)
	}

	// A hint that is not ours (signed by another key) is an error page.
	forged := forgedIDToken(t, e, e.alice.ID, webClient)
	p = b.get(t, ep+"?"+url.Values{"id_token_hint": {forged}, "post_logout_redirect_uri": {webPostLogout}, "state": {"s2"}}.Encode())
	expectErrorPage(t, p, http.StatusBadRequest)

	// Somebody else's valid ID token does not log Alice out without her
	// confirmation.
	other := e.newBrowser(t)
	oa := e.authz(t, webClient, "openid").set("prompt", "create")
	op := other.get(t, oa.String())
	op = other.submit(t, op, fields{"email": "erin-" + strings.ToLower(randomString(t, 4)) + "@example.org", "password": userPassword})
	otok, _, _ := e.mustExchange(t, oa, op.callback(t, webRedirect).Code)
	otherHint, _ := otok.Extra("id_token").(string)
	p = b.get(t, ep+"?"+url.Values{"id_token_hint": {otherHint}, "post_logout_redirect_uri": {webPostLogout}, "state": {"s3"}}.Encode())
	if p.Location != nil {
		t.Errorf("logout with another user's id_token_hint redirected at once to %s", p.Location)
	}
	if cb := b.get(t, e.authz(t, webClient, "openid").set("prompt", "none").String()).callback(t, webRedirect); cb.Code == "" {
		t.Errorf("another user's id_token_hint logged Alice out: error %q", cb.Error)
	}

	state := randomString(t, 8)
	p = b.get(t, ep+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {webPostLogout}, "state": {state}}.Encode())
	if p.Location == nil {
		t.Fatalf("logout: no redirect (status %d): %s", p.Status, excerpt(p.Body))
	}
	if got := p.Location.Scheme + "://" + p.Location.Host + p.Location.Path; got != webPostLogout {
		t.Errorf("logout redirect to %s, want %s", p.Location, webPostLogout)
	}
	if p.Location.Query().Get("state") != state {
		t.Errorf("logout redirect state = %q, want %q", p.Location.Query().Get("state"), state)
	}
	if _, err := e.store.GetSession(bg(), c.Sid); err == nil {
		t.Errorf("the browser session %s survived logout", c.Sid)
	}

	a = e.authz(t, webClient, "openid").set("prompt", "none")
	p = b.get(t, a.String())
	cb = p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" {
		t.Errorf("prompt=none after logout: error %q code %q, want login_required", cb.Error, cb.Code)
	}
}

// testPromptNone: prompt=none answers at once: a code when logged in
// (no page shown), login_required otherwise.
func testPromptNone(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid").set("prompt", "none")
	p := b.get(t, a.String())
	cb := p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" || cb.Code != "" {
		t.Errorf("prompt=none, not logged in: error %q code %q, want login_required", cb.Error, cb.Code)
	}

	e.code(t, b, e.authz(t, webClient, "openid"), e.alice.Email, userPassword)
	a = e.authz(t, webClient, "openid email").set("prompt", "none")
	p = b.get(t, a.String())
	if p.URL.Path != "/authorize" {
		t.Errorf("prompt=none, logged in: a page was shown (%s)", p.URL)
	}
	cb = p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("prompt=none, logged in: error %q (%s), want a code", cb.Error, cb.ErrorDescription)
	}
	_, _, c := e.mustExchange(t, a, cb.Code)
	if c.Sub != e.alice.ID {
		t.Errorf("sub = %q", c.Sub)
	}

	// prompt=none with a third-party client the person never consented to.
	a = e.authz(t, thirdPartyClient, "openid").set("prompt", "none")
	cb = b.get(t, a.String()).callback(t, thirdPartyRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "consent_required" {
		t.Errorf("prompt=none without consent: error %q, want consent_required", cb.Error)
	}
	// prompt=none with another login requested is contradictory.
	a = e.authz(t, webClient, "openid").set("prompt", "none login")
	cb = b.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error == "" {
		t.Errorf("prompt=none login: got a code, want an error")
	}
}

// testPromptCreate: prompt=create opens the sign-up page directly, and a
// sign-up logs the person in (amr pwd).
func testPromptCreate(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email").set("prompt", "create")
	p := b.get(t, a.String())
	if p.path() != "/u/signup" {
		t.Fatalf("prompt=create: got %s (status %d), want the sign-up page", p.URL, p.Status)
	}
	email := "dave-" + strings.ToLower(randomString(t, 4)) + "@example.org"
	p = b.submit(t, p, fields{"email": email, "password": userPassword})
	cb := p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("sign-up: error %q", cb.Error)
	}
	_, _, c := e.mustExchange(t, a, cb.Code)
	if c.Email != email {
		t.Errorf("email = %q, want %q", c.Email, email)
	}
	if len(c.AMR) != 1 || c.AMR[0] != "pwd" {
		t.Errorf("amr after sign-up = %v, want [pwd]", c.AMR)
	}

	// Signing up again with the same email does not create a second
	// account and does not log in.
	b2 := e.newBrowser(t)
	p = b2.get(t, e.authz(t, webClient, "openid").set("prompt", "create").String())
	p = b2.submit(t, p, fields{"email": email, "password": userPassword + "x"})
	if p.Location != nil {
		t.Errorf("second sign-up with the same email redirected to %s", p.Location)
	}
	// A weak password is refused on the page, with the rule named.
	p = b2.get(t, e.authz(t, webClient, "openid").set("prompt", "create").String())
	p = b2.submit(t, p, fields{"email": "weak@example.org", "password": "abc"})
	if p.Location != nil || p.path() != "/u/signup" {
		t.Errorf("weak password: got %s %v, want the sign-up page again", p.URL, p.Location)
	}
	if !strings.Contains(p.Body, `role="alert"`) {
		t.Errorf("weak password: the page does not say which rule failed")
	}
}

// testConsent: a third-party client needs consent; it is remembered;
// prompt=consent asks again; deny gives access_denied.
func testConsent(t *testing.T, e *env) {
	email := "carol-" + strings.ToLower(randomString(t, 4)) + "@example.org"
	e.signup(t, email, userPassword)
	b := e.newBrowser(t)

	a := e.authz(t, thirdPartyClient, "openid email")
	p := b.get(t, a.String())
	p = b.login(t, p, email, userPassword)
	if p.path() != "/u/consent" {
		t.Fatalf("third-party client: got %s (status %d), want the consent page", p.URL, p.Status)
	}
	if !strings.Contains(p.Body, "Third Party") {
		t.Errorf("the consent page does not name the client")
	}
	// The consent form needs its CSRF token.
	if r := b.submit(t, p, fields{press("action", "accept"): "", "csrf": "forged"}); r.Location != nil || r.Status < 400 {
		t.Errorf("consent with a forged CSRF token: status %d Location %v, want 4xx and no redirect", r.Status, r.Location)
	}
	p = b.submit(t, p, fields{press("action", "accept"): ""})
	cb := p.callback(t, thirdPartyRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("after consent: error %q (%s)", cb.Error, cb.ErrorDescription)
	}
	e.mustExchange(t, a, cb.Code)

	// Remembered: no page the next time.
	a = e.authz(t, thirdPartyClient, "openid email")
	p = b.get(t, a.String())
	if p.URL.Path != "/authorize" {
		t.Errorf("consent not remembered: page %s shown", p.URL)
	}
	cb = p.callback(t, thirdPartyRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("remembered consent: error %q", cb.Error)
	}

	// A wider scope asks again.
	a = e.authz(t, thirdPartyClient, "openid email profile")
	if p = b.get(t, a.String()); p.path() != "/u/consent" {
		t.Errorf("a new scope: got %s, want the consent page", p.URL)
	}

	// prompt=consent asks again.
	a = e.authz(t, thirdPartyClient, "openid email").set("prompt", "consent")
	p = b.get(t, a.String())
	if p.path() != "/u/consent" {
		t.Fatalf("prompt=consent: got %s, want the consent page", p.URL)
	}
	p = b.submit(t, p, fields{press("action", "accept"): ""})
	cb = p.callback(t, thirdPartyRedirect)
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Errorf("prompt=consent accepted: error %q", cb.Error)
	}

	// Deny: access_denied, with iss and state.
	a = e.authz(t, thirdPartyClient, "openid email").set("prompt", "consent")
	p = b.get(t, a.String())
	if p.path() != "/u/consent" {
		t.Fatalf("prompt=consent: got %s, want the consent page", p.URL)
	}
	p = b.submit(t, p, fields{press("action", "deny"): ""})
	cb = p.callback(t, thirdPartyRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "access_denied" || cb.Code != "" {
		t.Errorf("deny: error %q code %q, want access_denied", cb.Error, cb.Code)
	}

	// First-party clients never ask.
	a = e.authz(t, webClient, "openid email profile")
	if p = b.get(t, a.String()); p.URL.Path != "/authorize" || p.Location == nil {
		t.Errorf("first-party client: page %s shown", p.URL)
	}
}

// testRedirectURIMutations: a redirect URI that is not exactly a registered
// one gets an HTML error page and no redirect, logged in or not.
func testRedirectURIMutations(t *testing.T, e *env) {
	tests := []struct {
		name     string
		redirect string
	}{
		{"unregistered", "https://evil.example.com/callback"},
		{"extra path", webRedirect + "/extra"},
		{"path traversal", "https://rp.example.com/callback/../evil"},
		{"different case path", "https://rp.example.com/Callback"},
		{"different case host", "https://RP.example.com/callback"},
		{"extra query", webRedirect + "?next=https://evil.example.com"},
		{"trailing slash", webRedirect + "/"},
		{"http instead of https", "http://rp.example.com/callback"},
		{"other port", "https://rp.example.com:8443/callback"},
		{"subdomain", "https://evil.rp.example.com/callback"},
		{"userinfo", "https://rp.example.com@evil.example.com/callback"},
		{"fragment", webRedirect + "#frag"},
		{"another client's", spaRedirect},
		{"javascript", "javascript:alert(1)"},
	}
	logged := e.newBrowser(t)
	e.code(t, logged, e.authz(t, webClient, "openid"), e.alice.Email, userPassword)
	anon := e.newBrowser(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, b := range map[string]*browser{"anonymous": anon, "logged in": logged} {
				for _, prompt := range []string{"", "none"} {
					a := e.authz(t, webClient, "openid").set("redirect_uri", tt.redirect).set("prompt", prompt)
					p := b.get(t, a.String())
					if p.URL.Path != "/authorize" {
						t.Errorf("%s, prompt=%q: navigated to %s", name, prompt, p.URL)
					}
					expectErrorPage(t, p, http.StatusBadRequest)
				}
			}
		})
	}
	// Also when the client_id is unknown.
	p := anon.get(t, e.authz(t, webClient, "openid").set("client_id", "no-such-client").String())
	expectErrorPage(t, p, http.StatusBadRequest)
	// And for POST to the authorization endpoint.
	a := e.authz(t, webClient, "openid").set("redirect_uri", "https://evil.example.com/cb")
	req, _ := http.NewRequest(http.MethodPost, e.endpoint(t, "authorization_endpoint"), strings.NewReader(a.q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	expectErrorPage(t, anon.do(t, req), http.StatusBadRequest)
}

// testAuthorizationErrorsIss: RFC 9207 iss (and state) on error responses
// that go to the client.
func testAuthorizationErrorsIss(t *testing.T, e *env) {
	tests := []struct {
		name, param, value, want string
	}{
		// A scope another client may use but this one may not (scopes
		// nobody knows are ignored instead: see unknown_scopes_ignored).
		{"invalid scope", "scope", "openid " + machineScope, "invalid_scope"},
		{"implicit flow", "response_type", "token", "unsupported_response_type"},
		{"hybrid flow", "response_type", "code id_token", "unsupported_response_type"},
		{"bad prompt", "prompt", "sideways", "invalid_request"},
		{"login required", "prompt", "none", "login_required"},
		{"unknown connection", "connection", "no-such-connection", "invalid_request"},
		{"invalid id_token_hint", "id_token_hint", "not-a-jwt", "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.newBrowser(t)
			a := e.authz(t, webClient, "openid").set(tt.param, tt.value)
			p := b.get(t, a.String())
			if p.Location == nil && p.path() == "/u/login" {
				// fosite checks some parameters only when it answers, after the login.
				p = b.login(t, p, e.alice.Email, userPassword)
			}
			cb := p.callback(t, webRedirect)
			e.checkResponse(t, a, cb)
			if cb.Error == "" || cb.Code != "" {
				t.Fatalf("error %q code %q, want an error", cb.Error, cb.Code)
			}
			if cb.Error != tt.want {
				t.Errorf("error = %q, want %q", cb.Error, tt.want)
			}
		})
	}
	// POST to the authorization endpoint works like GET.
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid").set("prompt", "none")
	req, _ := http.NewRequest(http.MethodPost, e.endpoint(t, "authorization_endpoint"), strings.NewReader(a.q.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cb := b.do(t, req).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" {
		t.Errorf("POST prompt=none: error %q, want login_required", cb.Error)
	}
}

// testCORS: token, userinfo, revocation, discovery and JWKS answer the
// client's registered web origins only; /authorize never sends CORS headers.
func testCORS(t *testing.T, e *env) {
	const other = "https://evil.example.com"
	do := func(method, u string, body url.Values, origin string, hdr http.Header) jsonResponse {
		t.Helper()
		var rd *strings.Reader
		if body != nil {
			rd = strings.NewReader(body.Encode())
		} else {
			rd = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, u, rd)
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header[k] = v
		}
		r, err := e.send(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		return r
	}
	acao := func(r jsonResponse) string { return r.Header.Get("Access-Control-Allow-Origin") }

	tokenBody := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {spaRedirect}, "client_id": {spaClient}, "code_verifier": {strings.Repeat("a", 43)}}
	checks := []struct {
		name, method, url string
		body              url.Values
		hdr               http.Header
	}{
		{"token", http.MethodPost, e.endpoint(t, "token_endpoint"), tokenBody, nil},
		{"userinfo", http.MethodGet, e.endpoint(t, "userinfo_endpoint"), nil, http.Header{"Authorization": {"Bearer nope"}}},
		{"revocation", http.MethodPost, e.endpoint(t, "revocation_endpoint"), url.Values{"token": {"nope"}, "client_id": {spaClient}}, nil},
		{"discovery", http.MethodGet, e.url("/.well-known/openid-configuration"), nil, nil},
		{"jwks", http.MethodGet, e.endpoint(t, "jwks_uri"), nil, nil},
	}
	for _, c := range checks {
		if r := do(c.method, c.url, c.body, spaOrigin, c.hdr); acao(r) != spaOrigin {
			t.Errorf("%s from the registered origin: Access-Control-Allow-Origin = %q, want %q (status %d)", c.name, acao(r), spaOrigin, r.Status)
		}
		if r := do(c.method, c.url, c.body, other, c.hdr); acao(r) != "" {
			t.Errorf("%s from an unregistered origin: Access-Control-Allow-Origin = %q, want none", c.name, acao(r))
		}
		// Preflight.
		r := do(http.MethodOptions, c.url, nil, spaOrigin, http.Header{"Access-Control-Request-Method": {c.method}, "Access-Control-Request-Headers": {"authorization"}})
		if acao(r) != spaOrigin || r.Status >= 300 {
			t.Errorf("%s preflight from the registered origin: status %d, Access-Control-Allow-Origin %q", c.name, r.Status, acao(r))
		}
		r = do(http.MethodOptions, c.url, nil, other, http.Header{"Access-Control-Request-Method": {c.method}})
		if acao(r) != "" {
			t.Errorf("%s preflight from an unregistered origin: Access-Control-Allow-Origin %q", c.name, acao(r))
		}
	}
	// The SPA's origin is not the web client's: a token request by the web
	// client from it gets no CORS header.
	webBody := url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {webRedirect}}
	if r := do(http.MethodPost, e.endpoint(t, "token_endpoint"), webBody, spaOrigin, http.Header{"Authorization": {basic(webClient, secrets.web)}}); acao(r) != "" {
		t.Errorf("token request of a client without that web origin: Access-Control-Allow-Origin %q", acao(r))
	}

	// A whole SPA flow with CORS: the code exchange and userinfo succeed
	// with the header.
	b := e.newBrowser(t)
	verifier := randomString(t, 32)
	a := e.authz(t, spaClient, "openid email").pkce(verifier)
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	r := do(http.MethodPost, e.endpoint(t, "token_endpoint"), url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {spaRedirect}, "client_id": {spaClient}, "code_verifier": {verifier},
	}, spaOrigin, nil)
	if r.Status != http.StatusOK || acao(r) != spaOrigin {
		t.Fatalf("SPA code exchange: status %d, Access-Control-Allow-Origin %q: %s", r.Status, acao(r), r.Raw)
	}
	r = do(http.MethodGet, e.endpoint(t, "userinfo_endpoint"), nil, spaOrigin, http.Header{"Authorization": {"Bearer " + r.str("access_token")}})
	if r.Status != http.StatusOK || acao(r) != spaOrigin {
		t.Errorf("SPA userinfo: status %d, Access-Control-Allow-Origin %q", r.Status, acao(r))
	}

	// The authorization endpoint never sends CORS headers.
	for _, origin := range []string{spaOrigin, other} {
		a := e.authz(t, spaClient, "openid").pkce(verifier).set("prompt", "none")
		for _, method := range []string{http.MethodGet, http.MethodOptions} {
			req, _ := http.NewRequest(method, a.String(), nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "GET")
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("%s /authorize from %s: Access-Control-Allow-Origin %q, want none", method, origin, v)
			}
		}
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	return req.Header.Get("Authorization")
}

// testResumeUnknownState: an unknown or expired state on the resume URL
// (and on the login page) gets a friendly HTML page.
func testResumeUnknownState(t *testing.T, e *env) {
	b := e.newBrowser(t)
	now := time.Now()
	conns, err := e.store.ListConnections(bg())
	if err != nil || len(conns) == 0 {
		t.Fatalf("list connections: %v (%d)", err, len(conns))
	}
	expired, err := e.store.CreateAuthRequest(bg(), storage.AuthRequest{
		ClientID: webClient, ConnectionID: conns[0].ID,
		Form:      e.authz(t, webClient, "openid").q.Encode(),
		CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour),
	})
	if err != nil {
		t.Fatalf("create expired auth request: %v", err)
	}
	for _, path := range []string{"/authorize/resume", "/u/login", "/u/login/password", "/u/signup", "/u/consent"} {
		for _, state := range []string{"", "unknown-" + randomString(t, 8), expired.ID} {
			p := b.get(t, e.url(path)+"?"+url.Values{"state": {state}}.Encode())
			if p.Status >= 500 {
				t.Errorf("%s?state=%q: status %d", path, state, p.Status)
				continue
			}
			expectErrorPage(t, p, http.StatusBadRequest)
			if !strings.Contains(strings.ToLower(p.Body), "expired") && !strings.Contains(strings.ToLower(p.Body), "try again") {
				t.Errorf("%s?state=%q: the page does not tell the person what to do: %s", path, state, excerpt(p.Body))
			}
		}
	}
}

// testPromptLogin: prompt=login while logged in shows the login page again
// and the new ID token's auth_time is later.
func testPromptLogin(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	_, _, first := e.mustExchange(t, a, cb.Code)
	time.Sleep(1100 * time.Millisecond) // auth_time has one-second resolution

	a = e.authz(t, webClient, "openid").set("prompt", "login")
	p := b.get(t, a.String())
	if p.path() != "/u/login" {
		t.Fatalf("prompt=login while logged in: got %s (status %d), want the login page", p.URL, p.Status)
	}
	p = b.login(t, p, e.alice.Email, userPassword)
	cb = p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	_, _, second := e.mustExchange(t, a, cb.Code)
	if second.AuthTime <= first.AuthTime {
		t.Errorf("auth_time after prompt=login = %d, want later than %d", second.AuthTime, first.AuthTime)
	}
	if second.Sid == first.Sid {
		t.Errorf("sid unchanged after a new login (%s): a login must start a new session", second.Sid)
	}
	// The new session cookie works without prompting.
	a = e.authz(t, webClient, "openid").set("prompt", "none")
	cb = b.get(t, a.String()).callback(t, webRedirect)
	if cb.Code == "" {
		t.Errorf("prompt=none after re-login: error %q", cb.Error)
	}
}

// testMaxAge: max_age=0 forces a new login; a generous max_age does not.
func testMaxAge(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	_, _, first := e.mustExchange(t, a, cb.Code)
	time.Sleep(1100 * time.Millisecond)

	a = e.authz(t, webClient, "openid").set("max_age", "3600")
	p := b.get(t, a.String())
	if p.URL.Path != "/authorize" {
		t.Errorf("max_age=3600: page %s shown", p.URL)
	}
	cb = p.callback(t, webRedirect)
	_, _, c := e.mustExchange(t, a, cb.Code)
	if c.AuthTime != first.AuthTime {
		t.Errorf("max_age=3600: auth_time %d, want %d", c.AuthTime, first.AuthTime)
	}

	a = e.authz(t, webClient, "openid").set("max_age", "0")
	p = b.get(t, a.String())
	if p.path() != "/u/login" {
		t.Fatalf("max_age=0: got %s (status %d), want the login page", p.URL, p.Status)
	}
	p = b.login(t, p, e.alice.Email, userPassword)
	cb = p.callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	_, _, second := e.mustExchange(t, a, cb.Code)
	if second.AuthTime <= first.AuthTime {
		t.Errorf("auth_time after max_age=0 = %d, want later than %d", second.AuthTime, first.AuthTime)
	}

	// max_age with prompt=none and a stale login: login_required.
	time.Sleep(1100 * time.Millisecond)
	a = e.authz(t, webClient, "openid").set("max_age", "0").set("prompt", "none")
	cb = b.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" {
		t.Errorf("max_age=0 prompt=none: error %q code %q, want login_required", cb.Error, cb.Code)
	}
}
