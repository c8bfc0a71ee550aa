// Package sqltest gives tests of any package fresh, migrated sqlstore
// databases: SQLite in a temporary directory always, and PostgreSQL when
// LATCHKEY_TEST_POSTGRES_DSN names a server (LATCHKEY_TEST_STRICT=1 makes
// its absence a failure, for CI).
//
//	func TestThing(t *testing.T) {
//		sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) { ... })
//	}
//
// It is test support only and may import the standard library, testing,
// storage/sqlstore and the pgx database/sql driver.
package sqltest
