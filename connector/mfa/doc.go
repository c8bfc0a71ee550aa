// Package mfa is the second-factor core of Latchkey's database connection:
// TOTP authenticator apps (RFC 6238, over HOTP, RFC 4226), single-use
// recovery codes and security keys as a second factor (WebAuthn, through
// connector/passkey), the per-connection MFA Policy with its pure decision
// function Required, attempt limits, and the connector.Method evidence a
// verified factor yields. HTTP pages and the login flow are the handlers'
// job; this package speaks in storage, connector and passkey types only.
//
// # Storage
//
// No new tables: everything is a storage.Credential of this package's kinds.
//
//   - CredentialTOTP: the secret is sealed with AES-256-GCM under a key
//     derived (HKDF-SHA256) from Config.Key, with the credential and user
//     IDs as additional data, so a sealed value copied to another row or
//     user does not open. SignCount holds the last accepted time step: a
//     code is accepted only for a later step, by a compare-and-set under the
//     credential's row lock, so a code works once across replicas.
//   - CredentialRecoveryCode: one row per code, Secret = HMAC-SHA256 of the
//     code under a derived server key, bound to the user. A used code is
//     deleted. Why not argon2: the codes are random (50 bits), not chosen by
//     people; a slow hash would add ~25 ms per stored code to every check,
//     and the key, which is not in the database, already makes a stolen
//     table useless to brute-force.
//   - CredentialSecurityKey ("webauthn_2fa"): a WebAuthn credential of a
//     second-factor relying party (passkey.Config.SecondFactor), so it is
//     never found by a passkey login and a passkey never counts as one.
//   - CredentialState ("mfa_state"): one row per user holding the attempt
//     counters and open MFA challenges as JSON. Its ExternalID is an HMAC of
//     the user ID, so concurrent first uses collide on the unique index and
//     agree on one row.
//
// # Attempt limits and challenges, across replicas
//
// Every code check (Verify, VerifyTOTP, UseRecoveryCode, ConfirmTOTP) runs
// in one transaction that first locks the user's state row
// (UpdateCredential reads it FOR UPDATE on PostgreSQL; SQLite transactions
// serialise). Under that lock it refuses when the challenge has had
// MaxAttemptsPerChallenge wrong codes or the user MaxAttemptsPerUser wrong
// codes within the sliding window (*LimitError, an ErrTooManyAttempts),
// checks the code, and records a wrong code or finishes the challenge before
// committing. So attempts of one user are serialised, counts are never
// lost, and two replicas cannot both pass a limit.
//
// The MFA challenge lives in that state row rather than as a
// storage.Challenge: ChallengeStore can only be read by consuming
// (deleting) a challenge, and re-creating it with attempts+1 in a
// transaction makes a concurrent attempt on PostgreSQL see it missing
// (its DELETE skips the deleted row and cannot see the re-inserted one).
// The row also carries the per-user window, so one lock guards both.
// Challenges expire after ChallengeTTL; at most ten are open per user.
//
// Security keys need no attempt limit (a signature over a single-use
// challenge cannot be guessed); their ceremonies are the passkey package's.
//
// # Evidence
//
// A verified factor yields a connector.Method: MethodOTP, MethodRecoveryCode
// or MethodSecurityKey (with the ceremony's UP/UV/BE/BS flags and AAGUID).
// The provider maps them to amr/acr (see docs/amr.md).
//
// Imports: the standard library, storage, connector, connector/passkey,
// github.com/pquerna/otp (which draws the QR code with
// github.com/boombuler/barcode) and github.com/google/uuid. Never net/http,
// handlers, templates or provider.
package mfa
