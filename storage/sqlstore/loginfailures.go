package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// recordLoginFailureSQL counts one failure in a single upsert, so that
// concurrent failures on any replica never lose a count. Every SET
// expression reads the row as it was before the update; "expired" restarts
// the counter from the inserted values.
const recordLoginFailureSQL = `INSERT INTO login_failures
		(connection_id, identifier, ip, failures, first_at, last_at, blocked_at, expires_at)
	VALUES (?, ?, ?, 1, ?, ?, ?, ?)
	ON CONFLICT (connection_id, identifier, ip) DO UPDATE SET
		failures = CASE WHEN ` + lfExpired + ` THEN 1 ELSE login_failures.failures + 1 END,
		first_at = CASE WHEN ` + lfExpired + ` THEN excluded.first_at ELSE login_failures.first_at END,
		last_at = excluded.last_at,
		blocked_at = CASE
			WHEN ` + lfExpired + ` THEN excluded.blocked_at
			WHEN login_failures.blocked_at IS NULL AND login_failures.failures + 1 >= ? THEN excluded.last_at
			ELSE login_failures.blocked_at END,
		expires_at = excluded.expires_at
	RETURNING connection_id, identifier, ip, failures, first_at, last_at, blocked_at, expires_at`

// lfExpired is true in the upsert when the stored counter had expired by
// the time of the new failure.
const lfExpired = `(login_failures.expires_at IS NOT NULL AND login_failures.expires_at <= excluded.last_at)`

// RecordLoginFailure adds one failure to a brute-force counter with one
// INSERT ... ON CONFLICT DO UPDATE ... RETURNING statement.
func (s *Store) RecordLoginFailure(ctx context.Context, f storage.FailedLogin) (storage.LoginFailure, error) {
	if f.ConnectionID == "" || f.Identifier == "" || f.IP == "" {
		return storage.LoginFailure{}, errors.New("record login failure: connection, identifier and IP are required")
	}
	at := f.At
	if at.IsZero() {
		at = s.now()
	}
	at = dbTime(at)
	threshold := int64(f.Threshold)
	if threshold <= 0 {
		threshold = math.MaxInt64
	}
	var blockedAt *time.Time
	if threshold <= 1 {
		blockedAt = &at
	}
	release, err := s.writeLock(ctx)
	if err != nil {
		return storage.LoginFailure{}, wrap("record login failure", err)
	}
	defer release()
	var rows []loginFailureRow
	res := s.db(ctx).Raw(recordLoginFailureSQL,
		f.ConnectionID, f.Identifier, f.IP, at, at, blockedAt, nullTime(f.ExpiresAt), threshold).
		Scan(&rows)
	if res.Error != nil {
		return storage.LoginFailure{}, wrap("record login failure", res.Error)
	}
	if len(rows) != 1 {
		return storage.LoginFailure{}, fmt.Errorf("record login failure: upsert returned %d rows", len(rows))
	}
	return rows[0].toLoginFailure(), nil
}

// GetLoginFailure returns one unexpired counter.
func (s *Store) GetLoginFailure(ctx context.Context, connectionID, identifier, ip string) (storage.LoginFailure, error) {
	var r loginFailureRow
	err := s.db(ctx).Where("connection_id = ? AND identifier = ? AND ip = ?", connectionID, identifier, ip).
		Where(unexpired, s.now()).Take(&r).Error
	if err != nil {
		return storage.LoginFailure{}, wrap("get login failure", err)
	}
	return r.toLoginFailure(), nil
}

// ListLoginFailures returns the identifier's unexpired counters by IP.
func (s *Store) ListLoginFailures(ctx context.Context, connectionID, identifier string) ([]storage.LoginFailure, error) {
	var rows []loginFailureRow
	err := s.db(ctx).Where("connection_id = ? AND identifier = ?", connectionID, identifier).
		Where(unexpired, s.now()).Order("ip").Find(&rows).Error
	if err != nil {
		return nil, wrap("list login failures", err)
	}
	out := make([]storage.LoginFailure, len(rows))
	for i, r := range rows {
		out[i] = r.toLoginFailure()
	}
	return out, nil
}

// ResetLoginFailures deletes one counter, or all of the identifier's when
// ip is "".
func (s *Store) ResetLoginFailures(ctx context.Context, connectionID, identifier, ip string) (int64, error) {
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("reset login failures", err)
	}
	defer release()
	q := s.db(ctx).Where("connection_id = ? AND identifier = ?", connectionID, identifier)
	if ip != "" {
		q = q.Where("ip = ?", ip)
	}
	res := q.Delete(&loginFailureRow{})
	if res.Error != nil {
		return 0, wrap("reset login failures", res.Error)
	}
	return res.RowsAffected, nil
}
