package handlers

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates/pagetest"
)

// demoServer runs the Handler with the demo on a real listener, so that the
// demo's own HTTP calls (discovery, token, JWKS, userinfo) reach it.
func demoServer(t *testing.T) (*pageEnv, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	const secret = "demo-client-secret-for-tests-0123456789"
	e := newPageEnv(t, func(o *Options, _ *fakeConn) {
		o.Issuer = issuer
		o.Cookies.Insecure = true
		o.Demo = &DemoOptions{ClientID: "latchkey-demo", ClientSecret: secret}
	})
	hash, err := provider.HashClientSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateClient(context.Background(), storage.Client{
		ID: "latchkey-demo", Name: "Latchkey demo", FirstParty: true, SecretHash: hash,
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{issuer + "/demo/callback"},
		PostLogoutRedirectURIs:  []string{issuer + "/demo"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email"},
	}); err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = e.h
	srv.Start()
	t.Cleanup(srv.Close)
	return e, issuer
}

// browse fetches a page, failing the test unless it answers 200.
func browse(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s → %s (%s): %s", method, u, resp.Status, resp.Request.URL, b)
	}
	for _, p := range pagetest.Check(b) {
		t.Errorf("%s: %s", resp.Request.URL.Path, p)
	}
	return resp, string(b)
}

// submit posts the page's form (action and hidden fields) with extra fields.
func submit(t *testing.T, c *http.Client, resp *http.Response, page string, extra ...string) (*http.Response, string) {
	t.Helper()
	m := regexp.MustCompile(`<form method="post" action="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form on %s:\n%s", resp.Request.URL, page)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	in, err := pagetest.Inputs([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for name, attrs := range in {
		if attrs["type"] == "hidden" {
			form.Set(name, attrs["value"])
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return browse(t, c, http.MethodPost, action.String(), form)
}

func TestDemoLoginAndLogout(t *testing.T) {
	e, issuer := demoServer(t)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar}

	_, page := browse(t, c, http.MethodGet, issuer+"/demo", nil)
	for _, want := range []string{`href="/demo/login"`, `href="/demo/signup"`} {
		if !strings.Contains(page, want) {
			t.Errorf("demo page lacks %s", want)
		}
	}

	resp, page := browse(t, c, http.MethodGet, issuer+"/demo/login", nil)
	if resp.Request.URL.Path != "/u/login" || !strings.Contains(page, "Log in to Latchkey demo") {
		t.Fatalf("demo login landed on %s", resp.Request.URL)
	}
	resp, page = submit(t, c, resp, page, "username", "jane@example.com")
	if resp.Request.URL.Path != "/u/login/password" {
		t.Fatalf("identifier step landed on %s", resp.Request.URL)
	}
	resp, page = submit(t, c, resp, page, "password", pageTestPassword)
	if resp.Request.URL.Path == "/u/consent" {
		resp, page = submit(t, c, resp, page, "action", "accept")
	}
	if resp.Request.URL.Path != "/demo/callback" {
		t.Fatalf("login landed on %s:\n%s", resp.Request.URL, page)
	}
	for _, want := range []string{"Logged in as <strong>" + e.user.ID, "&#34;alg&#34;", "&#34;sub&#34;: &#34;" + e.user.ID,
		"&#34;email&#34;: &#34;jane@example.com&#34;", "Log out</a>"} {
		if !strings.Contains(page, want) {
			t.Errorf("callback page lacks %q:\n%s", want, page)
		}
	}

	// Reloading the callback (code and state cookie spent) fails politely.
	reload, err := c.Get(resp.Request.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	reload.Body.Close()
	if reload.StatusCode != http.StatusBadRequest {
		t.Errorf("reloaded callback = %s", reload.Status)
	}

	m := regexp.MustCompile(`<a class="button button-secondary" href="([^"]*)">Log out</a>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no logout link")
	}
	logout := html.UnescapeString(m[1])
	if !strings.Contains(logout, "id_token_hint=") || !strings.Contains(logout, "post_logout_redirect_uri="+url.QueryEscape(issuer+"/demo")) {
		t.Errorf("logout link = %s", logout)
	}
	resp, _ = browse(t, c, http.MethodGet, logout, nil)
	if resp.Request.URL.Path != "/demo" {
		t.Errorf("logout landed on %s", resp.Request.URL)
	}
	u, _ := url.Parse(issuer)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == sessionCookieInsecure {
			t.Errorf("session cookie survived logout")
		}
	}
}

func TestDemoCallbackRefusesForeignState(t *testing.T) {
	_, issuer := demoServer(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// Start a login to get a state cookie, then come back with another state.
	resp, err := c.Get(issuer + "/demo/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("demo login = %s", resp.Status)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("redirect_uri") != issuer+"/demo/callback" {
		t.Errorf("authorize URL = %s", loc)
	}
	resp, err = c.Get(issuer + "/demo/callback?code=x&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "does not match") {
		t.Errorf("forged state: %s\n%s", resp.Status, b)
	}
	resp, err = c.Get(issuer + "/demo/callback?error=access_denied&error_description=User+said+no&state=" + url.QueryEscape(q.Get("state")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	// The forged attempt spent the cookie: a login must start again.
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "took too long") {
		t.Errorf("callback after a spent cookie: %s\n%s", resp.Status, b)
	}
}
