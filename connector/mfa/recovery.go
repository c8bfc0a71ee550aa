package mfa

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// GenerateRecoveryCodes makes RecoveryCodeCount new recovery codes for the
// user, replacing any earlier set in one transaction (under the user's MFA
// lock, so concurrent calls leave exactly one set). The codes are returned
// once, in display form (XXXXX-XXXXX); only their keyed hashes are stored.
func (s *Service) GenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	if !s.policy.Enabled(FactorRecoveryCode) {
		return nil, fmt.Errorf("generate recovery codes: %w", ErrFactorDisabled)
	}
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = c
	}
	stateID, err := s.stateRow(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("generate recovery codes: %w", err)
	}
	now := s.now().UTC()
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockState(ctx, stateID); err != nil {
			return err
		}
		old, err := s.store.ListCredentials(ctx, userID, CredentialRecoveryCode)
		if err != nil {
			return err
		}
		for _, c := range old {
			if err := s.store.DeleteCredential(ctx, c.ID); err != nil {
				return err
			}
		}
		for _, code := range codes {
			canon, _ := NormalizeRecoveryCode(code)
			if _, err := s.store.CreateCredential(ctx, storage.Credential{
				UserID: userID, Kind: CredentialRecoveryCode, Secret: s.keys.recoveryHash(userID, canon),
				Name: "Recovery code", CreatedAt: now, UpdatedAt: now,
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("generate recovery codes: %w", err)
	}
	s.logger.InfoContext(ctx, "recovery codes generated", "user_id", userID)
	return codes, nil
}

// UseRecoveryCode spends one of the user's recovery codes and returns the
// evidence. Each code works once: it is deleted, and of concurrent uses of
// one code exactly one succeeds. Wrong codes count against the per-user
// limit; use Verify for a login's MFA challenge.
//
// Errors: ErrInvalidCode (ErrCodeReplayed), *LimitError,
// ErrFactorDisabled, ErrFactorNotFound (no codes left).
func (s *Service) UseRecoveryCode(ctx context.Context, userID, code string) (connector.Method, error) {
	if !s.policy.Enabled(FactorRecoveryCode) {
		return connector.Method{}, fmt.Errorf("use recovery code: %w", ErrFactorDisabled)
	}
	m, err := s.attempt(ctx, userID, "", func(ctx context.Context) (connector.Method, error) {
		return s.checkRecoveryCode(ctx, userID, code)
	})
	if err != nil {
		return connector.Method{}, fmt.Errorf("use recovery code: %w", err)
	}
	return m, nil
}

// checkRecoveryCode compares the code's hash with every stored one in
// constant time and deletes the match.
func (s *Service) checkRecoveryCode(ctx context.Context, userID, code string) (connector.Method, error) {
	creds, err := s.store.ListCredentials(ctx, userID, CredentialRecoveryCode)
	if err != nil {
		return connector.Method{}, err
	}
	if len(creds) == 0 {
		return connector.Method{}, ErrFactorNotFound
	}
	canon, ok := NormalizeRecoveryCode(code)
	if !ok {
		return connector.Method{}, ErrInvalidCode
	}
	want := []byte(s.keys.recoveryHash(userID, canon))
	var match storage.Credential
	for _, c := range creds {
		if subtle.ConstantTimeCompare([]byte(c.Secret), want) == 1 {
			match = c
		}
	}
	if match.ID == "" {
		return connector.Method{}, ErrInvalidCode
	}
	err = s.store.DeleteCredential(ctx, match.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return connector.Method{}, ErrCodeReplayed
	}
	if err != nil {
		return connector.Method{}, err
	}
	s.logger.InfoContext(ctx, "recovery code used", "user_id", userID, "remaining", len(creds)-1)
	return connector.Method{Kind: connector.MethodRecoveryCode, Time: s.now().UTC(), CredentialID: match.ID}, nil
}

// RemainingRecoveryCodes returns how many unused recovery codes the user
// has.
func (s *Service) RemainingRecoveryCodes(ctx context.Context, userID string) (int, error) {
	creds, err := s.store.ListCredentials(ctx, userID, CredentialRecoveryCode)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return len(creds), nil
}
