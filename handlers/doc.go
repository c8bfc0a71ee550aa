// Package handlers is Latchkey's thin HTTP glue: one file per flow, each
// mounting its own routes on the Handler's mux.
//
// Protocol endpoints (authorize.go, token.go, userinfo.go, revoke.go,
// introspect.go, logout.go, discovery.go) hand the OAuth 2.0 work to fosite
// through the provider package. The hosted pages (login.go, signup.go,
// consent.go, demo.go) render templates and call connectors.
//
// The two halves meet at a pending authorization request (storage.AuthRequest,
// authflow.go): /authorize stores the validated request and sends the browser
// to /u/login?state=ID; the pages authenticate the person, start a browser
// session (session.go) and send the browser to /authorize/resume?state=ID,
// which re-validates the stored request and finishes it. Nothing of a flow
// lives only in memory, so any replica can finish what another began.
//
// Between the first factor and the session sit the post-login actions
// (actions.go) and the MFA step (mfa.go): gateLogin runs the actions and
// decides MFA (connector/mfa's Required); a login that needs a second
// factor waits in the flow state (flowState.MFA) with its evidence, and the
// session starts, with a new ID and all the evidence, only once the factor
// is verified. /authorize applies the same decision to a session that
// logged in earlier (step-up: the multi-factor acr_values) and runs the
// actions for single sign-on; their custom claims go into the ID token and
// the access token (provider.Authentication).
//
// The account lifecycle's pages (email.go, reset.go, recovery.go,
// unblock.go, account_profile.go, outbox.go) open emailed links: a link's
// GET only shows a page whose button posts the token, so that mail
// scanners fetching links do not use them up; the connector
// (connector/database) checks and consumes tokens. A passkey-recovery link
// grants enrolling one passkey (a stored, single-use grant), never a
// session. MailLink gives the connections the links' URLs.
//
// This package may import storage, provider, connector (and connector/mfa,
// connector/passkey, connector/database for its link kinds and token
// errors), actions, mail (the development outbox), templates and fosite;
// nothing imports it except the composition root (package latchkey and
// cmd/latchkey).
package handlers
