package handlers

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// chromium returns the browser's path, skipping the test without one
// (failing it under LATCHKEY_TEST_STRICT=1, as CI runs).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LATCHKEY_TEST_STRICT") == "1" {
		t.Fatal("no Chromium found and LATCHKEY_TEST_STRICT=1")
	}
	t.Skip("no Chromium found")
	return ""
}

// newTab starts a headless Chromium for the test and returns a tab's
// context and the console messages it logged so far.
func newTab(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	tmp := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(tmp),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Env("TMPDIR="+tmp),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // start the browser
		t.Fatalf("start Chromium: %v", err)
	}
	var (
		mu   sync.Mutex
		logs []string
	)
	go func() {
		for m, err := range chromedp.Console(tab) {
			if err != nil {
				return
			}
			mu.Lock()
			logs = append(logs, string(m.Type)+": "+m.Text)
			mu.Unlock()
		}
	}()
	return tab, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), logs...)
	}
}

// TestBrowserLoginReachesCrossOriginClient drives the pages in Chromium,
// by keyboard, from /authorize to a client on another origin. Chromium
// applies CSP form-action to the redirects after a form submission, so this
// fails if the pages' policy does not name the client's redirect origin.
func TestBrowserLoginReachesCrossOriginClient(t *testing.T) {
	tab, console := newTab(t)

	callbacks := make(chan url.Values, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cb" {
			select {
			case callbacks <- r.URL.Query():
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!DOCTYPE html><html lang="en"><title>App</title><p id="done">Back at the app</p></html>`)
	}))
	t.Cleanup(app.Close)

	// The provider on localhost (a secure context), the app on 127.0.0.1:
	// two origins.
	srv := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	issuer := "http://localhost:" + port
	e := newPageEnv(t, func(o *Options, _ *fakeConn) {
		o.Issuer = issuer
		o.Cookies.Insecure = true
	})
	e.client.RedirectURIs = []string{app.URL + "/cb"}
	e.client.TokenEndpointAuthMethod = "none"
	if _, err := e.store.UpsertClient(context.Background(), e.client); err != nil {
		t.Fatal(err)
	}
	e.h.opts.Provider.InvalidateClient(e.client.ID)
	srv.Config.Handler = e.h
	srv.Start()
	t.Cleanup(srv.Close)

	authorize := issuer + "/authorize?" + url.Values{
		"client_id":             {e.client.ID},
		"redirect_uri":          {app.URL + "/cb"},
		"response_type":         {"code"},
		"scope":                 {"openid email"},
		"state":                 {"client-state-123"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}.Encode()

	activeID := func() string {
		t.Helper()
		id, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// Identifier page: the email field has focus; Enter submits.
	if err := chromedp.Do(tab,
		chromedp.Navigate(authorize),
		chromedp.WaitVisible(chromedp.CSS("#username")),
	); err != nil {
		t.Fatalf("open the login page: %v", err)
	}
	if got := activeID(); got != "username" {
		t.Errorf("focus on the identifier page is on %q, expected the email field", got)
	}
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#username"), "jane@example.com\r"),
		chromedp.WaitVisible(chromedp.CSS("#password")),
	); err != nil {
		t.Fatalf("identifier step: %v", err)
	}

	// Password page: focus on the password; the script shows the toggle.
	if got := activeID(); got != "password" {
		t.Errorf("focus on the password page is on %q, expected the password field", got)
	}
	if err := chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.CSS("[data-toggle-password]")),
		chromedp.Click(chromedp.CSS("[data-toggle-password]")),
	); err != nil {
		t.Fatalf("password toggle: %v", err)
	}
	if typ, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("password").type`)); typ != "text" {
		t.Errorf("after the toggle the password input is %q", typ)
	}
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#password"), pageTestPassword+"\r")); err != nil {
		t.Fatalf("password step: %v", err)
	}

	// Consent (a third-party client), answered with the Accept button.
	where := waitFor(tab, 15*time.Second, func(loc *url.URL) string {
		switch {
		case loc.Path == "/u/consent":
			return "consent"
		case strings.HasPrefix(loc.String(), app.URL):
			return "app"
		}
		return ""
	})
	if where == "" {
		loc, _ := chromedp.Run(tab, chromedp.Location())
		t.Fatalf("after the password the browser is at %s\nconsole:\n%s", loc, strings.Join(console(), "\n"))
	}
	if where == "consent" {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`button[value="accept"]`))); err != nil {
			t.Fatalf("accept consent: %v", err)
		}
	}

	select {
	case q := <-callbacks:
		if q.Get("code") == "" || q.Get("state") != "client-state-123" {
			t.Errorf("the app got %v", q)
		}
	case <-time.After(15 * time.Second):
		loc, _ := chromedp.Run(tab, chromedp.Location())
		t.Fatalf("the browser never reached the app; it is at %s\nconsole:\n%s", loc, strings.Join(console(), "\n"))
	}
	for _, m := range console() {
		if strings.Contains(m, "Content Security Policy") {
			t.Errorf("CSP violation: %s", m)
		}
	}

	// The session the pages started belongs to jane.
	sessions, err := e.store.ListUserSessions(context.Background(), e.user.ID)
	if err != nil || len(sessions) != 1 {
		t.Errorf("jane's sessions: %v, %v", sessions, err)
	}
}

// waitFor polls the tab's location until match returns non-empty or the
// timeout passes (then ""). Errors while a navigation is under way are
// retried.
func waitFor(tab context.Context, timeout time.Duration, match func(*url.URL) string) string {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if loc, err := chromedp.Run(tab, chromedp.Location()); err == nil {
			if u, err := url.Parse(loc); err == nil {
				if m := match(u); m != "" {
					return m
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ""
}
