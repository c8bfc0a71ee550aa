package passkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// LoginOptions tune an authentication ceremony.
type LoginOptions struct {
	// Hint steers the browser (WebAuthn L3 §5.8.7), e.g. HintHybrid for a
	// phone.
	Hint Hint
}

// BeginLogin starts an authentication ceremony (WebAuthn L3 §7.2, options per
// §5.5). With user nil it is a discoverable-credential request (autofill or
// the passkey button: the authenticator picks the account, empty
// allowCredentials); with a user (email first) allowCredentials lists the
// user's passkeys and an user with none gives ErrNoPasskeys. User
// verification follows the policy; mediation (conditional or modal) is the
// page's choice.
func (rp *RelyingParty) BeginLogin(ctx context.Context, user *storage.User, opts LoginOptions) (Ceremony, error) {
	if !rp.policy.Enabled {
		return Ceremony{}, ErrDisabled
	}
	hints, err := opts.Hint.protocol()
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey login: %w", err)
	}
	var loginOpts []webauthn.LoginOption
	if len(hints) > 0 {
		loginOpts = append(loginOpts, webauthn.WithAssertionPublicKeyCredentialHints(hints))
	}
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
		st        ceremonyState
	)
	if user == nil && rp.secondFactor {
		return Ceremony{}, errors.New("begin passkey login: a second-factor login must name the user")
	}
	if user == nil {
		assertion, session, err = rp.wa.BeginDiscoverableLogin(loginOpts...)
		st.Purpose = purposeDiscover
	} else {
		if user.ConnectionID != rp.connectionID || user.ID == "" {
			return Ceremony{}, fmt.Errorf("begin passkey login: user %q is not a user of this connection", user.ID)
		}
		creds, lerr := rp.store.ListCredentials(ctx, user.ID, rp.credKind)
		if lerr != nil {
			return Ceremony{}, fmt.Errorf("begin passkey login: %w", lerr)
		}
		wcreds := rp.webauthnCredentials(ctx, creds)
		if len(wcreds) == 0 {
			return Ceremony{}, fmt.Errorf("begin passkey login: %w", ErrNoPasskeys)
		}
		wu := &waUser{id: []byte(user.ID), name: userName(*user), displayName: displayName(*user), creds: wcreds}
		assertion, session, err = rp.wa.BeginLogin(wu, loginOpts...)
		st.Purpose = purposeLogin
		st.UserID = user.ID
	}
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey login: %w", err)
	}
	st.Session = *session
	c, err := rp.saveCeremony(ctx, rp.loginKind, st, assertion.Response)
	if err != nil {
		return Ceremony{}, fmt.Errorf("begin passkey login: %w", err)
	}
	return c, nil
}

// FinishLogin verifies an authentication response (the JSON of
// PublicKeyCredential.toJSON(), WebAuthn L3 §5.1.11) against the ceremony
// (§7.2) and returns the user and the evidence. The ceremony is consumed
// whatever the outcome.
//
// The credential must be registered to a user of this connection — to the
// ceremony's user for an email-first login — and the response's user handle,
// when present (always, for a discoverable login), must be that user's.
// go-webauthn verifies the response against the stored credential record,
// flags included: a BE flag that differs from the stored one is refused
// (§6.1.3). The signature counter is then updated with a compare-and-set
// under the credential's row lock; a counter that did not increase is
// refused (ErrSignCountRegression) or accepted and flagged, per the policy,
// and logged either way. The ceremony's consumption, the counter, backup
// state and last use, and the user's last login are written in one
// transaction: a successful login is one write transaction.
//
// Errors: ErrCeremonyNotFound, *VerificationError, ErrUnknownCredential,
// ErrUserVerificationRequired, ErrSignCountRegression,
// connector.ErrUserBlocked.
func (rp *RelyingParty) FinishLogin(ctx context.Context, ceremonyID string, response []byte) (storage.User, connector.Method, error) {
	return rp.FinishLoginTx(ctx, ceremonyID, response, nil)
}

// FinishLoginTx is FinishLogin that also runs then, when not nil, inside the
// login's transaction once the ceremony is consumed and the credential and
// user are updated: what the caller writes there (a browser session) commits
// with the login or not at all. An error from then rolls the whole login
// back (the ceremony is still consumed) and is returned wrapped. then must
// pass its ctx to every Store call and must not write to the client: the
// transaction commits after it returns.
func (rp *RelyingParty) FinishLoginTx(ctx context.Context, ceremonyID string, response []byte, then func(ctx context.Context, u storage.User, m connector.Method) error) (storage.User, connector.Method, error) {
	u, m, err := rp.finishLogin(ctx, ceremonyID, response, then)
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("finish passkey login: %w", err)
	}
	return u, m, nil
}

func (rp *RelyingParty) finishLogin(ctx context.Context, ceremonyID string, response []byte, then func(ctx context.Context, u storage.User, m connector.Method) error) (storage.User, connector.Method, error) {
	if !rp.policy.Enabled {
		return storage.User{}, connector.Method{}, ErrDisabled
	}
	// The ceremony is read, the response verified outside any transaction
	// (no lock is held during the reads and the signature check), and the
	// ceremony consumed in the write transaction: of concurrent finishes
	// exactly one consumes it. Every failure after the read consumes it on
	// its own, so that it is single use whatever the outcome.
	st, data, err := rp.readCeremony(ctx, rp.loginKind, ceremonyID)
	if err != nil {
		return storage.User{}, connector.Method{}, err
	}
	u, m, err := rp.verifyLogin(ctx, ceremonyID, st, data, response, then)
	if err != nil {
		rp.burnCeremony(ctx, rp.loginKind, ceremonyID)
		return storage.User{}, connector.Method{}, err
	}
	return u, m, nil
}

func (rp *RelyingParty) verifyLogin(ctx context.Context, ceremonyID string, st ceremonyState, data, response []byte, then func(ctx context.Context, u storage.User, m connector.Method) error) (storage.User, connector.Method, error) {
	if err := st.check(rp.now()); err != nil {
		return storage.User{}, connector.Method{}, err
	}
	if st.Purpose != purposeLogin && (st.Purpose != purposeDiscover || rp.secondFactor) {
		return storage.User{}, connector.Method{}, ErrCeremonyNotFound
	}
	if len(response) == 0 || len(response) > maxResponseBytes {
		return storage.User{}, connector.Method{}, &VerificationError{Reason: fmt.Sprintf("the response must be 1 to %d bytes of JSON", maxResponseBytes)}
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return storage.User{}, connector.Method{}, verificationError("parse authentication response", err)
	}

	stored, err := rp.store.GetCredentialByExternalID(ctx, rp.credKind, parsed.RawID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, connector.Method{}, ErrUnknownCredential
	}
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("look up passkey: %w", err)
	}
	user, err := rp.store.GetUser(ctx, stored.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, connector.Method{}, ErrUnknownCredential
	}
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("look up user: %w", err)
	}
	if user.ConnectionID != rp.connectionID {
		return storage.User{}, connector.Method{}, fmt.Errorf("%w: the passkey belongs to another connection", ErrUnknownCredential)
	}
	if st.Purpose == purposeLogin && user.ID != st.UserID {
		return storage.User{}, connector.Method{}, fmt.Errorf("%w: the passkey is not one of the user's", ErrUnknownCredential)
	}
	handle := parsed.Response.UserHandle
	if st.Purpose == purposeDiscover && len(handle) == 0 {
		return storage.User{}, connector.Method{}, &VerificationError{Reason: "a discoverable login needs the user handle, and the response has none"}
	}
	if len(handle) > 0 && string(handle) != user.ID {
		return storage.User{}, connector.Method{}, &VerificationError{Reason: "the response's user handle is not the passkey owner's"}
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if st.Session.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		return storage.User{}, connector.Method{}, ErrUserVerificationRequired
	}
	attrs, err := ParseAttributes(stored.Attributes)
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("read stored passkey %s: %w", stored.ID, err)
	}

	wu := &waUser{id: []byte(user.ID), name: userName(user), displayName: displayName(user)}
	if st.Purpose == purposeLogin {
		// go-webauthn checks that the user owns every allowed credential.
		all, err := rp.store.ListCredentials(ctx, user.ID, rp.credKind)
		if err != nil {
			return storage.User{}, connector.Method{}, fmt.Errorf("list passkeys: %w", err)
		}
		wu.creds = rp.webauthnCredentials(ctx, all)
		if _, err := rp.wa.ValidateLogin(wu, st.Session, parsed); err != nil {
			return storage.User{}, connector.Method{}, verificationError("verify authentication", err)
		}
	} else {
		wc, err := toWebAuthn(stored)
		if err != nil {
			return storage.User{}, connector.Method{}, fmt.Errorf("read stored passkey %s: %w", stored.ID, err)
		}
		wu.creds = []webauthn.Credential{wc}
		handler := func(rawID, userHandle []byte) (webauthn.User, error) { return wu, nil }
		if _, _, err := rp.wa.ValidatePasskeyLogin(handler, st.Session, parsed); err != nil {
			return storage.User{}, connector.Method{}, verificationError("verify authentication", err)
		}
	}
	if user.Blocked {
		return storage.User{}, connector.Method{}, connector.ErrUserBlocked
	}

	now := rp.now().UTC()
	counter := parsed.Response.AuthenticatorData.Counter
	var method connector.Method
	err = rp.store.InTx(ctx, func(ctx context.Context) error {
		ch, err := rp.store.ConsumeChallenge(ctx, rp.loginKind, ceremonyID)
		if errors.Is(err, storage.ErrNotFound) {
			// A concurrent finish consumed it first.
			return ErrCeremonyNotFound
		}
		if err != nil {
			return fmt.Errorf("consume ceremony: %w", err)
		}
		if !bytes.Equal(ch.Data, data) {
			return fmt.Errorf("%w: the ceremony changed", ErrCeremonyNotFound)
		}
		updated, err := rp.store.UpdateCredential(ctx, stored.ID, func(c *storage.Credential) error {
			a, err := ParseAttributes(c.Attributes)
			if err != nil {
				return err
			}
			if counter <= c.SignCount && (counter != 0 || c.SignCount != 0) {
				rp.logger.WarnContext(ctx, "passkey signature counter did not increase: possible cloned authenticator",
					"credential_id", c.ID, "user_id", c.UserID, "stored_sign_count", c.SignCount,
					"received_sign_count", counter, "policy", string(rp.policy.SignCountRegression))
				if rp.policy.SignCountRegression == SignCountRefuse {
					return ErrSignCountRegression
				}
				a.CloneWarning = true
			} else {
				c.SignCount = counter
			}
			a.BackupState = flags.HasBackupState()
			b, err := marshalAttributes(a)
			if err != nil {
				return err
			}
			c.Attributes = b
			c.LastUsedAt = now
			return nil
		})
		if err != nil {
			return err
		}
		stored = updated
		user, err = rp.store.UpdateUser(ctx, user.ID, func(u *storage.User) error {
			u.LastLoginAt = now
			return nil
		})
		if err != nil {
			return err
		}
		method = rp.method(now, stored.ID, flags, attrs, parsed.AuthenticatorAttachment)
		if then != nil {
			return then(ctx, user, method)
		}
		return nil
	})
	if err != nil {
		return storage.User{}, connector.Method{}, err
	}
	return user, method, nil
}
