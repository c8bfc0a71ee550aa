package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// loginTokens logs Alice in with a fresh browser and returns the tokens of
// the web client (with offline_access: a refresh token).
func (e *env) loginTokens(t testing.TB, scope string) (*oauth2.Token, idClaims) {
	t.Helper()
	b := e.newBrowser(t)
	a := e.authz(t, webClient, scope)
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, _, c := e.mustExchange(t, a, cb.Code)
	return tok, c
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// testRefreshRotationAndReuse: each refresh rotates the refresh token and
// keeps the authentication facts in the new ID token; presenting a rotated
// refresh token again revokes the whole family.
func testRefreshRotationAndReuse(t *testing.T, e *env) {
	tok, orig := e.loginTokens(t, "openid email offline_access")
	rt1 := tok.RefreshToken
	if rt1 == "" {
		t.Fatalf("no refresh token with offline_access")
	}

	r := e.token(t, webClient, refreshForm(rt1))
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: status %d %s", r.Status, r.Raw)
	}
	rt2, at2 := r.str("refresh_token"), r.str("access_token")
	if rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh did not rotate the refresh token (old %q, new %q)", rt1, rt2)
	}
	if at2 == "" || at2 == tok.AccessToken {
		t.Fatalf("refresh gave no new access token")
	}
	idt, c := e.verifyIDToken(t, webClient, (&oauth2.Token{AccessToken: at2}).WithExtra(r.Body))
	if idt.Subject != e.alice.ID {
		t.Errorf("refreshed ID token sub = %q", idt.Subject)
	}
	if c.AuthTime != orig.AuthTime {
		t.Errorf("refreshed ID token auth_time = %d, want the login's %d", c.AuthTime, orig.AuthTime)
	}
	if !slices.Equal(c.AMR, orig.AMR) {
		t.Errorf("refreshed ID token amr = %v, want %v", c.AMR, orig.AMR)
	}
	if c.ACR != orig.ACR {
		t.Errorf("refreshed ID token acr = %q, want %q", c.ACR, orig.ACR)
	}
	if c.Sid != orig.Sid {
		t.Errorf("refreshed ID token sid = %q, want %q", c.Sid, orig.Sid)
	}
	if !e.active(t, at2) {
		t.Fatalf("the new access token is not active")
	}
	if e.active(t, rt1) {
		t.Errorf("the rotated refresh token is still active")
	}

	// Reuse of the rotated refresh token: refused, and the family dies.
	r = e.token(t, webClient, refreshForm(rt1))
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("reused refresh token: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}
	if e.active(t, at2) {
		t.Errorf("after refresh token reuse, the newest access token is still active")
	}
	if e.active(t, rt2) {
		t.Errorf("after refresh token reuse, the newest refresh token is still active")
	}
	r = e.token(t, webClient, refreshForm(rt2))
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("refresh with the newest token after reuse: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}

	// Another client cannot use someone else's refresh token.
	tok, _ = e.loginTokens(t, "openid offline_access")
	r = e.token(t, postClient, refreshForm(tok.RefreshToken))
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("refresh token of another client: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}
}

// testUserinfo: GET and POST, claims by scope, and the 401s.
func testUserinfo(t *testing.T, e *env) {
	ep := e.endpoint(t, "userinfo_endpoint")
	full, _ := e.loginTokens(t, "openid email profile")
	narrow, _ := e.loginTokens(t, "openid")

	get := func(token string) jsonResponse {
		req, _ := http.NewRequest(http.MethodGet, ep, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r, err := e.send(req)
		if err != nil {
			t.Fatalf("GET userinfo: %v", err)
		}
		return r
	}
	check := func(name string, r jsonResponse, wantEmail, wantProfile bool) {
		t.Helper()
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %d %s", name, r.Status, r.Raw)
		}
		if r.str("sub") != e.alice.ID {
			t.Errorf("%s: sub = %q, want %q", name, r.str("sub"), e.alice.ID)
		}
		if got := r.str("email") != ""; got != wantEmail {
			t.Errorf("%s: email present = %v, want %v (%s)", name, got, wantEmail, r.Raw)
		}
		if wantEmail {
			if r.str("email") != e.alice.Email || r.Body["email_verified"] != true {
				t.Errorf("%s: email %q verified %v", name, r.str("email"), r.Body["email_verified"])
			}
		}
		if got := r.str("name") != ""; got != wantProfile {
			t.Errorf("%s: name present = %v, want %v (%s)", name, got, wantProfile, r.Raw)
		}
		if wantProfile && (r.str("name") != "Alice Liddell" || r.str("given_name") != "Alice" || r.str("family_name") != "Liddell") {
			t.Errorf("%s: profile claims %s", name, r.Raw)
		}
	}
	check("GET full", get(full.AccessToken), true, true)
	check("GET openid", get(narrow.AccessToken), false, false)

	r := e.post(t, ep, url.Values{"access_token": {full.AccessToken}}, "", "", nil)
	check("POST form", r, true, true)
	r = e.post(t, ep, url.Values{}, "", "", http.Header{"Authorization": {"Bearer " + full.AccessToken}})
	check("POST bearer", r, true, true)

	for name, r := range map[string]jsonResponse{
		"GET invalid":  get("not-a-token"),
		"GET tampered": get(full.AccessToken + "x"),
		"POST invalid": e.post(t, ep, url.Values{"access_token": {"nope"}}, "", "", nil),
		"GET refresh":  get(full.RefreshToken + "refresh-token-is-not-an-access-token"),
		"GET none":     get(""),
		"GET query only": func() jsonResponse { // tokens in the URL are not accepted
			req, _ := http.NewRequest(http.MethodGet, ep+"?access_token="+url.QueryEscape(full.AccessToken), nil)
			r, err := e.send(req)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}(),
	} {
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401 (%s)", name, r.Status, r.Raw)
		}
		if w := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(strings.ToLower(w), "bearer") {
			t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", name, w)
		}
		if name != "GET none" && name != "GET query only" && !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate = %q, want error=\"invalid_token\"", name, r.Header.Get("WWW-Authenticate"))
		}
	}
}

// testRevocation: RFC 7009 for access and refresh tokens.
func testRevocation(t *testing.T, e *env) {
	ep := e.endpoint(t, "revocation_endpoint")
	tok, _ := e.loginTokens(t, "openid offline_access")
	if !e.active(t, tok.AccessToken) {
		t.Fatalf("fresh access token inactive")
	}
	r := e.post(t, ep, url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, webClient, secrets.web, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("revoke access token: status %d %s", r.Status, r.Raw)
	}
	if e.active(t, tok.AccessToken) {
		t.Errorf("revoked access token still active")
	}
	req, _ := http.NewRequest(http.MethodGet, e.endpoint(t, "userinfo_endpoint"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if ui, err := e.send(req); err != nil || ui.Status != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked token: %v status %d, want 401", err, ui.Status)
	}

	// Revoking a refresh token (without a hint) ends the grant.
	r = e.post(t, ep, url.Values{"token": {tok.RefreshToken}}, webClient, secrets.web, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("revoke refresh token: status %d %s", r.Status, r.Raw)
	}
	if e.active(t, tok.RefreshToken) {
		t.Errorf("revoked refresh token still active")
	}
	if r := e.token(t, webClient, refreshForm(tok.RefreshToken)); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("refresh with a revoked token: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}

	// An unknown token is "revoked" too (RFC 7009 section 2.2).
	if r := e.post(t, ep, url.Values{"token": {"unknown"}}, webClient, secrets.web, nil); r.Status != http.StatusOK {
		t.Errorf("revoke unknown token: status %d, want 200", r.Status)
	}
	// Revocation needs client authentication.
	tok2, _ := e.loginTokens(t, "openid")
	if r := e.post(t, ep, url.Values{"token": {tok2.AccessToken}}, webClient, "wrong-secret", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("revoke with a wrong secret: status %d, want 401", r.Status)
	}
	// A client cannot revoke another client's token.
	_ = e.post(t, ep, url.Values{"token": {tok2.AccessToken}}, thirdPartyClient, secrets.third, nil)
	if !e.active(t, tok2.AccessToken) {
		t.Errorf("another client revoked the web client's token")
	}

	// A public client revokes its own refresh token with its client_id.
	b := e.newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	a := e.authz(t, spaClient, "openid offline_access").pkce(verifier)
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	spa, _, _ := e.mustExchange(t, a, cb.Code, oauth2.VerifierOption(verifier))
	if r := e.post(t, ep, url.Values{"token": {spa.RefreshToken}, "client_id": {spaClient}}, "", "", nil); r.Status != http.StatusOK {
		t.Errorf("public client revocation: status %d %s", r.Status, r.Raw)
	}
	if e.active(t, spa.RefreshToken) {
		t.Errorf("public client's revoked refresh token still active")
	}
	if e.active(t, spa.AccessToken) {
		t.Errorf("revoking a refresh token left its grant's access token active (RFC 7009 section 2.1 SHOULD)")
	}
}

// testIntrospectionClientAuth: RFC 7662 introspection needs client
// authentication; a bearer token is not client authentication.
func testIntrospectionClientAuth(t *testing.T, e *env) {
	ep := e.endpoint(t, "introspection_endpoint")
	tok, _ := e.loginTokens(t, "openid email")
	form := url.Values{"token": {tok.AccessToken}}

	if r := e.post(t, ep, form, "", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no client authentication: status %d, want 401 (%s)", r.Status, r.Raw)
	}
	if r := e.post(t, ep, form, "", "", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}); r.Status != http.StatusUnauthorized {
		t.Errorf("bearer token as authentication: status %d, want 401 (%s)", r.Status, r.Raw)
	}
	// RFC 7662 section 2.3: invalid client credentials get a 401 as in RFC
	// 6749 section 5.2, whose error code is invalid_client.
	if r := e.post(t, ep, form, webClient, "wrong-secret", nil); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("wrong client secret: status %d %s, want 401 invalid_client", r.Status, r.Raw)
	}
	pub := url.Values{"token": {tok.AccessToken}, "client_id": {spaClient}}
	if r := e.post(t, ep, pub, "", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("public client: status %d, want 401 (%s)", r.Status, r.Raw)
	}

	r := e.introspect(t, tok.AccessToken)
	if r.Body["active"] != true {
		t.Fatalf("introspection: %s, want active", r.Raw)
	}
	if r.str("client_id") != webClient {
		t.Errorf("client_id = %q, want %s", r.str("client_id"), webClient)
	}
	if sc := strings.Fields(r.str("scope")); !slices.Contains(sc, "openid") || !slices.Contains(sc, "email") {
		t.Errorf("scope = %q, want openid and email", r.str("scope"))
	}
	if r.str("sub") != e.alice.ID {
		t.Errorf("sub = %q, want %q", r.str("sub"), e.alice.ID)
	}
	exp, _ := r.Body["exp"].(float64)
	if now := float64(time.Now().Unix()); exp <= now || exp > now+24*3600 {
		t.Errorf("exp = %v, want in the next day", r.Body["exp"])
	}
	// client_secret_post works for introspection as well.
	r = e.post(t, ep, url.Values{"token": {tok.AccessToken}, "client_id": {postClient}, "client_secret": {secrets.post}}, "", "", nil)
	if r.Status != http.StatusOK || r.Body["active"] != true {
		t.Errorf("introspection with client_secret_post: status %d %s", r.Status, r.Raw)
	}
	if r := e.introspect(t, "garbage"); r.Body["active"] != false {
		t.Errorf("unknown token: %s, want active false", r.Raw)
	}
}

func testClientCredentials(t *testing.T, e *env) {
	cc := clientcredentials.Config{
		ClientID: machineClient, ClientSecret: secrets.machine, TokenURL: e.endpoint(t, "token_endpoint"),
		Scopes: []string{machineScope}, AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(e.rpCtx)
	if err != nil {
		t.Fatalf("client_credentials: %v", describe(err))
	}
	if tok.RefreshToken != "" {
		t.Errorf("client_credentials returned a refresh token")
	}
	if tok.Extra("id_token") != nil {
		t.Errorf("client_credentials returned an ID token")
	}
	r := e.introspect(t, tok.AccessToken)
	if r.Body["active"] != true || r.str("client_id") != machineClient || !slices.Contains(strings.Fields(r.str("scope")), machineScope) {
		t.Errorf("introspection of a client_credentials token: %s", r.Raw)
	}

	bad := cc
	bad.ClientSecret = "wrong"
	if _, err := bad.Token(e.rpCtx); err == nil {
		t.Errorf("wrong secret accepted")
	} else if code, status := oauthErrorCode(err); code != "invalid_client" || status != http.StatusUnauthorized {
		t.Errorf("wrong secret: %s %d, want 401 invalid_client", code, status)
	}
	// RFC 6749 section 5.2: a failed Basic authentication is a 401 with a
	// WWW-Authenticate challenge.
	r = e.post(t, e.endpoint(t, "token_endpoint"), url.Values{"grant_type": {"client_credentials"}}, machineClient, "wrong", nil)
	if r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("wrong Basic secret: status %d %s, want 401 invalid_client", r.Status, r.Raw)
	}
	if w := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(strings.ToLower(w), "basic") {
		t.Errorf("wrong Basic secret: WWW-Authenticate = %q, want a Basic challenge (RFC 6749 section 5.2)", w)
	}
	bad = cc
	bad.Scopes = []string{"openid"}
	if _, err := bad.Token(e.rpCtx); err == nil {
		t.Errorf("a scope the client may not have was granted")
	} else if code, _ := oauthErrorCode(err); code != "invalid_scope" {
		t.Errorf("unregistered scope: %s, want invalid_scope", describe(err))
	}
	// A client without the grant type may not use it.
	r = e.token(t, webClient, url.Values{"grant_type": {"client_credentials"}})
	if r.Status < 400 || r.Status >= 500 || (r.str("error") != "unauthorized_client" && r.str("error") != "invalid_grant") {
		t.Errorf("client_credentials for a client without the grant: status %d %s, want unauthorized_client", r.Status, r.Raw)
	}
	// The password grant is not offered.
	r = e.token(t, webClient, url.Values{"grant_type": {"password"}, "username": {e.alice.Email}, "password": {userPassword}})
	if r.Status != http.StatusBadRequest {
		t.Errorf("password grant: status %d %s, want 400", r.Status, r.Raw)
	}
}

// testPrivateKeyJWT: the code exchange with a private_key_jwt client
// assertion (RFC 7523), and the assertion's jti is single use.
func testPrivateKeyJWT(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, jwtClient, "openid email")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	assertion := e.clientAssertion(t, "")
	tok, _, c := e.mustExchange(t, a, cb.Code,
		oauth2.SetAuthURLParam("client_assertion_type", jwtBearerAssertion),
		oauth2.SetAuthURLParam("client_assertion", assertion))
	if c.Sub != e.alice.ID || tok.AccessToken == "" {
		t.Errorf("private_key_jwt exchange: sub %q", c.Sub)
	}

	exchange := func(code, assertion string) jsonResponse {
		return e.post(t, e.endpoint(t, "token_endpoint"), url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {jwtRedirect},
			"client_id": {jwtClient}, "client_assertion_type": {jwtBearerAssertion}, "client_assertion": {assertion},
		}, "", "", nil)
	}
	// A replayed assertion is refused, even with a fresh code.
	a = e.authz(t, jwtClient, "openid")
	cb = e.code(t, b, a, "", "")
	if r := exchange(cb.Code, assertion); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("replayed client assertion: status %d %s, want 401 invalid_client", r.Status, r.Raw)
	}
	// The other client-authenticated endpoints refuse the replay too.
	for name, ep := range map[string]string{"revocation": e.endpoint(t, "revocation_endpoint"), "introspection": e.endpoint(t, "introspection_endpoint")} {
		r := e.post(t, ep, url.Values{"token": {tok.AccessToken}, "client_id": {jwtClient},
			"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {assertion}}, "", "", nil)
		if r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
			t.Errorf("%s with a replayed client assertion: status %d %s, want 401 invalid_client", name, r.Status, r.Raw)
		}
	}
	if !e.active(t, tok.AccessToken) {
		t.Errorf("a revocation with a replayed client assertion revoked the token")
	}
	// An assertion signed by another key is refused.
	if r := exchange(cb.Code, foreignAssertion(t, e)); r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("assertion signed by an unregistered key: status %d %s, want 401 invalid_client", r.Status, r.Raw)
	}
	// No assertion at all.
	r := e.post(t, e.endpoint(t, "token_endpoint"), url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {jwtRedirect}, "client_id": {jwtClient},
	}, "", "", nil)
	if r.Status != http.StatusUnauthorized {
		t.Errorf("private_key_jwt client without an assertion: status %d %s, want 401", r.Status, r.Raw)
	}
	// The refused attempts did not burn the code: a fresh assertion works.
	if r := exchange(cb.Code, e.clientAssertion(t, "")); r.Status != http.StatusOK {
		t.Errorf("fresh assertion after refused ones: status %d %s", r.Status, r.Raw)
	}
}

// testES256Client: a client registered for ES256 gets ES256-signed ID
// tokens that go-oidc verifies against the JWKS.
func testES256Client(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, es256Client, "openid email")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, idt, _ := e.mustExchange(t, a, cb.Code) // the verifier accepts ES256 only
	raw, _ := tok.Extra("id_token").(string)
	hdr := jwtHeader(t, raw)
	if hdr["alg"] != "ES256" {
		t.Errorf("ID token alg = %v, want ES256", hdr["alg"])
	}
	if hdr["kid"] == nil || hdr["kid"] == "" {
		t.Errorf("ID token has no kid")
	}
	if idt.Subject != e.alice.ID {
		t.Errorf("sub = %q", idt.Subject)
	}
	// The default client's ID tokens are RS256.
	a = e.authz(t, webClient, "openid")
	cb = e.code(t, b, a, "", "")
	tok, _, _ = e.mustExchange(t, a, cb.Code)
	raw, _ = tok.Extra("id_token").(string)
	if alg := jwtHeader(t, raw)["alg"]; alg != "RS256" {
		t.Errorf("default client's ID token alg = %v, want RS256", alg)
	}
}

func jwtHeader(t testing.TB, raw string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("decode JWT header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("parse JWT header: %v", err)
	}
	return m
}
