package connector

import (
	"context"
	"errors"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Errors a connector returns. Handlers turn them into page messages; they
// never say whether an account exists when the answer would leak it.
var (
	// ErrInvalidCredentials: unknown identifier or wrong secret.
	ErrInvalidCredentials = errors.New("connector: invalid credentials")
	// ErrUserBlocked: the account is blocked.
	ErrUserBlocked = errors.New("connector: user blocked")
	// ErrSignupDisabled: the connection does not allow sign-up.
	ErrSignupDisabled = errors.New("connector: sign-up disabled")
	// ErrUserExists: sign-up with an identifier that already has an account.
	ErrUserExists = errors.New("connector: user already exists")
)

// MethodKind names an authentication method in Latchkey's evidence. The
// provider maps evidence to the amr and acr claims.
type MethodKind string

// Method kinds.
const (
	MethodPassword MethodKind = "pwd"
	MethodPasskey  MethodKind = "passkey"
	// MethodOTP is a verified one-time password from an authenticator app
	// (TOTP, RFC 6238), used as a second factor.
	MethodOTP MethodKind = "otp"
	// MethodRecoveryCode is a single-use recovery code used in place of a
	// second factor.
	MethodRecoveryCode MethodKind = "recovery-code"
	// MethodSecurityKey is a WebAuthn assertion by a roaming authenticator
	// enrolled as a second factor (not a passkey); its flags are in the
	// WebAuthn fields of Method.
	MethodSecurityKey MethodKind = "security-key"
)

// Method is the evidence of one completed authentication step.
type Method struct {
	Kind MethodKind `json:"kind"`
	Time time.Time  `json:"time"`
	// CredentialID is the storage.Credential used, if any.
	CredentialID string `json:"credential_id,omitempty"`
	// WebAuthn evidence (MethodPasskey and security keys): the flags of this
	// ceremony's authenticator data and what is known of the credential.
	UserPresent         bool   `json:"up,omitempty"`
	UserVerified        bool   `json:"uv,omitempty"`
	BackupEligible      bool   `json:"be,omitempty"`
	BackupState         bool   `json:"bs,omitempty"`
	AAGUID              string `json:"aaguid,omitempty"`
	AttestationVerified bool   `json:"attestation_verified,omitempty"`
	// AttestationRequired is true when the connection asks for attestation
	// evidence (conveyance "direct"): a device-bound credential then counts
	// as hardware-protected only if its attestation was verified.
	AttestationRequired bool `json:"attestation_required,omitempty"`
	// CrossDevice is true when the authenticator was reached through the
	// hybrid (cross-device) transport.
	CrossDevice bool `json:"cross_device,omitempty"`
}

// Connector is a source of users. Concrete connectors implement the optional
// interfaces below; callers discover them with type assertions.
type Connector interface {
	// Connection returns the stored connection this connector serves.
	Connection() storage.Connection
}

// Profile is what sign-up collects besides the secret.
type Profile struct {
	Email      string
	Username   string
	Name       string
	GivenName  string
	FamilyName string
	Locale     string
}

// PasswordConnector authenticates with an identifier and a password.
type PasswordConnector interface {
	Connector
	// LookupUser finds an account by identifier (email, or username when the
	// connection uses them); ErrInvalidCredentials-free: storage.ErrNotFound
	// when there is none.
	LookupUser(ctx context.Context, identifier string) (storage.User, error)
	// Login verifies the password and returns the user and the evidence.
	Login(ctx context.Context, identifier, password string) (storage.User, Method, error)
}

// SignupConnector creates accounts.
type SignupConnector interface {
	Connector
	// SignupAllowed reports whether the connection allows self sign-up.
	SignupAllowed() bool
	// Signup creates a user with a password, enforcing the password policy.
	// A rejected password is a *PolicyError naming the failed rule.
	Signup(ctx context.Context, p Profile, password string) (storage.User, Method, error)
}

// PolicyError reports a password that breaks the connection's policy. Rule is
// a stable identifier ("min_length", "dictionary", ...); Message is for people.
type PolicyError struct {
	Rule    string
	Message string
}

func (e *PolicyError) Error() string { return "password policy: " + e.Message }

// Resolver finds the connector serving a connection by name. The composition
// root implements it over the stored connections.
type Resolver interface {
	// Lookup returns the connector for the named connection, or an error
	// wrapping storage.ErrNotFound.
	Lookup(ctx context.Context, name string) (Connector, error)
	// Names lists the connection names in a stable order (the first is the
	// default for clients that list none).
	Names(ctx context.Context) ([]string, error)
}

// FieldError reports a profile field that sign-up or user creation rejected.
// Field names the Profile field as a form would ("email", "username");
// Message is for people.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return "invalid " + e.Field + ": " + e.Message }
