package e2e

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

// Connections of the MFA tests, besides the default one (policy never:
// MFA only on step-up).
const (
	// connMFAAlways asks a second factor after every login, with small
	// attempt limits.
	connMFAAlways = "e2e-mfa-always"
	// connMFAPasskeyOK is "always" with "a user-verified passkey satisfies
	// MFA".
	connMFAPasskeyOK = "e2e-mfa-passkey-ok"
)

// Attempt limits of connMFAAlways.
const (
	mfaPerChallenge = 3
	mfaPerUser      = 5
)

// mfaConfig is passkeyConfig plus the MFA connections.
func mfaConfig(issuer, appURL string) latchkey.Config {
	cfg := passkeyConfig(issuer, appURL)
	cfg.Connections = append(cfg.Connections,
		latchkey.ConnectionConfig{Name: connMFAAlways, Type: latchkey.ConnectorTypeDatabase, Settings: map[string]any{
			"mfa": map[string]any{"policy": "always", "max_attempts_per_challenge": mfaPerChallenge, "max_attempts_per_user": mfaPerUser},
		}},
		latchkey.ConnectionConfig{Name: connMFAPasskeyOK, Type: latchkey.ConnectorTypeDatabase, Settings: map[string]any{
			"mfa": map[string]any{"policy": "always", "passkey_satisfies_mfa": true},
		}},
	)
	return cfg
}

// newMFAEnv starts one provider with mfaConfig (changed by mod) over store
// at http://localhost:PORT and discovers it.
func newMFAEnv(t testing.TB, store storage.Store, mod func(*latchkey.Config)) *pkEnv {
	t.Helper()
	initSecrets(t)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html lang="en"><title>App</title><p id="app">Back at the app</p></html>`))
	}))
	t.Cleanup(app.Close)
	e := &env{store: store}
	pe := &pkEnv{env: e, appURL: app.URL}
	e.srv = httptest.NewUnstartedServer(http.NotFoundHandler())
	_, port, _ := strings.Cut(e.srv.Listener.Addr().String(), ":")
	e.issuer = "http://localhost:" + port
	cfg := mfaConfig(e.issuer, app.URL)
	if mod != nil {
		mod(&cfg)
	}
	srv, err := latchkey.New(bg(), cfg, store, testLogger(t))
	if err != nil {
		t.Fatalf("latchkey.New: %v", err)
	}
	e.server = srv
	pe.lb = &balancer{replicas: []http.Handler{srv}, served: map[string][]int{}}
	e.srv.Config.Handler = pe.lb
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	e.discover(t)
	return pe
}

var (
	reSecret   = regexp.MustCompile(`id="mfa-secret">([A-Z2-7]+)<`)
	reCode     = regexp.MustCompile(`<li><code>([0-9A-Za-z-]+)</code></li>`)
	reContinue = regexp.MustCompile(`href="([^"]+)" id="mfa-continue"`)
	reHref     = func(id string) *regexp.Regexp { return regexp.MustCompile(`href="([^"]+)" id="` + id + `"`) }
)

// linkOf returns the absolute URL of the link with the given id on p.
func linkOf(t testing.TB, p *page, id string) string {
	t.Helper()
	m := reHref(id).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no link #%s on %s:\n%s", id, p.URL, excerpt(p.Body))
	}
	u, err := p.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// totpCode computes the code of secret at now+offset (RFC 6238).
func totpCode(t testing.TB, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		t.Fatalf("totp code: %v", err)
	}
	return c
}

// enrollTOTP completes the enrolment page p (after a first factor, or a
// step-up): it reads the secret the page shows, confirms with a code
// computed from it, and reads the recovery codes shown once. It returns the
// page after "Continue".
func enrollTOTP(t testing.TB, b *browser, p *page) (secret string, codes []string, next *page) {
	t.Helper()
	if p.path() != "/u/mfa/enroll" && p.path() != "/u/account/mfa/totp" {
		t.Fatalf("want the enrolment page, got %s (status %d, Location %v):\n%s", p.URL, p.Status, p.Location, excerpt(p.Body))
	}
	m := reSecret.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", excerpt(p.Body))
	}
	secret = m[1]
	if !strings.Contains(p.Body, `<img src="data:image/png;base64,`) || !strings.Contains(p.Body, `autocomplete="one-time-code"`) {
		t.Errorf("enrolment page lacks the QR image or the one-time-code field")
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:") {
		t.Errorf("enrolment page CSP %q does not allow the QR data: image", csp)
	}
	p = b.submit(t, p, fields{"code": totpCode(t, secret, 0)})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "recovery-codes") {
		t.Fatalf("after confirming: want the recovery codes, got %s (status %d):\n%s", p.URL, p.Status, excerpt(p.Body))
	}
	for _, c := range reCode.FindAllStringSubmatch(p.Body, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) == 0 {
		t.Fatalf("no recovery codes shown:\n%s", excerpt(p.Body))
	}
	cm := reContinue.FindStringSubmatch(p.Body)
	if cm == nil {
		t.Fatalf("no Continue link on the recovery codes page")
	}
	u, _ := p.URL.Parse(html.UnescapeString(cm[1]))
	return secret, codes, b.get(t, u.String())
}

// passwordSignup signs email up on a connection and returns the page after
// the sign-up form (the MFA step, or the redirect to the client).
func (e *env) passwordSignup(t testing.TB, b *browser, a *authz, email string) *page {
	t.Helper()
	a.set("prompt", "create")
	p := b.get(t, a.String())
	if p.path() != "/u/signup" {
		t.Fatalf("prompt=create: want the sign-up page, got %s (status %d)", p.URL, p.Status)
	}
	a.set("prompt", "")
	return b.submit(t, p, fields{"email": email, "password": userPassword})
}

// passkeyFirstFactor logs in with auth through the JSON API
// (discoverable) and returns the page the login leads to.
func (e *env) passkeyFirstFactor(t testing.TB, b *browser, a *authz, auth *passkeytest.Authenticator) *page {
	t.Helper()
	state := e.loginState(t, b, a)
	c := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
	resp, err := auth.Get(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		t.Fatalf("authenticator get: %v", err)
	}
	fin := e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
	return b.get(t, e.redirectOf(t, fin))
}

// codeOf checks that p is the redirect to the client with a code.
func (e *env) codeOf(t testing.TB, a *authz, p *page) string {
	t.Helper()
	cb := p.callback(t, a.redirect())
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("no code: error %q (%s)", cb.Error, cb.ErrorDescription)
	}
	return cb.Code
}

// wantMFAPage checks that p is the MFA challenge page.
func wantMFAPage(t testing.TB, p *page) {
	t.Helper()
	if p.path() != "/u/mfa" || p.Location != nil {
		t.Fatalf("want the MFA page, got %s (status %d, Location %v):\n%s", p.URL, p.Status, p.Location, excerpt(p.Body))
	}
}

// checkMFAClaims checks amr and acr of a login with a second factor.
func checkMFAClaims(t testing.TB, c idClaims, first string, want ...string) {
	t.Helper()
	if len(c.AMR) == 0 || c.AMR[0] != first || !hasAll(c.AMR, want...) {
		t.Errorf("amr %v, want %s first and %v", c.AMR, first, want)
	}
	wantACR := provider.ACRMultiFactor
	if first == "pop" {
		wantACR = provider.ACRPhishingResistant
	}
	if c.ACR != wantACR {
		t.Errorf("acr %q, want %q", c.ACR, wantACR)
	}
}

// claimsHook is a Go post-login action adding a claim to both tokens and
// denying emails that start with "denied".
func claimsHook() actions.Action {
	return actions.Action{Name: "claims-and-deny", Hook: actions.HookFunc(func(_ context.Context, ev *actions.Event, api *actions.API) error {
		if strings.HasPrefix(ev.User.Email, "denied") {
			api.Deny("Your account is not allowed to use this application.")
			return nil
		}
		if err := api.SetIDTokenClaim("https://example.com/plan", "pro"); err != nil {
			return err
		}
		return api.SetAccessTokenClaim("https://example.com/tier", "gold")
	})}
}
