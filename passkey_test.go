package latchkey

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestPasskeyLoginClaims logs in with a passkey through the real
// authorize → passkey API → resume → token path and checks the ID token's
// amr and acr with go-oidc, for a synced and a device-bound passkey.
func TestPasskeyLoginClaims(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		_, port, _ := strings.Cut(ts.Listener.Addr().String(), ":")
		issuer := "http://localhost:" + port // WebAuthn needs a host name
		const redirectURI = "http://localhost:5173/cb"
		cfg := baseConfig()
		cfg.Issuer = issuer
		cfg.Clients = []ClientConfig{{ID: "spa", Public: true, FirstParty: true, RedirectURIs: []string{redirectURI}}}
		srv := newServer(t, cfg, store)
		ts.Config.Handler = srv
		ts.Start()
		t.Cleanup(ts.Close)
		ctx := t.Context()

		conn, err := srv.Connectors().Lookup(ctx, DefaultConnectionName)
		if err != nil {
			t.Fatal(err)
		}
		rp := conn.(*database.Connection).Passkeys()
		if rp == nil {
			t.Fatal("the default connection offers no passkeys")
		}
		provider, err := oidc.NewProvider(ctx, issuer)
		if err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name       string
			synced     bool
			wantACR    string
			wantAMR    []string
			notWantAMR string
		}{
			{"synced", true, "phr", []string{"pop", "swk", "user", "mfa"}, "hwk"},
			{"device-bound", false, "phrh", []string{"pop", "hwk", "user", "mfa"}, "swk"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				auth := passkeytest.New(issuer)
				auth.BackupEligible, auth.BackupState = tc.synced, tc.synced
				u, err := store.CreateUser(ctx, storage.User{ConnectionID: conn.Connection().ID, Email: tc.name + "@example.com"})
				if err != nil {
					t.Fatal(err)
				}
				c, err := rp.BeginRegistration(ctx, u, passkey.RegistrationOptions{})
				if err != nil {
					t.Fatal(err)
				}
				resp, _, err := auth.Create(c.PublicKey, passkeytest.Tamper{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := rp.FinishRegistration(ctx, c.ID, resp); err != nil {
					t.Fatal(err)
				}

				jar, _ := cookiejar.New(nil)
				hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				verifier := oauth2.GenerateVerifier()
				ep := provider.Endpoint()
				ep.AuthStyle = oauth2.AuthStyleInParams // a public client
				oc := oauth2.Config{ClientID: "spa", RedirectURL: redirectURI, Endpoint: ep, Scopes: []string{oidc.ScopeOpenID}}
				r, err := hc.Get(oc.AuthCodeURL("client-state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-12345678")))
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
				login, err := url.Parse(r.Header.Get("Location"))
				if err != nil || login.Path != "/u/login" {
					t.Fatalf("authorize: %d %s, want the login page", r.StatusCode, r.Header.Get("Location"))
				}
				state := login.Query().Get("state")

				api := func(path string, body any) map[string]any {
					t.Helper()
					b, _ := json.Marshal(body)
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/passkey"+path, bytes.NewReader(b))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Origin", issuer)
					res, err := hc.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer res.Body.Close()
					raw, _ := io.ReadAll(res.Body)
					var out map[string]any
					if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
						t.Fatalf("%s: %d %s", path, res.StatusCode, raw)
					}
					return out
				}
				begun := api("/login/begin", map[string]string{"state": state})
				opts, _ := json.Marshal(begun["publicKey"])
				assertion, err := auth.Get(opts, passkeytest.Tamper{})
				if err != nil {
					t.Fatal(err)
				}
				done := api("/login/finish", map[string]any{"state": state, "ceremony": begun["ceremony"], "credential": json.RawMessage(assertion)})
				next, _ := done["redirect"].(string)
				r, err = hc.Get(issuer + next)
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
				cb, err := url.Parse(r.Header.Get("Location"))
				if err != nil || cb.Query().Get("code") == "" {
					t.Fatalf("resume: %d %s, want a code", r.StatusCode, r.Header.Get("Location"))
				}
				tok, err := oc.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := tok.Extra("id_token").(string)
				idt, err := provider.Verifier(&oidc.Config{ClientID: "spa"}).Verify(ctx, raw)
				if err != nil {
					t.Fatal(err)
				}
				var claims struct {
					AMR []string `json:"amr"`
					ACR string   `json:"acr"`
				}
				if err := idt.Claims(&claims); err != nil {
					t.Fatal(err)
				}
				if idt.Subject != u.ID || claims.ACR != tc.wantACR || slices.Contains(claims.AMR, tc.notWantAMR) || slices.Contains(claims.AMR, "pwd") {
					t.Fatalf("sub %s amr %v acr %q, want %s, %v and %q", idt.Subject, claims.AMR, claims.ACR, u.ID, tc.wantAMR, tc.wantACR)
				}
				for _, v := range tc.wantAMR {
					if !slices.Contains(claims.AMR, v) {
						t.Errorf("amr %v lacks %q", claims.AMR, v)
					}
				}
			})
		}
	})
}
