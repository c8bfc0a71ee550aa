package passkey

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
)

// Errors of the ceremonies and of passkey management. Handlers map them to
// 4xx answers; anything else (a store failure) is a 5xx. The connector
// package's ErrUserBlocked and ErrUserExists are also returned, wrapped.
var (
	// ErrDisabled: the connection's policy turns passkeys off.
	ErrDisabled = errors.New("passkey: passkeys are disabled for this connection")
	// ErrCeremonyNotFound: the ceremony ID is unknown, already used, expired,
	// or belongs to the other kind of ceremony (registration vs login).
	ErrCeremonyNotFound = errors.New("passkey: ceremony not found, expired or already used")
	// ErrUserVerificationRequired: the policy requires user verification
	// (WebAuthn L3 §6.1, UV flag) and the authenticator did not verify the
	// user.
	ErrUserVerificationRequired = errors.New("passkey: user verification is required but the authenticator did not verify the user")
	// ErrCredentialExists: the new credential's ID is already registered, to
	// this user (an excluded credential) or to another one.
	ErrCredentialExists = errors.New("passkey: this passkey is already registered")
	// ErrUnknownCredential: the assertion names a credential that is not
	// registered on this connection (or not to the expected user).
	ErrUnknownCredential = errors.New("passkey: unknown passkey")
	// ErrSignCountRegression: the signature counter did not increase and the
	// policy refuses such logins (WebAuthn L3 §6.1.1).
	ErrSignCountRegression = errors.New("passkey: the signature counter went backwards (possibly a cloned authenticator)")
	// ErrLastCredential: deleting the passkey would leave the user no way to
	// sign in.
	ErrLastCredential = errors.New("passkey: cannot delete the last way to sign in")
	// ErrPasskeyNotFound: no such passkey belongs to the user (management).
	ErrPasskeyNotFound = errors.New("passkey: passkey not found")
	// ErrNoPasskeys: an email-first login for a user without passkeys.
	ErrNoPasskeys = errors.New("passkey: the user has no passkeys")
)

// VerificationError reports a ceremony response that is malformed or fails
// verification (bad JSON, base64 or CBOR; wrong type, challenge, origin or RP
// ID hash; missing user presence; bad signature; backup flags that contradict
// the stored ones...). Reason is a clear, stable sentence for people and
// logs; Err is the underlying cause.
type VerificationError struct {
	Reason string
	Err    error
}

// Error says what failed, with the library's details.
func (e *VerificationError) Error() string {
	if e.Err != nil && !strings.Contains(e.Reason, e.Err.Error()) {
		return "passkey: verification failed: " + e.Reason + ": " + e.Err.Error()
	}
	return "passkey: verification failed: " + e.Reason
}

// Unwrap returns the underlying cause.
func (e *VerificationError) Unwrap() error { return e.Err }

// PolicyError reports a credential that verifies but breaks the connection's
// Policy. Rule is the policy field ("allow_synced", "aaguid_allow",
// "aaguid_deny", "max_passkeys", "authenticator_attachment",
// "allow_passkey_only"); Reason is for people.
type PolicyError struct {
	Rule   string
	Reason string
}

// Error names the rule and the reason.
func (e *PolicyError) Error() string { return "passkey: policy " + e.Rule + ": " + e.Reason }

// verificationError turns a go-webauthn error into a VerificationError whose
// Reason carries the library's details and developer information.
func verificationError(step string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		reason := cleanDetail(pe.Details)
		if dev := cleanDetail(pe.DevInfo); dev != "" {
			reason += " (" + dev + ")"
		}
		return &VerificationError{Reason: fmt.Sprintf("%s: %s", step, reason), Err: err}
	}
	return &VerificationError{Reason: step, Err: err}
}

// cleanDetail removes the formatting artefacts go-webauthn leaves in some
// messages (it formats a nil error into "...: <nil>"), so that the reason
// shown to people and clients reads as a sentence.
func cleanDetail(s string) string {
	s = strings.ReplaceAll(s, ": <nil>", "")
	s = strings.ReplaceAll(s, "<nil>", "")
	return strings.TrimSpace(s)
}
