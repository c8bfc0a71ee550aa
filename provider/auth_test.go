package provider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestPrivateKeyJWT(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1"}}})
		if err != nil {
			t.Fatal(err)
		}
		const id = "pkjwt"
		if _, err := s.CreateClient(context.Background(), storage.Client{ID: id, JWKS: jwks,
			GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}}); err != nil {
			t.Fatal(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		assertion := func(jti, aud string) string {
			now := time.Now()
			raw, err := josejwt.Signed(signer).Claims(josejwt.Claims{
				Issuer: id, Subject: id, Audience: josejwt.Audience{aud}, ID: jti,
				IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(time.Minute)),
			}).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
		request := func(a string) tokenResult {
			return f.token(id, "", url.Values{
				"grant_type":            {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {a},
			})
		}
		tokenURL := testIssuer + "/oauth/token"
		first := assertion("jti-1", tokenURL)
		if res := request(first); res.status != http.StatusOK {
			t.Fatalf("assertion refused: %d %v", res.status, res.body)
		}
		// RFC 7523 section 3.2: a replayed assertion is invalid_client.
		if res := request(first); res.status != http.StatusUnauthorized || res.body["error"] != "invalid_client" {
			t.Fatalf("replayed assertion: %d %v", res.status, res.body)
		}
		if res := request(assertion("jti-2", "https://elsewhere.example/token")); res.status < 400 || res.status >= 500 {
			t.Fatalf("wrong audience: %d %v", res.status, res.body)
		}
		if res := f.token(id, "some-secret", url.Values{"grant_type": {"client_credentials"}}); res.status != http.StatusUnauthorized {
			t.Fatalf("secret for a private_key_jwt client: %d %v", res.status, res.body)
		}
	})
}

func TestArgon2idClientSecretThroughFosite(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	f := newFixture(t, s)
	hash, err := provider.HashClientSecret("short secret")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateClient(context.Background(), storage.Client{ID: "argon", SecretHash: hash,
		GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_post"}); err != nil {
		t.Fatal(err)
	}
	post := func(secret string) int {
		return f.token("argon", "", url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}).status
	}
	for range 3 { // the second and third are served from the verification cache
		if code := post("short secret"); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	if code := post("short secreT"); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: status %d", code)
	}
}

func TestAuthorizeErrorRedirect(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	f := newFixture(t, s)
	ctx := context.Background()
	tests := []struct {
		name         string
		opts         authorizeOpts
		redirected   bool
		expectedErr  string
		responseMode string
	}{
		{name: "scope not allowed", opts: authorizeOpts{clientID: webClientID, scope: "openid admin"}, redirected: true, expectedErr: "invalid_scope"},
		{name: "public client without PKCE", opts: authorizeOpts{clientID: spaClientID, scope: "openid"}, redirected: true, expectedErr: "invalid_request"},
		{name: "unknown prompt", opts: authorizeOpts{clientID: webClientID, scope: "openid", extra: url.Values{"prompt": {"bogus"}}}, redirected: true, expectedErr: "invalid_request"},
		{name: "form_post", opts: authorizeOpts{clientID: webClientID, scope: "openid admin", responseMode: "form_post"}, redirected: true, expectedErr: "invalid_scope", responseMode: "form_post"},
		{name: "unknown client", opts: authorizeOpts{clientID: "nobody", scope: "openid"}, redirected: false},
		{name: "unregistered redirect", opts: authorizeOpts{clientID: webClientID, scope: "openid", extra: url.Values{"redirect_uri": {"https://evil.example/cb"}}}, redirected: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := f.authorizeRequest(tc.opts)
			if err == nil {
				for _, sc := range ar.GetRequestedScopes() {
					ar.GrantScope(sc)
				}
				_, err = f.p.OAuth2().NewAuthorizeResponse(ctx, ar, f.p.NewSession(authnFor(tc.opts.clientID)))
			}
			if err == nil {
				t.Fatal("no error")
			}
			rec := httptest.NewRecorder()
			if got := f.p.WriteAuthorizeError(ctx, rec, ar, err); got != tc.redirected {
				t.Fatalf("redirected = %v, want %v", got, tc.redirected)
			}
			if !tc.redirected {
				if rec.Body.Len() != 0 || rec.Header().Get("Location") != "" {
					t.Fatal("wrote a response although it did not redirect")
				}
				return
			}
			var params url.Values
			if tc.responseMode == "form_post" {
				body := rec.Body.String()
				for _, want := range []string{`action="` + testRedirect + `"`, `value="` + tc.expectedErr + `"`, `value="` + testIssuer + `"`, `value="` + testState + `"`} {
					if !strings.Contains(body, want) {
						t.Fatalf("form_post body lacks %s:\n%s", want, body)
					}
				}
				return
			}
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("status %d", rec.Code)
			}
			loc, _ := url.Parse(rec.Header().Get("Location"))
			params = loc.Query()
			if loc.Scheme+"://"+loc.Host+loc.Path != testRedirect {
				t.Fatalf("redirected to %s", loc)
			}
			if params.Get("error") != tc.expectedErr || params.Get("iss") != testIssuer || params.Get("state") != testState || params.Get("error_description") == "" {
				t.Fatalf("error redirect parameters %v", params)
			}
		})
	}
}

func TestRequestObjectsRefused(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	f := newFixture(t, s)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Use: "sig"}}})
	if _, err := s.CreateClient(context.Background(), storage.Client{ID: "jar", JWKS: jwks, RedirectURIs: []string{testRedirect},
		Scopes: []string{"openid"}, GrantTypes: []string{"authorization_code"}}); err != nil {
		t.Fatal(err)
	}
	// An unsigned request object (that would set the nonce).
	header := `{"alg":"none","typ":"JWT"}`
	claims := `{"nonce":"from-the-request-object","scope":"openid"}`
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	unsigned := b64(header) + "." + b64(claims) + "."
	_, err := f.authorizeRequest(authorizeOpts{clientID: "jar", scope: "openid", extra: url.Values{"request": {unsigned}}})
	if err == nil {
		t.Fatal("unsigned request object accepted")
	}
	_, err = f.authorizeRequest(authorizeOpts{clientID: "jar", scope: "openid", extra: url.Values{"request_uri": {"https://rp.example/req"}}})
	if err == nil {
		t.Fatal("request_uri accepted")
	}
}

func TestSessionRoundTrip(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	p := newProvider(t, s)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	a := provider.Authentication{
		Subject: "u1", ClientID: "c1", SessionID: "s1", ConnectionID: "db", AuthTime: at, RequestedAt: at.Add(-time.Second),
		AMR: []string{"pwd"}, ACR: "phr", Nonce: "n", IDTokenExtra: map[string]any{"email": "a@example.com"},
		UserinfoClaims: []string{"name"},
	}
	sess := p.NewSession(a)
	sess.SetExpiresAt(fosite.AccessToken, at.Add(time.Hour))
	b, err := json.Marshal(sess)
	if err != nil {
		t.Fatal(err)
	}
	back := p.EmptySession()
	if err := json.Unmarshal(b, back); err != nil {
		t.Fatal(err)
	}
	got := back.Authentication()
	if got.Subject != a.Subject || !got.AuthTime.Equal(at) || got.ACR != "phr" || got.IDTokenExtra["email"] != "a@example.com" ||
		len(got.UserinfoClaims) != 1 || back.GetSubject() != "u1" || !back.GetExpiresAt(fosite.AccessToken).Equal(at.Add(time.Hour)) ||
		back.IDTokenClaims().Extra["sid"] != "s1" || back.IDTokenClaims().Extra["sub"] != nil {
		t.Fatalf("round trip lost data: %s", b)
	}
	clone := sess.Clone().(*provider.Session)
	clone.Auth.AMR[0] = "changed"
	clone.IDTokenClaims().Subject = "changed"
	if sess.Auth.AMR[0] != "pwd" || sess.IDTokenClaims().Subject != "u1" {
		t.Fatal("Clone shares state with the original")
	}
}
