package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func testHealth(t *testing.T, e *env) {
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := httpClient.Get(e.url(path))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, resp.StatusCode)
		}
	}
}

func testDiscovery(t *testing.T, e *env) {
	m := e.meta
	if m["issuer"] != e.issuer {
		t.Errorf("issuer = %v, want %s", m["issuer"], e.issuer)
	}
	if m["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("authorization_response_iss_parameter_supported = %v, want true", m["authorization_response_iss_parameter_supported"])
	}
	if got := strs(m["code_challenge_methods_supported"]); !slices.Equal(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want [S256]", got)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
		"revocation_endpoint", "introspection_endpoint", "end_session_endpoint"} {
		s, _ := m[k].(string)
		if !strings.HasPrefix(s, e.issuer+"/") {
			t.Errorf("%s = %q, want an URL under the issuer", k, s)
		}
	}
	if got := strs(m["response_types_supported"]); !slices.Equal(got, []string{"code"}) {
		t.Errorf("response_types_supported = %v, want [code] (no implicit flow)", got)
	}
	grants := strs(m["grant_types_supported"])
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials"} {
		if !slices.Contains(grants, g) {
			t.Errorf("grant_types_supported = %v, missing %s", grants, g)
		}
	}
	for _, g := range []string{"password", "implicit"} {
		if slices.Contains(grants, g) {
			t.Errorf("grant_types_supported = %v, must not have %s", grants, g)
		}
	}
	methods := strs(m["token_endpoint_auth_methods_supported"])
	for _, a := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} {
		if !slices.Contains(methods, a) {
			t.Errorf("token_endpoint_auth_methods_supported = %v, missing %s", methods, a)
		}
	}
	algs := strs(m["id_token_signing_alg_values_supported"])
	for _, a := range []string{"RS256", "ES256"} {
		if !slices.Contains(algs, a) {
			t.Errorf("id_token_signing_alg_values_supported = %v, missing %s", algs, a)
		}
	}
	prompts := strs(m["prompt_values_supported"])
	if prompts != nil && !slices.Contains(prompts, "create") {
		t.Errorf("prompt_values_supported = %v, missing create", prompts)
	}
}

func strs(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// testCodeFlowConfidential: the authorization code flow for a
// client_secret_basic client, every ID token claim checked.
func testCodeFlowConfidential(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email profile")
	before := time.Now().Add(-time.Second).Unix()
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	after := time.Now().Add(time.Second).Unix()
	tok, idt, c := e.mustExchange(t, a, cb.Code)

	if tok.TokenType != "bearer" && tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer", tok.TokenType)
	}
	if idt.Issuer != e.issuer {
		t.Errorf("iss = %q, want %q", idt.Issuer, e.issuer)
	}
	if !slices.Equal(idt.Audience, []string{webClient}) {
		t.Errorf("aud = %v, want [%s]", idt.Audience, webClient)
	}
	if idt.Subject != e.alice.ID {
		t.Errorf("sub = %q, want Alice's ID %q", idt.Subject, e.alice.ID)
	}
	if c.AuthTime < before || c.AuthTime > after {
		t.Errorf("auth_time = %d, want within [%d, %d]", c.AuthTime, before, after)
	}
	if c.Sid == "" {
		t.Errorf("sid is missing")
	} else if s, err := e.store.GetSession(bg(), c.Sid); err != nil {
		t.Errorf("sid %q: no stored session: %v", c.Sid, err)
	} else if s.UserID != e.alice.ID {
		t.Errorf("sid's session belongs to %q, want %q", s.UserID, e.alice.ID)
	}
	if c.AtHash == "" {
		t.Errorf("at_hash is missing")
	}
	if !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Errorf("amr = %v, want [pwd]", c.AMR)
	}
	// acr stays empty after a password login until a rule grants a class
	// (the passkey issue); the refresh test checks it is carried over.
	if c.Email != e.alice.Email {
		t.Errorf("email = %q, want %q", c.Email, e.alice.Email)
	}
	if c.EmailVerified == nil || !*c.EmailVerified {
		t.Errorf("email_verified = %v, want true", c.EmailVerified)
	}
	if c.Name != "Alice Liddell" || c.GivenName != "Alice" || c.FamilyName != "Liddell" || c.Nickname != "alice" {
		t.Errorf("profile claims = name %q given %q family %q nickname %q, want Alice Liddell/Alice/Liddell/alice",
			c.Name, c.GivenName, c.FamilyName, c.Nickname)
	}
	if tok.RefreshToken != "" {
		t.Errorf("a refresh token without offline_access")
	}
	// The relying party can use the access token at userinfo.
	ui, err := e.provider.UserInfo(e.rpCtx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != e.alice.ID || ui.Email != e.alice.Email {
		t.Errorf("userinfo sub %q email %q, want %q %q", ui.Subject, ui.Email, e.alice.ID, e.alice.Email)
	}
}

// testCodeFlowScopes: claims follow the scopes.
func testCodeFlowScopes(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	_, _, c := e.mustExchange(t, a, cb.Code)
	for _, k := range []string{"email", "email_verified", "name", "given_name", "family_name", "nickname"} {
		if _, ok := c.All[k]; ok {
			t.Errorf("scope openid only: ID token has %s", k)
		}
	}
	if c.Sub != e.alice.ID {
		t.Errorf("sub = %q, want %q", c.Sub, e.alice.ID)
	}

	// Same browser, already logged in: email but not profile.
	a = e.authz(t, webClient, "openid email")
	cb = e.code(t, b, a, "", "")
	_, _, c = e.mustExchange(t, a, cb.Code)
	if c.Email != e.alice.Email {
		t.Errorf("scope email: email = %q", c.Email)
	}
	if _, ok := c.All["name"]; ok {
		t.Errorf("scope openid email: ID token has name")
	}
}

func testCodeFlowClientSecretPost(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, postClient, "openid email")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	_, idt, _ := e.mustExchange(t, a, cb.Code)
	if idt.Subject != e.alice.ID {
		t.Errorf("sub = %q", idt.Subject)
	}

	// The same client's secret sent with Basic is refused: the client
	// registered client_secret_post.
	a = e.authz(t, postClient, "openid")
	cb = e.code(t, b, a, "", "")
	r := e.post(t, e.endpoint(t, "token_endpoint"), url.Values{
		"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {postRedirect},
	}, postClient, secrets.post, nil)
	if r.Status != http.StatusUnauthorized || r.str("error") != "invalid_client" {
		t.Errorf("client_secret_basic for a client_secret_post client: status %d %s, want 401 invalid_client", r.Status, r.Raw)
	}
}

func testCodeFlowPKCEPublic(t *testing.T, e *env) {
	b := e.newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	a := e.authz(t, spaClient, "openid email offline_access").pkce(verifier)
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, idt, _ := e.mustExchange(t, a, cb.Code, oauth2.VerifierOption(verifier))
	if idt.Subject != e.alice.ID {
		t.Errorf("sub = %q", idt.Subject)
	}
	if tok.RefreshToken == "" {
		t.Errorf("no refresh token for offline_access")
	}
	// A public client refreshes without a secret.
	r := e.token(t, spaClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if r.Status != http.StatusOK {
		t.Errorf("public client refresh: status %d %s", r.Status, r.Raw)
	}
}

// testPKCE: the PKCE variants (RFC 7636): a public client must send an S256
// challenge, plain is refused, and the verifier must match.
func testPKCE(t *testing.T, e *env) {
	b := e.newBrowser(t)
	// Log in once; the cases below reuse the session.
	e.code(t, b, e.authz(t, spaClient, "openid").pkce(oauth2.GenerateVerifier()), e.alice.Email, userPassword)

	good := oauth2.GenerateVerifier()
	tests := []struct {
		name   string
		client string
		// challenge and method go on the authorization request ("" = absent).
		challenge, method string
		// verifier goes on the token request ("" = absent).
		verifier string
		// wantAuthz is the error on the authorization response, or "".
		wantAuthz string
		// wantToken is the error of the token response, or "" for success.
		wantToken string
	}{
		{name: "S256 ok", client: spaClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", verifier: good},
		{name: "public without PKCE", client: spaClient, wantAuthz: "invalid_request"},
		{name: "plain refused", client: spaClient, challenge: good, method: "plain", wantAuthz: "invalid_request"},
		{name: "method defaulting to plain refused", client: spaClient, challenge: good, wantAuthz: "invalid_request"},
		{name: "missing verifier", client: spaClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", wantToken: "invalid_grant"},
		{name: "wrong verifier", client: spaClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", verifier: oauth2.GenerateVerifier(), wantToken: "invalid_grant"},
		{name: "verifier of another length", client: spaClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", verifier: good + "x", wantToken: "invalid_grant"},
		{name: "confidential with S256", client: webClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", verifier: good},
		{name: "confidential with wrong verifier", client: webClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", verifier: oauth2.GenerateVerifier(), wantToken: "invalid_grant"},
		{name: "confidential with S256 and no verifier", client: webClient, challenge: oauth2.S256ChallengeFromVerifier(good), method: "S256", wantToken: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.authz(t, tt.client, "openid").set("code_challenge", tt.challenge).set("code_challenge_method", tt.method)
			p := b.get(t, a.String())
			if tt.client == webClient && p.Location == nil && p.path() == "/u/login" {
				p = b.login(t, p, e.alice.Email, userPassword)
			}
			cb := p.callback(t, a.redirect())
			e.checkResponse(t, a, cb)
			if tt.wantAuthz != "" {
				if cb.Error != tt.wantAuthz || cb.Code != "" {
					t.Fatalf("authorization response error=%q code=%q, want error %s", cb.Error, cb.Code, tt.wantAuthz)
				}
				return
			}
			if cb.Code == "" {
				t.Fatalf("no code: error=%q %s", cb.Error, cb.ErrorDescription)
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {a.redirect()}}
			if tt.verifier != "" {
				form.Set("code_verifier", tt.verifier)
			}
			r := e.token(t, tt.client, form)
			if tt.wantToken == "" {
				if r.Status != http.StatusOK {
					t.Fatalf("token: status %d %s, want 200", r.Status, r.Raw)
				}
				if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
					t.Errorf("token response Cache-Control = %q, want no-store (RFC 6749 section 5.1)", cc)
				}
				return
			}
			if r.Status != http.StatusBadRequest || r.str("error") != tt.wantToken {
				t.Fatalf("token: status %d %s, want 400 %s", r.Status, r.Raw, tt.wantToken)
			}
		})
	}
}

// testUnknownParameters: unknown authorization and token request
// parameters are ignored, and the OIDC parameters Latchkey accepts without
// acting on them yet do not break the flow.
func testUnknownParameters(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email").
		set("foo", "bar").set("x-vendor-thing", "1").
		set("display", "page").set("ui_locales", "fr-CA en").set("acr_values", "urn:example:loa:1").
		set("login_hint", e.alice.Email).
		set("claims", `{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}`)
	p := b.get(t, a.String())
	if p.path() != "/u/login" {
		t.Fatalf("want the login page, got %s (status %d): %s", p.URL, p.Status, excerpt(p.Body))
	}
	if !strings.Contains(p.Body, `value="`+e.alice.Email+`"`) {
		t.Errorf("login_hint: the email field is not prefilled with %s", e.alice.Email)
	}
	p = b.login(t, p, e.alice.Email, userPassword)
	cb := p.callback(t, a.redirect())
	e.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("no code: error=%q %s", cb.Error, cb.ErrorDescription)
	}
	tok, err := e.exchange(t, a, cb.Code, oauth2.SetAuthURLParam("foo", "bar"), oauth2.SetAuthURLParam("resource_hint", "x"))
	if err != nil {
		t.Fatalf("exchange with unknown parameters: %v", describe(err))
	}
	_, c := e.verifyIDToken(t, webClient, tok)
	if c.Email != e.alice.Email {
		t.Errorf("email = %q", c.Email)
	}
}

// testClaimsParameter: the claims request parameter (OpenID Connect Core
// section 5.5) adds individual claims to the ID token and to userinfo
// beyond what the scopes give.
func testClaimsParameter(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid").
		set("claims", `{"id_token":{"email":{"essential":true}},"userinfo":{"name":null}}`)
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, _, c := e.mustExchange(t, a, cb.Code)
	if c.Email != e.alice.Email {
		t.Errorf("ID token email = %q, want %q (requested in claims)", c.Email, e.alice.Email)
	}
	if _, ok := c.All["name"]; ok {
		t.Errorf("ID token has name, which was requested for userinfo only")
	}
	req, _ := http.NewRequest(http.MethodGet, e.endpoint(t, "userinfo_endpoint"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	r, err := e.send(req)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("userinfo: %v status %d %s", err, r.Status, r.Raw)
	}
	if r.str("name") != "Alice Liddell" {
		t.Errorf("userinfo name = %q, want Alice Liddell (requested in claims): %s", r.str("name"), r.Raw)
	}
	if r.str("sub") != e.alice.ID {
		t.Errorf("userinfo sub = %q", r.str("sub"))
	}
	// A claims parameter that is not JSON is an error for the client.
	a = e.authz(t, webClient, "openid").set("claims", "{not json")
	cb = b.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "invalid_request" {
		t.Errorf("malformed claims: error %q, want invalid_request", cb.Error)
	}
}
