// Package password hashes and checks the passwords of the database
// connection.
//
// # Hashing
//
// Passwords are hashed with argon2id (RFC 9106) using the OWASP Password
// Storage Cheat Sheet's minimum configuration by default (19 MiB of memory,
// 2 iterations, 1 lane) and stored in the PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt, base64>$<hash, base64>
//
// Hashes of other well-known formats are verified but never produced: bcrypt
// ($2a$, $2b$, $2y$), so that users imported from another provider (an Auth0
// export carries bcrypt hashes) can log in; NeedsRehash reports them so the
// caller upgrades them to argon2id on the next successful login.
//
// A Hasher runs every hash and verification on a bounded pool: at most
// `workers` of them at once, with at most `queue` callers waiting for a slot.
// A flood of password attempts is then refused quickly with ErrBusy instead
// of starving the rest of the server (token endpoints, passkey logins) of CPU
// and memory.
//
// # Policy
//
// A Policy implements Auth0's password policy for database connections: the
// five strength levels (none, low, fair, good, excellent), a minimum length,
// password history, a dictionary of common passwords and the "no personal
// data" rule. Where Latchkey differs from Auth0 it says so on the rule.
//
// The dictionary is the top 10,000 of zxcvbn's common-password list, embedded
// from common-passwords.txt (MIT licence; see the file's header and
// common-passwords.LICENSE).
//
// # Imports
//
// This package may import the standard library, golang.org/x/crypto and
// connector (for PolicyError). It must not import storage backends, fosite,
// GORM or net/http.
package password
