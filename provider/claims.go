package provider

import (
	"slices"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// Authentication context class references (OpenID Extended Authentication
// Profile 1.0, section 4.1) that Latchkey issues.
const (
	// ACRPhishingResistant is "phr": a phishing-resistant authentication
	// (a passkey: the credential is bound to the relying party's origin).
	ACRPhishingResistant = "phr"
	// ACRPhishingResistantHardware is "phrh": phishing-resistant and the key
	// is protected by hardware (a device-bound passkey).
	ACRPhishingResistantHardware = "phrh"
	// ACRMultiFactor is the OpenID PAPE multi-factor policy URI: a login
	// that completed a second factor (TOTP, recovery code, security key).
	ACRMultiFactor = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
)

// evidenceRule says which amr values (RFC 8176, plus "pop") and which acr one
// completed authentication step contributes. docs/amr.md is this table in
// prose; keep them together.
type evidenceRule struct {
	kind connector.MethodKind
	amr  func(connector.Method) []string
	acr  func(connector.Method) string
}

// evidenceRules is the table EvidenceClaims reads. A method kind without a
// rule contributes nothing: unknown evidence never raises assurance.
func evidenceRules() []evidenceRule {
	return []evidenceRule{
		{
			kind: connector.MethodPassword,
			amr:  func(connector.Method) []string { return []string{"pwd"} },
			acr:  func(connector.Method) string { return "" },
		},
		{
			// RFC 8176: "otp" for a one-time password, and the second
			// factor makes the login multi-factor.
			kind: connector.MethodOTP,
			amr:  func(connector.Method) []string { return []string{"otp", "mfa"} },
			acr:  func(connector.Method) string { return ACRMultiFactor },
		},
		{
			// RFC 8176 has no value for a recovery code ("otp" names
			// RFC 4226/6238 generators); it still completes a second factor.
			kind: connector.MethodRecoveryCode,
			amr:  func(connector.Method) []string { return []string{"mfa"} },
			acr:  func(connector.Method) string { return ACRMultiFactor },
		},
		{
			// A roaming WebAuthn key used as the second factor: the key's own
			// evidence as for a passkey, plus "mfa" for the second factor.
			// It is multi-factor, not phr: the first factor was not
			// phishing resistant.
			kind: connector.MethodSecurityKey,
			amr: func(m connector.Method) []string {
				amr := passkeyAMR(m)
				if !slices.Contains(amr, "mfa") {
					amr = append(amr, "mfa")
				}
				return amr
			},
			acr: func(connector.Method) string { return ACRMultiFactor },
		},
		{
			kind: connector.MethodPasskey,
			amr:  passkeyAMR,
			acr: func(m connector.Method) string {
				if hardwareBound(m) {
					return ACRPhishingResistantHardware
				}
				return ACRPhishingResistant
			},
		},
	}
}

// passkeyAMR maps one passkey ceremony's evidence: "pop" always (proof of
// possession of a key); "user" when the authenticator reported user
// presence (UP); "mfa" when it reported user verification (UV: possession
// plus a PIN or biometric); and "hwk" for a device-bound key or "swk" for a
// synced one, because brokers such as Okta act on hwk/swk and not on pop.
func passkeyAMR(m connector.Method) []string {
	amr := []string{"pop"}
	if hardwareBound(m) {
		amr = append(amr, "hwk")
	} else {
		amr = append(amr, "swk")
	}
	if m.UserPresent {
		amr = append(amr, "user")
	}
	if m.UserVerified {
		amr = append(amr, "mfa")
	}
	return amr
}

// hardwareBound reports whether a passkey counts as hardware-protected: it is
// not backup eligible (BE=0, so its private key cannot leave the
// authenticator) and, when the connection asks for attestation evidence, its
// attestation statement was verified.
func hardwareBound(m connector.Method) bool {
	if m.BackupEligible {
		return false
	}
	return !m.AttestationRequired || m.AttestationVerified
}

// acrRank orders the acr values Latchkey issues by strength: a passkey's
// class is stronger than multi-factor (docs/amr.md).
func acrRank(acr string) int {
	switch acr {
	case ACRPhishingResistantHardware:
		return 3
	case ACRPhishingResistant:
		return 2
	case ACRMultiFactor:
		return 1
	}
	return 0
}

// EvidenceClaims maps the evidence of a login (one Method per completed
// step) to the amr and acr claims. amr lists each value once, in the order
// the steps happened; acr is the strongest class any step reached ("" when
// none did, as for a password login).
func EvidenceClaims(methods []connector.Method) (amr []string, acr string) {
	rules := evidenceRules()
	for _, m := range methods {
		for _, r := range rules {
			if r.kind != m.Kind {
				continue
			}
			for _, v := range r.amr(m) {
				if !slices.Contains(amr, v) {
					amr = append(amr, v)
				}
			}
			if a := r.acr(m); acrRank(a) > acrRank(acr) {
				acr = a
			}
		}
	}
	return amr, acr
}

// KnownACR reports whether Latchkey enforces a request for the acr value:
// phr, phrh and the multi-factor URI. A multi-factor request is a step-up:
// the login's MFA step asks for a second factor (also of a user already
// logged in); a passkey's class ranks above it and satisfies it.
func KnownACR(acr string) bool {
	return acr == ACRPhishingResistant || acr == ACRPhishingResistantHardware || acr == ACRMultiFactor
}

// ACRSatisfies reports whether a login whose acr is have satisfies a request
// for want: "phrh" satisfies "phr" and "phrh"; "phr" satisfies "phr"; each
// of them satisfies the multi-factor URI.
func ACRSatisfies(have, want string) bool {
	return acrRank(want) > 0 && acrRank(have) >= acrRank(want)
}

// UserClaims returns the user's claims released by the granted scopes,
// omitting empty values. The openid scope alone releases none (sub is set
// elsewhere); email releases email and email_verified; profile releases
// name, given_name, family_name, nickname, preferred_username, picture,
// locale and updated_at (seconds since the epoch).
func UserClaims(u storage.User, scopes []string) map[string]any {
	c := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if slices.Contains(scopes, "profile") {
		set("name", u.Name)
		set("given_name", u.GivenName)
		set("family_name", u.FamilyName)
		set("nickname", u.Nickname)
		set("preferred_username", u.Username)
		set("picture", u.Picture)
		set("locale", u.Locale)
		if !u.UpdatedAt.IsZero() {
			c["updated_at"] = u.UpdatedAt.Unix()
		}
	}
	return c
}
