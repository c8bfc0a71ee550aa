package sqlstore

import "context"

// MigrateTo applies the schema steps up to and including version, for
// upgrade tests.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	var ms []migration
	for _, m := range migrations() {
		if m.version <= version {
			ms = append(ms, m)
		}
	}
	return s.migrate(ctx, ms)
}
