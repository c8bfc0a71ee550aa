// Package e2e holds Latchkey's end-to-end tests: a whole provider (the root
// package latchkey over storage/sqlstore) served over real HTTP by
// httptest, driven by a real relying party (github.com/coreos/go-oidc/v3 for
// discovery, JWKS and ID token verification, golang.org/x/oauth2 for the code
// exchange and refresh) and by a browser stand-in: an http.Client with a
// cookie jar that follows the provider's redirects, stops at the relying
// party's redirect URI, and fills in and submits the hosted pages' forms
// (login, password, sign-up, consent) the way a person would.
//
// # What it covers
//
// Every case runs once per storage backend (SQLite always, PostgreSQL when a
// DSN is given), on a fresh database:
//
//   - the authorization code flow for confidential clients (client_secret_basic,
//     client_secret_post, private_key_jwt with replayed assertions refused, an
//     ES256 client) and for a public client with PKCE S256 (plain, missing and
//     wrong verifiers refused), with every ID token claim checked by go-oidc;
//   - refresh with rotation and reuse detection, single-use codes (sequential
//     reuse and 20 concurrent redemptions), 20 concurrent refreshes;
//   - userinfo (GET and POST), revocation (RFC 7009), introspection (RFC 7662,
//     client-authenticated), client_credentials;
//   - prompt=none, prompt=login, prompt=consent, prompt=create, max_age,
//     consent for third-party clients, RP-initiated logout (with
//     id_token_hint, and confirmed on a page without one);
//   - the hosted pages: a wrong password stays on the page, forms refuse a
//     missing or forged CSRF token and cross-site posts, the session cookie is
//     HttpOnly and SameSite=Lax, every login starts a new session (sid);
//   - wrong or mutated redirect URIs (an HTML error page, never a redirect),
//     RFC 9207 iss on every authorization response, CORS for registered web
//     origins only, discovery metadata;
//   - the claims request parameter, connection= and per-connection accounts
//     and sessions (sign-up refused where a connection disables it);
//   - a pending login that survives a server restart (started on one server,
//     finished on a new one over the same database), and two replicas behind
//     a round-robin balancer sharing one database and secret.
//
// Passkeys (passkey_*_test.go, chromium_test.go):
//
//   - in headless Chromium with a CDP virtual authenticator and go-oidc as the
//     relying party: sign-up with a passkey, login by autofill (conditional
//     mediation), by the "Continue with a passkey" button (the pending
//     conditional request aborted, no error shown), by email then passkey;
//     synced keys give swk/phr and device-bound keys hwk/phrh; acr_values=phrh
//     unmet by a synced key; a missing UV flag refused with nothing created;
//     progressive enrollment; rename and delete on the account page; a
//     ceremony begun on one instance and finished on another;
//   - over HTTP with the software authenticator (connector/passkey/passkeytest):
//     the ceremony JSON API, more than 40 hostile requests each refused with
//     the documented 4xx error and the store left unchanged, races on
//     ceremonies, sign-ups and deletions, and the account page's refusals.
//
// One Chromium serves the package (TestMain in chromium_test.go); each test
// gets its own tab and authenticator. Without Chromium the browser tests
// skip, and with LATCHKEY_TEST_STRICT=1 they fail instead.
//
// The benchmarks (bench_test.go, passkey_bench_test.go) measure a whole
// passkey login step by step, and a whole password login and the
// token endpoint (code exchange, refresh, client_credentials, introspection)
// over HTTP on both backends; docs/benchmarks.md records their numbers.
//
// # Running
//
//	go test ./e2e/                       # SQLite only
//	LATCHKEY_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable go test ./e2e/
//	LATCHKEY_TEST_POSTGRES_DSN=... go test -run '^$' -bench . ./e2e/
//
// With LATCHKEY_TEST_STRICT=1 (as in CI) a missing PostgreSQL DSN or a
// missing Chromium fails the tests instead of skipping them.
//
// The package holds tests only; it imports the root package latchkey,
// storage, storage/sqlstore and its sqltest helper, and nothing imports it.
package e2e
