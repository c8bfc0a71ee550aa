package e2e

import (
	"slices"
	"testing"
)

// testACRPassword: acr_values and an essential acr claim are enforced. A
// password session does not reach phr: prompt=none gives login_required; an
// interactive request sends the person back to the login page, and a fresh
// password login there still does not reach it, so the client gets
// unmet_authentication_requirements — never a token claiming less than was
// demanded. Unknown acr values are voluntary and ignored.
func testACRPassword(t *testing.T, e *env) {
	b := e.newBrowser(t)
	e.code(t, b, e.authz(t, webClient, "openid"), e.alice.Email, userPassword)

	a := e.authz(t, webClient, "openid").set("prompt", "none").set("acr_values", "phr")
	cb := b.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" || cb.Code != "" {
		t.Errorf("prompt=none acr_values=phr with a password session: error %q code %q, want login_required", cb.Error, cb.Code)
	}

	for _, tc := range []struct {
		name  string
		param string
		value string
	}{
		{"acr_values phrh", "acr_values", "phrh"},
		{"acr_values phr", "acr_values", "phr phrh"},
		{"essential acr claim", "claims", `{"id_token":{"acr":{"essential":true,"values":["phr"]}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.authz(t, webClient, "openid").set(tc.param, tc.value)
			p := b.get(t, a.String())
			if p.Location != nil || p.path() != "/u/login" {
				t.Fatalf("a password session met %s=%s: want the login page, got %d %v", tc.param, tc.value, p.Status, p.Location)
			}
			cb := b.login(t, p, e.alice.Email, userPassword).callback(t, webRedirect)
			e.checkResponse(t, a, cb)
			if cb.Error != "unmet_authentication_requirements" || cb.Code != "" {
				t.Errorf("fresh password login for %s=%s: error %q code %q, want unmet_authentication_requirements", tc.param, tc.value, cb.Error, cb.Code)
			}
		})
	}

	// A value Latchkey does not issue is a voluntary request: ignored.
	a = e.authz(t, webClient, "openid").set("acr_values", "urn:example:unknown")
	cb = b.get(t, a.String()).callback(t, webRedirect)
	if cb.Code == "" {
		t.Fatalf("unknown acr_values: error %q (%s), want a code", cb.Error, cb.ErrorDescription)
	}
	_, _, c := e.mustExchange(t, a, cb.Code)
	// fosite answers an acr_values request it cannot match with acr "0"
	// (OpenID Connect Core section 2: below ISO/IEC 29115 level 1), which
	// says so honestly; a password login never gets phr or phrh.
	if (c.ACR != "" && c.ACR != "0") || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Errorf("password login: acr %q amr %v, want none (or \"0\") and [pwd]", c.ACR, c.AMR)
	}
}

// testUnknownScopesIgnored: scope values nobody knows are ignored (OpenID
// Connect Core 3.1.2.1) while known scopes the client may not use fail.
func testUnknownScopesIgnored(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email address phone")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, _, c := e.mustExchange(t, a, cb.Code)
	if c.Email != e.alice.Email {
		t.Errorf("email claim %q, want %q", c.Email, e.alice.Email)
	}
	if scope, _ := tok.Extra("scope").(string); scope != "openid email" {
		t.Errorf("granted scope %q, want %q", scope, "openid email")
	}
}
