package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func jwksKIDs(t testing.TB, p *provider.Provider) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(p.JWKSJSON(), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("jwks holds a private key: %s", k.KeyID)
		}
		if k.Use != "sig" || k.KeyID == "" || (k.Algorithm != "RS256" && k.Algorithm != "ES256") {
			t.Fatalf("jwks key %+v lacks use, kid or alg", k)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestKeyRotation(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		f := newFixture(t, s)
		replica := newProvider(t, s)
		old := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "")
		oldHeader, _ := verifyIDToken(t, f.p, old.str("id_token"))
		if kids := jwksKIDs(t, f.p); len(kids) != 2 {
			t.Fatalf("jwks has %d keys, want 2", len(kids))
		}

		if err := f.p.RotateKeys(ctx); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		kids := jwksKIDs(t, f.p)
		if len(kids) != 4 || !slices.Contains(kids, oldHeader.KeyID) {
			t.Fatalf("after rotation jwks %v, want 4 keys including %s", kids, oldHeader.KeyID)
		}
		fresh := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "")
		newHeader, _ := verifyIDToken(t, f.p, fresh.str("id_token"))
		if newHeader.KeyID == oldHeader.KeyID {
			t.Fatal("new ID tokens still use the retired key")
		}
		if _, err := f.p.VerifyIDTokenHint(ctx, old.str("id_token")); err != nil {
			t.Fatalf("ID token of the retired key no longer verifies: %v", err)
		}

		// The replica picks the rotation up on reload.
		if _, err := replica.VerifyIDTokenHint(ctx, fresh.str("id_token")); err == nil {
			t.Fatal("replica verified a key it has not loaded")
		}
		if err := replica.ReloadKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if string(replica.JWKSJSON()) != string(f.p.JWKSJSON()) {
			t.Fatal("replica's jwks differs after reload")
		}

		infos, err := f.p.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		active := 0
		for _, k := range infos {
			if k.Active {
				active++
				if k.Generation != 2 || !k.RetiredAt.IsZero() {
					t.Errorf("active key %+v is not of the new generation", k)
				}
			} else if k.Generation != 1 || k.RetiredAt.IsZero() || !k.Published {
				t.Errorf("retired key %+v", k)
			}
		}
		if len(infos) != 4 || active != 2 {
			t.Fatalf("keys %+v", infos)
		}
	})
}

func TestActivationDelay(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	ctx := context.Background()
	f := newFixture(t, s, func(c *provider.Config) { c.KeyActivationDelay = time.Hour })
	before := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "")
	h1, _ := verifyIDToken(t, f.p, before.str("id_token"))
	if err := f.p.RotateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(jwksKIDs(t, f.p)); n != 4 {
		t.Fatalf("the new generation is not published: %d keys", n)
	}
	after := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "")
	h2, _ := verifyIDToken(t, f.p, after.str("id_token"))
	if h1.KeyID != h2.KeyID {
		t.Fatal("the new generation signs before its activation delay")
	}
}

func TestNewRejectsWrongSecret(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	newProvider(t, s)
	_, err := provider.New(context.Background(), provider.Config{Issuer: testIssuer, Secret: []byte(strings.Repeat("x", 40))}, s)
	if err == nil {
		t.Fatal("keys sealed under another secret were accepted")
	}
}

func TestConfigValidation(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	tests := []struct {
		name string
		have provider.Config
	}{
		{name: "no issuer", have: provider.Config{Secret: testSecret()}},
		{name: "trailing slash", have: provider.Config{Issuer: testIssuer + "/", Secret: testSecret()}},
		{name: "relative issuer", have: provider.Config{Issuer: "/op", Secret: testSecret()}},
		{name: "short secret", have: provider.Config{Issuer: testIssuer, Secret: []byte("short")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := provider.New(context.Background(), tc.have, s); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestVerifyIDTokenHint(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	ctx := context.Background()
	f := newFixture(t, s)
	res := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid", sessionID: "sid-7"}), "")
	raw := res.str("id_token")
	hint, err := f.p.VerifyIDTokenHint(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if hint.Subject != "user-1" || hint.SessionID != "sid-7" || !slices.Equal(hint.Audience, []string{webClientID}) || hint.ExpiresAt.IsZero() {
		t.Fatalf("hint %+v", hint)
	}

	// A provider with other keys (another deployment) and a different
	// issuer.
	other := newFixture(t, sqltest.Open(t, sqlstore.DriverSQLite), func(c *provider.Config) {
		c.Issuer = "https://other.example"
		c.Secret = []byte(strings.Repeat("y", 40))
	})
	foreign := other.exchange(webClientID, other.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "")
	parts := strings.Split(raw, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	tests := []struct {
		name string
		have string
	}{
		{name: "foreign", have: foreign.str("id_token")},
		{name: "tampered", have: tampered},
		{name: "garbage", have: "not.a.jwt"},
		{name: "empty", have: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.p.VerifyIDTokenHint(ctx, tc.have); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("id_token_hint at the authorize endpoint", func(t *testing.T) {
		ar, err := f.authorizeRequest(authorizeOpts{clientID: webClientID, scope: "openid", extra: map[string][]string{"id_token_hint": {raw}, "prompt": {"none"}}})
		if err != nil {
			t.Fatal(err)
		}
		ar.GrantScope("openid")
		_, err = f.p.OAuth2().NewAuthorizeResponse(ctx, ar, f.p.NewSession(authnFor(webClientID)))
		if err != nil {
			t.Fatalf("valid id_token_hint refused: %v", err)
		}
		ar, _ = f.authorizeRequest(authorizeOpts{clientID: webClientID, scope: "openid", extra: map[string][]string{"id_token_hint": {foreign.str("id_token")}}})
		ar.GrantScope("openid")
		if _, err = f.p.OAuth2().NewAuthorizeResponse(ctx, ar, f.p.NewSession(authnFor(webClientID))); err == nil {
			t.Fatal("foreign id_token_hint accepted")
		}
	})
}

func TestDiscovery(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	p := newProvider(t, s)
	var doc map[string]any
	if err := json.Unmarshal(p.DiscoveryJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	strs := func(k string) []string {
		var out []string
		for _, v := range doc[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	tests := []struct {
		key      string
		expected any
	}{
		{"issuer", testIssuer},
		{"authorization_endpoint", testIssuer + "/authorize"},
		{"token_endpoint", testIssuer + "/oauth/token"},
		{"userinfo_endpoint", testIssuer + "/userinfo"},
		{"revocation_endpoint", testIssuer + "/oauth/revoke"},
		{"introspection_endpoint", testIssuer + "/oauth/introspect"},
		{"end_session_endpoint", testIssuer + "/oidc/logout"},
		{"jwks_uri", testIssuer + "/.well-known/jwks.json"},
		{"response_types_supported", []string{"code"}},
		{"response_modes_supported", []string{"query", "form_post"}},
		{"grant_types_supported", []string{"authorization_code", "refresh_token", "client_credentials"}},
		{"subject_types_supported", []string{"public"}},
		{"id_token_signing_alg_values_supported", []string{"RS256", "ES256"}},
		{"token_endpoint_auth_methods_supported", []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}},
		{"code_challenge_methods_supported", []string{"S256"}},
		{"scopes_supported", []string{"openid", "profile", "email", "offline_access"}},
		{"prompt_values_supported", []string{"none", "login", "consent", "create"}},
		{"acr_values_supported", []string{"phr", "phrh", provider.ACRMultiFactor}},
		{"display_values_supported", []string{"page"}},
		{"claims_parameter_supported", true},
		{"request_parameter_supported", false},
		{"request_uri_parameter_supported", false},
		{"authorization_response_iss_parameter_supported", true},
		{"frontchannel_logout_supported", false},
		{"backchannel_logout_supported", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			switch want := tc.expected.(type) {
			case []string:
				if got := strs(tc.key); !slices.Equal(got, want) {
					t.Fatalf("%v, want %v", got, want)
				}
			default:
				if doc[tc.key] != want {
					t.Fatalf("%v, want %v", doc[tc.key], want)
				}
			}
		})
	}
	for _, c := range []string{"sub", "auth_time", "acr", "amr", "sid", "email", "email_verified", "name", "updated_at"} {
		if !slices.Contains(strs("claims_supported"), c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
	for _, k := range []string{"token_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"} {
		if len(strs(k)) == 0 {
			t.Errorf("%s empty", k)
		}
	}
	_ = http.StatusOK
}

func FuzzVerifyIDTokenHint(f *testing.F) {
	s := sqltest.Open(f, sqlstore.DriverSQLite)
	fx := newFixture(f, s)
	valid := fx.exchange(webClientID, fx.code(authorizeOpts{clientID: webClientID, scope: "openid"}), "").str("id_token")
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add(`eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.`)
	f.Fuzz(func(t *testing.T, raw string) {
		hint, err := fx.p.VerifyIDTokenHint(context.Background(), raw)
		if err == nil && (raw != valid || hint.Subject != "user-1") {
			t.Fatalf("accepted %q as %+v", raw, hint)
		}
	})
}
