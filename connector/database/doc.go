// Package database is Latchkey's built-in "database connection": users,
// their password credentials and history live in Latchkey's own store, as
// in Auth0's database connections.
//
// A Connection is opened from a stored storage.Connection whose Settings are
// this package's Settings as JSON (sign-up on or off, the password policy).
// It implements connector.PasswordConnector and connector.SignupConnector,
// and offers CreateUser and ChangePassword to the admin CLI and account
// pages. Opened WithPasskeys, it also carries the connection's passkey
// relying party (Passkeys), built from the "passkeys" policy of its settings.
//
// Identifiers: emails are trimmed, lower-cased and validated (a bare address
// that net/mail accepts, with a dotted domain). Usernames are optional,
// trimmed and lower-cased, 1..64 of [a-z0-9_.+-] (never '@', so an
// identifier with '@' is always an email). LookupUser and Login take either.
//
// Accounts stay private on login: an unknown identifier costs the same
// password-hash time (Hasher.DummyVerify) and gives the same
// connector.ErrInvalidCredentials as a wrong password, and a blocked account
// is only reported once the password was right. Sign-up does reveal that an
// email has an account (connector.ErrUserExists), as Auth0's does.
//
// Imports: the standard library, storage, connector, connector/password and
// connector/passkey (the passkey policy in Settings and the relying party).
// Never fosite, GORM, a storage backend or net/http.
package database
