// Package storage defines Latchkey's domain types and the Store interface
// every persistence backend implements.
//
// The types here are plain values: no GORM, fosite, go-webauthn or net/http
// types leak into them, so the rest of Latchkey (and embedding applications
// that bring their own backend) speak only in these terms. Backends live in
// sub-packages (storage/sqlstore for SQLite and PostgreSQL through GORM) and
// prove themselves with the shared suite in storage/conformance.
//
// Conventions every backend follows:
//   - "not found" is reported as ErrNotFound, a duplicate unique key as
//     ErrAlreadyExists, a lost compare-and-set as ErrConflict; callers test
//     with errors.Is and never receive (nil, nil).
//   - Multi-row writes run in one transaction. A transaction is carried in the
//     context returned by BeginTx; every method called with that context joins
//     it. InTx is the closure form and is what application code should use.
//
// This package may import only the standard library.
package storage
