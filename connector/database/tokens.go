package database

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Lifetimes of emailed links and codes.
const (
	VerificationLinkTTL = 24 * time.Hour
	VerificationCodeTTL = time.Hour
	PasswordResetTTL    = time.Hour
	PasskeyRecoveryTTL  = time.Hour
	UnblockTTL          = 24 * time.Hour
	// maxCodeAttempts is how many wrong verification codes void the code.
	maxCodeAttempts = 5
	// MaxEmailsPerHour caps the tokens of one kind issued to one user per
	// hour, so that nobody can flood a person's inbox with reset links.
	MaxEmailsPerHour = 5
)

// Challenge kinds of emailed tokens.
const (
	kindVerifyLink = "email.verify"
	kindVerifyCode = "email.verify_code"
	kindReset      = "email.password_reset"
	kindRecovery   = "email.passkey_recovery"
	kindUnblock    = "email.unblock"
)

// ErrTooManyEmails: StartEmailVerification was asked more than
// MaxEmailsPerHour times in the hour for one user. (Password reset and
// passkey recovery stay silent instead, like for unknown emails.)
var ErrTooManyEmails = errors.New("database: too many emails requested, try again later")

// ErrInvalidToken: an emailed link or code that is unknown, used, expired,
// superseded by a newer one, or no longer matches its account (the email
// changed, the account was deleted). Pages show one message for all.
var ErrInvalidToken = errors.New("database: invalid or expired link or code")

// tokenData is what a token's challenge holds besides its user.
type tokenData struct {
	ConnectionID string `json:"connection_id"`
	// Email is the address the token was sent to; the token is void if the
	// account's email changes.
	Email string `json:"email"`
	// CodeHash and Attempts are for verification codes.
	CodeHash string `json:"code_hash,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
}

// newToken returns a 256-bit random token, base64url without padding (43
// characters).
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenID is the challenge ID of a token: its SHA-256, so the database
// never holds a usable token.
func tokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// newCode returns a uniformly random 6-digit code.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("generate code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// codeID is the challenge ID of a user's verification code: one per user.
func codeID(userID string) string { return kindVerifyCode + ":" + userID }

// codeHash binds a code to its user.
func codeHash(userID, code string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + code))
	return hex.EncodeToString(h[:])
}

// throttled counts one token of kind for u and reports whether the user
// already had MaxEmailsPerHour of them in the last hour. The count lives in
// the brute-force counters (an identifier no login can type: it holds a
// space), so it holds across replicas.
func (c *Connection) throttled(ctx context.Context, kind string, u storage.User) (bool, error) {
	now := c.now().UTC()
	f, err := c.store.RecordLoginFailure(ctx, storage.FailedLogin{
		ConnectionID: c.conn.ID, Identifier: "mail " + kind + " " + u.ID, IP: storage.AnyIP,
		At: now, ExpiresAt: now.Add(time.Hour),
	})
	if err != nil {
		return false, fmt.Errorf("count emails: %w", err)
	}
	if f.Count > MaxEmailsPerHour {
		c.logger.InfoContext(ctx, "email not sent: hourly limit reached", "user_id", u.ID, "kind", kind)
		return true, nil
	}
	return false, nil
}

// issue stores a token of kind for u, valid for ttl, after deleting the
// user's older tokens of that kind (only the newest link works).
func (c *Connection) issue(ctx context.Context, kind string, u storage.User, ttl time.Duration) (string, error) {
	token, err := newToken()
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(tokenData{ConnectionID: c.conn.ID, Email: u.Email})
	if err != nil {
		return "", fmt.Errorf("encode token: %w", err)
	}
	now := c.now().UTC()
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := c.store.DeleteUserChallenges(ctx, kind, u.ID); err != nil {
			return err
		}
		_, err := c.store.CreateChallenge(ctx, storage.Challenge{
			ID: tokenID(token), Kind: kind, UserID: u.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(ttl),
		})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return token, nil
}

// tokenUser returns the user a token's challenge belongs to, checking that
// it is of this connection and still has the email the token was sent to.
func (c *Connection) tokenUser(ctx context.Context, ch storage.Challenge) (storage.User, tokenData, error) {
	var d tokenData
	if err := json.Unmarshal(ch.Data, &d); err != nil || d.ConnectionID != c.conn.ID {
		return storage.User{}, d, ErrInvalidToken
	}
	u, err := c.store.GetUser(ctx, ch.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, d, ErrInvalidToken
	}
	if err != nil {
		return storage.User{}, d, err
	}
	if u.ConnectionID != c.conn.ID || u.Email != d.Email {
		return storage.User{}, d, ErrInvalidToken
	}
	return u, d, nil
}

// consume takes the token of kind (single use under concurrency) and
// returns its user. It must run in the caller's transaction so that a later
// failure puts the token back.
func (c *Connection) consume(ctx context.Context, kind, token string) (storage.User, error) {
	if token == "" {
		return storage.User{}, ErrInvalidToken
	}
	ch, err := c.store.ConsumeChallenge(ctx, kind, tokenID(token))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, ErrInvalidToken
	}
	if err != nil {
		return storage.User{}, err
	}
	u, _, err := c.tokenUser(ctx, ch)
	return u, err
}

// userByEmail finds an account for an emailed flow: ok is false for an
// invalid or unknown email and for a blocked account, which callers treat
// alike so that the answer reveals nothing.
func (c *Connection) userByEmail(ctx context.Context, email string) (storage.User, bool, error) {
	email = normalizeIdentifier(email)
	if validateEmail(email) != nil {
		return storage.User{}, false, nil
	}
	u, err := c.store.GetUserByEmail(ctx, c.conn.ID, email)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, false, nil
	}
	if err != nil {
		return storage.User{}, false, err
	}
	return u, !u.Blocked, nil
}

// StartEmailVerification issues a verification link token (valid 24 hours)
// and a 6-digit code (valid 1 hour, 5 attempts) for the user's email, to be
// mailed together; either verifies. A new call voids the previous link and
// code. Past MaxEmailsPerHour calls in an hour it returns ErrTooManyEmails.
func (c *Connection) StartEmailVerification(ctx context.Context, userID string) (token, code string, err error) {
	u, err := c.store.GetUser(ctx, userID)
	if err != nil {
		return "", "", fmt.Errorf("start email verification: %w", err)
	}
	if u.ConnectionID != c.conn.ID {
		return "", "", fmt.Errorf("start email verification: user of another connection: %w", storage.ErrNotFound)
	}
	if limited, err := c.throttled(ctx, kindVerifyLink, u); err != nil || limited {
		if err == nil {
			err = ErrTooManyEmails
		}
		return "", "", fmt.Errorf("start email verification: %w", err)
	}
	if code, err = newCode(); err != nil {
		return "", "", fmt.Errorf("start email verification: %w", err)
	}
	data, err := json.Marshal(tokenData{ConnectionID: c.conn.ID, Email: u.Email, CodeHash: codeHash(u.ID, code)})
	if err != nil {
		return "", "", fmt.Errorf("start email verification: %w", err)
	}
	now := c.now().UTC()
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		if token, err = c.issue(ctx, kindVerifyLink, u, VerificationLinkTTL); err != nil {
			return err
		}
		if _, err := c.store.DeleteUserChallenges(ctx, kindVerifyCode, u.ID); err != nil {
			return err
		}
		_, err := c.store.CreateChallenge(ctx, storage.Challenge{
			ID: codeID(u.ID), Kind: kindVerifyCode, UserID: u.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(VerificationCodeTTL),
		})
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("start email verification: %w", err)
	}
	return token, code, nil
}

// VerifyEmail marks the email verified by the emailed link's token, once.
// It returns ErrInvalidToken for a token that does not (or no longer)
// verify.
func (c *Connection) VerifyEmail(ctx context.Context, token string) (storage.User, error) {
	var u storage.User
	err := c.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = c.consume(ctx, kindVerifyLink, token); err != nil {
			return err
		}
		if _, err := c.store.DeleteUserChallenges(ctx, kindVerifyCode, u.ID); err != nil {
			return err
		}
		u, err = c.markVerified(ctx, u.ID)
		return err
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("verify email: %w", err)
	}
	c.logger.InfoContext(ctx, "email verified", "user_id", u.ID, "by", "link")
	return u, nil
}

// VerifyEmailCode marks the user's email verified by the emailed 6-digit
// code. The code is scoped to the user (the page knows who signed up) and
// allows 5 attempts; then it is void and a new one must be sent. It
// returns ErrInvalidToken for a wrong, used, void or expired code.
func (c *Connection) VerifyEmailCode(ctx context.Context, userID, code string) (storage.User, error) {
	code = strings.TrimSpace(code)
	var (
		u     storage.User
		wrong bool
	)
	err := c.store.InTx(ctx, func(ctx context.Context) error {
		ch, err := c.store.ConsumeChallenge(ctx, kindVerifyCode, codeID(userID))
		if errors.Is(err, storage.ErrNotFound) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		var d tokenData
		if u, d, err = c.tokenUser(ctx, ch); err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(codeHash(userID, code)), []byte(d.CodeHash)) != 1 {
			wrong = true
			// Put the code back with one attempt fewer; the last wrong
			// attempt leaves it consumed.
			if d.Attempts+1 >= maxCodeAttempts {
				return nil
			}
			d.Attempts++
			data, err := json.Marshal(d)
			if err != nil {
				return err
			}
			ch.Data = data
			_, err = c.store.CreateChallenge(ctx, ch)
			return err
		}
		if _, err := c.store.DeleteUserChallenges(ctx, kindVerifyLink, userID); err != nil {
			return err
		}
		u, err = c.markVerified(ctx, userID)
		return err
	})
	if err == nil && wrong {
		err = ErrInvalidToken
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("verify email code: %w", err)
	}
	c.logger.InfoContext(ctx, "email verified", "user_id", u.ID, "by", "code")
	return u, nil
}

// markVerified sets EmailVerified on the user.
func (c *Connection) markVerified(ctx context.Context, userID string) (storage.User, error) {
	return c.store.UpdateUser(ctx, userID, func(u *storage.User) error {
		u.EmailVerified = true
		return nil
	})
}

// StartPasswordReset issues a password-reset token (valid 1 hour) for the
// account with that email. Only the newest token works: issuing one voids
// the user's earlier ones. For an invalid or unknown email, a blocked
// account and a user past MaxEmailsPerHour it returns "" and no error, so that the page can say the
// same thing ("if an account exists, we sent a link") in every case.
func (c *Connection) StartPasswordReset(ctx context.Context, email string) (string, error) {
	u, ok, err := c.userByEmail(ctx, email)
	if err != nil || !ok {
		return "", wrapIf("start password reset", err)
	}
	if limited, err := c.throttled(ctx, kindReset, u); err != nil || limited {
		return "", wrapIf("start password reset", err)
	}
	token, err := c.issue(ctx, kindReset, u, PasswordResetTTL)
	if err != nil {
		return "", fmt.Errorf("start password reset: %w", err)
	}
	c.logger.InfoContext(ctx, "password reset started", "user_id", u.ID)
	return token, nil
}

// CheckPasswordReset returns the user a reset token is for without using
// it, so that the page can refuse a dead link before showing its form.
func (c *Connection) CheckPasswordReset(ctx context.Context, token string) (storage.User, error) {
	ch, err := c.store.GetChallenge(ctx, kindReset, tokenID(token))
	if errors.Is(err, storage.ErrNotFound) || token == "" {
		return storage.User{}, fmt.Errorf("check password reset: %w", ErrInvalidToken)
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("check password reset: %w", err)
	}
	u, _, err := c.tokenUser(ctx, ch)
	if err != nil {
		return storage.User{}, fmt.Errorf("check password reset: %w", err)
	}
	return u, nil
}

// ResetPassword sets a new password with a reset token. The password policy
// applies (history included); a rejected password returns the
// *connector.PolicyError and leaves the token usable. On success, in one
// transaction: the token and any other reset token of the user are used
// up, the password is replaced, the email counts as verified (the link
// proved it), every session of the user ends, their refresh and access
// tokens are revoked, and brute-force blocks on their identifiers are
// lifted. It returns ErrInvalidToken for a token that does not (or no
// longer) work.
func (c *Connection) ResetPassword(ctx context.Context, token, newPassword string) (storage.User, error) {
	u, err := c.CheckPasswordReset(ctx, token)
	if err != nil {
		return storage.User{}, fmt.Errorf("reset password: %w", errors.Unwrap(err))
	}
	// Policy and hashing outside the transaction: no transaction waits for
	// a hashing slot.
	hash, keep, err := c.preparePassword(ctx, u, newPassword)
	if err != nil {
		return storage.User{}, fmt.Errorf("reset password: %w", err)
	}
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		got, err := c.consume(ctx, kindReset, token)
		if err != nil {
			return err
		}
		if got.ID != u.ID {
			return ErrInvalidToken
		}
		if _, err := c.store.DeleteUserChallenges(ctx, kindReset, u.ID); err != nil {
			return err
		}
		if err := c.store.SetPassword(ctx, u.ID, hash, keep); err != nil {
			return err
		}
		if u, err = c.markVerified(ctx, u.ID); err != nil {
			return err
		}
		return c.signOutEverywhere(ctx, u)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("reset password: %w", err)
	}
	c.logger.InfoContext(ctx, "password reset", "user_id", u.ID)
	return u, nil
}

// signOutEverywhere ends the user's sessions, revokes their refresh and
// access tokens and lifts brute-force blocks on their identifiers.
func (c *Connection) signOutEverywhere(ctx context.Context, u storage.User) error {
	if err := c.store.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	for _, kind := range []storage.TokenKind{storage.TokenRefresh, storage.TokenAccess} {
		if _, err := c.store.DeactivateTokensBySubject(ctx, kind, u.ID); err != nil {
			return err
		}
	}
	return c.ResetLoginFailures(ctx, u)
}

// StartPasskeyRecovery issues a recovery token (valid 1 hour) for a
// passkey-only account (no password) whose owner lost their passkeys. The
// token's only power is ConsumeRecovery, after which the page lets the
// person enrol a new passkey. For an invalid or unknown email, a blocked
// account and an account with a password (whose owner resets the password
// instead) and past MaxEmailsPerHour it returns "" and no error. Only the
// newest token works.
func (c *Connection) StartPasskeyRecovery(ctx context.Context, email string) (string, error) {
	u, ok, err := c.userByEmail(ctx, email)
	if err != nil || !ok {
		return "", wrapIf("start passkey recovery", err)
	}
	if _, err := c.currentPassword(ctx, u.ID); err == nil {
		return "", nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("start passkey recovery: %w", err)
	}
	if limited, err := c.throttled(ctx, kindRecovery, u); err != nil || limited {
		return "", wrapIf("start passkey recovery", err)
	}
	token, err := c.issue(ctx, kindRecovery, u, PasskeyRecoveryTTL)
	if err != nil {
		return "", fmt.Errorf("start passkey recovery: %w", err)
	}
	c.logger.InfoContext(ctx, "passkey recovery started", "user_id", u.ID)
	return token, nil
}

// ConsumeRecovery uses a recovery token, once, and returns the user who
// may now enrol a new passkey, and nothing else: the caller must not treat
// it as a login. The user's other recovery tokens are voided, the email
// counts as verified, and, as the lost passkey may be in other hands,
// their sessions end and their refresh and access tokens are revoked.
func (c *Connection) ConsumeRecovery(ctx context.Context, token string) (storage.User, error) {
	var u storage.User
	err := c.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = c.consume(ctx, kindRecovery, token); err != nil {
			return err
		}
		if u.Blocked {
			return ErrInvalidToken
		}
		if _, err := c.store.DeleteUserChallenges(ctx, kindRecovery, u.ID); err != nil {
			return err
		}
		if u, err = c.markVerified(ctx, u.ID); err != nil {
			return err
		}
		return c.signOutEverywhere(ctx, u)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("consume passkey recovery: %w", err)
	}
	c.logger.InfoContext(ctx, "passkey recovery used", "user_id", u.ID)
	return u, nil
}

// StartUnblock issues an unblock token (valid 24 hours) for the account an
// identifier (email or username) names. It returns "" and no error when no
// account has it. Only the newest token works.
func (c *Connection) StartUnblock(ctx context.Context, identifier string) (string, storage.User, error) {
	u, err := c.LookupUser(ctx, identifier)
	if errors.Is(err, storage.ErrNotFound) {
		return "", storage.User{}, nil
	}
	if err != nil {
		return "", storage.User{}, fmt.Errorf("start unblock: %w", err)
	}
	token, err := c.issue(ctx, kindUnblock, u, UnblockTTL)
	if err != nil {
		return "", storage.User{}, fmt.Errorf("start unblock: %w", err)
	}
	return token, u, nil
}

// Unblock uses an unblock token, once, and lifts every brute-force block on
// the user's identifiers. It does not lift an administrator's block
// (storage.User.Blocked).
func (c *Connection) Unblock(ctx context.Context, token string) (storage.User, error) {
	var u storage.User
	err := c.store.InTx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = c.consume(ctx, kindUnblock, token); err != nil {
			return err
		}
		return c.ResetLoginFailures(ctx, u)
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("unblock: %w", err)
	}
	c.logger.InfoContext(ctx, "login unblocked by link", "user_id", u.ID)
	return u, nil
}

// wrapIf prefixes err with op, or returns nil.
func wrapIf(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
