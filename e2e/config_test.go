package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storage"
)

// testConfig is the provider's configuration in every test: the issuer, the
// master secret, insecure cookies (allowed for a 127.0.0.1 issuer) and the
// clients the tests play.
func testConfig(issuer string) latchkey.Config {
	insecure, noDemo := true, false
	return latchkey.Config{
		Issuer:  issuer,
		Secret:  secrets.master,
		Cookies: latchkey.CookiesConfig{Insecure: &insecure},
		Demo:    &noDemo,
		Connections: []latchkey.ConnectionConfig{
			{Name: latchkey.DefaultConnectionName, Type: latchkey.ConnectorTypeDatabase},
			{Name: inviteOnlyConnection, Type: latchkey.ConnectorTypeDatabase, Settings: map[string]any{"disable_signup": true}},
		},
		Clients: []latchkey.ClientConfig{
			{
				ID:                      webClient,
				Name:                    "Web App",
				Secret:                  secrets.web,
				FirstParty:              true,
				TokenEndpointAuthMethod: "client_secret_basic",
				RedirectURIs:            []string{webRedirect},
				PostLogoutRedirectURIs:  []string{webPostLogout},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				Scopes:                  []string{"openid", "email", "profile", "offline_access"},
			},
			{
				ID:                      postClient,
				Name:                    "Post App",
				Secret:                  secrets.post,
				FirstParty:              true,
				TokenEndpointAuthMethod: "client_secret_post",
				RedirectURIs:            []string{postRedirect},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				Scopes:                  []string{"openid", "email", "profile", "offline_access"},
			},
			{
				ID:                      spaClient,
				Name:                    "Single Page App",
				Public:                  true,
				FirstParty:              true,
				TokenEndpointAuthMethod: "none",
				RedirectURIs:            []string{spaRedirect},
				WebOrigins:              []string{spaOrigin},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				Scopes:                  []string{"openid", "email", "profile", "offline_access"},
			},
			{
				ID:                      thirdPartyClient,
				Name:                    "Third Party",
				Secret:                  secrets.third,
				TokenEndpointAuthMethod: "client_secret_basic",
				RedirectURIs:            []string{thirdPartyRedirect},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				Scopes:                  []string{"openid", "email", "profile", "offline_access"},
			},
			{
				ID:                      machineClient,
				Name:                    "Machine",
				Secret:                  secrets.machine,
				FirstParty:              true,
				TokenEndpointAuthMethod: "client_secret_basic",
				GrantTypes:              []string{"client_credentials"},
				Scopes:                  []string{machineScope},
			},
			{
				ID:                      jwtClient,
				Name:                    "JWT App",
				FirstParty:              true,
				TokenEndpointAuthMethod: "private_key_jwt",
				JWKS:                    jwksMap(),
				RedirectURIs:            []string{jwtRedirect},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				Scopes:                  []string{"openid", "email", "profile"},
			},
			{
				ID:                       es256Client,
				Name:                     "ES256 App",
				Secret:                   secrets.es256,
				FirstParty:               true,
				TokenEndpointAuthMethod:  "client_secret_basic",
				IDTokenSignedResponseAlg: "ES256",
				RedirectURIs:             []string{es256Redirect},
				GrantTypes:               []string{"authorization_code"},
				Scopes:                   []string{"openid", "email"},
			},
		},
	}
}

// startLatchkey builds a provider for issuer over store.
func startLatchkey(t testing.TB, issuer string, store storage.Store) *latchkey.Server {
	t.Helper()
	srv, err := latchkey.New(context.Background(), testConfig(issuer), store, testLogger(t))
	if err != nil {
		t.Fatalf("latchkey.New: %v", err)
	}
	return srv
}

// jwksMap is the JWT client's key set as the configuration's mapping.
func jwksMap() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(secrets.jwtJWKS, &m); err != nil {
		panic(err)
	}
	return m
}
