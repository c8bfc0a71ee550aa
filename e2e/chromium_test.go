package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the hosted pages in a real headless Chromium with a
// virtual WebAuthn authenticator (Chrome DevTools Protocol, WebAuthn
// domain). One browser serves the whole package: it starts on first use and
// TestMain closes it (and deletes its profile and temporary directory). Each
// test gets its own tab in its own browser context (its own cookies) and its
// own virtual authenticator.
//
// Without Chromium the browser tests skip, except under
// LATCHKEY_TEST_STRICT=1 (CI), where they fail: handlers/browser_test.go
// does the same.

func TestMain(m *testing.M) {
	code := m.Run()
	shared.close()
	os.Exit(code)
}

// sharedBrowser is the package's one Chromium.
type sharedBrowser struct {
	once   sync.Once
	ctx    context.Context // the browser's chromedp context
	cancel func()
	dir    string // profile and TMPDIR, deleted at close
	err    error
	path   string
}

var shared sharedBrowser

// chromiumPath finds the browser, skipping the test without one (failing
// it under LATCHKEY_TEST_STRICT=1, as CI runs).
func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("LATCHKEY_TEST_STRICT") == "1" {
		t.Fatal("no Chromium found and LATCHKEY_TEST_STRICT=1: browser tests cannot skip in CI")
	}
	t.Skip("no Chromium found (install the chromium package; CI does)")
	return ""
}

// browserCtx returns the shared browser's context, starting it on first use.
func browserCtx(t testing.TB) context.Context {
	t.Helper()
	path := chromiumPath(t)
	shared.once.Do(func() {
		shared.path = path
		shared.dir, shared.err = os.MkdirTemp("", "latchkey-e2e-chromium-")
		if shared.err != nil {
			return
		}
		tmp := shared.dir + "/tmp"
		if shared.err = os.Mkdir(tmp, 0o700); shared.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.UserDataDir(shared.dir+"/profile"),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("no-first-run", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Env("TMPDIR="+tmp),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		shared.ctx = ctx
		shared.cancel = func() { cancelCtx(); cancelAlloc() }
		if err := chromedp.Do(ctx); err != nil { // start the browser
			shared.err = fmt.Errorf("start Chromium: %w", err)
		}
	})
	if shared.err != nil {
		t.Fatalf("shared browser: %v", shared.err)
	}
	return shared.ctx
}

// close stops the browser and deletes its directories.
func (s *sharedBrowser) close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.dir != "" {
		// Chromium's helpers may still be exiting: retry briefly.
		for range 20 {
			if err := os.RemoveAll(s.dir); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// authOptions describe a tab's virtual authenticator.
type authOptions struct {
	// Transport is internal (a platform passkey, the default) or usb.
	Transport webauthn.AuthenticatorTransport
	// Synced sets the default BE and BS flags of new credentials (a synced
	// passkey: 1/1; device-bound: 0/0).
	Synced bool
	// NoUV makes user verification fail (the authenticator cannot verify).
	NoUV bool
	// NoPresence turns automatic presence simulation off: every ceremony
	// parks until it is turned on.
	NoPresence bool
}

// tab is one test's browser tab with its authenticator.
type tab struct {
	ctx    context.Context
	authID webauthn.AuthenticatorID
	mu     sync.Mutex
	logs   []string
}

// newTab opens a tab in a fresh browser context of the shared browser and
// adds a virtual authenticator to it.
func newTab(t testing.TB, o authOptions) *tab {
	t.Helper()
	bctx := browserCtx(t)
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// A test that hangs fails after a minute rather than at the package
	// timeout.
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	tb := &tab{ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.logs = append(tb.logs, string(m.Type)+": "+m.Text)
			tb.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable WebAuthn domain: %v", err)
	}
	transport := o.Transport
	if transport == "" {
		transport = webauthn.AuthenticatorTransportInternal
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   transport,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              !o.NoUV,
			AutomaticPresenceSimulation: !o.NoPresence,
			DefaultBackupEligibility:    o.Synced,
			DefaultBackupState:          o.Synced,
		},
	})
	if err != nil {
		t.Fatalf("add virtual authenticator: %v", err)
	}
	tb.authID = res.AuthenticatorID
	return tb
}

// console returns what the page logged so far.
func (tb *tab) console() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return strings.Join(tb.logs, "\n")
}

// presence turns automatic presence simulation on or off.
func (tb *tab) presence(t testing.TB, on bool) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: tb.authID, Enabled: on}); err != nil {
		t.Fatalf("set presence simulation %v: %v", on, err)
	}
}

// badUV makes the authenticator report UV=0 in its responses (while it
// still claims to verify users), so that the server's own check is tested.
func (tb *tab) badUV(t testing.TB, on bool) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: tb.authID, IsBadUV: &on}); err != nil {
		t.Fatalf("set response override bits: %v", err)
	}
}

// credentials returns the credentials the virtual authenticator holds.
func (tb *tab) credentials(t testing.TB) []*webauthn.Credential {
	t.Helper()
	res, err := chromedp.Call(tb.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: tb.authID})
	if err != nil {
		t.Fatalf("get credentials: %v", err)
	}
	return res.Credentials
}

// navigate loads u in the tab.
func (tb *tab) navigate(t testing.TB, u string) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Navigate(u)); err != nil {
		t.Fatalf("navigate to %s: %v\nconsole:\n%s", u, err, tb.console())
	}
}

// location is the tab's current URL ("" while it cannot be read).
func (tb *tab) location() string {
	loc, _ := chromedp.Run(tb.ctx, chromedp.Location())
	return loc
}

// eval evaluates a JavaScript expression, awaiting a promise.
func evalJS[T any](t testing.TB, tb *tab, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %q: %v\nconsole:\n%s", excerpt(expr), err, tb.console())
	}
	return v
}
