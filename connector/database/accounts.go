package database

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
)

// Signup creates an account with a password and logs it in: the returned
// Method is the password evidence of this sign-up. It returns
// connector.ErrSignupDisabled when the connection does not allow sign-up, a
// *connector.FieldError for an invalid email or username,
// connector.ErrUserExists when the email or username is taken, and a
// *connector.PolicyError for a password the policy rejects. The user and
// their password are created in one transaction.
func (c *Connection) Signup(ctx context.Context, p connector.Profile, pw string) (storage.User, connector.Method, error) {
	if !c.SignupAllowed() {
		return storage.User{}, connector.Method{}, fmt.Errorf("sign up: %w", connector.ErrSignupDisabled)
	}
	now := c.now().UTC()
	u, cred, err := c.create(ctx, p, pw, true, now)
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("sign up: %w", err)
	}
	return u, connector.Method{Kind: connector.MethodPassword, Time: now, CredentialID: cred.ID}, nil
}

// CreateUser creates an account for an administrator, whether or not
// sign-up is allowed. With a password, the policy applies as for Signup;
// with an empty one the user has no password (a passkey-only account, or one
// whose password is set later with ChangePassword). Errors are those of
// Signup bar ErrSignupDisabled.
func (c *Connection) CreateUser(ctx context.Context, p connector.Profile, pw string) (storage.User, error) {
	u, _, err := c.create(ctx, p, pw, false, time.Time{})
	if err != nil {
		return storage.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// create validates the profile and password and inserts the user with their
// password credential in one transaction. A zero loginAt leaves the user's
// LastLoginAt unset. The password is required when signup is true.
func (c *Connection) create(ctx context.Context, p connector.Profile, pw string, signup bool, loginAt time.Time) (storage.User, storage.Credential, error) {
	u, err := c.newUser(p)
	if err != nil {
		return storage.User{}, storage.Credential{}, err
	}
	u.LastLoginAt = loginAt

	// Existing accounts first: "you already have an account" is more useful
	// than advice on a password that will not be used.
	if err := c.checkFree(ctx, u); err != nil {
		return storage.User{}, storage.Credential{}, err
	}
	var hash string
	if pw != "" || signup {
		if err := c.policy.Check(ctx, pw, personalInfo(u), nil); err != nil {
			return storage.User{}, storage.Credential{}, err
		}
		// Hash before the transaction: no database transaction waits for a
		// hashing slot.
		if hash, err = c.hasher.Hash(ctx, pw); err != nil {
			return storage.User{}, storage.Credential{}, err
		}
	}

	var cred storage.Credential
	err = c.store.InTx(ctx, func(ctx context.Context) error {
		created, err := c.store.CreateUser(ctx, u)
		if errors.Is(err, storage.ErrAlreadyExists) {
			return connector.ErrUserExists // lost a race with another sign-up
		}
		if err != nil {
			return err
		}
		u = created
		if hash == "" {
			return nil
		}
		cred, err = c.store.CreateCredential(ctx, storage.Credential{
			UserID: u.ID,
			Kind:   storage.CredentialPassword,
			Secret: hash,
		})
		return err
	})
	if err != nil {
		return storage.User{}, storage.Credential{}, err
	}
	c.logger.InfoContext(ctx, "user created", "user_id", u.ID, "signup", signup, "password", hash != "")
	return u, cred, nil
}

// newUser builds the user to insert from a profile, normalising and
// validating its identifiers.
func (c *Connection) newUser(p connector.Profile) (storage.User, error) {
	u := storage.User{
		ConnectionID: c.conn.ID,
		Email:        normalizeIdentifier(p.Email),
		Username:     normalizeIdentifier(p.Username),
		Name:         strings.TrimSpace(p.Name),
		GivenName:    strings.TrimSpace(p.GivenName),
		FamilyName:   strings.TrimSpace(p.FamilyName),
		Locale:       strings.TrimSpace(p.Locale),
	}
	if err := validateEmail(u.Email); err != nil {
		return storage.User{}, err
	}
	switch {
	case u.Username != "":
		if err := c.settings.UsernameSettings.check(u.Username); err != nil {
			return storage.User{}, err
		}
	case c.settings.RequiresUsername:
		return storage.User{}, &connector.FieldError{Field: "username", Message: msgUsernameRequired}
	}
	for _, f := range []struct {
		field, value string
		max          int
	}{
		{"name", u.Name, maxNameLen},
		{"given_name", u.GivenName, maxNameLen},
		{"family_name", u.FamilyName, maxNameLen},
		{"locale", u.Locale, maxLocaleLen},
	} {
		if err := validateLength(f.field, f.value, f.max); err != nil {
			return storage.User{}, err
		}
	}
	return u, nil
}

// checkFree returns connector.ErrUserExists when u's email or username is
// taken in the connection.
func (c *Connection) checkFree(ctx context.Context, u storage.User) error {
	_, err := c.store.GetUserByEmail(ctx, c.conn.ID, u.Email)
	if err == nil {
		return connector.ErrUserExists
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if u.Username == "" {
		return nil
	}
	_, err = c.store.GetUserByUsername(ctx, c.conn.ID, u.Username)
	if err == nil {
		return connector.ErrUserExists
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// ChangePassword sets the user's password after checking it against the
// policy, history included: with a history of N, the new password must
// differ from the current one and the N-1 before it, and N-1 retired hashes
// are kept. It returns a *connector.PolicyError for a rejected password and
// an error wrapping storage.ErrNotFound when the connection has no such user.
// It does not end the user's sessions; the caller decides.
func (c *Connection) ChangePassword(ctx context.Context, userID, newPassword string) error {
	u, err := c.store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if u.ConnectionID != c.conn.ID {
		return fmt.Errorf("change password: user of another connection: %w", storage.ErrNotFound)
	}
	hash, keep, err := c.preparePassword(ctx, u, newPassword)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := c.store.SetPassword(ctx, userID, hash, keep); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	c.logger.InfoContext(ctx, "password changed", "user_id", userID)
	return nil
}

// preparePassword checks a new password for u against the policy, history
// included, and hashes it. It returns the hash and how many retired hashes
// SetPassword keeps: with a history of N, the new password must differ from
// the current one and the N-1 before it, and N-1 retired hashes are kept.
func (c *Connection) preparePassword(ctx context.Context, u storage.User, pw string) (hash string, keep int, err error) {
	n := c.settings.PasswordPolicy.History
	var history []string
	if n > 0 {
		if history, err = c.recentHashes(ctx, u.ID, n); err != nil {
			return "", 0, err
		}
	}
	if err := c.policy.Check(ctx, pw, personalInfo(u), history); err != nil {
		return "", 0, err
	}
	if hash, err = c.hasher.Hash(ctx, pw); err != nil {
		return "", 0, err
	}
	return hash, max(n-1, 0), nil
}

// recentHashes returns up to n of the user's password hashes, newest first:
// the current password, then the retired ones.
func (c *Connection) recentHashes(ctx context.Context, userID string, n int) ([]string, error) {
	var hashes []string
	for _, kind := range []storage.CredentialKind{storage.CredentialPassword, storage.CredentialPasswordHistory} {
		creds, err := c.store.ListCredentials(ctx, userID, kind)
		if err != nil {
			return nil, fmt.Errorf("list password history: %w", err)
		}
		slices.Reverse(creds) // ListCredentials is oldest first
		for _, cr := range creds {
			hashes = append(hashes, cr.Secret)
		}
	}
	if len(hashes) > n {
		hashes = hashes[:n]
	}
	return hashes, nil
}

// personalInfo is the user data the personal-data rule looks for.
func personalInfo(u storage.User) password.PersonalInfo {
	return password.PersonalInfo{
		Email:      u.Email,
		Username:   u.Username,
		Name:       u.Name,
		GivenName:  u.GivenName,
		FamilyName: u.FamilyName,
		Nickname:   u.Nickname,
	}
}
