// Command latchkey-load is a load generator for a Latchkey server running on
// this machine. It drives the token, introspection and hosted login
// endpoints with N concurrent clients for a bounded count or duration, then
// prints throughput, latency percentiles (p50/p95/p99/max) and errors by
// HTTP status for each scenario.
//
// It only ever talks to a loopback address (127.0.0.0/8, ::1 or localhost):
// any other target is refused, and the HTTP client never follows a
// redirect off the target. Every run stops by itself after -duration (at
// most 10 minutes) or -n operations per scenario, whichever comes first.
//
// Scenarios:
//
//   - client_credentials: POST /oauth/token with the machine client;
//   - introspect: POST /oauth/introspect of one client_credentials access
//     token, authenticated as the web client;
//   - refresh: every worker rotates its own refresh token chain (set up
//     with one password login and code exchange per worker);
//   - code: code exchange; the codes are made first (prompt=none in a
//     logged-in browser, untimed), so -n bounds this scenario;
//   - login: a whole password login by a fresh browser (cookie jar):
//     /authorize, the email form, the password form (argon2id), the
//     redirect with a code, and the code exchange;
//   - passkey: a whole passkey login by a fresh browser with the software
//     authenticator of connector/passkey/passkeytest (ES256): /authorize,
//     POST /passkey/login/begin (discoverable), the assertion,
//     POST /passkey/login/finish, the resume redirect with the code, and
//     the code exchange. Each worker signs its own user up with a passkey
//     through the JSON API first (untimed). WebAuthn refuses an IP address
//     as the relying party: run the server with the issuer on localhost
//     (LATCHKEY_ISSUER=http://localhost:18080, or make load
//     LOAD_HOST=localhost) and pass -target http://localhost:18080.
//
// The clients and the user come from the server's configuration:
// latchkey-load.yaml in this directory declares them (make load uses it),
// and the user is signed up through the sign-up page when missing.
//
// Examples:
//
//	latchkey-load -target http://127.0.0.1:8080 -scenario client_credentials -c 8,64,256 -duration 10s
//	latchkey-load -scenario login:8,client_credentials:8 -duration 20s
//
// -scenario takes a comma-separated list. A bare name runs once per
// concurrency in -c, one after the other; name:N entries run together,
// at the same time, with N workers each (a password flood next to the
// token endpoint, say).
package main
