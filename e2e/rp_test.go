package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// rpClient is how the relying party side knows a client.
type rpClient struct {
	id       string
	secret   string
	redirect string
	style    oauth2.AuthStyle
	// algs are the ID token algorithms its verifier accepts.
	algs []string
}

func clientByID(t testing.TB, id string) rpClient {
	t.Helper()
	switch id {
	case webClient:
		return rpClient{id, secrets.web, webRedirect, oauth2.AuthStyleInHeader, nil}
	case postClient:
		return rpClient{id, secrets.post, postRedirect, oauth2.AuthStyleInParams, nil}
	case spaClient:
		return rpClient{id, "", spaRedirect, oauth2.AuthStyleInParams, nil}
	case thirdPartyClient:
		return rpClient{id, secrets.third, thirdPartyRedirect, oauth2.AuthStyleInHeader, nil}
	case machineClient:
		return rpClient{id, secrets.machine, "", oauth2.AuthStyleInHeader, nil}
	case jwtClient:
		return rpClient{id, "", jwtRedirect, oauth2.AuthStyleInParams, nil}
	case es256Client:
		return rpClient{id, secrets.es256, es256Redirect, oauth2.AuthStyleInHeader, []string{"ES256"}}
	}
	t.Fatalf("unknown client %q", id)
	return rpClient{}
}

// oauth2Config is the relying party's x/oauth2 configuration for a client.
func (e *env) oauth2Config(t testing.TB, clientID string, scopes ...string) *oauth2.Config {
	t.Helper()
	c := clientByID(t, clientID)
	ep := e.provider.Endpoint()
	ep.AuthStyle = c.style
	return &oauth2.Config{ClientID: c.id, ClientSecret: c.secret, RedirectURL: c.redirect, Endpoint: ep, Scopes: scopes}
}

// verifier is go-oidc's ID token verifier for a client.
func (e *env) verifier(t testing.TB, clientID string) *oidc.IDTokenVerifier {
	t.Helper()
	c := clientByID(t, clientID)
	return e.provider.Verifier(&oidc.Config{ClientID: c.id, SupportedSigningAlgs: c.algs})
}

// authz is an authorization request under construction.
type authz struct {
	endpoint string
	client   rpClient
	q        url.Values
}

// authz starts an authorization request with a fresh state and nonce.
func (e *env) authz(t testing.TB, clientID, scope string) *authz {
	t.Helper()
	c := clientByID(t, clientID)
	return &authz{endpoint: e.endpoint(t, "authorization_endpoint"), client: c, q: url.Values{
		"response_type": {"code"},
		"client_id":     {c.id},
		"redirect_uri":  {c.redirect},
		"scope":         {scope},
		"state":         {randomString(t, 12)},
		"nonce":         {randomString(t, 12)},
	}}
}

// set sets (or, with "", removes) a parameter.
func (a *authz) set(k, v string) *authz {
	if v == "" {
		a.q.Del(k)
	} else {
		a.q.Set(k, v)
	}
	return a
}

// pkce adds an S256 code challenge for verifier.
func (a *authz) pkce(verifier string) *authz {
	return a.set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier)).set("code_challenge_method", "S256")
}

func (a *authz) state() string    { return a.q.Get("state") }
func (a *authz) nonce() string    { return a.q.Get("nonce") }
func (a *authz) redirect() string { return a.q.Get("redirect_uri") }
func (a *authz) String() string   { return a.endpoint + "?" + a.q.Encode() }

// checkResponse checks an authorization response's state and RFC 9207 iss.
func (e *env) checkResponse(t testing.TB, a *authz, cb callback) {
	t.Helper()
	if cb.State != a.state() {
		t.Errorf("state = %q, want %q", cb.State, a.state())
	}
	if cb.Iss != e.issuer {
		t.Errorf("iss = %q, want %q (RFC 9207) on %s", cb.Iss, e.issuer, cb.URL)
	}
}

// code runs a whole authorization request in b, logging in as email when
// the login page comes, and returns the successful callback.
func (e *env) code(t testing.TB, b *browser, a *authz, email, password string) callback {
	t.Helper()
	p := b.get(t, a.String())
	if p.Location == nil && p.path() == "/u/login" {
		p = b.login(t, p, email, password)
	}
	cb := p.callback(t, a.redirect())
	e.checkResponse(t, a, cb)
	if cb.Error != "" || cb.Code == "" {
		t.Fatalf("authorization failed: error=%q (%s), code=%q", cb.Error, cb.ErrorDescription, cb.Code)
	}
	return cb
}

// exchange redeems a code with x/oauth2 as the request's client.
func (e *env) exchange(t testing.TB, a *authz, code string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, error) {
	t.Helper()
	cfg := e.oauth2Config(t, a.client.id)
	return cfg.Exchange(e.rpCtx, code, opts...)
}

// mustExchange redeems a code and returns the tokens and the verified ID
// token with its claims.
func (e *env) mustExchange(t testing.TB, a *authz, code string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken, idClaims) {
	t.Helper()
	tok, err := e.exchange(t, a, code, opts...)
	if err != nil {
		t.Fatalf("exchange code: %v", describe(err))
	}
	idt, claims := e.verifyIDToken(t, a.client.id, tok)
	if idt.Nonce != a.nonce() {
		t.Errorf("nonce = %q, want %q", idt.Nonce, a.nonce())
	}
	return tok, idt, claims
}

// verifyIDToken verifies the token response's ID token with go-oidc,
// including at_hash against the access token.
func (e *env) verifyIDToken(t testing.TB, clientID string, tok *oauth2.Token) (*oidc.IDToken, idClaims) {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatalf("token response has no id_token")
	}
	idt, err := e.verifier(t, clientID).Verify(e.rpCtx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	if err := idt.Claims(&c.All); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	return idt, c
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Iss           string   `json:"iss"`
	Sub           string   `json:"sub"`
	Nonce         string   `json:"nonce"`
	AuthTime      int64    `json:"auth_time"`
	IssuedAt      int64    `json:"iat"`
	Sid           string   `json:"sid"`
	AtHash        string   `json:"at_hash"`
	AMR           []string `json:"amr"`
	ACR           string   `json:"acr"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified"`
	Name          string   `json:"name"`
	GivenName     string   `json:"given_name"`
	FamilyName    string   `json:"family_name"`
	Nickname      string   `json:"nickname"`
	All           map[string]any
}

// describe adds the OAuth error body to an x/oauth2 error.
func describe(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Error() + " body: " + string(re.Body)
	}
	return err.Error()
}

// oauthErrorCode returns the error code of an x/oauth2 token error.
func oauthErrorCode(err error) (code string, status int) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode, re.Response.StatusCode
	}
	return "", 0
}

// jsonResponse is a raw JSON response of an endpoint.
type jsonResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r jsonResponse) str(k string) string { s, _ := r.Body[k].(string); return s }

// post sends a form to an endpoint with optional Basic credentials and
// headers ("" user means no Authorization header unless hdr sets one).
func (e *env) post(t testing.TB, endpoint string, form url.Values, user, pass string, hdr http.Header) jsonResponse {
	t.Helper()
	r, err := e.tryPost(endpoint, form, user, pass, hdr)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	return r
}

// tryPost is post without the test: safe from any goroutine.
func (e *env) tryPost(endpoint string, form url.Values, user, pass string, hdr http.Header) (jsonResponse, error) {
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return jsonResponse{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) (jsonResponse, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return jsonResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return jsonResponse{}, err
	}
	r := jsonResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(b)}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && len(b) > 0 {
		_ = json.Unmarshal(b, &r.Body)
	}
	return r, nil
}

// httpClient is the relying party's and resource server's HTTP client.
var httpClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// token posts to the token endpoint as a client (Basic or post credentials,
// by the client's method).
func (e *env) token(t testing.TB, clientID string, form url.Values) jsonResponse {
	t.Helper()
	r, err := e.tryToken(t, clientID, form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	return r
}

func (e *env) tryToken(t testing.TB, clientID string, form url.Values) (jsonResponse, error) {
	c := clientByID(t, clientID)
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	user, pass := "", ""
	switch {
	case c.style == oauth2.AuthStyleInHeader:
		user, pass = c.id, c.secret
	default:
		f.Set("client_id", c.id)
		if c.secret != "" {
			f.Set("client_secret", c.secret)
		}
	}
	return e.tryPost(e.endpoint(t, "token_endpoint"), f, user, pass, nil)
}

// introspect asks the introspection endpoint about a token as the web
// client.
func (e *env) introspect(t testing.TB, token string) jsonResponse {
	t.Helper()
	r := e.post(t, e.endpoint(t, "introspection_endpoint"), url.Values{"token": {token}}, webClient, secrets.web, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("introspection: status %d: %s", r.Status, r.Raw)
	}
	return r
}

// active reports whether introspection says the token is active.
func (e *env) active(t testing.TB, token string) bool {
	t.Helper()
	a, _ := e.introspect(t, token).Body["active"].(bool)
	return a
}

// clientAssertion signs a private_key_jwt client assertion (RFC 7523) for
// the JWT client with a fresh jti (or the one given).
func (e *env) clientAssertion(t testing.TB, jti string) string {
	t.Helper()
	return e.signAssertion(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: secrets.jwtKey, KeyID: "e2e-jwt-1"}}, jti)
}

// foreignAssertion is a client assertion for the JWT client signed with a
// key it never registered.
func foreignAssertion(t testing.TB, e *env) string {
	t.Helper()
	return e.signAssertion(t, jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: unusedECKey(t), KeyID: "e2e-jwt-1"}}, "")
}

func (e *env) signAssertion(t testing.TB, key jose.SigningKey, jti string) string {
	t.Helper()
	if jti == "" {
		jti = randomString(t, 16)
	}
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	now := time.Now()
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer:   jwtClient,
		Subject:  jwtClient,
		Audience: jwt.Audience{e.endpoint(t, "token_endpoint")},
		ID:       jti,
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(time.Minute)),
	}).Serialize()
	if err != nil {
		t.Fatalf("sign client assertion: %v", err)
	}
	return raw
}

const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// bg is a background context for store calls.
func bg() context.Context { return context.Background() }

// forgedIDToken is an ID token with our issuer, signed by a key that is
// not ours.
func forgedIDToken(t testing.TB, e *env, sub, aud string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: unusedECKey(t)}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: e.issuer, Subject: sub, Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
