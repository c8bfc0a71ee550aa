// Package sqlstore implements storage.Store over GORM with SQLite (the
// embedded default, pure Go through github.com/glebarez/sqlite) or
// PostgreSQL (pgx through gorm.io/driver/postgres).
//
// Open connects (it does not migrate); Migrate applies the versioned schema
// in schema_migrations and is safe to run from several replicas at once.
// The schema is written as explicit SQL per migration rather than through
// GORM's AutoMigrate, because partial unique indexes and upgrade steps must
// be exact and reviewable; GORM is used for queries only.
//
// GORM stays inside this package: its row structs are private and converted
// to and from the storage types, and no *gorm.DB is handed out. A
// transaction begun with BeginTx travels in the context; every method joins
// it through Store.db.
//
// Concurrency guarantees rest on the database: DeactivateToken is a
// conditional UPDATE, ConsumeChallenge a DELETE ... RETURNING,
// RecordLoginFailure an INSERT ... ON CONFLICT DO UPDATE ... RETURNING, Update*
// closures read with SELECT ... FOR UPDATE on PostgreSQL. On SQLite every
// transaction is BEGIN IMMEDIATE (_txlock=immediate) with a busy timeout, so
// writers queue instead of deadlocking. Driver errors are mapped to
// storage.ErrAlreadyExists (unique violations), storage.ErrConflict
// (serialization failures, deadlocks, SQLITE_BUSY) and storage.ErrNotFound.
//
// Times are stored in UTC with microsecond precision; a zero optional time
// (expiry, last use) is NULL. String lists are JSON text columns.
//
// This package may import the standard library, storage, GORM and its
// drivers, pgx (for error codes) and google/uuid. Only cmd/ and tests should
// import it; everything else depends on storage.Store.
package sqlstore
