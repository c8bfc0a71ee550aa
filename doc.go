// Package latchkey is the library's composition root: it turns a Config and
// a storage.Store into a ready http.Handler serving a whole OpenID Provider,
// so that an application can mount Latchkey in its own mux with its own
// database, and so that cmd/latchkey stays a thin command-line shell.
//
// STYLE.md names cmd the only composition root. Latchkey must also be
// embeddable as a library, and an embedding application cannot import a
// main package, so the wiring lives here and cmd/latchkey only adds what a
// process needs (flags, the concrete database, the listener, signals).
//
// # What New does
//
// New builds the pieces in order and fails at start-up, never on a request:
//
//  1. derives the cookie keys and the demo client's secret from the master
//     secret (HMAC-SHA256 with fixed labels), so every replica and every
//     restart agrees without storing them;
//  2. builds the provider (signing keys are loaded, or generated on a fresh
//     database), the templates (embedded defaults, optionally overridden), and
//     one password hasher shared by all connections;
//  3. seeds the connections and clients declared in Config, idempotently:
//     each is created or updated to match, and rows that already match are not
//     written. With no connection anywhere it creates Auth0's default database
//     connection, "Username-Password-Authentication";
//  4. mounts handlers.New over a connector.Resolver that opens stored
//     connections by type ("database", or a type the embedding application
//     registers in Config.ConnectorTypes) and caches them briefly.
//
// A background goroutine reloads signing keys every minute (so a `latchkey
// keys rotate` on one replica reaches the others) and deletes expired rows.
// Close stops it; the Store belongs to the caller and is not closed.
//
// # Configuration
//
// Config is YAML-tagged; LoadConfig reads a file, applies LATCHKEY_* env
// overrides and validates. config.example.yaml at the repository root is the
// commented reference of every key.
//
// # Imports
//
// This package may import every Latchkey package (storage, provider,
// connector and its sub-packages, templates, handlers) and gopkg.in/yaml.v3.
// It must not import a storage backend (storage/sqlstore): the caller brings
// its Store, which is what lets an application embed Latchkey over its own
// database. Only cmd/latchkey (and tests and examples) know sqlstore. Nothing
// in Latchkey imports this package except cmd/latchkey and the end-to-end
// tests (e2e).
package latchkey
