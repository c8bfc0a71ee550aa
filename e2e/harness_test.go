package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/storage"
)

// Client IDs and redirect URIs of the relying parties the tests play. The
// redirect URIs are never contacted: the browser stand-in stops at any URL
// outside the issuer.
const (
	webClient        = "e2e-web"        // confidential, client_secret_basic, first-party
	postClient       = "e2e-post"       // confidential, client_secret_post, first-party
	spaClient        = "e2e-spa"        // public (none), PKCE, web origin
	thirdPartyClient = "e2e-thirdparty" // confidential, not first-party: consent
	machineClient    = "e2e-machine"    // client_credentials only
	jwtClient        = "e2e-jwt"        // private_key_jwt
	es256Client      = "e2e-es256"      // ES256-signed ID tokens

	webRedirect        = "https://rp.example.com/callback"
	webPostLogout      = "https://rp.example.com/logged-out"
	postRedirect       = "https://post.example.com/callback"
	spaOrigin          = "https://spa.example.com"
	spaRedirect        = spaOrigin + "/callback"
	thirdPartyRedirect = "https://third.example.net/callback"
	jwtRedirect        = "https://jwt.example.com/callback"
	es256Redirect      = "https://es.example.com/callback"

	machineScope = "api:read"

	// inviteOnlyConnection is a second database connection, without
	// sign-up; the default connection (first) allows it.
	inviteOnlyConnection = "e2e-invite-only"

	// userPassword passes every strength level: long, four character
	// types, no run of identical characters, not in the dictionary.
	userPassword = "Velvet-Marmot-Quasar-42!"
)

// secrets are the client secrets and the master secret, random per process.
var secrets = struct {
	once                                   sync.Once
	master                                 string
	web, post, third, machine, es256, demo string
	jwtKey                                 *rsa.PrivateKey
	jwtJWKS                                []byte
}{}

func initSecrets(t testing.TB) {
	secrets.once.Do(func() {
		secrets.master = randomString(t, 32)
		secrets.web = randomString(t, 32)
		secrets.post = randomString(t, 32)
		secrets.third = randomString(t, 32)
		secrets.machine = randomString(t, 32)
		secrets.es256 = randomString(t, 32)
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatalf("generate client key: %v", err)
		}
		secrets.jwtKey = key
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "e2e-jwt-1", Algorithm: "RS256", Use: "sig"}}}
		b, err := json.Marshal(set)
		if err != nil {
			t.Fatalf("marshal client JWKS: %v", err)
		}
		secrets.jwtJWKS = b
	})
}

// randomString returns n random bytes, base64url-encoded.
func randomString(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// unusedECKey is a P-256 key no client registered (for negative tests).
func unusedECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	return k
}

// env is one running provider over one store, with the relying party's view
// of it. Subtests share it (and its users) to keep the suite fast.
type env struct {
	store  storage.Store
	srv    *httptest.Server
	server interface{ Close() error } // the latchkey.Server, closed at cleanup
	issuer string
	// rpCtx carries the relying party's HTTP client for go-oidc and oauth2.
	rpCtx    context.Context
	provider *oidc.Provider
	// meta is the discovery document.
	meta map[string]any
	// alice is a user who signed up through the sign-up page.
	alice storage.User
}

// testLogger logs the server's warnings and errors into the test log, so a
// failing case shows what the server thought.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("LATCHKEY_E2E_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newEnv starts a provider on store, discovers it as a relying party, and
// signs Alice up through the sign-up page.
func newEnv(t testing.TB, store storage.Store) *env {
	t.Helper()
	initSecrets(t)
	e := &env{store: store}
	e.srv = httptest.NewUnstartedServer(http.NotFoundHandler())
	e.issuer = "http://" + e.srv.Listener.Addr().String()
	srv := startLatchkey(t, e.issuer, store)
	e.server = srv
	e.srv.Config.Handler = srv
	e.srv.Start()
	t.Cleanup(func() {
		e.srv.Close()
		if err := e.server.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	e.discover(t)
	e.alice = e.signup(t, "alice@example.com", userPassword)
	return e
}

// discover builds the relying party's provider from discovery and JWKS.
func (e *env) discover(t testing.TB) {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	e.rpCtx = oidc.ClientContext(context.Background(), hc)
	p, err := oidc.NewProvider(e.rpCtx, e.issuer)
	if err != nil {
		t.Fatalf("discover %s: %v", e.issuer, err)
	}
	e.provider = p
	if err := p.Claims(&e.meta); err != nil {
		t.Fatalf("read discovery claims: %v", err)
	}
}

// endpoint returns a URL from the discovery document.
func (e *env) endpoint(t testing.TB, name string) string {
	t.Helper()
	s, _ := e.meta[name].(string)
	if s == "" {
		t.Fatalf("discovery has no %s", name)
	}
	return s
}

// url returns an absolute URL under the issuer.
func (e *env) url(path string) string { return e.issuer + path }

// signup creates a user through /authorize?prompt=create and the sign-up
// page (as the web client), and returns the stored user.
func (e *env) signup(t testing.TB, email, password string) storage.User {
	t.Helper()
	b := e.newBrowser(t)
	p := b.get(t, e.authURL(t, webClient, webRedirect, "openid email", url.Values{"prompt": {"create"}}))
	if p.path() != "/u/signup" {
		t.Fatalf("prompt=create: want the sign-up page, got %s (status %d)", p.URL, p.Status)
	}
	p = b.submit(t, p, fields{"email": email, "password": password})
	cb := p.callback(t, webRedirect)
	if cb.Code == "" {
		t.Fatalf("sign-up: no code on %s (page %s, status %d)", p.Location, p.URL, p.Status)
	}
	conns, err := e.store.ListConnections(context.Background())
	if err != nil {
		t.Fatalf("list connections: %v", err)
	}
	for _, c := range conns {
		u, err := e.store.GetUserByEmail(context.Background(), c.ID, email)
		if err == nil {
			return u
		}
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("get user %s: %v", email, err)
		}
	}
	t.Fatalf("sign-up of %s: no user stored", email)
	return storage.User{}
}

// authURL builds an authorization request URL for a client with a fresh
// state and nonce (returned in the values under "state" and "nonce" unless
// extra sets them).
func (e *env) authURL(t testing.TB, clientID, redirectURI, scope string, extra url.Values) string {
	t.Helper()
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {clientID},
		"redirect_uri":  {redirectURI},
		"scope":         {scope},
		"state":         {randomString(t, 12)},
		"nonce":         {randomString(t, 12)},
	}
	for k, v := range extra {
		if len(v) == 0 || (len(v) == 1 && v[0] == "") {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return e.endpoint(t, "authorization_endpoint") + "?" + q.Encode()
}

// listenSame listens on addr again after a server closed it (port reuse on
// restart), retrying briefly.
func listenSame(t testing.TB, addr string) net.Listener {
	t.Helper()
	var err error
	for range 50 {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen on %s again: %v", addr, err)
	return nil
}
