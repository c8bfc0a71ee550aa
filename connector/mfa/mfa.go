package mfa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
)

// Credential kinds this package stores in the shared credentials table.
const (
	// CredentialTOTP is a TOTP authenticator: Secret holds the secret sealed
	// with AES-256-GCM, SignCount the last accepted time step, Attributes
	// the parameters and whether the enrolment is confirmed.
	CredentialTOTP storage.CredentialKind = "totp"
	// CredentialRecoveryCode is one recovery code: Secret holds its keyed
	// hash. A used code is deleted.
	CredentialRecoveryCode storage.CredentialKind = "recovery_code"
	// CredentialSecurityKey is a WebAuthn credential registered as a second
	// factor (non-discoverable, roaming); the passkey package stores it in
	// the same shape as a passkey, under this kind.
	CredentialSecurityKey storage.CredentialKind = "webauthn_2fa"
	// CredentialState is the user's MFA state row (attempt counters and open
	// challenges); it is not a factor. See the package documentation.
	CredentialState storage.CredentialKind = "mfa_state"
)

// MultiFactorACR is the acr value of a multi-factor login (OpenID Provider
// Authentication Policy Extension 1.0, "Multi-Factor" policy). A relying
// party that sends it in acr_values asks for MFA (step-up).
const MultiFactorACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"

// Errors. Handlers map them to page messages; anything else is a server
// failure.
var (
	// ErrInvalidCode: a wrong, malformed or already used code. It counts
	// against the attempt limits.
	ErrInvalidCode = errors.New("mfa: invalid code")
	// ErrCodeReplayed: a TOTP code of a time step already accepted, or a
	// recovery code already used. It is an ErrInvalidCode.
	ErrCodeReplayed = fmt.Errorf("%w: the code was already used", ErrInvalidCode)
	// ErrTooManyAttempts: an attempt limit is reached (see *LimitError).
	ErrTooManyAttempts = errors.New("mfa: too many attempts")
	// ErrChallengeNotFound: the MFA challenge is unknown, finished or
	// expired.
	ErrChallengeNotFound = errors.New("mfa: challenge not found, expired or already used")
	// ErrEnrollmentNotFound: no pending TOTP enrolment of the user has that
	// ID (unknown, expired or already confirmed).
	ErrEnrollmentNotFound = errors.New("mfa: enrolment not found, expired or already confirmed")
	// ErrFactorNotFound: no factor of the user has that ID, or the user
	// has no factor of the kind asked.
	ErrFactorNotFound = errors.New("mfa: factor not found")
	// ErrLastFactor: removing the factor would leave the user no second
	// factor under the policy "always".
	ErrLastFactor = errors.New("mfa: cannot remove the last second factor while MFA is always required")
	// ErrFactorDisabled: the connection's policy does not enable the factor
	// kind (or no security-key relying party is configured).
	ErrFactorDisabled = errors.New("mfa: this factor is not enabled for the connection")
	// ErrTooManyFactors: the user already has MaxFactorsPerKind factors of
	// the kind.
	ErrTooManyFactors = errors.New("mfa: too many factors of this kind")
)

// LimitError reports a reached attempt limit. It is an ErrTooManyAttempts.
type LimitError struct {
	// Scope is "challenge" (the challenge is spent: start a new login) or
	// "user" (wait RetryAfter).
	Scope string
	// RetryAfter is when the user may try again (zero for a spent
	// challenge).
	RetryAfter time.Duration
}

// Error says which limit.
func (e *LimitError) Error() string {
	if e.Scope == scopeChallenge {
		return "mfa: too many attempts for this challenge"
	}
	return fmt.Sprintf("mfa: too many attempts for this user; retry in %s", e.RetryAfter.Round(time.Second))
}

// Unwrap makes a LimitError an ErrTooManyAttempts.
func (e *LimitError) Unwrap() error { return ErrTooManyAttempts }

const (
	scopeChallenge = "challenge"
	scopeUser      = "user"
)

// MaxFactorsPerKind caps a user's TOTP authenticators (security keys are
// capped by the passkey policy's max_passkeys).
const MaxFactorsPerKind = 10

// Config builds a Service.
type Config struct {
	// Store persists factors and counters.
	Store storage.Store
	// Policy is the connection's MFA policy (validated by New).
	Policy Policy
	// Key is at least MinKeyLength secret bytes, the same on every replica
	// (derive it from the master secret). The TOTP encryption key and the
	// recovery-code hash key are derived from it with HKDF; changing it makes
	// enrolled TOTP authenticators and recovery codes unusable.
	Key []byte
	// Issuer is the name authenticator apps show next to the account
	// (otpauth "issuer" parameter), e.g. the product's name.
	Issuer string
	// SecurityKeys is the relying party for security keys as a second
	// factor, built with SecurityKeyConfig; nil disables that factor.
	SecurityKeys *passkey.RelyingParty
	// Logger receives security events; nil discards them.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Service runs a connection's second factors. It is safe for concurrent use
// and keeps no state besides its configuration: everything is in the store,
// so any replica can serve any step.
type Service struct {
	store  storage.Store
	policy Policy
	keys   keys
	issuer string
	sk     *passkey.RelyingParty
	logger *slog.Logger
	now    func() time.Time
}

// New validates cfg and builds the service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("new MFA service: a store is required")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("new MFA service: an issuer name is required")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("new MFA service: %w", err)
	}
	k, err := deriveKeys(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("new MFA service: %w", err)
	}
	if cfg.SecurityKeys != nil && (!cfg.SecurityKeys.SecondFactorMode() || cfg.SecurityKeys.CredentialKind() != CredentialSecurityKey) {
		return nil, errors.New("new MFA service: SecurityKeys must be built from SecurityKeyConfig")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: cfg.Store, policy: cfg.Policy, keys: k, issuer: cfg.Issuer, sk: cfg.SecurityKeys, logger: logger, now: now}, nil
}

// Policy returns the service's policy.
func (s *Service) Policy() Policy { return s.policy }

// Factor is one of a user's second factors as the account page lists it.
type Factor struct {
	// ID names the factor to RemoveFactor: the storage.Credential ID, or
	// RecoveryCodesID for the set of recovery codes.
	ID   string     `json:"id"`
	Kind FactorKind `json:"kind"`
	Name string     `json:"name"`
	// Remaining is the number of unused recovery codes (recovery codes
	// only).
	Remaining int       `json:"remaining,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is zero until the factor is first used.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// RecoveryCodesID is the Factor ID of a user's set of recovery codes.
const RecoveryCodesID = "recovery-codes"

// ListFactors returns the user's confirmed factors, oldest first; the
// recovery codes, if any remain, come last as one factor. Pending TOTP
// enrolments are not listed.
func (s *Service) ListFactors(ctx context.Context, userID string) ([]Factor, error) {
	creds, err := s.store.ListCredentials(ctx, userID, "")
	if err != nil {
		return nil, fmt.Errorf("list MFA factors: %w", err)
	}
	return s.factors(ctx, creds), nil
}

// factors converts the user's credentials (of any kinds) to factors.
func (s *Service) factors(ctx context.Context, creds []storage.Credential) []Factor {
	var (
		out      []Factor
		recovery Factor
	)
	for _, c := range creds {
		switch c.Kind {
		case CredentialTOTP:
			a, err := parseTOTPAttributes(c.Attributes)
			if err != nil {
				s.logger.ErrorContext(ctx, "stored TOTP authenticator is unreadable", "credential_id", c.ID, "user_id", c.UserID, "error", err)
				continue
			}
			if !a.Confirmed {
				continue
			}
			out = append(out, Factor{ID: c.ID, Kind: FactorOTP, Name: c.Name, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt})
		case CredentialSecurityKey:
			out = append(out, Factor{ID: c.ID, Kind: FactorWebAuthnRoaming, Name: c.Name, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt})
		case CredentialRecoveryCode:
			if recovery.Remaining == 0 {
				recovery = Factor{ID: RecoveryCodesID, Kind: FactorRecoveryCode, Name: "Recovery codes", CreatedAt: c.CreatedAt}
			}
			recovery.Remaining++
		}
	}
	if recovery.Remaining > 0 {
		out = append(out, recovery)
	}
	return out
}

// RemoveFactor deletes one of the user's factors (RecoveryCodesID deletes
// every remaining recovery code). Under the policy "always" it refuses
// (ErrLastFactor) to remove the user's last TOTP authenticator or security
// key; recovery codes back those up and may always be removed. The check
// and the deletion run in one transaction with the user's MFA state row
// locked, so two concurrent removals cannot both pass the check.
func (s *Service) RemoveFactor(ctx context.Context, userID, factorID string) error {
	stateID, err := s.stateRow(ctx, userID)
	if err != nil {
		return fmt.Errorf("remove MFA factor: %w", err)
	}
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockState(ctx, stateID); err != nil {
			return err
		}
		creds, err := s.store.ListCredentials(ctx, userID, "")
		if err != nil {
			return err
		}
		factors := s.factors(ctx, creds)
		primary, found := 0, false
		var target Factor
		for _, f := range factors {
			if f.Kind != FactorRecoveryCode {
				primary++
			}
			if f.ID == factorID {
				found, target = true, f
			}
		}
		if !found {
			return ErrFactorNotFound
		}
		if target.Kind == FactorRecoveryCode {
			for _, c := range creds {
				if c.Kind == CredentialRecoveryCode {
					if err := s.store.DeleteCredential(ctx, c.ID); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if s.policy.Policy == ModeAlways && primary <= 1 {
			return ErrLastFactor
		}
		return s.store.DeleteCredential(ctx, target.ID)
	})
	if err != nil {
		return fmt.Errorf("remove MFA factor: %w", err)
	}
	s.logger.InfoContext(ctx, "MFA factor removed", "user_id", userID, "factor_id", factorID)
	return nil
}
