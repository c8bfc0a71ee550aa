package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// opServer serves the provider over HTTP with an authorize endpoint that
// logs user-1 in without asking, so that a relying-party library can drive
// the whole code flow.
func opServer(t *testing.T, s *sqlstore.Store) (*httptest.Server, *fixture) {
	t.Helper()
	var f *fixture
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.p.DiscoveryJSON())
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.p.JWKSJSON())
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, err := f.p.OAuth2().NewAuthorizeRequest(ctx, r)
		if err != nil {
			if !f.p.WriteAuthorizeError(ctx, w, ar, err) {
				http.Error(w, "bad request", http.StatusBadRequest)
			}
			return
		}
		for _, sc := range ar.GetRequestedScopes() {
			ar.GrantScope(sc)
		}
		now := time.Now().UTC().Truncate(time.Second)
		f.p.WriteAuthorizeResponse(ctx, w, ar, f.p.NewSession(provider.Authentication{
			Subject: "user-1", ClientID: ar.GetClient().GetID(), SessionID: "sid-e2e",
			AuthTime: now, RequestedAt: now, AMR: []string{"pwd"},
		}))
	})
	mux.HandleFunc("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ar, resp, err := f.p.Token(ctx, r)
		if err != nil {
			f.p.OAuth2().WriteAccessError(ctx, w, ar, err)
			return
		}
		f.p.OAuth2().WriteAccessResponse(ctx, w, ar, resp)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f = newFixture(t, s, func(c *provider.Config) { c.Issuer = srv.URL })
	return srv, f
}

func TestRelyingPartyLibrary(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		srv, f := opServer(t, s)
		ctx := oidc.ClientContext(context.Background(), srv.Client())
		op, err := oidc.NewProvider(ctx, srv.URL)
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		tests := []struct {
			name     string
			clientID string
			alg      string
		}{
			{name: "RS256", clientID: webClientID, alg: oidc.RS256},
			{name: "ES256", clientID: esClientID, alg: oidc.ES256},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				conf := oauth2.Config{
					ClientID: tc.clientID, ClientSecret: f.secret, RedirectURL: testRedirect,
					Endpoint: op.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess},
				}
				verifier := oauth2.GenerateVerifier()
				authURL := conf.AuthCodeURL(testState, oidc.Nonce(testNonce), oauth2.S256ChallengeOption(verifier))
				noRedirect := *srv.Client()
				noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
				resp, err := noRedirect.Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("authorize: %d %v", resp.StatusCode, err)
				}
				q := loc.Query()
				if q.Get("iss") != srv.URL || q.Get("state") != testState {
					t.Fatalf("authorization response %v", q)
				}
				tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				raw, _ := tok.Extra("id_token").(string)
				idt, err := op.Verifier(&oidc.Config{ClientID: tc.clientID, SupportedSigningAlgs: []string{tc.alg}}).Verify(ctx, raw)
				if err != nil {
					t.Fatalf("verify id token: %v", err)
				}
				if idt.Nonce != testNonce || idt.Subject != "user-1" {
					t.Fatalf("id token %+v", idt)
				}
				if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
					t.Fatalf("at_hash: %v", err)
				}
				// Refresh through the library.
				expired := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
				fresh, err := conf.TokenSource(ctx, expired).Token()
				if err != nil {
					t.Fatalf("refresh: %v", err)
				}
				if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
					t.Fatal("refresh token not rotated")
				}
			})
		}
	})
}
