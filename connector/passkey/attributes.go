package passkey

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/storage"
)

// Attributes is the JSON kept in storage.Credential.Attributes for a
// WebAuthn credential: everything go-webauthn returns about the credential
// at registration (WebAuthn L3 §6.1 authenticator data, §6.5 attestation,
// §7.1 step 27 "credential record"), updated on each login. The public key
// (COSE_Key, §6.5.1.1) is in storage.Credential.PublicKey, the credential ID
// in ExternalID and the signature counter in SignCount.
type Attributes struct {
	// Version of this schema (1).
	Version int `json:"v"`
	// Algorithm is the COSE algorithm of the public key (-7 ES256, -8
	// EdDSA, -257 RS256...).
	Algorithm int64 `json:"alg"`
	// UserPresent, UserVerified, BackupEligible and BackupState are the
	// credential record's flags (§6.1 flags UP, UV, BE, BS). UserVerified
	// is latched at registration (as go-webauthn does); BackupState follows
	// the latest login; BackupEligible never changes.
	UserPresent    bool `json:"up"`
	UserVerified   bool `json:"uv"`
	BackupEligible bool `json:"be"`
	BackupState    bool `json:"bs"`
	// AAGUID of the authenticator model (§6.5.1), 8-4-4-4-12, all zeros
	// when not disclosed.
	AAGUID string `json:"aaguid"`
	// Provider is the passkey provider's name from KnownAAGUIDs, if known.
	Provider string `json:"provider,omitempty"`
	// Transports the client reported at registration (§5.8.4: usb, nfc,
	// ble, smart-card, hybrid, internal).
	Transports []string `json:"transports,omitempty"`
	// Attachment the client reported at registration (§5.4.5): platform or
	// cross-platform, "" when not reported.
	Attachment string `json:"attachment,omitempty"`
	// AttestationFormat is the attestation statement format (§8: none,
	// packed, tpm, android-key, apple, fido-u2f...).
	AttestationFormat string `json:"attestation_format"`
	// AttestationType is the attestation type go-webauthn determined, in the
	// FIDO Metadata Service's terms (§6.5.3): none, basic_surrogate (self
	// attestation), basic_full (basic), attca, anonca.
	AttestationType string `json:"attestation_type"`
	// AttestationVerified is true only when the attestation chained to a
	// trusted root (FIDO Metadata Service). Latchkey configures no trust
	// anchors yet, so it is false: a verified "packed" self or basic
	// statement proves only that the authenticator holds the key.
	AttestationVerified bool `json:"attestation_verified"`
	// AttestationObject and ClientDataJSON are the raw registration
	// response, kept so the attestation can be re-verified once trust
	// anchors are configured (§7.1 steps 19-21).
	AttestationObject []byte `json:"attestation_object,omitempty"`
	ClientDataJSON    []byte `json:"client_data_json,omitempty"`
	// ResidentKey is the credProps extension's rk output (§10.1.3), when
	// the client reported it.
	ResidentKey *bool `json:"rk,omitempty"`
	// CloneWarning is set when a login's signature counter did not increase
	// and the policy said "flag" (§6.1.1).
	CloneWarning bool `json:"clone_warning,omitempty"`
}

// ParseAttributes decodes a credential's Attributes.
func ParseAttributes(b []byte) (Attributes, error) {
	var a Attributes
	if err := json.Unmarshal(b, &a); err != nil {
		return Attributes{}, fmt.Errorf("parse passkey attributes: %w", err)
	}
	if a.Version != 1 {
		return Attributes{}, fmt.Errorf("parse passkey attributes: unknown version %d", a.Version)
	}
	return a, nil
}

// flags rebuilds the authenticator flags of the credential record.
func (a Attributes) flags() protocol.AuthenticatorFlags {
	var f protocol.AuthenticatorFlags
	if a.UserPresent {
		f |= protocol.FlagUserPresent
	}
	if a.UserVerified {
		f |= protocol.FlagUserVerified
	}
	if a.BackupEligible {
		f |= protocol.FlagBackupEligible
	}
	if a.BackupState {
		f |= protocol.FlagBackupState
	}
	return f
}

// aaguidString formats a 16-byte AAGUID; anything else reads as zero.
func aaguidString(b []byte) string {
	u, err := uuid.FromBytes(b)
	if err != nil {
		return zeroAAGUID
	}
	return u.String()
}

// fromWebAuthn converts what go-webauthn verified into a storage credential
// (without ID, user or name).
func fromWebAuthn(c *webauthn.Credential) (storage.Credential, Attributes, error) {
	transports := make([]string, 0, len(c.Transport))
	for _, t := range c.Transport {
		transports = append(transports, string(t))
	}
	aaguid := aaguidString(c.Authenticator.AAGUID)
	a := Attributes{
		Version:           1,
		Algorithm:         c.Attestation.PublicKeyAlgorithm,
		UserPresent:       c.Flags.UserPresent,
		UserVerified:      c.Flags.UserVerified,
		BackupEligible:    c.Flags.BackupEligible,
		BackupState:       c.Flags.BackupState,
		AAGUID:            aaguid,
		Provider:          ProviderName(aaguid),
		Transports:        transports,
		Attachment:        string(c.Authenticator.Attachment),
		AttestationFormat: c.AttestationFormat,
		AttestationType:   c.AttestationType,
		AttestationObject: c.Attestation.Object,
		ClientDataJSON:    c.Attestation.ClientDataJSON,
		ResidentKey:       c.Extensions.RK,
	}
	// The algorithm is read from the verified COSE key, not taken from the
	// client's publicKeyAlgorithm report.
	if alg, err := coseAlgorithm(c.PublicKey); err == nil {
		a.Algorithm = alg
	}
	attrs, err := json.Marshal(a)
	if err != nil {
		return storage.Credential{}, Attributes{}, fmt.Errorf("encode passkey attributes: %w", err)
	}
	return storage.Credential{
		Kind:       storage.CredentialWebAuthn,
		ExternalID: slices.Clone(c.ID),
		PublicKey:  slices.Clone(c.PublicKey),
		Attributes: attrs,
		SignCount:  c.Authenticator.SignCount,
	}, a, nil
}

// toWebAuthn rebuilds go-webauthn's credential record from storage, flags
// included, so that login verification compares against what was stored
// (the BE flag must not change, §6.1.3).
func toWebAuthn(c storage.Credential) (webauthn.Credential, error) {
	a, err := ParseAttributes(c.Attributes)
	if err != nil {
		return webauthn.Credential{}, err
	}
	aaguid, err := uuid.Parse(a.AAGUID)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("parse passkey attributes: aaguid: %w", err)
	}
	transports := make([]protocol.AuthenticatorTransport, 0, len(a.Transports))
	for _, t := range a.Transports {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID:                c.ExternalID,
		PublicKey:         c.PublicKey,
		AttestationType:   a.AttestationType,
		AttestationFormat: a.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(a.flags()),
		Authenticator: webauthn.Authenticator{
			AAGUID:       aaguid[:],
			SignCount:    c.SignCount,
			CloneWarning: a.CloneWarning,
			Attachment:   protocol.AuthenticatorAttachment(a.Attachment),
		},
		Attestation: webauthn.CredentialAttestation{
			ClientDataJSON:     a.ClientDataJSON,
			PublicKeyAlgorithm: a.Algorithm,
			Object:             a.AttestationObject,
		},
	}, nil
}

// coseAlgorithm reads the alg (3) parameter of a COSE_Key.
func coseAlgorithm(key []byte) (int64, error) {
	var pk webauthncose.PublicKeyData
	if err := webauthncbor.Unmarshal(key, &pk); err != nil {
		return 0, fmt.Errorf("read COSE key: %w", err)
	}
	return pk.Algorithm, nil
}

// marshalAttributes encodes a.
func marshalAttributes(a Attributes) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode passkey attributes: %w", err)
	}
	return b, nil
}
