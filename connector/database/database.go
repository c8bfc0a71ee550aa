package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
)

// Type is the storage.Connection.Type of database connections. Open also
// accepts an empty Type.
const Type = "database"

// maxPasswordBytes bounds what Login hashes. The policy allows 128
// characters (at most 512 bytes); longer input cannot be a valid password.
const maxPasswordBytes = 4 * password.MaxLength

// Connection is an open database connection. It is safe for concurrent use;
// it holds no state besides its settings, so reopening it when the stored
// settings change is cheap (bar the dictionary, parsed once per Open).
type Connection struct {
	conn     storage.Connection
	settings Settings
	store    storage.Store
	hasher   *password.Hasher
	policy   *password.Policy
	logger   *slog.Logger
	now      func() time.Time
	// passkeys is nil when the connection offers no passkeys.
	passkeys *passkey.RelyingParty
	// lifecycle: brute-force allow list, mail (see bruteforce.go).
	lifecycle
}

// The capabilities a Connection offers.
var (
	_ connector.PasswordConnector = (*Connection)(nil)
	_ connector.SignupConnector   = (*Connection)(nil)
)

// Open builds the connector of a stored database connection. conn.Settings
// are parsed with ParseSettings. hasher is shared by all connections so that
// its bound holds for the whole process; logger may be nil. WithPasskeys
// adds the passkey relying party.
func Open(conn storage.Connection, store storage.Store, hasher *password.Hasher, logger *slog.Logger, opts ...Option) (*Connection, error) {
	if conn.Type != "" && conn.Type != Type {
		return nil, fmt.Errorf("open database connection %q: type is %q, not %q", conn.Name, conn.Type, Type)
	}
	if conn.ID == "" {
		return nil, fmt.Errorf("open database connection %q: connection has no ID (not stored yet?)", conn.Name)
	}
	if store == nil || hasher == nil {
		return nil, fmt.Errorf("open database connection %q: store and hasher are required", conn.Name)
	}
	settings, err := ParseSettings(conn.Settings)
	if err != nil {
		return nil, fmt.Errorf("open database connection %q: %w", conn.Name, err)
	}
	policy, err := password.NewPolicy(settings.PasswordPolicy.config(), hasher)
	if err != nil {
		return nil, fmt.Errorf("open database connection %q: %w", conn.Name, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var oo openOptions
	for _, opt := range opts {
		opt(&oo)
	}
	c := &Connection{
		conn:     conn,
		settings: settings,
		store:    store,
		hasher:   hasher,
		policy:   policy,
		logger:   logger,
		now:      time.Now,
	}
	if c.passkeys, err = c.newRelyingParty(oo.passkeys); err != nil {
		return nil, fmt.Errorf("open database connection %q: %w", conn.Name, err)
	}
	return c, nil
}

// Connection returns the stored connection this connector serves.
func (c *Connection) Connection() storage.Connection { return c.conn }

// Settings returns the parsed settings.
func (c *Connection) Settings() Settings { return c.settings }

// PasswordRules lists the password policy in words for the sign-up and
// password-change pages.
func (c *Connection) PasswordRules() []string { return c.policy.Describe() }

// SignupAllowed reports whether people may sign up themselves.
func (c *Connection) SignupAllowed() bool { return !c.settings.DisableSignup }

// LookupUser finds the connection's user by email when identifier is a
// valid email address, and by username otherwise (usernames are never in
// email format). Identifiers are compared trimmed and lower-cased. No such
// user gives an error wrapping storage.ErrNotFound.
func (c *Connection) LookupUser(ctx context.Context, identifier string) (storage.User, error) {
	id := normalizeIdentifier(identifier)
	var (
		u   storage.User
		err error
	)
	switch {
	case id == "":
		err = storage.ErrNotFound
	case validateEmail(id) == nil:
		u, err = c.store.GetUserByEmail(ctx, c.conn.ID, id)
	default:
		u, err = c.store.GetUserByUsername(ctx, c.conn.ID, id)
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("look up user: %w", err)
	}
	return u, nil
}

// login checks identifier and password (Login adds brute-force
// protection around it). It returns
// connector.ErrInvalidCredentials for an unknown user, a user without a
// password and a wrong password alike, spending a hash's time in each case;
// connector.ErrUserBlocked for a blocked user whose password is right; and
// password.ErrBusy (wrapped) when the hasher is saturated.
//
// On success it records the login time on the user and the use on the
// credential, and replaces a hash made with other parameters (or imported
// from bcrypt) by a fresh one.
func (c *Connection) login(ctx context.Context, identifier, pw string) (storage.User, connector.Method, error) {
	if pw == "" || len(pw) > maxPasswordBytes {
		// No account can have this password; the answer does not depend on
		// the identifier, so it needs no hashing to hide anything.
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", connector.ErrInvalidCredentials)
	}
	u, err := c.LookupUser(ctx, identifier)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, connector.Method{}, c.failSlowly(ctx)
	}
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", err)
	}
	cred, err := c.currentPassword(ctx, u.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.User{}, connector.Method{}, c.failSlowly(ctx)
	}
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", err)
	}
	ok, err := c.hasher.Verify(ctx, cred.Secret, pw)
	if errors.Is(err, password.ErrMalformedHash) {
		c.logger.ErrorContext(ctx, "stored password hash is unreadable", "user_id", u.ID, "credential_id", cred.ID, "error", err)
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", connector.ErrInvalidCredentials)
	}
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", err)
	}
	if !ok {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", connector.ErrInvalidCredentials)
	}
	if u.Blocked {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", connector.ErrUserBlocked)
	}

	now := c.now().UTC()
	u, err = c.store.UpdateUser(ctx, u.ID, func(u *storage.User) error {
		u.LastLoginAt = now
		return nil
	})
	if err != nil {
		return storage.User{}, connector.Method{}, fmt.Errorf("log in: record login: %w", err)
	}
	c.touchCredential(ctx, cred, pw, now)
	return u, connector.Method{Kind: connector.MethodPassword, Time: now, CredentialID: cred.ID}, nil
}

// failSlowly spends a password hash's time and returns ErrInvalidCredentials
// (or the hasher's error: a saturated hasher must not answer faster for
// unknown users than for known ones).
func (c *Connection) failSlowly(ctx context.Context) error {
	if err := c.hasher.DummyVerify(ctx); err != nil {
		return fmt.Errorf("log in: %w", err)
	}
	return fmt.Errorf("log in: %w", connector.ErrInvalidCredentials)
}

// currentPassword returns the user's password credential, or an error
// wrapping storage.ErrNotFound when the user has none.
func (c *Connection) currentPassword(ctx context.Context, userID string) (storage.Credential, error) {
	creds, err := c.store.ListCredentials(ctx, userID, storage.CredentialPassword)
	if err != nil {
		return storage.Credential{}, fmt.Errorf("get password: %w", err)
	}
	if len(creds) == 0 {
		return storage.Credential{}, fmt.Errorf("get password: %w", storage.ErrNotFound)
	}
	return creds[len(creds)-1], nil
}

// touchCredential records the credential's use and upgrades its hash when
// the hasher's parameters changed. Failures are logged, not returned: the
// person has logged in either way.
func (c *Connection) touchCredential(ctx context.Context, cred storage.Credential, pw string, now time.Time) {
	var rehashed string
	if c.hasher.NeedsRehash(cred.Secret) {
		h, err := c.hasher.Hash(ctx, pw)
		if err != nil {
			c.logger.WarnContext(ctx, "rehash password", "user_id", cred.UserID, "credential_id", cred.ID, "error", err)
		}
		rehashed = h
	}
	upgraded := false
	_, err := c.store.UpdateCredential(ctx, cred.ID, func(cur *storage.Credential) error {
		cur.LastUsedAt = now
		// Replace only the hash just verified: a concurrent password change
		// wins over the upgrade.
		upgraded = rehashed != "" && cur.Kind == storage.CredentialPassword && cur.Secret == cred.Secret
		if upgraded {
			cur.Secret = rehashed
		}
		return nil
	})
	if err != nil {
		c.logger.WarnContext(ctx, "record password use", "user_id", cred.UserID, "credential_id", cred.ID, "error", err)
		return
	}
	if upgraded {
		c.logger.InfoContext(ctx, "password hash upgraded", "user_id", cred.UserID, "credential_id", cred.ID)
	}
}
