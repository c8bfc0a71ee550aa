package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
	"github.com/latchkey/latchkey/templates"
	"github.com/latchkey/latchkey/templates/pagetest"
)

const (
	pageTestIssuer   = "https://id.example.com"
	pageTestConn     = "Username-Password-Authentication"
	pageTestPassword = "correct horse battery staple"
	pageTestRedirect = "https://app.example.com/callback"
)

// fakeConn is a connector whose answers the tests choose. Accounts live in
// the store, so the consent page finds them; passwords live here.
type fakeConn struct {
	conn   storage.Connection
	store  storage.Store
	signup bool
	rules  []string

	mu        sync.Mutex
	passwords map[string]string // user ID → password
	loginErr  error             // returned by Login when set
}

var (
	_ connector.PasswordConnector = (*fakeConn)(nil)
	_ connector.SignupConnector   = (*fakeConn)(nil)
	_ passwordRuler               = (*fakeConn)(nil)
)

func (c *fakeConn) Connection() storage.Connection { return c.conn }
func (c *fakeConn) SignupAllowed() bool            { return c.signup }
func (c *fakeConn) PasswordRules() []string        { return c.rules }

func (c *fakeConn) LookupUser(ctx context.Context, id string) (storage.User, error) {
	return c.store.GetUserByEmail(ctx, c.conn.ID, strings.ToLower(strings.TrimSpace(id)))
}

func (c *fakeConn) Login(ctx context.Context, id, pw string) (storage.User, connector.Method, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loginErr != nil {
		return storage.User{}, connector.Method{}, c.loginErr
	}
	u, err := c.LookupUser(ctx, id)
	if err != nil || c.passwords[u.ID] != pw {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", connector.ErrInvalidCredentials)
	}
	return u, connector.Method{Kind: connector.MethodPassword, Time: time.Now()}, nil
}

func (c *fakeConn) Signup(ctx context.Context, p connector.Profile, pw string) (storage.User, connector.Method, error) {
	if !c.signup {
		return storage.User{}, connector.Method{}, connector.ErrSignupDisabled
	}
	if len(pw) < 8 {
		return storage.User{}, connector.Method{}, &connector.PolicyError{Rule: "min_length", Message: "Your password must be at least 8 characters long."}
	}
	u, err := c.store.CreateUser(ctx, storage.User{ConnectionID: c.conn.ID, Email: strings.ToLower(p.Email)})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return storage.User{}, connector.Method{}, fmt.Errorf("sign up: %w", connector.ErrUserExists)
	}
	if err != nil {
		return storage.User{}, connector.Method{}, err
	}
	c.mu.Lock()
	c.passwords[u.ID] = pw
	c.mu.Unlock()
	return u, connector.Method{Kind: connector.MethodPassword, Time: time.Now()}, nil
}

// fakeResolver serves one connector.
type fakeResolver struct{ c connector.Connector }

func (r fakeResolver) Lookup(_ context.Context, name string) (connector.Connector, error) {
	if name != r.c.Connection().Name {
		return nil, fmt.Errorf("look up %q: %w", name, storage.ErrNotFound)
	}
	return r.c, nil
}

func (r fakeResolver) Names(context.Context) ([]string, error) {
	return []string{r.c.Connection().Name}, nil
}

// pageEnv is a Handler over a fresh SQLite store with one client, one
// connection (fakeConn) and one user, jane@example.com.
type pageEnv struct {
	t      *testing.T
	h      *Handler
	store  *sqlstore.Store
	conn   *fakeConn
	client storage.Client
	user   storage.User
	logs   *bytes.Buffer
}

type pageEnvOption func(*Options, *fakeConn)

func newPageEnv(t *testing.T, opts ...pageEnvOption) *pageEnv {
	t.Helper()
	return newPageEnvOn(t, sqltest.Open(t, sqlstore.DriverSQLite), opts...)
}

// newPageEnvOn is newPageEnv over a given (fresh) store.
func newPageEnvOn(t *testing.T, store *sqlstore.Store, opts ...pageEnvOption) *pageEnv {
	t.Helper()
	ctx := context.Background()
	sc, err := store.UpsertConnection(ctx, storage.Connection{Name: pageTestConn, Type: "database"})
	if err != nil {
		t.Fatal(err)
	}
	client, err := store.CreateClient(ctx, storage.Client{
		ID: "app", Name: "Acme", SecretHash: "", Public: true,
		RedirectURIs:  []string{pageTestRedirect},
		GrantTypes:    []string{"authorization_code"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "profile", "email"},
		Connections:   []string{pageTestConn},
	})
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeConn{conn: sc, store: store, signup: true, rules: []string{"At least 8 characters"}, passwords: map[string]string{}}
	user, err := store.CreateUser(ctx, storage.User{ConnectionID: sc.ID, Email: "jane@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	fc.passwords[user.ID] = pageTestPassword

	logs := &bytes.Buffer{}
	o := Options{
		Issuer:     pageTestIssuer,
		Store:      store,
		Connectors: fakeResolver{fc},
		Logger:     slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil)),
		Cookies: CookieOptions{
			HashKey:  bytes.Repeat([]byte{1}, 32),
			BlockKey: bytes.Repeat([]byte{2}, 32),
		},
	}
	for _, opt := range opts {
		opt(&o, fc)
	}
	if o.Templates, err = templates.New(nil); err != nil {
		t.Fatal(err)
	}
	if o.Provider, err = provider.New(ctx, provider.Config{
		Issuer: o.Issuer,
		Secret: bytes.Repeat([]byte{3}, 32),
		Logger: slog.New(slog.DiscardHandler),
	}, store); err != nil {
		t.Fatal(err)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &pageEnv{t: t, h: h, store: store, conn: fc, client: client, user: user, logs: logs}
}

// lockedWriter serialises writes to a buffer shared with the test.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// flow stores a pending authorization request with form as its parameters.
func (e *pageEnv) flow(form url.Values) string {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	for k, v := range map[string]string{
		"client_id": e.client.ID, "redirect_uri": pageTestRedirect, "response_type": "code",
		"scope": "openid profile email", "state": "client-state",
	} {
		if form.Get(k) == "" {
			form.Set(k, v)
		}
	}
	ar, err := e.store.CreateAuthRequest(context.Background(), storage.AuthRequest{
		ID:           randomString()[:22],
		ClientID:     e.client.ID,
		Form:         form.Encode(),
		ConnectionID: e.conn.conn.ID,
		ExpiresAt:    time.Now().Add(authRequestLifetime),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ar.ID
}

func (e *pageEnv) flowState(id string) flowState {
	e.t.Helper()
	f, err := e.h.loadFlowByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return f.State
}

// get sends a GET for path (relative to the issuer) with cookies.
func (e *pageEnv) get(path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, pageTestIssuer+path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// post sends a same-origin form POST, as a browser on our page would.
func (e *pageEnv) post(path string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.postWith(path, form, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {pageTestIssuer}}, cookies...)
}

func (e *pageEnv) postWith(path string, form url.Values, hd http.Header, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, pageTestIssuer+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("User-Agent", "pages-test")
	for k, v := range hd {
		r.Header[k] = v
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// form is a page form with the flow's CSRF token.
func (e *pageEnv) form(id string, kv ...string) url.Values {
	v := url.Values{"csrf": {e.h.csrfToken(id)}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// login runs identifier and password for jane and returns the session
// cookie.
func (e *pageEnv) login(id string, cookies ...*http.Cookie) *http.Cookie {
	e.t.Helper()
	w := e.post("/u/login?state="+id, e.form(id, "username", "jane@example.com"), cookies...)
	expectRedirect(e.t, w, "/u/login/password?state="+id)
	w = e.post("/u/login/password?state="+id, e.form(id, "password", pageTestPassword), cookies...)
	expectRedirect(e.t, w, "/authorize/resume?state="+id)
	c := sessionCookie(w)
	if c == nil {
		e.t.Fatal("login set no session cookie")
	}
	return c
}

func expectRedirect(t *testing.T, w *httptest.ResponseRecorder, to string) {
	t.Helper()
	if w.Code != http.StatusSeeOther {
		t.Fatalf("status = %d, expected 303 to %s; body:\n%s", w.Code, to, w.Body)
	}
	if got := w.Header().Get("Location"); got != to {
		t.Fatalf("Location = %q, expected %q", got, to)
	}
}

func expectPage(t *testing.T, w *httptest.ResponseRecorder, status int, contains ...string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, expected %d; body:\n%s", w.Code, status, w.Body)
	}
	for _, c := range contains {
		if !strings.Contains(w.Body.String(), c) {
			t.Errorf("page lacks %q:\n%s", c, w.Body)
		}
	}
	for _, p := range pagetest.Check(w.Body.Bytes()) {
		t.Errorf("page check: %s", p)
	}
	expectSecurityHeaders(t, w)
}

func expectSecurityHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	hd := w.Header()
	csp := hd.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	for k, v := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
	} {
		if got := hd.Get(k); got != v {
			t.Errorf("%s = %q, expected %q", k, got, v)
		}
	}
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookieSecure || c.Name == sessionCookieInsecure {
			return c
		}
	}
	return nil
}

func TestLoginIdentifierFirst(t *testing.T) {
	e := newPageEnv(t)
	id := e.flow(url.Values{"login_hint": {"jane@example.com"}, "ui_locales": {"fr-CA en-US"}})

	w := e.get("/u/login?state=" + id)
	expectPage(t, w, http.StatusOK, "<h1>Welcome</h1>", "Log in to Acme to continue.", `value="jane@example.com"`,
		`<html lang="en">`, `autocomplete="username webauthn"`, "Sign up</a>", `value="`+e.h.csrfToken(id)+`"`)
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("CSP %q does not let the form's redirect chain reach the client", csp)
	}
	in, err := pagetest.Inputs(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if u := in["username"]; u["type"] != "email" || u["autocomplete"] != "username webauthn" {
		t.Errorf("username input = %v", u)
	}

	w = e.post("/u/login?state="+id, e.form(id, "username", "  jane@example.com "))
	expectRedirect(t, w, "/u/login/password?state="+id)
	if got := e.flowState(id).Identifier; got != "jane@example.com" {
		t.Errorf("identifier in flow state = %q", got)
	}

	w = e.get("/u/login/password?state=" + id)
	expectPage(t, w, http.StatusOK, `autocomplete="current-password"`, `value="jane@example.com"`, "Edit</a>")

	w = e.post("/u/login/password?state="+id, e.form(id, "password", "wrong"))
	expectPage(t, w, http.StatusBadRequest, "Wrong email or password.", `aria-describedby="password-error"`, `role="alert"`)
	if sessionCookie(w) != nil {
		t.Error("a failed login set a session cookie")
	}

	w = e.post("/u/login/password?state="+id, e.form(id, "password", pageTestPassword))
	expectRedirect(t, w, "/authorize/resume?state="+id)
	c := sessionCookie(w)
	if c == nil {
		t.Fatal("no session cookie")
	}
	r := httptest.NewRequest(http.MethodGet, pageTestIssuer+"/", nil)
	r.AddCookie(c)
	s, ok := e.h.sessions.current(r)
	if !ok {
		t.Fatal("the new cookie names no session")
	}
	if s.UserID != e.user.ID || s.ConnectionID != e.conn.conn.ID || len(s.AMR) != 1 || s.AMR[0] != "pwd" {
		t.Errorf("session = %+v", s)
	}
	if !bytes.Contains(s.Evidence, []byte(`"kind":"pwd"`)) || s.UserAgent != "pages-test" || s.IP == "" {
		t.Errorf("session evidence/IP/UA = %s / %q / %q", s.Evidence, s.IP, s.UserAgent)
	}
}

func TestLoginPageErrors(t *testing.T) {
	e := newPageEnv(t)
	id := e.flow(nil)

	w := e.post("/u/login?state="+id, e.form(id, "username", "   "))
	expectPage(t, w, http.StatusBadRequest, "Please enter an email address.", `aria-describedby="username-error"`)

	// The password page needs an identifier first.
	expectRedirect(t, e.get("/u/login/password?state="+id), "/u/login?state="+id)

	e.post("/u/login?state="+id, e.form(id, "username", "jane@example.com"))
	e.conn.loginErr = fmt.Errorf("log in: %w", connector.ErrUserBlocked)
	w = e.post("/u/login/password?state="+id, e.form(id, "password", pageTestPassword))
	expectPage(t, w, http.StatusBadRequest, "blocked")

	e.conn.loginErr = errors.New("database exploded: secret detail")
	w = e.post("/u/login/password?state="+id, e.form(id, "password", pageTestPassword))
	expectPage(t, w, http.StatusInternalServerError, "Something went wrong", "Error ID")
	if strings.Contains(w.Body.String(), "secret detail") {
		t.Error("the error page shows the internal error")
	}
	if !strings.Contains(e.logs.String(), "secret detail") {
		t.Error("the internal error was not logged")
	}
}

func TestLoginUnknownUserGoesToSignup(t *testing.T) {
	e := newPageEnv(t)
	id := e.flow(nil)

	w := e.post("/u/login?state="+id, e.form(id, "username", "new@example.com"))
	expectRedirect(t, w, "/u/signup?state="+id)

	w = e.get("/u/signup?state=" + id)
	expectPage(t, w, http.StatusOK, "Sign up to Acme to continue.", `value="new@example.com"`,
		`autocomplete="new-password"`, "<li>At least 8 characters</li>", "Already have an account?",
		`href="/u/login?state=`+id+`&amp;from=signup"`)

	w = e.post("/u/signup?state="+id, e.form(id, "email", "new@example.com", "password", "short"))
	expectPage(t, w, http.StatusBadRequest, "at least 8 characters long", `aria-describedby="password-error password-rules"`)

	w = e.post("/u/signup?state="+id, e.form(id, "email", "not an email", "password", "long enough"))
	expectPage(t, w, http.StatusBadRequest, "Email is not valid.", `aria-describedby="email-error"`)

	w = e.post("/u/signup?state="+id, e.form(id, "email", "jane@example.com", "password", "long enough"))
	expectPage(t, w, http.StatusBadRequest, "The user already exists.")

	w = e.post("/u/signup?state="+id, e.form(id, "email", "new@example.com", "password", "long enough"))
	expectRedirect(t, w, "/authorize/resume?state="+id)
	if sessionCookie(w) == nil {
		t.Fatal("sign-up set no session cookie")
	}
}

func TestLoginWithoutSignupDoesNotRevealAccounts(t *testing.T) {
	e := newPageEnv(t, func(_ *Options, c *fakeConn) { c.signup = false })
	id := e.flow(url.Values{"prompt": {"create"}})

	w := e.get("/u/login?state=" + id)
	expectPage(t, w, http.StatusOK)
	if strings.Contains(w.Body.String(), "Sign up") {
		t.Error("the login page offers sign-up on a connection without it")
	}
	// Known and unknown emails take the same path.
	for _, email := range []string{"jane@example.com", "nobody@example.com"} {
		w = e.post("/u/login?state="+id, e.form(id, "username", email))
		expectRedirect(t, w, "/u/login/password?state="+id)
	}
	w = e.post("/u/login/password?state="+id, e.form(id, "password", pageTestPassword))
	expectPage(t, w, http.StatusBadRequest, "Wrong email or password.")

	expectRedirect(t, e.get("/u/signup?state="+id), "/u/login?state="+id+"&from=signup")
	w = e.post("/u/signup?state="+id, e.form(id, "email", "x@example.com", "password", "long enough"))
	expectPage(t, w, http.StatusForbidden, "not available")
}

func TestPromptCreateOpensSignup(t *testing.T) {
	e := newPageEnv(t)
	id := e.flow(url.Values{"prompt": {"login create"}})
	expectRedirect(t, e.get("/u/login?state="+id), "/u/signup?state="+id)
	// The sign-up page's "Log in" link does not bounce back.
	expectPage(t, e.get("/u/login?state="+id+"&from=signup"), http.StatusOK, "Log in to Acme")
}

func TestUnknownStateIsFriendly(t *testing.T) {
	e := newPageEnv(t)
	for _, path := range []string{"/u/login?state=nope", "/u/login", "/u/signup?state=nope", "/u/consent?state=nope", "/u/login/password?state=nope"} {
		t.Run(path, func(t *testing.T) {
			expectPage(t, e.get(path), http.StatusBadRequest, "Your login session expired", "Go back to the application and try again.")
		})
	}
	w := e.post("/u/login?state=nope", url.Values{"csrf": {e.h.csrfToken("nope")}, "username": {"a@b.c"}})
	expectPage(t, w, http.StatusBadRequest, "Your login session expired")
}

func TestCSRF(t *testing.T) {
	e := newPageEnv(t)
	id := e.flow(nil)
	other := e.flow(nil)
	good := e.form(id, "username", "jane@example.com")
	for _, tc := range []struct {
		name string
		form url.Values
		hd   http.Header
	}{
		{"no token", url.Values{"username": {"jane@example.com"}}, http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"token of another flow", e.form(other, "username", "jane@example.com"), http.Header{"Sec-Fetch-Site": {"same-origin"}}},
		{"cross-site fetch", good, http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"same-site fetch", good, http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"foreign origin", good, http.Header{"Origin": {"https://evil.example"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/u/login", "/u/login/password", "/u/signup", "/u/consent"} {
				w := e.postWith(path+"?state="+id, tc.form, tc.hd)
				expectPage(t, w, http.StatusForbidden, "Request blocked")
			}
		})
	}
	if st := e.flowState(id); st.Identifier != "" {
		t.Errorf("a refused POST changed the flow: %+v", st)
	}
	// Without Sec-Fetch-Site and Origin (not a browser) the token alone decides.
	w := e.postWith("/u/login?state="+id, good, nil)
	expectRedirect(t, w, "/u/login/password?state="+id)
}

func TestSessionCookieAttributes(t *testing.T) {
	e := newPageEnv(t)
	c := e.login(e.flow(nil))
	if c.Name != "__Host-latchkey" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie = %+v", c)
	}
	if c.MaxAge != int((7 * 24 * time.Hour).Seconds()) {
		t.Errorf("MaxAge = %d, expected the 7-day default", c.MaxAge)
	}
	if strings.Contains(c.Value, "jane") || len(c.Value) < 40 {
		t.Errorf("cookie value does not look sealed: %q", c.Value)
	}
}

func TestSessionCookieInsecureDev(t *testing.T) {
	e := newPageEnv(t, func(o *Options, _ *fakeConn) {
		o.Issuer = "http://localhost:8080"
		o.Cookies.Insecure = true
		o.Cookies.Lifetime = time.Hour
	})
	id := e.flow(nil)
	r := httptest.NewRequest(http.MethodPost, "http://localhost:8080/u/login/password?state="+id,
		strings.NewReader(e.form(id, "password", pageTestPassword).Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := e.h.saveFlowState(context.Background(), &flow{Req: storage.AuthRequest{ID: id}}, func(s *flowState) { s.Identifier = "jane@example.com" }); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	expectRedirect(t, w, "/authorize/resume?state="+id)
	c := sessionCookie(w)
	if c == nil || c.Name != "latchkey_session" || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 3600 {
		t.Errorf("cookie = %+v", c)
	}
}

func TestNewSessionAtEveryLogin(t *testing.T) {
	e := newPageEnv(t)
	first := e.login(e.flow(nil))
	r := httptest.NewRequest(http.MethodGet, pageTestIssuer+"/", nil)
	r.AddCookie(first)
	s1, ok := e.h.sessions.current(r)
	if !ok {
		t.Fatal("no first session")
	}
	// Log in again in the same browser: new token, new ID, old row gone.
	second := e.login(e.flow(nil), first)
	if second.Value == first.Value {
		t.Error("the cookie was reused")
	}
	r = httptest.NewRequest(http.MethodGet, pageTestIssuer+"/", nil)
	r.AddCookie(second)
	s2, ok := e.h.sessions.current(r)
	if !ok {
		t.Fatal("no second session")
	}
	if s2.ID == s1.ID || bytes.Equal(s2.TokenHash, s1.TokenHash) {
		t.Error("the session ID or token was reused")
	}
	if _, err := e.store.GetSession(context.Background(), s1.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the previous session survived the new login: %v", err)
	}
	r = httptest.NewRequest(http.MethodGet, pageTestIssuer+"/", nil)
	r.AddCookie(first)
	if _, ok := e.h.sessions.current(r); ok {
		t.Error("the old cookie still names a session")
	}
}

func TestConsent(t *testing.T) {
	e := newPageEnv(t)
	id := e.flow(url.Values{"scope": {"openid email offline_access custom:thing"}})

	// No session: back to login.
	expectRedirect(t, e.get("/u/consent?state="+id), "/u/login?state="+id)
	expectRedirect(t, e.post("/u/consent?state="+id, e.form(id, "action", "accept")), "/u/login?state="+id)

	c := e.login(id)
	w := e.get("/u/consent?state="+id, c)
	expectPage(t, w, http.StatusOK, "Authorize Acme", "Hi jane@example.com", "Your email address", "Offline access",
		"custom:thing", `value="accept"`, `value="deny"`)

	expectPage(t, e.post("/u/consent?state="+id, e.form(id, "action", "maybe"), c), http.StatusBadRequest)

	w = e.post("/u/consent?state="+id, e.form(id, "action", "accept"), c)
	expectRedirect(t, w, "/authorize/resume?state="+id)
	got, err := e.store.GetConsent(context.Background(), e.user.ID, e.client.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Scopes, " ") != "openid email offline_access custom:thing" {
		t.Errorf("consent scopes = %v", got.Scopes)
	}
	if st := e.flowState(id); st.ConsentedAt.IsZero() || st.Denied {
		t.Errorf("flow state after accept = %+v", st)
	}

	// A later consent for fewer scopes keeps the earlier grant.
	id2 := e.flow(url.Values{"scope": {"openid profile"}})
	expectRedirect(t, e.post("/u/consent?state="+id2, e.form(id2, "action", "accept"), c), "/authorize/resume?state="+id2)
	got, _ = e.store.GetConsent(context.Background(), e.user.ID, e.client.ID)
	if strings.Join(got.Scopes, " ") != "openid profile email offline_access custom:thing" {
		t.Errorf("consent scopes after widening = %v", got.Scopes)
	}

	id3 := e.flow(nil)
	expectRedirect(t, e.post("/u/consent?state="+id3, e.form(id3, "action", "deny"), c), "/authorize/resume?state="+id3)
	if st := e.flowState(id3); !st.Denied {
		t.Errorf("flow state after deny = %+v", st)
	}
}

func TestErrorPages(t *testing.T) {
	e := newPageEnv(t)
	r := httptest.NewRequest(http.MethodGet, pageTestIssuer+"/authorize", nil)
	w := httptest.NewRecorder()
	e.h.renderError(w, r, http.StatusBadRequest, "We could not process this request", "The redirect_uri <b>is</b> not registered.")
	expectPage(t, w, http.StatusBadRequest, "We could not process this request", "&lt;b&gt;is&lt;/b&gt;", "Error ID")

	w = httptest.NewRecorder()
	e.h.renderInternalError(w, r, errors.New("pq: relation users does not exist"))
	expectPage(t, w, http.StatusInternalServerError, "Something went wrong")
	if strings.Contains(w.Body.String(), "relation") {
		t.Error("internal error text reached the page")
	}
	// The page's error ID is the log line's.
	body := w.Body.String()
	i := strings.Index(body, "<code>")
	j := strings.Index(body, "</code>")
	if i < 0 || j < i {
		t.Fatal("no error ID on the page")
	}
	if rid := body[i+len("<code>") : j]; !strings.Contains(e.logs.String(), "request_id="+rid) {
		t.Errorf("error ID %q not in the logs:\n%s", rid, e.logs)
	}
}

func TestAssets(t *testing.T) {
	e := newPageEnv(t)
	v := e.h.opts.Templates.AssetVersion()
	w := e.get("/assets/style.css?v=" + v)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Fatalf("style.css: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("versioned Cache-Control = %q", cc)
	}
	if w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff on assets")
	}
	if cc := e.get("/assets/app.js").Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("unversioned Cache-Control = %q", cc)
	}
	for _, p := range []string{"/assets/", "/assets/nope.css", "/assets/../templates.go", "/assets//style.css"} {
		if w := e.get(p); w.Code == http.StatusOK {
			t.Errorf("GET %s = 200", p)
		}
	}
	// Every asset the layout links is served.
	page := e.get("/u/login?state=" + e.flow(nil)).Body.String()
	for _, name := range []string{"style.css", "app.js", "logo.svg"} {
		link := "/assets/" + name + "?v=" + v
		if !strings.Contains(page, link) {
			t.Errorf("the layout does not link %s", link)
		}
		if w := e.get(link); w.Code != http.StatusOK {
			t.Errorf("GET %s = %d", link, w.Code)
		}
	}
}

func TestIssuerPathPrefix(t *testing.T) {
	e := newPageEnv(t, func(o *Options, _ *fakeConn) { o.Issuer = "https://example.com/id" })
	id := e.flow(nil)
	r := httptest.NewRequest(http.MethodGet, "https://example.com/id/u/login?state="+id, nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	expectPage(t, w, http.StatusOK, `action="/id/u/login?state=`+id+`"`, `href="/id/assets/style.css?v=`, `href="/id/u/signup?state=`+id+`"`)
}

func TestFormTargets(t *testing.T) {
	for _, tc := range []struct {
		name     string
		have     string
		expected string
		ok       bool
	}{
		{"https", "https://app.example.com/cb?x=1", "https://app.example.com", true},
		{"port", "http://127.0.0.1:49152/cb", "http://127.0.0.1:49152", true},
		{"native scheme", "com.example.app:/oauth2redirect", "com.example.app:", true},
		{"ipv6 loopback", "http://[::1]:8080/cb", "http:", true},
		{"upper case scheme", "HTTPS://App.Example.com/cb", "https://App.Example.com", true},
		{"injection", "https://a.example;script-src *", "", false},
		{"relative", "/cb", "", false},
		{"bad scheme", "1ab://x", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := cspSource(tc.have)
			if got != tc.expected || ok != tc.ok {
				t.Errorf("cspSource(%q) = %q, %v; expected %q, %v", tc.have, got, ok, tc.expected, tc.ok)
			}
		})
	}
}

func TestLang(t *testing.T) {
	e := newPageEnv(t)
	for have, expected := range map[string]string{"": "en", "fr": "en", "fr en-GB": "en", "EN": "en", "de-CH": "en"} {
		if got := e.h.lang(have); got != expected {
			t.Errorf("lang(%q) = %q, expected %q", have, got, expected)
		}
	}
}

func TestAllowFormRedirect(t *testing.T) {
	w := httptest.NewRecorder()
	allowFormRedirect(w, "https://app.example.com/bye?x=1", "not a url;", "com.example.app:/out")
	if csp := w.Header().Get("Content-Security-Policy"); !strings.HasSuffix(csp, "; form-action 'self' https://app.example.com com.example.app:") {
		t.Errorf("CSP = %q", csp)
	}
	expectSecurityHeaders(t, w)

	// render keeps a policy the handler set.
	e := newPageEnv(t)
	w = httptest.NewRecorder()
	allowFormRedirect(w, "https://app.example.com/bye")
	e.h.render(w, httptest.NewRequest(http.MethodGet, pageTestIssuer+"/oidc/logout", nil), http.StatusOK,
		func(wr io.Writer, p templates.Page) error {
			return e.h.opts.Templates.Logout(wr, templates.LogoutData{Page: p, Action: "/oidc/logout"})
		}, "Acme", e.h.csrfToken("logout:x"))
	expectPage(t, w, http.StatusOK, "Do you want to log out of Acme?", e.h.csrfToken("logout:x"))
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "https://app.example.com") {
		t.Errorf("render replaced the handler's CSP: %q", csp)
	}
}
