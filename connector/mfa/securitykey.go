package mfa

import (
	"context"
	"fmt"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
)

// SecurityKeyConfig turns the connection's passkey relying-party
// configuration into the one of security keys as a second factor: the same
// RP ID, origins, attestation and AAGUID rules, but non-discoverable
// credentials on cross-platform authenticators, user verification
// discouraged, stored as CredentialSecurityKey and reported as
// connector.MethodSecurityKey (see passkey.SecondFactor). Build the relying
// party with passkey.New and pass it as Config.SecurityKeys.
func SecurityKeyConfig(c passkey.Config) passkey.Config {
	c.SecondFactor = &passkey.SecondFactor{
		CredentialKind:   CredentialSecurityKey,
		MethodKind:       connector.MethodSecurityKey,
		UserVerification: passkey.UserVerificationDiscouraged,
	}
	return c
}

// BeginSecurityKey starts registering a security key as a second factor for
// the user (WebAuthn L3 §7.1 with residentKey "discouraged" and attachment
// "cross-platform"); the options carry the "security-key" hint.
func (s *Service) BeginSecurityKey(ctx context.Context, user storage.User) (passkey.Ceremony, error) {
	if s.sk == nil || !s.policy.Enabled(FactorWebAuthnRoaming) {
		return passkey.Ceremony{}, fmt.Errorf("begin security key registration: %w", ErrFactorDisabled)
	}
	c, err := s.sk.BeginRegistration(ctx, user, passkey.RegistrationOptions{Hint: passkey.HintSecurityKey})
	if err != nil {
		return passkey.Ceremony{}, fmt.Errorf("begin security key registration: %w", err)
	}
	return c, nil
}

// FinishSecurityKey verifies the registration response and stores the key.
// Errors are the passkey package's (ErrCeremonyNotFound, *VerificationError,
// *PolicyError, ErrCredentialExists...).
func (s *Service) FinishSecurityKey(ctx context.Context, userID, ceremonyID string, response []byte) (Factor, error) {
	if s.sk == nil || !s.policy.Enabled(FactorWebAuthnRoaming) {
		return Factor{}, fmt.Errorf("finish security key registration: %w", ErrFactorDisabled)
	}
	reg, err := s.sk.FinishRegistration(ctx, ceremonyID, response)
	if err != nil {
		return Factor{}, fmt.Errorf("finish security key registration: %w", err)
	}
	if reg.User.ID != userID {
		// The ceremony was begun for another user: undo.
		if derr := s.store.DeleteCredential(ctx, reg.Credential.ID); derr != nil {
			s.logger.ErrorContext(ctx, "cannot remove a security key registered for another user", "credential_id", reg.Credential.ID, "error", derr)
		}
		return Factor{}, fmt.Errorf("finish security key registration: %w", passkey.ErrCeremonyNotFound)
	}
	c := reg.Credential
	s.logger.InfoContext(ctx, "security key enrolled", "user_id", userID, "factor_id", c.ID)
	return Factor{ID: c.ID, Kind: FactorWebAuthnRoaming, Name: c.Name, CreatedAt: c.CreatedAt}, nil
}

// BeginSecurityKeyLogin starts a second-factor assertion: allowCredentials
// lists the user's security keys (WebAuthn L3 §5.5). A user with none gets
// an error wrapping passkey.ErrNoPasskeys.
func (s *Service) BeginSecurityKeyLogin(ctx context.Context, user storage.User) (passkey.Ceremony, error) {
	if s.sk == nil || !s.policy.Enabled(FactorWebAuthnRoaming) {
		return passkey.Ceremony{}, fmt.Errorf("begin security key login: %w", ErrFactorDisabled)
	}
	c, err := s.sk.BeginLogin(ctx, &user, passkey.LoginOptions{Hint: passkey.HintSecurityKey})
	if err != nil {
		return passkey.Ceremony{}, fmt.Errorf("begin security key login: %w", err)
	}
	return c, nil
}

// FinishSecurityKeyLogin verifies the assertion for the user and returns its
// evidence: a connector.Method of kind MethodSecurityKey with this
// ceremony's UP/UV/BE/BS flags and the AAGUID. Guessing is impossible here
// (a signature over a single-use challenge), so no attempt limit applies.
func (s *Service) FinishSecurityKeyLogin(ctx context.Context, userID, ceremonyID string, response []byte) (connector.Method, error) {
	if s.sk == nil || !s.policy.Enabled(FactorWebAuthnRoaming) {
		return connector.Method{}, fmt.Errorf("finish security key login: %w", ErrFactorDisabled)
	}
	u, m, err := s.sk.FinishLogin(ctx, ceremonyID, response)
	if err != nil {
		return connector.Method{}, fmt.Errorf("finish security key login: %w", err)
	}
	if u.ID != userID {
		return connector.Method{}, fmt.Errorf("finish security key login: %w", passkey.ErrUnknownCredential)
	}
	return m, nil
}
