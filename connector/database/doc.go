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
// trimmed and lower-cased, and follow Auth0's "Requires Username" rules
// (usernames.go): username_min..username_max characters (default 1..15, at
// most 128) of a-z, 0-9 and _ + - . ! # $ ' ^ ` ~ @, never in email format,
// so an identifier that is a valid email always means the email;
// requires_username makes them mandatory at sign-up. LookupUser and Login
// take either.
//
// Account lifecycle: emailed tokens (tokens.go) for email verification (a
// link and a 6-digit code), password reset (newest link only, single use,
// one hour; it ends the user's sessions, revokes their tokens and lifts
// brute-force blocks), passkey recovery for passkey-only accounts (a grant
// to enrol a new passkey, nothing else) and unblocking. Tokens are 256-bit
// random, stored as their SHA-256 in single-use challenges, and never
// logged. Brute-force protection (bruteforce.go) follows Auth0's model with
// counters in the database, so blocks hold across replicas; Login checks
// the block before looking the account up. SetMail gives the connection a
// mail.Sender for the Send methods and the unblock notice (emails.go).
//
// Accounts stay private on login: an unknown identifier costs the same
// password-hash time (Hasher.DummyVerify) and gives the same
// connector.ErrInvalidCredentials as a wrong password, and a blocked account
// is only reported once the password was right. Sign-up does reveal that an
// email has an account (connector.ErrUserExists), as Auth0's does.
//
// Imports: the standard library, storage, connector, connector/password,
// connector/passkey (the passkey policy in Settings and the relying party)
// and mail.
// Never fosite, GORM, a storage backend or net/http.
package database
