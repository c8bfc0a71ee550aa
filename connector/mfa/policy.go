package mfa

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/connector"
)

// Mode says when a connection asks for a second factor.
type Mode string

// Modes.
const (
	// ModeNever asks for MFA only when an action or the relying party's
	// acr_values demand it (the default).
	ModeNever Mode = "never"
	// ModeAlways asks for a second factor after every login, whatever the
	// first factor was (Auth0's default once MFA is on), unless
	// PasskeySatisfiesMFA and the login used a user-verified passkey.
	ModeAlways Mode = "always"
	// ModeAdaptive asks only when a post-login action or acr_values ask.
	ModeAdaptive Mode = "adaptive"
)

// FactorKind names a kind of second factor in the policy and the factor
// list.
type FactorKind string

// Factor kinds.
const (
	// FactorOTP is a TOTP authenticator app (RFC 6238).
	FactorOTP FactorKind = "otp"
	// FactorRecoveryCode is the user's set of single-use recovery codes.
	FactorRecoveryCode FactorKind = "recovery-code"
	// FactorWebAuthnRoaming is a roaming WebAuthn authenticator (security
	// key) registered as a second factor, not as a passkey.
	FactorWebAuthnRoaming FactorKind = "webauthn-roaming"
)

// Bounds of the policy's limits.
const (
	MaxAttemptsPerChallengeLimit = 100
	MaxAttemptsPerUserLimit      = 1000
	MinAttemptWindowSeconds      = 60
	MaxAttemptWindowSeconds      = 86400
)

// Policy is a database connection's MFA policy, stored as JSON under "mfa"
// in the connection's settings:
//
//	{"policy": "always", "passkey_satisfies_mfa": true,
//	 "factors": ["otp", "recovery-code", "webauthn-roaming"],
//	 "max_attempts_per_challenge": 5, "max_attempts_per_user": 10,
//	 "attempt_window_seconds": 900}
//
// Build it with DefaultPolicy (or decode JSON over it): absent fields keep
// their defaults there.
type Policy struct {
	// Policy is never (default), always or adaptive.
	Policy Mode `json:"policy"`
	// PasskeySatisfiesMFA lets a login with a user-verified passkey (UV
	// flag set, WebAuthn L3 §6.1) count as multi-factor: no second factor
	// is asked after it (Auth0's "reduce friction with passkeys"). Default
	// false.
	PasskeySatisfiesMFA bool `json:"passkey_satisfies_mfa"`
	// Factors are the enabled factor kinds (default all three).
	Factors []FactorKind `json:"factors"`
	// MaxAttemptsPerChallenge is how many wrong codes one MFA challenge
	// takes before it is refused (1..100, default 5).
	MaxAttemptsPerChallenge int `json:"max_attempts_per_challenge"`
	// MaxAttemptsPerUser is how many wrong codes a user may enter within
	// AttemptWindowSeconds, over all challenges and replicas (1..1000,
	// default 10).
	MaxAttemptsPerUser int `json:"max_attempts_per_user"`
	// AttemptWindowSeconds is the sliding window of MaxAttemptsPerUser
	// (60..86400, default 900: 15 minutes).
	AttemptWindowSeconds int `json:"attempt_window_seconds"`
}

// DefaultPolicy returns the policy of a connection whose settings say
// nothing about MFA: off, all factors enabled, 5 attempts per challenge and
// 10 per user per 15 minutes.
func DefaultPolicy() Policy {
	return Policy{
		Policy:                  ModeNever,
		Factors:                 []FactorKind{FactorOTP, FactorRecoveryCode, FactorWebAuthnRoaming},
		MaxAttemptsPerChallenge: 5,
		MaxAttemptsPerUser:      10,
		AttemptWindowSeconds:    900,
	}
}

// Validate reports a policy value out of range, naming the JSON field.
func (p Policy) Validate() error {
	var errs []error
	switch p.Policy {
	case ModeNever, ModeAlways, ModeAdaptive:
	default:
		errs = append(errs, fmt.Errorf("policy %q is not one of never, always, adaptive", p.Policy))
	}
	seen := map[FactorKind]bool{}
	for _, f := range p.Factors {
		switch f {
		case FactorOTP, FactorRecoveryCode, FactorWebAuthnRoaming:
		default:
			errs = append(errs, fmt.Errorf("factors: %q is not one of otp, recovery-code, webauthn-roaming", f))
		}
		if seen[f] {
			errs = append(errs, fmt.Errorf("factors: %q is listed twice", f))
		}
		seen[f] = true
	}
	if p.Policy != ModeNever && !seen[FactorOTP] && !seen[FactorWebAuthnRoaming] {
		errs = append(errs, fmt.Errorf("factors: policy %q needs otp or webauthn-roaming enabled (recovery codes alone are not a factor one can enrol)", p.Policy))
	}
	if p.MaxAttemptsPerChallenge < 1 || p.MaxAttemptsPerChallenge > MaxAttemptsPerChallengeLimit {
		errs = append(errs, fmt.Errorf("max_attempts_per_challenge %d is not between 1 and %d", p.MaxAttemptsPerChallenge, MaxAttemptsPerChallengeLimit))
	}
	if p.MaxAttemptsPerUser < 1 || p.MaxAttemptsPerUser > MaxAttemptsPerUserLimit {
		errs = append(errs, fmt.Errorf("max_attempts_per_user %d is not between 1 and %d", p.MaxAttemptsPerUser, MaxAttemptsPerUserLimit))
	}
	if p.AttemptWindowSeconds < MinAttemptWindowSeconds || p.AttemptWindowSeconds > MaxAttemptWindowSeconds {
		errs = append(errs, fmt.Errorf("attempt_window_seconds %d is not between %d and %d", p.AttemptWindowSeconds, MinAttemptWindowSeconds, MaxAttemptWindowSeconds))
	}
	return errors.Join(errs...)
}

// Enabled reports whether the policy enables factor kind k.
func (p Policy) Enabled(k FactorKind) bool { return slices.Contains(p.Factors, k) }

// ActionDecision is what the post-login actions said about MFA: nothing
// (ActionUnset), api.multifactor.enable('none') or enable('any').
type ActionDecision string

// Action decisions.
const (
	ActionUnset ActionDecision = ""
	ActionNone  ActionDecision = "none"
	ActionAny   ActionDecision = "any"
)

// ParseActionDecision reads the provider argument of Auth0's
// api.multifactor.enable (case-insensitive "none" or "any"). Other
// providers (guardian, duo...) are not offered and give an error.
func ParseActionDecision(s string) (ActionDecision, error) {
	switch d := ActionDecision(strings.ToLower(strings.TrimSpace(s))); d {
	case ActionNone, ActionAny:
		return d, nil
	default:
		return ActionUnset, fmt.Errorf("multifactor provider %q is not one of none, any", s)
	}
}

// Required decides whether the login whose evidence so far is methods must
// pass a second factor now. It is pure: the caller supplies what the
// post-login actions decided and whether the relying party asked for the
// multi-factor acr (MultiFactorACR in acr_values or an essential acr claim).
// In order:
//
//  1. methods already holding a second factor (otp, recovery code,
//     security key) satisfy MFA: false.
//  2. A multi-factor acr request forces MFA (step-up), also for a user
//     already logged in and also under ModeNever, unless PasskeySatisfiesMFA
//     and a user-verified passkey was used. It overrides an action's
//     enable('none'): Latchkey never issues an acr weaker than demanded.
//  3. An action's enable('none') skips MFA; enable('any') requires it,
//     whatever the mode.
//  4. ModeAlways requires it unless PasskeySatisfiesMFA and a user-verified
//     passkey was used; ModeAdaptive and ModeNever do not.
func Required(p Policy, methods []connector.Method, action ActionDecision, acrRequested bool) bool {
	if HasSecondFactor(methods) {
		return false
	}
	passkeyOK := p.PasskeySatisfiesMFA && verifiedPasskey(methods)
	if acrRequested {
		return !passkeyOK
	}
	switch action {
	case ActionNone:
		return false
	case ActionAny:
		return true
	}
	return p.Policy == ModeAlways && !passkeyOK
}

// HasSecondFactor reports whether methods hold a verified second factor.
func HasSecondFactor(methods []connector.Method) bool {
	return slices.ContainsFunc(methods, func(m connector.Method) bool {
		switch m.Kind {
		case connector.MethodOTP, connector.MethodRecoveryCode, connector.MethodSecurityKey:
			return true
		}
		return false
	})
}

// verifiedPasskey reports a passkey login whose ceremony verified the user.
func verifiedPasskey(methods []connector.Method) bool {
	return slices.ContainsFunc(methods, func(m connector.Method) bool {
		return m.Kind == connector.MethodPasskey && m.UserVerified
	})
}
