package passkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// RegistrationOptions tune a registration or sign-up ceremony.
type RegistrationOptions struct {
	// Hint steers the browser: HintClientDevice for "Continue" on this
	// device, HintHybrid for "Try another way" (a phone). With no
	// authenticator_attachment in the policy, the hint also sets the
	// attachment (WebAuthn L3 §5.4.4, hints and attachment).
	Hint Hint
	// UserAgent is the browser's User-Agent, used to name a passkey whose
	// AAGUID is unknown or all zeros ("Chrome on macOS").
	UserAgent string
}

// Registration is the outcome of a verified registration ceremony.
type Registration struct {
	// User owns the passkey; for a sign-up it was created by the ceremony.
	User storage.User
	// Created reports a sign-up: the user did not exist before.
	Created bool
	// Credential is the stored credential.
	Credential storage.Credential
	// Passkey is the credential as the account page shows it.
	Passkey Passkey
	// Method is the evidence of the ceremony (its UP/UV/BE/BS flags): a
	// sign-up may log the new user in with it.
	Method connector.Method
}

// BeginRegistration starts adding a passkey to an existing user of the
// connection (WebAuthn L3 §7.1, options per §5.4): a discoverable credential
// (residentKey required), user verification and attestation per the policy,
// the user's existing credentials excluded (§5.4 excludeCredentials).
func (rp *RelyingParty) BeginRegistration(ctx context.Context, user storage.User, opts RegistrationOptions) (Ceremony, error) {
	if !rp.policy.Enabled {
		return Ceremony{}, ErrDisabled
	}
	if user.ConnectionID != rp.connectionID || user.ID == "" {
		return Ceremony{}, fmt.Errorf("begin passkey registration: user %q is not a user of this connection", user.ID)
	}
	if user.Blocked {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", connector.ErrUserBlocked)
	}
	creds, err := rp.store.ListCredentials(ctx, user.ID, rp.credKind)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	if len(creds) >= rp.policy.MaxPasskeys {
		return Ceremony{}, rp.tooMany()
	}
	wu := &waUser{id: []byte(user.ID), name: userName(user), displayName: displayName(user)}
	exclude := webauthn.Credentials(rp.webauthnCredentials(ctx, creds)).CredentialDescriptors()
	st, options, err := rp.beginRegistration(wu, exclude, opts)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	st.Purpose = purposeRegister
	st.UserID = user.ID
	c, err := rp.saveCeremony(ctx, rp.regKind, st, options)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	return c, nil
}

// BeginSignup starts a sign-up with a passkey: the account described by
// profile is created by FinishRegistration, in one transaction with its
// passkey, only once the passkey is verified. The profile must already be
// validated by the connection (email syntax, username rules); the email is
// compared trimmed and lower-cased. An email that already has an account
// gives connector.ErrUserExists (as the password sign-up does).
func (rp *RelyingParty) BeginSignup(ctx context.Context, profile connector.Profile, opts RegistrationOptions) (Ceremony, error) {
	if !rp.policy.Enabled {
		return Ceremony{}, ErrDisabled
	}
	if rp.secondFactor {
		return Ceremony{}, errors.New("begin passkey sign-up: a second-factor relying party cannot sign users up")
	}
	if !rp.policy.AllowPasskeyOnly {
		return Ceremony{}, &PolicyError{Rule: "allow_passkey_only", Reason: "this connection requires a password; sign up with a password first"}
	}
	email := strings.ToLower(strings.TrimSpace(profile.Email))
	if email == "" || !strings.Contains(email, "@") {
		return Ceremony{}, &connector.FieldError{Field: "email", Message: "an email address is required"}
	}
	_, err := rp.store.GetUserByEmail(ctx, rp.connectionID, email)
	switch {
	case err == nil:
		return Ceremony{}, fmt.Errorf("begin passkey sign-up: %w", connector.ErrUserExists)
	case !errors.Is(err, storage.ErrNotFound):
		return Ceremony{}, fmt.Errorf("begin passkey sign-up: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey sign-up: new user ID: %w", err)
	}
	draft := &signupDraft{
		UserID: id.String(), Email: email, Username: strings.ToLower(strings.TrimSpace(profile.Username)),
		Name: profile.Name, GivenName: profile.GivenName, FamilyName: profile.FamilyName, Locale: profile.Locale,
	}
	u := draft.user(rp.connectionID)
	wu := &waUser{id: []byte(draft.UserID), name: userName(u), displayName: displayName(u)}
	st, options, err := rp.beginRegistration(wu, nil, opts)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey sign-up: %w", err)
	}
	st.Purpose = purposeSignup
	st.Signup = draft
	c, err := rp.saveCeremony(ctx, rp.regKind, st, options)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey sign-up: %w", err)
	}
	return c, nil
}

// user is the storage form of the draft.
func (d *signupDraft) user(connectionID string) storage.User {
	return storage.User{
		ID: d.UserID, ConnectionID: connectionID, Email: d.Email, Username: d.Username,
		Name: d.Name, GivenName: d.GivenName, FamilyName: d.FamilyName, Locale: d.Locale,
	}
}

// beginRegistration builds the creation options and session with go-webauthn.
func (rp *RelyingParty) beginRegistration(wu *waUser, exclude []protocol.CredentialDescriptor, opts RegistrationOptions) (ceremonyState, protocol.PublicKeyCredentialCreationOptions, error) {
	hints, err := opts.Hint.protocol()
	if err != nil {
		return ceremonyState{}, protocol.PublicKeyCredentialCreationOptions{}, err
	}
	regOpts := []webauthn.RegistrationOption{
		webauthn.WithResidentKeyRequirement(rp.residentKey),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	}
	if len(exclude) > 0 {
		regOpts = append(regOpts, webauthn.WithExclusions(exclude))
	}
	if len(hints) > 0 {
		regOpts = append(regOpts, webauthn.WithPublicKeyCredentialHints(hints))
	}
	creation, session, err := rp.wa.BeginRegistration(wu, regOpts...)
	if err != nil {
		return ceremonyState{}, protocol.PublicKeyCredentialCreationOptions{}, err
	}
	if len(userAgentTrim(opts.UserAgent)) > 0 {
		opts.UserAgent = userAgentTrim(opts.UserAgent)
	}
	return ceremonyState{Session: *session, UserAgent: opts.UserAgent}, creation.Response, nil
}

// userAgentTrim bounds the stored User-Agent.
func userAgentTrim(ua string) string {
	if len(ua) > maxUserAgent {
		return ua[:maxUserAgent]
	}
	return ua
}

// FinishRegistration verifies a registration response (the JSON of
// PublicKeyCredential.toJSON(), WebAuthn L3 §5.1.10) against the ceremony and
// stores the passkey (§7.1). The ceremony is consumed whatever the outcome.
// For a sign-up ceremony the user is created with the passkey in one
// transaction; nothing is stored when any check fails.
//
// Errors: ErrCeremonyNotFound, *VerificationError, ErrUserVerificationRequired,
// *PolicyError, ErrCredentialExists, connector.ErrUserExists (sign-up raced
// with another account creation), connector.ErrUserBlocked.
func (rp *RelyingParty) FinishRegistration(ctx context.Context, ceremonyID string, response []byte) (Registration, error) {
	reg, err := rp.finishRegistration(ctx, ceremonyID, response)
	if err != nil {
		return Registration{}, fmt.Errorf("finish passkey registration: %w", err)
	}
	return reg, nil
}

func (rp *RelyingParty) finishRegistration(ctx context.Context, ceremonyID string, response []byte) (Registration, error) {
	if !rp.policy.Enabled {
		return Registration{}, ErrDisabled
	}
	st, err := rp.consumeCeremony(ctx, rp.regKind, ceremonyID)
	if err != nil {
		return Registration{}, err
	}
	if st.Purpose != purposeRegister && (st.Purpose != purposeSignup || rp.secondFactor) {
		return Registration{}, ErrCeremonyNotFound
	}
	parsed, err := parseCreation(response)
	if err != nil {
		return Registration{}, err
	}
	flags := parsed.Response.AttestationObject.AuthData.Flags
	if st.Session.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		return Registration{}, ErrUserVerificationRequired
	}
	wu := &waUser{id: st.Session.UserID}
	cred, err := rp.wa.CreateCredential(wu, st.Session, parsed)
	if err != nil {
		return Registration{}, verificationError("verify registration", err)
	}
	if err := rp.checkNewCredential(parsed, cred); err != nil {
		return Registration{}, err
	}
	sc, attrs, err := fromWebAuthn(cred)
	if err != nil {
		return Registration{}, err
	}
	sc.Kind = rp.credKind
	now := rp.now().UTC()
	sc.Name = DefaultName(attrs.AAGUID, st.UserAgent)
	sc.CreatedAt, sc.UpdatedAt = now, now

	var (
		user    storage.User
		created bool
	)
	err = rp.store.InTx(ctx, func(ctx context.Context) error {
		if st.Purpose == purposeSignup {
			if st.Signup == nil {
				return ErrCeremonyNotFound
			}
			u := st.Signup.user(rp.connectionID)
			u.CreatedAt, u.UpdatedAt, u.LastLoginAt = now, now, now
			user, err = rp.store.CreateUser(ctx, u)
			if errors.Is(err, storage.ErrAlreadyExists) {
				return connector.ErrUserExists
			}
			if err != nil {
				return fmt.Errorf("create user: %w", err)
			}
			created = true
		} else {
			// Locks the user's row (a write), so that concurrent
			// registrations and deletions of one user serialise and the
			// passkey cap holds.
			user, err = rp.store.UpdateUser(ctx, st.UserID, func(u *storage.User) error {
				if u.ConnectionID != rp.connectionID {
					return ErrUnknownCredential
				}
				if u.Blocked {
					return connector.ErrUserBlocked
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("lock user: %w", err)
			}
			mine, err := rp.store.ListCredentials(ctx, user.ID, rp.credKind)
			if err != nil {
				return fmt.Errorf("list passkeys: %w", err)
			}
			for _, c := range mine {
				if bytes.Equal(c.ExternalID, sc.ExternalID) {
					return ErrCredentialExists // an excluded credential
				}
			}
			if len(mine) >= rp.policy.MaxPasskeys {
				return rp.tooMany()
			}
		}
		if _, err := rp.store.GetCredentialByExternalID(ctx, rp.credKind, sc.ExternalID); err == nil {
			return ErrCredentialExists
		} else if !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("look up credential ID: %w", err)
		}
		sc.UserID = user.ID
		sc, err = rp.store.CreateCredential(ctx, sc)
		if errors.Is(err, storage.ErrAlreadyExists) {
			return ErrCredentialExists
		}
		if err != nil {
			return fmt.Errorf("store passkey: %w", err)
		}
		return nil
	})
	if err != nil {
		return Registration{}, err
	}
	pk, err := toPasskey(sc)
	if err != nil {
		return Registration{}, err
	}
	return Registration{
		User:       user,
		Created:    created,
		Credential: sc,
		Passkey:    pk,
		Method:     rp.method(now, sc.ID, flags, attrs, parsed.AuthenticatorAttachment),
	}, nil
}

// tooMany is the max_passkeys policy error.
func (rp *RelyingParty) tooMany() error {
	return &PolicyError{Rule: "max_passkeys", Reason: fmt.Sprintf("a user may have at most %d passkeys; delete one first", rp.policy.MaxPasskeys)}
}

// checkNewCredential applies the policy to a verified credential.
func (rp *RelyingParty) checkNewCredential(parsed *protocol.ParsedCredentialCreationData, cred *webauthn.Credential) error {
	p := rp.policy
	if !p.AllowSynced && cred.Flags.BackupEligible {
		return &PolicyError{Rule: "allow_synced", Reason: "this connection accepts device-bound passkeys only (security keys, not synced passkeys)"}
	}
	aaguid := aaguidString(cred.Authenticator.AAGUID)
	if aaguidIn(p.AAGUIDDeny, aaguid) {
		return &PolicyError{Rule: "aaguid_deny", Reason: fmt.Sprintf("passkeys from this provider (AAGUID %s) are not accepted", aaguid)}
	}
	if len(p.AAGUIDAllow) > 0 && !aaguidIn(p.AAGUIDAllow, aaguid) {
		return &PolicyError{Rule: "aaguid_allow", Reason: fmt.Sprintf("only passkeys from approved providers are accepted (AAGUID %s is not one)", aaguid)}
	}
	if a := p.AuthenticatorAttachment; a != AttachmentAny && parsed.AuthenticatorAttachment != "" && string(parsed.AuthenticatorAttachment) != string(a) {
		return &PolicyError{Rule: "authenticator_attachment", Reason: fmt.Sprintf("this connection accepts %s authenticators only", a)}
	}
	return nil
}

// parseCreation parses a registration response with go-webauthn, bounding
// its size first.
func parseCreation(response []byte) (*protocol.ParsedCredentialCreationData, error) {
	if len(response) == 0 || len(response) > maxResponseBytes {
		return nil, &VerificationError{Reason: fmt.Sprintf("the response must be 1 to %d bytes of JSON", maxResponseBytes)}
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, verificationError("parse registration response", err)
	}
	return parsed, nil
}

// method builds the evidence of a ceremony from its flags and the stored
// credential.
func (rp *RelyingParty) method(now time.Time, credentialID string, flags protocol.AuthenticatorFlags, a Attributes, attachment protocol.AuthenticatorAttachment) connector.Method {
	return connector.Method{
		Kind:                rp.methodKind,
		Time:                now,
		CredentialID:        credentialID,
		UserPresent:         flags.HasUserPresent(),
		UserVerified:        flags.HasUserVerified(),
		BackupEligible:      flags.HasBackupEligible(),
		BackupState:         flags.HasBackupState(),
		AAGUID:              a.AAGUID,
		AttestationVerified: a.AttestationVerified,
		CrossDevice:         crossDevice(attachment, a.Transports),
	}
}

// crossDevice reports a cross-device use: the client said the authenticator
// is cross-platform, or (when it did not say) the credential is reached over
// the hybrid transport. A "platform" answer means this device, even for a
// credential that also lists hybrid.
func crossDevice(attachment protocol.AuthenticatorAttachment, transports []string) bool {
	switch attachment {
	case protocol.CrossPlatform:
		return true
	case protocol.Platform:
		return false
	default:
		return slices.Contains(transports, string(protocol.Hybrid))
	}
}
