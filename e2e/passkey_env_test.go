package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
)

// Passkey tests run the provider at http://localhost:PORT: WebAuthn needs
// a host name as RP ID (not an IP address), and http://localhost is a
// secure context for Chromium. The RP ID is then "localhost" and the only
// allowed origin the issuer's.
//
// Besides the default connection (default passkey policy: user
// verification required, synced passkeys allowed, 20 passkeys at most) the
// passkey configuration has connections with stricter policies, picked with
// connection=.
const (
	connDeviceBound = "e2e-pk-device-bound" // allow_synced: false
	connDenyVirtual = "e2e-pk-deny-virtual" // aaguid_deny: Chromium's virtual authenticator
	connMaxOne      = "e2e-pk-max-one"      // max_passkeys: 1
	connButton      = "e2e-pk-button"       // challenge_ui: button (no autofill)

	// virtualAAGUID is the AAGUID of Chromium's virtual "internal"
	// authenticator, which passkeytest also reports by default.
	virtualAAGUID = "01020304-0506-0708-0102-030405060708"
)

// The passkey JSON API (docs/passkeys-api.md).
const (
	pathLoginBegin     = "/passkey/login/begin"
	pathLoginFinish    = "/passkey/login/finish"
	pathRegisterBegin  = "/passkey/register/begin"
	pathRegisterFinish = "/passkey/register/finish"
)

// browserClient is the client the Chromium tests play: a confidential,
// first-party client whose redirect URI is the env's app server (a page
// the browser can load, unlike the other clients' example.com URIs).
const browserClient = "e2e-pk-browser"

// passkeyConfig is testConfig plus the passkey connections and the browser
// client redirecting to appURL.
func passkeyConfig(issuer, appURL string) latchkey.Config {
	cfg := testConfig(issuer)
	cfg.Clients = append(cfg.Clients, latchkey.ClientConfig{
		ID:                      browserClient,
		Name:                    "Browser App",
		Secret:                  secrets.web,
		FirstParty:              true,
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{appURL + "/callback"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		Scopes:                  []string{"openid", "email", "profile", "offline_access"},
	})
	pk := func(name string, policy map[string]any) latchkey.ConnectionConfig {
		return latchkey.ConnectionConfig{Name: name, Type: latchkey.ConnectorTypeDatabase, Settings: map[string]any{"passkeys": policy}}
	}
	cfg.Connections = append(cfg.Connections,
		pk(connDeviceBound, map[string]any{"allow_synced": false}),
		pk(connDenyVirtual, map[string]any{"aaguid_deny": []string{virtualAAGUID}}),
		pk(connMaxOne, map[string]any{"max_passkeys": 1}),
		pk(connButton, map[string]any{"challenge_ui": "button"}),
	)
	return cfg
}

// pkEnv is an env for passkey tests, with the browser client's app.
type pkEnv struct {
	*env
	// appURL is the browser client's origin: its redirect URI is
	// appURL + "/callback".
	appURL string
	// lb is the balancer in front of the replicas (also with one: it
	// records the API calls).
	lb *balancer
}

// balancer sends each request to the next replica (round robin, no sticky
// sessions) and records which replica served each passkey API call.
type balancer struct {
	next     atomic.Uint64
	replicas []http.Handler
	mu       sync.Mutex
	served   map[string][]int // API path → replicas that served it, in order
}

func (lb *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(lb.next.Add(1)) % len(lb.replicas)
	if strings.HasPrefix(r.URL.Path, "/passkey/") {
		lb.mu.Lock()
		lb.served[r.URL.Path] = append(lb.served[r.URL.Path], i)
		lb.mu.Unlock()
	}
	lb.replicas[i].ServeHTTP(w, r)
}

// calls returns how many calls to path were served so far.
func (lb *balancer) calls(path string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return len(lb.served[path])
}

// lastServed returns the replica that served the latest call to path.
func (lb *balancer) lastServed(path string) int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	l := lb.served[path]
	if len(l) == 0 {
		return -1
	}
	return l[len(l)-1]
}

// newPasskeyEnv starts replicas providers (1 or more, behind a round-robin
// balancer) over store at http://localhost:PORT and discovers it.
func newPasskeyEnv(t testing.TB, store storage.Store, replicas int) *pkEnv {
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
	var handlers []http.Handler
	var servers []*latchkey.Server
	for range replicas {
		srv, err := latchkey.New(bg(), passkeyConfig(e.issuer, app.URL), store, testLogger(t))
		if err != nil {
			t.Fatalf("latchkey.New: %v", err)
		}
		servers = append(servers, srv)
		handlers = append(handlers, srv)
	}
	e.server = servers[0]
	pe.lb = &balancer{replicas: handlers, served: map[string][]int{}}
	e.srv.Config.Handler = pe.lb
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		for _, s := range servers {
			if err := s.Close(); err != nil {
				t.Errorf("close server: %v", err)
			}
		}
	})
	e.discover(t)
	return pe
}

// connectionID returns a connection's ID by name ("" for the default).
func (e *env) connectionID(t testing.TB, name string) string {
	t.Helper()
	if name == "" {
		name = latchkey.DefaultConnectionName
	}
	c, err := e.store.GetConnectionByName(bg(), name)
	if err != nil {
		t.Fatalf("get connection %q: %v", name, err)
	}
	return c.ID
}

// relyingParty is a passkey relying party over the env's store with the
// default policy, for fixtures made without the HTTP API (the same RP ID
// and origin as the provider's).
func (e *env) relyingParty(t testing.TB, connection string, policy passkey.Policy) *passkey.RelyingParty {
	t.Helper()
	rp, err := passkey.New(passkey.Config{
		Policy: policy, ConnectionID: e.connectionID(t, connection), RPDisplayName: "Latchkey e2e",
		Issuer: e.issuer, Store: e.store,
	})
	if err != nil {
		t.Fatalf("passkey.New: %v", err)
	}
	return rp
}

// passkeyUser creates a user with a passkey on auth through the connector
// (not the HTTP API) and returns the user and the credential.
func (e *env) passkeyUser(t testing.TB, auth *passkeytest.Authenticator, connection, email string) (storage.User, *passkeytest.Credential) {
	t.Helper()
	rp := e.relyingParty(t, connection, passkey.DefaultPolicy())
	c, err := rp.BeginSignup(bg(), connector.Profile{Email: email}, passkey.RegistrationOptions{})
	if err != nil {
		t.Fatalf("begin sign-up of %s: %v", email, err)
	}
	resp, cred, err := auth.Create(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		t.Fatalf("authenticator create: %v", err)
	}
	reg, err := rp.FinishRegistration(bg(), c.ID, resp)
	if err != nil {
		t.Fatalf("finish sign-up of %s: %v", email, err)
	}
	return reg.User, cred
}

// apiPost posts body (marshalled unless it is []byte) as JSON to a passkey
// endpoint from the browser b, with the headers a same-origin fetch sends.
// hdr overrides them (a value of "" removes a header).
func (e *env) apiPost(t testing.TB, b *browser, path string, body any, hdr map[string]string) jsonResponse {
	t.Helper()
	raw, ok := body.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatalf("marshal %s body: %v", path, err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.url(path), bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Sec-Fetch-Mode", "cors")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	r := jsonResponse{Status: resp.StatusCode, Header: resp.Header, Raw: buf.String()}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && buf.Len() > 0 {
		_ = json.Unmarshal(buf.Bytes(), &r.Body)
	}
	return r
}

// ceremony is a begun ceremony as the API returns it.
type ceremony struct {
	ID        string
	PublicKey []byte
}

// mustBegin posts to a begin endpoint and returns the ceremony.
func (e *env) mustBegin(t testing.TB, b *browser, path string, body map[string]any) ceremony {
	t.Helper()
	r := e.apiPost(t, b, path, body, nil)
	c, err := parseCeremony(r)
	if err != nil {
		t.Fatalf("POST %s %v: %v", path, body, err)
	}
	return c
}

func parseCeremony(r jsonResponse) (ceremony, error) {
	if r.Status != http.StatusOK {
		return ceremony{}, fmt.Errorf("status %d: %s", r.Status, excerpt(r.Raw))
	}
	id := r.str("ceremony")
	if id == "" {
		id = r.str("ceremony_id")
	}
	pk, err := json.Marshal(r.Body["publicKey"])
	if id == "" || err != nil || r.Body["publicKey"] == nil {
		return ceremony{}, fmt.Errorf("no ceremony or publicKey in %s", excerpt(r.Raw))
	}
	return ceremony{ID: id, PublicKey: pk}, nil
}

// redirectOf returns the absolute URL of a finish response's "redirect".
func (e *env) redirectOf(t testing.TB, r jsonResponse) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("finish: status %d: %s", r.Status, excerpt(r.Raw))
	}
	loc := r.str("redirect")
	if loc == "" {
		t.Fatalf("finish: no redirect in %s", excerpt(r.Raw))
	}
	u, err := url.Parse(e.issuer + "/")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := u.Parse(loc)
	if err != nil {
		t.Fatalf("finish: redirect %q: %v", loc, err)
	}
	return ref.String()
}

// loginPage opens an authorization request in b and returns the login
// page's state (the flow ID the API takes).
func (e *env) loginState(t testing.TB, b *browser, a *authz) string {
	t.Helper()
	p := b.get(t, a.String())
	if p.Location != nil || p.path() != "/u/login" {
		t.Fatalf("want the login page, got %s (Location %v, status %d)", p.URL, p.Location, p.Status)
	}
	st := p.URL.Query().Get("state")
	if st == "" {
		t.Fatalf("login page %s has no state", p.URL)
	}
	return st
}

// passkeyLogin logs in with auth through the JSON API (discoverable, or
// email first when email is set) and returns the callback.
func (e *env) passkeyLogin(t testing.TB, b *browser, a *authz, auth *passkeytest.Authenticator, email string) callback {
	t.Helper()
	state := e.loginState(t, b, a)
	begin := map[string]any{"state": state}
	if email != "" {
		begin["email"] = email
	}
	c := e.mustBegin(t, b, pathLoginBegin, begin)
	resp, err := auth.Get(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		t.Fatalf("authenticator get: %v", err)
	}
	fin := e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
	p := b.get(t, e.redirectOf(t, fin))
	cb := p.callback(t, a.redirect())
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("passkey login: error %q (%s)", cb.Error, cb.ErrorDescription)
	}
	return cb
}

// passkeySignup signs email up with a passkey on auth through the JSON API
// and returns the callback.
func (e *env) passkeySignup(t testing.TB, b *browser, a *authz, auth *passkeytest.Authenticator, email string) callback {
	t.Helper()
	a.set("prompt", "create")
	p := b.get(t, a.String())
	if p.Location != nil || p.path() != "/u/signup" {
		t.Fatalf("prompt=create: want the sign-up page, got %s (Location %v)", p.URL, p.Location)
	}
	state := p.URL.Query().Get("state")
	c := e.mustBegin(t, b, pathRegisterBegin, map[string]any{"state": state, "email": email})
	resp, _, err := auth.Create(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		t.Fatalf("authenticator create: %v", err)
	}
	fin := e.apiPost(t, b, pathRegisterFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
	cb := b.get(t, e.redirectOf(t, fin)).callback(t, a.redirect())
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("passkey sign-up: error %q (%s)", cb.Error, cb.ErrorDescription)
	}
	return cb
}

// snapshot is everything a refused ceremony must leave unchanged: every
// user, every credential (with its counter, flags and last use) and every
// browser session.
type snapshot struct {
	users []string
	creds []string
	sess  []string
}

func (e *env) snapshot(t testing.TB) snapshot {
	t.Helper()
	var s snapshot
	conns, err := e.store.ListConnections(bg())
	if err != nil {
		t.Fatalf("list connections: %v", err)
	}
	for _, c := range conns {
		users, err := e.store.ListUsers(bg(), storage.UserFilter{ConnectionID: c.ID, Limit: 1000})
		if err != nil {
			t.Fatalf("list users: %v", err)
		}
		for _, u := range users {
			s.users = append(s.users, fmt.Sprintf("%s %s %s blocked=%v last=%v", u.ID, u.ConnectionID, u.Email, u.Blocked, u.LastLoginAt.UnixNano()))
			creds, err := e.store.ListCredentials(bg(), u.ID, "")
			if err != nil {
				t.Fatalf("list credentials: %v", err)
			}
			for _, cr := range creds {
				s.creds = append(s.creds, fmt.Sprintf("%s %s %s %x n=%d name=%q used=%v attrs=%x",
					cr.ID, cr.UserID, cr.Kind, cr.ExternalID, cr.SignCount, cr.Name, cr.LastUsedAt.UnixNano(), cr.Attributes))
			}
			ss, err := e.store.ListUserSessions(bg(), u.ID)
			if err != nil {
				t.Fatalf("list sessions: %v", err)
			}
			for _, se := range ss {
				s.sess = append(s.sess, se.ID)
			}
		}
	}
	slices.Sort(s.users)
	slices.Sort(s.creds)
	slices.Sort(s.sess)
	return s
}

// diff describes how two snapshots differ ("" when they do not).
func (s snapshot) diff(o snapshot) string {
	var out []string
	cmp := func(what string, a, b []string) {
		for _, x := range b {
			if !slices.Contains(a, x) {
				out = append(out, what+" added or changed: "+x)
			}
		}
		for _, x := range a {
			if !slices.Contains(b, x) {
				out = append(out, what+" removed or changed: "+x)
			}
		}
	}
	cmp("user", s.users, o.users)
	cmp("credential", s.creds, o.creds)
	cmp("session", s.sess, o.sess)
	return strings.Join(out, "\n")
}

// sessionCookieSet reports whether the provider set a browser-session
// cookie in b since mark (an index into b.setCookies).
func (b *browser) sessionCookieSet(mark int) bool {
	for _, c := range (*b.setCookies)[mark:] {
		if (c.Name == "latchkey_session" || c.Name == "__Host-latchkey") && c.MaxAge >= 0 && c.Value != "" {
			return true
		}
	}
	return false
}

// credentialsOf returns the user's WebAuthn credentials.
func (e *env) credentialsOf(t testing.TB, userID string) []storage.Credential {
	t.Helper()
	cs, err := e.store.ListCredentials(bg(), userID, storage.CredentialWebAuthn)
	if err != nil {
		t.Fatalf("list credentials: %v", err)
	}
	return cs
}

// userByEmail finds a user of a connection by email, or returns false.
func (e *env) userByEmail(t testing.TB, connection, email string) (storage.User, bool) {
	t.Helper()
	u, err := e.store.GetUserByEmail(bg(), e.connectionID(t, connection), email)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, false
	}
	if err != nil {
		t.Fatalf("get user %s: %v", email, err)
	}
	return u, true
}

// hasAll reports whether l holds every one of want.
func hasAll(l []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(l, w) {
			return false
		}
	}
	return true
}
