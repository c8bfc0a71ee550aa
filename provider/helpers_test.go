package provider_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

const (
	testIssuer      = "https://op.example"
	testRedirect    = "https://rp.example/cb"
	testState       = "state-0123456789"
	testNonce       = "nonce-0123456789"
	webClientID     = "web"
	esClientID      = "web-es"
	spaClientID     = "spa"
	serviceClientID = "service"
)

// testSecret is the master secret every test provider shares, as replicas
// of one deployment would.
func testSecret() []byte { return []byte("0123456789abcdef0123456789abcdef-test-secret") }

// fixture is a provider over a store with the standard test clients.
type fixture struct {
	t      testing.TB
	p      *provider.Provider
	store  storage.Store
	secret string // shared by the confidential clients
}

func newProvider(t testing.TB, store storage.Store, mod ...func(*provider.Config)) *provider.Provider {
	t.Helper()
	cfg := provider.Config{Issuer: testIssuer, Secret: testSecret()}
	for _, m := range mod {
		m(&cfg)
	}
	p, err := provider.New(context.Background(), cfg, store)
	if err != nil {
		t.Fatalf("new provider: %v", err)
	}
	return p
}

func newFixture(t testing.TB, store storage.Store, mod ...func(*provider.Config)) *fixture {
	t.Helper()
	secret, hash, err := provider.GenerateClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	scopes := []string{"openid", "profile", "email", "offline_access"}
	clients := []storage.Client{
		{ID: webClientID, SecretHash: hash, RedirectURIs: []string{testRedirect}, Scopes: scopes,
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}},
		{ID: esClientID, SecretHash: hash, RedirectURIs: []string{testRedirect}, Scopes: scopes, IDTokenSigningAlg: "ES256",
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}},
		{ID: spaClientID, Public: true, RedirectURIs: []string{testRedirect}, Scopes: scopes,
			GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}},
		{ID: serviceClientID, SecretHash: hash, Scopes: []string{"api:read", "api:write"},
			GrantTypes: []string{"client_credentials"}},
	}
	for _, c := range clients {
		if _, err := store.CreateClient(ctx, c); err != nil {
			t.Fatalf("create client %s: %v", c.ID, err)
		}
	}
	return &fixture{t: t, p: newProvider(t, store, mod...), store: store, secret: secret}
}

// authorizeOpts describes one authorization request.
type authorizeOpts struct {
	clientID     string
	scope        string
	verifier     string // PKCE S256 verifier; "" for none
	extra        url.Values
	authTime     time.Time
	requestedAt  time.Time
	sessionID    string
	amr          []string
	acr          string
	responseMode string
}

// pkceVerifier returns a fresh RFC 7636 verifier.
func pkceVerifier() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeRequest runs fosite's NewAuthorizeRequest for o.
func (f *fixture) authorizeRequest(o authorizeOpts) (fosite.AuthorizeRequester, error) {
	q := url.Values{
		"client_id":     {o.clientID},
		"response_type": {"code"},
		"redirect_uri":  {testRedirect},
		"scope":         {o.scope},
		"state":         {testState},
		"nonce":         {testNonce},
	}
	if o.verifier != "" {
		q.Set("code_challenge", s256(o.verifier))
		q.Set("code_challenge_method", "S256")
	}
	if o.responseMode != "" {
		q.Set("response_mode", o.responseMode)
	}
	for k, v := range o.extra {
		q[k] = v
	}
	r := httptest.NewRequest(http.MethodGet, testIssuer+"/authorize?"+q.Encode(), nil)
	return f.p.OAuth2().NewAuthorizeRequest(context.Background(), r)
}

// authorize runs an authorization request to its redirect and returns the
// redirect's parameters.
func (f *fixture) authorize(o authorizeOpts) url.Values {
	f.t.Helper()
	ar, err := f.authorizeRequest(o)
	if err != nil {
		f.t.Fatalf("new authorize request: %v", err)
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if o.authTime.IsZero() {
		o.authTime = now
	}
	if o.requestedAt.IsZero() {
		o.requestedAt = now
	}
	if o.sessionID == "" {
		o.sessionID = "sid-1"
	}
	if o.amr == nil {
		o.amr = []string{"pwd"}
	}
	sess := f.p.NewSession(provider.Authentication{
		Subject:      "user-1",
		ClientID:     o.clientID,
		SessionID:    o.sessionID,
		ConnectionID: "conn-1",
		AuthTime:     o.authTime,
		RequestedAt:  o.requestedAt,
		AMR:          o.amr,
		ACR:          o.acr,
		Nonce:        testNonce,
		IDTokenExtra: map[string]any{"email": "ada@example.com", "email_verified": true, "sub": "forged"},
	})
	rec := httptest.NewRecorder()
	f.p.WriteAuthorizeResponse(context.Background(), rec, ar, sess)
	if rec.Code != http.StatusSeeOther {
		f.t.Fatalf("authorize: status %d, body %s", rec.Code, rec.Body)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		f.t.Fatal(err)
	}
	return loc.Query()
}

// code runs an authorization request and returns the code.
func (f *fixture) code(o authorizeOpts) string {
	f.t.Helper()
	q := f.authorize(o)
	if q.Get("code") == "" {
		f.t.Fatalf("authorize: no code in %v", q)
	}
	return q.Get("code")
}

// tokenResult is a token endpoint response.
type tokenResult struct {
	status int
	body   map[string]any
}

func (r tokenResult) str(k string) string { s, _ := r.body[k].(string); return s }

// token calls the token endpoint through Provider.Token with HTTP basic
// client authentication when secret is not empty.
func (f *fixture) token(clientID, secret string, form url.Values) tokenResult {
	if secret == "" && form.Get("client_assertion") == "" {
		form.Set("client_id", clientID)
	}
	r := httptest.NewRequest(http.MethodPost, testIssuer+"/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	ctx := context.Background()
	rec := httptest.NewRecorder()
	ar, resp, err := f.p.Token(ctx, r)
	if err != nil {
		f.p.OAuth2().WriteAccessError(ctx, rec, ar, err)
	} else {
		f.p.OAuth2().WriteAccessResponse(ctx, rec, ar, resp)
	}
	res := tokenResult{status: rec.Code, body: map[string]any{}}
	_ = json.Unmarshal(rec.Body.Bytes(), &res.body)
	return res
}

// exchange redeems a code.
func (f *fixture) exchange(clientID, code, verifier string) tokenResult {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	secret := f.secret
	if clientID == spaClientID {
		secret = ""
	}
	return f.token(clientID, secret, form)
}

// refresh uses a refresh token.
func (f *fixture) refresh(clientID, rt string) tokenResult {
	secret := f.secret
	if clientID == spaClientID {
		secret = ""
	}
	return f.token(clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// active reports whether a token introspects as active.
func (f *fixture) active(token string, use fosite.TokenUse) bool {
	_, _, err := f.p.OAuth2().IntrospectToken(context.Background(), token, use, f.p.EmptySession())
	return err == nil
}

// verifyIDToken checks an ID token's signature against the provider's JWKS
// and returns its header and claims.
func verifyIDToken(t testing.TB, p *provider.Provider, raw string) (jose.Header, map[string]any) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(p.JWKSJSON(), &set); err != nil {
		t.Fatalf("decode jwks: %v", err)
	}
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse id token: %v", err)
	}
	h := tok.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in jwks", h.KeyID, len(keys))
	}
	claims := map[string]any{}
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	return h, claims
}
