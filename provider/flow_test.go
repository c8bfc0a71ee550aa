package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestClientCredentials(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		tests := []struct {
			name     string
			secret   string
			scope    string
			expected int
		}{
			{name: "granted", secret: f.secret, scope: "api:read", expected: http.StatusOK},
			{name: "wrong secret", secret: "nope", scope: "api:read", expected: http.StatusUnauthorized},
			{name: "scope not allowed", secret: f.secret, scope: "admin", expected: http.StatusBadRequest},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := f.token(serviceClientID, tc.secret, url.Values{"grant_type": {"client_credentials"}, "scope": {tc.scope}})
				if res.status != tc.expected {
					t.Fatalf("status %d, want %d: %v", res.status, tc.expected, res.body)
				}
				if tc.expected != http.StatusOK {
					return
				}
				at := res.str("access_token")
				if res.str("scope") != tc.scope || at == "" || res.body["refresh_token"] != nil {
					t.Fatalf("unexpected response %v", res.body)
				}
				_, ar, err := f.p.OAuth2().IntrospectToken(context.Background(), at, fosite.AccessToken, f.p.EmptySession())
				if err != nil {
					t.Fatalf("introspect: %v", err)
				}
				if sub := ar.GetSession().GetSubject(); sub != serviceClientID {
					t.Fatalf("subject %q, want the client ID", sub)
				}
			})
		}
		t.Run("public client refused", func(t *testing.T) {
			res := f.token(spaClientID, "", url.Values{"grant_type": {"client_credentials"}})
			if res.status < 400 || res.status >= 500 {
				t.Fatalf("status %d: %v", res.status, res.body)
			}
		})
	})
}

func TestCodeFlowIDToken(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		tests := []struct {
			name     string
			clientID string
			alg      string
		}{
			{name: "RS256 client", clientID: webClientID, alg: "RS256"},
			{name: "ES256 client", clientID: esClientID, alg: "ES256"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				authTime := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
				q := f.authorize(authorizeOpts{clientID: tc.clientID, scope: "openid email offline_access",
					authTime: authTime, requestedAt: authTime, amr: []string{"pwd"}, acr: "phr", sessionID: "sid-42"})
				if q.Get("iss") != testIssuer || q.Get("state") != testState {
					t.Fatalf("authorize response lacks iss or state: %v", q)
				}
				res := f.exchange(tc.clientID, q.Get("code"), "")
				if res.status != http.StatusOK {
					t.Fatalf("exchange: %d %v", res.status, res.body)
				}
				h, claims := verifyIDToken(t, f.p, res.str("id_token"))
				if h.Algorithm != tc.alg {
					t.Fatalf("alg %s, want %s", h.Algorithm, tc.alg)
				}
				want := map[string]any{
					"iss": testIssuer, "sub": "user-1", "nonce": testNonce, "sid": "sid-42",
					"email": "ada@example.com", "email_verified": true, "acr": "phr",
					"auth_time": float64(authTime.Unix()),
				}
				for k, v := range want {
					if claims[k] != v {
						t.Errorf("claim %s = %v, want %v", k, claims[k], v)
					}
				}
				if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != tc.clientID {
					t.Errorf("aud = %v", claims["aud"])
				}
				if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
					t.Errorf("amr = %v", claims["amr"])
				}
				if claims["at_hash"] == nil {
					t.Error("no at_hash")
				}
				if !f.active(res.str("access_token"), fosite.AccessToken) {
					t.Fatal("access token inactive")
				}

				// Refresh: a new ID token keeps the original authentication.
				ref := f.refresh(tc.clientID, res.str("refresh_token"))
				if ref.status != http.StatusOK {
					t.Fatalf("refresh: %d %v", ref.status, ref.body)
				}
				h2, claims2 := verifyIDToken(t, f.p, ref.str("id_token"))
				if h2.Algorithm != tc.alg {
					t.Fatalf("refresh alg %s, want %s", h2.Algorithm, tc.alg)
				}
				for _, k := range []string{"sub", "auth_time", "acr", "sid", "email"} {
					if claims2[k] != claims[k] {
						t.Errorf("after refresh %s = %v, want %v", k, claims2[k], claims[k])
					}
				}
				if amr, _ := claims2["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
					t.Errorf("after refresh amr = %v", claims2["amr"])
				}
				if _, ok := claims2["nonce"]; ok {
					t.Error("refreshed ID token carries a nonce")
				}
				if f.active(res.str("access_token"), fosite.AccessToken) {
					t.Error("the previous access token is still active after refresh")
				}
				if !f.active(ref.str("access_token"), fosite.AccessToken) {
					t.Error("the new access token is inactive")
				}
			})
		}
	})
}

func TestPKCE(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		t.Run("authorize", func(t *testing.T) {
			tests := []struct {
				name     string
				clientID string
				extra    url.Values
				ok       bool
			}{
				{name: "public without challenge", clientID: spaClientID, ok: false},
				{name: "public with plain", clientID: spaClientID, extra: url.Values{"code_challenge": {pkceVerifier()}, "code_challenge_method": {"plain"}}, ok: false},
				{name: "public with default method", clientID: spaClientID, extra: url.Values{"code_challenge": {pkceVerifier()}}, ok: false},
				{name: "public with S256", clientID: spaClientID, extra: url.Values{"code_challenge": {s256(pkceVerifier())}, "code_challenge_method": {"S256"}}, ok: true},
				{name: "confidential without challenge", clientID: webClientID, ok: true},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ar, err := f.authorizeRequest(authorizeOpts{clientID: tc.clientID, scope: "openid", extra: tc.extra})
					if err != nil {
						t.Fatalf("new authorize request: %v", err)
					}
					ar.GrantScope("openid")
					_, err = f.p.OAuth2().NewAuthorizeResponse(context.Background(), ar, f.p.NewSession(authnFor(tc.clientID)))
					if (err == nil) != tc.ok {
						t.Fatalf("err = %v, want ok=%v", err, tc.ok)
					}
				})
			}
		})
		t.Run("token", func(t *testing.T) {
			verifier := pkceVerifier()
			code := f.code(authorizeOpts{clientID: spaClientID, scope: "openid", verifier: verifier})
			if res := f.exchange(spaClientID, code, pkceVerifier()); res.status != http.StatusBadRequest || res.str("error") != "invalid_grant" {
				t.Fatalf("wrong verifier: %d %v", res.status, res.body)
			}
			if res := f.exchange(spaClientID, code, ""); res.status != http.StatusBadRequest {
				t.Fatalf("no verifier after a failed attempt: %d %v", res.status, res.body)
			}
			if res := f.exchange(spaClientID, code, verifier); res.status != http.StatusOK {
				t.Fatalf("right verifier: %d %v", res.status, res.body)
			}
		})
		t.Run("confidential client cannot drop PKCE after a failed attempt", func(t *testing.T) {
			verifier := pkceVerifier()
			code := f.code(authorizeOpts{clientID: webClientID, scope: "openid", verifier: verifier})
			if res := f.exchange(webClientID, code, pkceVerifier()); res.status != http.StatusBadRequest {
				t.Fatalf("wrong verifier: %d %v", res.status, res.body)
			}
			if res := f.exchange(webClientID, code, ""); res.status != http.StatusBadRequest {
				t.Fatalf("PKCE bypassed: %d %v", res.status, res.body)
			}
		})
	})
}

func TestCodeReuseRevokesTokens(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		code := f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"})
		first := f.exchange(webClientID, code, "")
		if first.status != http.StatusOK {
			t.Fatalf("first: %d %v", first.status, first.body)
		}
		second := f.exchange(webClientID, code, "")
		if second.status != http.StatusBadRequest || second.str("error") != "invalid_grant" {
			t.Fatalf("second: %d %v", second.status, second.body)
		}
		if f.active(first.str("access_token"), fosite.AccessToken) || f.active(first.str("refresh_token"), fosite.RefreshToken) {
			t.Fatal("tokens of a reused code are still active")
		}
	})
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		code := f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"})
		first := f.exchange(webClientID, code, "")
		second := f.refresh(webClientID, first.str("refresh_token"))
		if second.status != http.StatusOK {
			t.Fatalf("refresh: %d %v", second.status, second.body)
		}
		reuse := f.refresh(webClientID, first.str("refresh_token"))
		if reuse.status != http.StatusBadRequest || reuse.str("error") != "invalid_grant" {
			t.Fatalf("reuse: %d %v", reuse.status, reuse.body)
		}
		for name, tok := range map[string]string{"second access": second.str("access_token"), "second refresh": second.str("refresh_token")} {
			if f.active(tok, fosite.AccessToken) || f.active(tok, fosite.RefreshToken) {
				t.Errorf("%s token still active after reuse", name)
			}
		}
		if res := f.refresh(webClientID, second.str("refresh_token")); res.status != http.StatusBadRequest {
			t.Fatalf("refresh with the revoked token: %d %v", res.status, res.body)
		}
	})
}

func TestRevocation(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		res := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"}), "")
		r := httpPost("/oauth/revoke", url.Values{"token": {res.str("refresh_token")}})
		r.SetBasicAuth(webClientID, f.secret)
		if err := f.p.OAuth2().NewRevocationRequest(context.Background(), r); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if f.active(res.str("access_token"), fosite.AccessToken) || f.active(res.str("refresh_token"), fosite.RefreshToken) {
			t.Fatal("revoking the refresh token left tokens of the grant active")
		}
		// Another client cannot revoke (or probe) the token.
		other := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "")
		r = httpPost("/oauth/revoke", url.Values{"token": {other.str("access_token")}})
		r.SetBasicAuth(esClientID, f.secret)
		if err := f.p.OAuth2().NewRevocationRequest(context.Background(), r); err == nil {
			t.Fatal("a client revoked another client's token")
		}
		if !f.active(other.str("access_token"), fosite.AccessToken) {
			t.Fatal("token revoked by another client")
		}
	})
}

func TestReplicasShareTokens(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	f := newFixture(t, s)
	res := f.token(serviceClientID, f.secret, url.Values{"grant_type": {"client_credentials"}})
	replica := &fixture{t: t, p: newProvider(t, s), store: s, secret: f.secret}
	if !replica.active(res.str("access_token"), fosite.AccessToken) {
		t.Fatal("a replica with the same secret rejects the token")
	}
	if string(replica.p.JWKSJSON()) != string(f.p.JWKSJSON()) {
		t.Fatal("replicas publish different keys")
	}
}

// authnFor is a minimal authentication for tests at the fosite level.
func authnFor(clientID string) provider.Authentication {
	now := time.Now().UTC().Truncate(time.Second)
	return provider.Authentication{Subject: "user-1", ClientID: clientID, AuthTime: now, RequestedAt: now}
}

func httpPost(path string, form url.Values) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, testIssuer+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestIntrospectAccessToken(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	f := newFixture(t, s)
	res := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access", sessionID: "sid-9"}), "")
	ctx := context.Background()
	ar, sess, err := f.p.IntrospectAccessToken(ctx, res.str("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	if a := sess.Authentication(); a.Subject != "user-1" || a.SessionID != "sid-9" || !ar.GetGrantedScopes().Has("openid") {
		t.Fatalf("session %+v, scopes %v", a, ar.GetGrantedScopes())
	}
	// fosite's own introspection accepts a refresh token for
	// fosite.AccessToken (it falls back); the helper does not.
	if use, _, err := f.p.OAuth2().IntrospectToken(ctx, res.str("refresh_token"), fosite.AccessToken, f.p.EmptySession()); err != nil || use != fosite.RefreshToken {
		t.Fatalf("fosite fallback changed: %v %v", use, err)
	}
	if _, _, err := f.p.IntrospectAccessToken(ctx, res.str("refresh_token")); err == nil {
		t.Fatal("refresh token accepted as a bearer access token")
	}
	if _, _, err := f.p.IntrospectAccessToken(ctx, "ory_at_garbage.garbage"); err == nil {
		t.Fatal("garbage accepted")
	}
}
