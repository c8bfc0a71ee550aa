package e2e

import (
	"testing"

	"golang.org/x/oauth2"
)

// testAuthStyleAutoDetect: x/oauth2's default, AuthStyleAutoDetect, first
// tries HTTP Basic and retries with the credentials in the body when that
// fails. A failed client authentication must not use up the code, or every
// relying party on the library's defaults fails its first login.
func testAuthStyleAutoDetect(t *testing.T, e *env) {
	for _, clientID := range []string{spaClient, postClient} {
		t.Run(clientID, func(t *testing.T) {
			b := e.newBrowser(t)
			verifier := oauth2.GenerateVerifier()
			a := e.authz(t, clientID, "openid").pkce(verifier)
			cb := e.code(t, b, a, e.alice.Email, userPassword)
			cfg := e.oauth2Config(t, clientID)
			cfg.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect
			tok, err := cfg.Exchange(e.rpCtx, cb.Code, oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange with AuthStyleAutoDetect: %s", describe(err))
			}
			if _, ok := tok.Extra("id_token").(string); !ok {
				t.Errorf("no id_token")
			}
		})
	}
}
