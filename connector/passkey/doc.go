// Package passkey is the WebAuthn relying party of Latchkey's database
// connection: it runs the registration and authentication ceremonies of
// passkeys (discoverable WebAuthn credentials) and manages a user's passkeys.
//
// It speaks in Latchkey's own types. Ceremony options go out as the JSON the
// browser's PublicKeyCredential.parseCreationOptionsFromJSON and
// parseRequestOptionsFromJSON accept (WebAuthn Level 3, §5.1.8 and §5.1.9);
// responses come back as the JSON of PublicKeyCredential.toJSON() (§5.1.10
// and §5.1.11). Results are storage.Credential, storage.User and
// connector.Method values, and failures are this package's errors
// (VerificationError, PolicyError, ErrCeremonyNotFound...), so handlers can
// map every outcome to an HTTP status without knowing WebAuthn.
//
// This package is the only importer of github.com/go-webauthn/webauthn in
// Latchkey. The library verifies what the specification asks of a relying
// party (type, challenge, origin, RP ID hash, flags, algorithm, signature,
// attestation statement); this package adds what the library leaves to its
// caller (see ../../../shared/notes/stack-pitfalls.md):
//
//   - Ceremony state lives in the store as a storage.Challenge (kinds
//     "webauthn.registration" and "webauthn.login"), is consumed on first use
//     and expires after five minutes by the relying party's clock, so any
//     replica can finish a ceremony another began.
//   - Credential IDs are unique across all users; a credential another user
//     holds is refused. The user's own credentials are excluded at
//     registration.
//   - User verification, backup eligibility (device-bound only), AAGUID
//     allow and deny lists and the passkey count are enforced per the
//     connection's Policy.
//   - The signature counter is updated with a compare-and-set under the
//     credential's row lock; a counter that goes backwards is refused or
//     flagged, as the policy says, and logged.
//   - Everything the library returns about a new credential is stored (see
//     Attributes), so that later logins are verified against the same flags
//     and the attestation can be re-verified if trust anchors come later.
//
// Costs: a login ceremony is two write transactions (BeginLogin stores the
// ceremony; FinishLogin reads it, verifies the response, then consumes it
// and updates the credential's counter, backup state and last use and the
// user's last login in one transaction, which FinishLoginTx lets the caller
// join, e.g. to start the browser session) plus three or four reads, and one
// P-256 verification. A failed finish consumes the ceremony on its own. A
// registration is three writes as well (the last creates the credential,
// and for a sign-up the user, in one transaction).
//
// Attestation: with "direct" attestation the statement is verified (packed,
// tpm, apple...), but no trust anchors (FIDO MDS) are configured yet, so
// Attributes.AttestationVerified and connector.Method.AttestationVerified
// stay false; the raw attestation is kept for a later re-verification.
//
// Imports: the standard library, storage, connector, go-webauthn and
// github.com/google/uuid. Never net/http handlers, templates or provider.
// The sub-package passkeytest is a software authenticator for tests and
// benchmarks.
package passkey
