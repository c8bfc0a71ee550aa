package passkey

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/uuid"
)

// ChallengeUI says how the login page offers passkeys (the same three values
// as Auth0's passkey policy).
type ChallengeUI string

// ChallengeUI values.
const (
	// ChallengeUIBoth offers autofill (conditional mediation, WebAuthn L3
	// §5.1.4.1 "conditional") and a "Continue with a passkey" button.
	ChallengeUIBoth ChallengeUI = "both"
	// ChallengeUIAutofill offers passkeys only in the identifier field's
	// autofill.
	ChallengeUIAutofill ChallengeUI = "autofill"
	// ChallengeUIButton offers passkeys only behind a button (a modal,
	// discoverable request).
	ChallengeUIButton ChallengeUI = "button"
)

// UserVerification is the policy's user verification requirement
// (WebAuthn L3 §5.8.6, UserVerificationRequirement).
type UserVerification string

// UserVerification values. "discouraged" is deliberately not offered to
// passkeys (Policy.Validate refuses it): a passkey without user verification
// is a single factor. Only a second-factor relying party
// (Config.SecondFactor) accepts it.
const (
	UserVerificationRequired    UserVerification = "required"
	UserVerificationPreferred   UserVerification = "preferred"
	UserVerificationDiscouraged UserVerification = "discouraged"
)

// Attestation is the attestation conveyance preference (WebAuthn L3 §5.4.7).
type Attestation string

// Attestation values.
const (
	AttestationNone   Attestation = "none"
	AttestationDirect Attestation = "direct"
)

// Attachment is the authenticator attachment the policy asks for (WebAuthn L3
// §5.4.5); empty means any.
type Attachment string

// Attachment values.
const (
	AttachmentAny           Attachment = ""
	AttachmentPlatform      Attachment = "platform"
	AttachmentCrossPlatform Attachment = "cross-platform"
)

// SignCountRegression says what a login with a signature counter that did
// not increase does (WebAuthn L3 §6.1.1, signature counter considerations).
type SignCountRegression string

// SignCountRegression values.
const (
	// SignCountRefuse refuses the login and leaves the credential unchanged.
	SignCountRefuse SignCountRegression = "refuse"
	// SignCountFlag accepts the login, marks the credential (CloneWarning)
	// and logs a warning.
	SignCountFlag SignCountRegression = "flag"
)

// MaxPasskeysLimit bounds Policy.MaxPasskeys.
const MaxPasskeysLimit = 100

// Policy is a database connection's passkey policy, stored as JSON under
// "passkeys" in the connection's settings. Build it with DefaultPolicy (or
// decode JSON over it): absent fields keep their defaults there.
type Policy struct {
	// Enabled offers passkeys on the connection (default true).
	Enabled bool `json:"enabled"`
	// ChallengeUI is both (default), autofill or button.
	ChallengeUI ChallengeUI `json:"challenge_ui"`
	// UserVerification is required (default) or preferred.
	UserVerification UserVerification `json:"user_verification"`
	// Attestation is none (default) or direct.
	Attestation Attestation `json:"attestation"`
	// AuthenticatorAttachment is "" (any, default), platform or
	// cross-platform.
	AuthenticatorAttachment Attachment `json:"authenticator_attachment,omitempty"`
	// AllowSynced accepts backup-eligible (synced) passkeys (default true).
	// False accepts device-bound credentials only: the BE flag must be 0.
	AllowSynced bool `json:"allow_synced"`
	// AAGUIDAllow, when not empty, accepts only authenticators with these
	// AAGUIDs (an all-zero AAGUID is then refused). Without attestation an
	// AAGUID is what the authenticator claims, not a proven fact.
	AAGUIDAllow []string `json:"aaguid_allow,omitempty"`
	// AAGUIDDeny refuses authenticators with these AAGUIDs.
	AAGUIDDeny []string `json:"aaguid_deny,omitempty"`
	// MaxPasskeys caps a user's passkeys (1..100, default 20).
	MaxPasskeys int `json:"max_passkeys"`
	// RPID is the relying party ID (WebAuthn L3 §5.1.2); default the
	// issuer's host. It may be a registrable parent domain of that host.
	RPID string `json:"rp_id,omitempty"`
	// RPOrigins are the origins ceremonies may come from; default the
	// issuer's origin.
	RPOrigins []string `json:"rp_origins,omitempty"`
	// AllowPasskeyOnly lets users have a passkey and no password (default
	// true).
	AllowPasskeyOnly bool `json:"allow_passkey_only"`
	// ProgressiveEnrollment offers to create a passkey after a password
	// login by a user who has none (default true).
	ProgressiveEnrollment bool `json:"progressive_enrollment"`
	// LocalEnrollment offers to create a passkey on this device after a
	// cross-device (hybrid) passkey login (default true).
	LocalEnrollment bool `json:"local_enrollment"`
	// SignCountRegression is refuse (default) or flag.
	SignCountRegression SignCountRegression `json:"sign_count_regression"`
}

// DefaultPolicy returns the policy of a connection whose settings say
// nothing about passkeys.
func DefaultPolicy() Policy {
	return Policy{
		Enabled:               true,
		ChallengeUI:           ChallengeUIBoth,
		UserVerification:      UserVerificationRequired,
		Attestation:           AttestationNone,
		AllowSynced:           true,
		MaxPasskeys:           20,
		AllowPasskeyOnly:      true,
		ProgressiveEnrollment: true,
		LocalEnrollment:       true,
		SignCountRegression:   SignCountRefuse,
	}
}

// Validate reports a policy value out of range, naming the JSON field.
func (p Policy) Validate() error {
	var errs []error
	bad := func(field string, v any, allowed ...string) {
		errs = append(errs, fmt.Errorf("%s %q is not one of %s", field, v, strings.Join(allowed, ", ")))
	}
	switch p.ChallengeUI {
	case ChallengeUIBoth, ChallengeUIAutofill, ChallengeUIButton:
	default:
		bad("challenge_ui", p.ChallengeUI, "both", "autofill", "button")
	}
	switch p.UserVerification {
	case UserVerificationRequired, UserVerificationPreferred:
	default:
		bad("user_verification", p.UserVerification, "required", "preferred")
	}
	switch p.Attestation {
	case AttestationNone, AttestationDirect:
	default:
		bad("attestation", p.Attestation, "none", "direct")
	}
	switch p.AuthenticatorAttachment {
	case AttachmentAny, AttachmentPlatform, AttachmentCrossPlatform:
	default:
		bad("authenticator_attachment", p.AuthenticatorAttachment, `""`, "platform", "cross-platform")
	}
	switch p.SignCountRegression {
	case SignCountRefuse, SignCountFlag:
	default:
		bad("sign_count_regression", p.SignCountRegression, "refuse", "flag")
	}
	if p.MaxPasskeys < 1 || p.MaxPasskeys > MaxPasskeysLimit {
		errs = append(errs, fmt.Errorf("max_passkeys %d is not between 1 and %d", p.MaxPasskeys, MaxPasskeysLimit))
	}
	for field, list := range map[string][]string{"aaguid_allow": p.AAGUIDAllow, "aaguid_deny": p.AAGUIDDeny} {
		for _, s := range list {
			if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
				errs = append(errs, fmt.Errorf("%s: %q is not an AAGUID (8-4-4-4-12 hexadecimal digits)", field, s))
			}
		}
	}
	if p.RPID != "" {
		if err := protocol.ValidateRPID(p.RPID); err != nil || p.RPID != strings.ToLower(p.RPID) {
			errs = append(errs, fmt.Errorf("rp_id %q is not a lower-case domain name", p.RPID))
		}
	}
	for _, o := range p.RPOrigins {
		host, err := originHost(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("rp_origins: %w", err))
			continue
		}
		if p.RPID != "" && !hostWithin(host, p.RPID) {
			errs = append(errs, fmt.Errorf("rp_origins: %q is not within rp_id %q", o, p.RPID))
		}
	}
	return errors.Join(errs...)
}

// aaguidIn reports whether aaguid (canonical form) is in list.
func aaguidIn(list []string, aaguid string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, aaguid) })
}

// originHost checks that o is a bare web origin (scheme, host, optional
// port; https, or http for localhost) and returns its host name.
func originHost(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", o, err)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("origin %q is not scheme://host[:port]", o)
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost")):
	default:
		return "", fmt.Errorf("origin %q must use https (http only for localhost)", o)
	}
	return host, nil
}

// hostWithin reports whether host is rpID or a subdomain of it (WebAuthn L3
// §5.1.2: the RP ID must be a registrable domain suffix of the origin's
// effective domain, or equal to it).
func hostWithin(host, rpID string) bool {
	host = strings.ToLower(host)
	return host == rpID || strings.HasSuffix(host, "."+rpID)
}
