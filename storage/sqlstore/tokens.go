package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/storage"
)

// CreateToken inserts an OAuth 2.0 artefact; ErrAlreadyExists if (Kind,
// Signature) is taken. A zero RequestedAt becomes now; a zero ExpiresAt
// never expires.
func (s *Store) CreateToken(ctx context.Context, t storage.OAuthToken) error {
	if t.Kind == "" || t.Signature == "" {
		return errors.New("create token: kind and signature are required")
	}
	if t.RequestedAt.IsZero() {
		t.RequestedAt = s.now()
	}
	r := tokenRow{
		Kind: string(t.Kind), Signature: t.Signature, RequestID: t.RequestID, ClientID: t.ClientID,
		Subject: t.Subject, SessionID: t.SessionID, Active: t.Active, AccessSignature: t.AccessSignature,
		RequestedAt: dbTime(t.RequestedAt), ExpiresAt: nullTime(t.ExpiresAt), Data: emptyNil(t.Data),
	}
	if err := s.insert(ctx, "create token", &r); err != nil {
		return err
	}
	return nil
}

// getTokenSQL is GetToken's query, per driver. GetToken is on the path of
// every refresh, code exchange and introspection, so it is plain
// database/sql on the handle GORM would use (the pool or the context's
// transaction), without GORM's statement building and reflection.
var getTokenSQL = map[string]string{
	DriverPostgres: `SELECT kind, signature, request_id, client_id, subject, session_id, active, access_signature, requested_at, expires_at, data
FROM oauth_tokens WHERE kind = $1 AND signature = $2`,
	DriverSQLite: `SELECT kind, signature, request_id, client_id, subject, session_id, active, access_signature, requested_at, expires_at, data
FROM oauth_tokens WHERE kind = ? AND signature = ?`,
}

// queryRow runs a one-row query with database/sql on the handle GORM would
// use (the pool, or the context's transaction) and scans it into dest;
// no row is sql.ErrNoRows. It goes through QueryContext, not
// QueryRowContext: GORM's prepared-statement pool answers a failed prepare
// (a cancelled context, say) with a zero *sql.Row, whose Scan panics.
func (s *Store) queryRow(ctx context.Context, q string, args []any, dest ...any) error {
	rows, err := s.db(ctx).Statement.ConnPool.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// GetToken returns the token whatever its Active state and expiry.
func (s *Store) GetToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.OAuthToken, error) {
	var r tokenRow
	err := s.queryRow(ctx, getTokenSQL[s.driver], []any{string(kind), signature},
		&r.Kind, &r.Signature, &r.RequestID, &r.ClientID, &r.Subject, &r.SessionID, &r.Active,
		&r.AccessSignature, &r.RequestedAt, &r.ExpiresAt, &r.Data)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			err = gorm.ErrRecordNotFound
		}
		return storage.OAuthToken{}, wrap("get token", err)
	}
	return r.toToken(), nil
}

// DeleteToken removes one token.
func (s *Store) DeleteToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap("delete token", err)
	}
	defer release()
	res := s.db(ctx).Where("kind = ? AND signature = ?", string(kind), signature).Delete(&tokenRow{})
	if res.Error != nil {
		return wrap("delete token", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete token: %w", storage.ErrNotFound)
	}
	return nil
}

// DeactivateToken flips Active from true to false with one conditional
// UPDATE. When no row changed it tells a missing token (ErrNotFound) from an
// already inactive one (ErrConflict), so of concurrent callers exactly one
// succeeds.
func (s *Store) DeactivateToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap("deactivate token", err)
	}
	defer release()
	db := s.db(ctx)
	res := db.Model(&tokenRow{}).
		Where("kind = ? AND signature = ? AND active = ?", string(kind), signature, true).
		Update("active", false)
	if res.Error != nil {
		return wrap("deactivate token", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := db.Model(&tokenRow{}).Where("kind = ? AND signature = ?", string(kind), signature).Count(&n).Error; err != nil {
		return wrap("deactivate token", err)
	}
	if n == 0 {
		return fmt.Errorf("deactivate token: %w", storage.ErrNotFound)
	}
	return fmt.Errorf("deactivate token: already inactive: %w", storage.ErrConflict)
}

// DeactivateTokensByRequestID marks the family's active tokens of the kind
// inactive and returns how many changed.
func (s *Store) DeactivateTokensByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("deactivate tokens by request ID", err)
	}
	defer release()
	// "active" is written literally, not as a parameter, so that the
	// planner can use the partial index oauth_tokens_active_request with
	// a prepared (generic) plan.
	res := s.db(ctx).Model(&tokenRow{}).
		Where("request_id = ? AND kind = ? AND active", requestID, string(kind)).
		Update("active", false)
	if res.Error != nil {
		return 0, wrap("deactivate tokens by request ID", res.Error)
	}
	return res.RowsAffected, nil
}

// DeleteTokensByRequestID deletes the family's tokens of the kind and
// returns how many it removed.
func (s *Store) DeleteTokensByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("delete tokens by request ID", err)
	}
	defer release()
	res := s.db(ctx).Where("request_id = ? AND kind = ?", requestID, string(kind)).Delete(&tokenRow{})
	if res.Error != nil {
		return 0, wrap("delete tokens by request ID", res.Error)
	}
	return res.RowsAffected, nil
}

// DeactivateTokensBySubject marks the subject's active tokens of the kind
// inactive and returns how many changed.
func (s *Store) DeactivateTokensBySubject(ctx context.Context, kind storage.TokenKind, subject string) (int64, error) {
	if subject == "" {
		return 0, errors.New("deactivate tokens by subject: empty subject")
	}
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("deactivate tokens by subject", err)
	}
	defer release()
	res := s.db(ctx).Model(&tokenRow{}).
		Where("subject = ? AND kind = ? AND active = ?", subject, string(kind), true).
		Update("active", false)
	if res.Error != nil {
		return 0, wrap("deactivate tokens by subject", res.Error)
	}
	return res.RowsAffected, nil
}

// UseJTI records a JWT ID until expiresAt in one statement: an unexpired
// record gives ErrAlreadyExists, an expired one is reused.
func (s *Store) UseJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errors.New("use jti: empty JWT ID")
	}
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap("use jti", err)
	}
	defer release()
	res := s.db(ctx).Exec(`INSERT INTO used_jtis (jti, expires_at) VALUES (?, ?)
		ON CONFLICT (jti) DO UPDATE SET expires_at = excluded.expires_at
		WHERE used_jtis.expires_at <= ?`, jti, dbTime(expiresAt), s.now())
	if res.Error != nil {
		return wrap("use jti", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("use jti: %w", storage.ErrAlreadyExists)
	}
	return nil
}

// CreateChallenge inserts single-use state (ID and CreatedAt filled in when
// empty).
func (s *Store) CreateChallenge(ctx context.Context, c storage.Challenge) (storage.Challenge, error) {
	if c.Kind == "" {
		return storage.Challenge{}, errors.New("create challenge: empty kind")
	}
	if c.ID == "" {
		c.ID = newID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	r := challengeRow{
		ID: c.ID, Kind: c.Kind, UserID: c.UserID, Data: emptyNil(c.Data),
		CreatedAt: dbTime(c.CreatedAt), ExpiresAt: nullTime(c.ExpiresAt),
	}
	if err := s.insert(ctx, "create challenge", &r); err != nil {
		return storage.Challenge{}, err
	}
	return r.toChallenge(), nil
}

// ConsumeChallenge deletes and returns the unexpired challenge in one
// DELETE ... RETURNING statement, so of concurrent consumers exactly one
// gets it; the others get ErrNotFound.
func (s *Store) ConsumeChallenge(ctx context.Context, kind, id string) (storage.Challenge, error) {
	var rows []challengeRow
	release, err := s.writeLock(ctx)
	if err != nil {
		return storage.Challenge{}, wrap("consume challenge", err)
	}
	defer release()
	res := s.db(ctx).Clauses(clause.Returning{}).
		Where("id = ? AND kind = ?", id, kind).Where(unexpired, s.now()).
		Delete(&rows)
	if res.Error != nil {
		return storage.Challenge{}, wrap("consume challenge", res.Error)
	}
	if len(rows) == 0 {
		return storage.Challenge{}, fmt.Errorf("consume challenge: %w", storage.ErrNotFound)
	}
	return rows[0].toChallenge(), nil
}

// GetChallenge returns the unexpired challenge without consuming it.
func (s *Store) GetChallenge(ctx context.Context, kind, id string) (storage.Challenge, error) {
	var r challengeRow
	if err := s.db(ctx).Where("id = ? AND kind = ?", id, kind).Where(unexpired, s.now()).Take(&r).Error; err != nil {
		return storage.Challenge{}, wrap("get challenge", err)
	}
	return r.toChallenge(), nil
}

// DeleteUserChallenges deletes the user's challenges of the kind.
func (s *Store) DeleteUserChallenges(ctx context.Context, kind, userID string) (int64, error) {
	if userID == "" {
		return 0, errors.New("delete user challenges: empty user ID")
	}
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("delete user challenges", err)
	}
	defer release()
	res := s.db(ctx).Where("user_id = ? AND kind = ?", userID, kind).Delete(&challengeRow{})
	if res.Error != nil {
		return 0, wrap("delete user challenges", res.Error)
	}
	return res.RowsAffected, nil
}

// CreateSigningKeys inserts one generation of keys and retires every older
// key in one transaction. Creators serialise (PostgreSQL: a table lock that
// does not block readers; SQLite: the write lock), so of replicas racing to
// create a generation exactly one succeeds and the others get
// ErrAlreadyExists.
func (s *Store) CreateSigningKeys(ctx context.Context, keys []storage.SigningKey, retiredAt time.Time) error {
	if len(keys) == 0 {
		return errors.New("create signing keys: no keys")
	}
	gen := keys[0].Generation
	now := s.now()
	if retiredAt.IsZero() {
		retiredAt = now
	}
	rows := make([]signingKeyRow, 0, len(keys))
	for _, k := range keys {
		if k.Generation != gen {
			return fmt.Errorf("create signing keys: mixed generations %d and %d", gen, k.Generation)
		}
		if k.Algorithm == "" {
			return errors.New("create signing keys: empty algorithm")
		}
		if k.ID == "" {
			k.ID = newID()
		}
		if k.CreatedAt.IsZero() {
			k.CreatedAt = now
		}
		rows = append(rows, signingKeyRow{
			ID: k.ID, Generation: int64(k.Generation), Algorithm: k.Algorithm,
			PublicJWK: emptyNil(k.PublicJWK), PrivateEncrypted: emptyNil(k.PrivateEncrypted),
			CreatedAt: dbTime(k.CreatedAt), RetiredAt: nullTime(k.RetiredAt),
		})
	}
	// One lock order for every creator.
	slices.SortFunc(rows, func(a, b signingKeyRow) int { return strings.Compare(a.Algorithm, b.Algorithm) })
	return s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		if s.driver == DriverPostgres {
			if err := db.Exec(`LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`).Error; err != nil {
				return wrap("create signing keys", err)
			}
		}
		var n int64
		if err := db.Model(&signingKeyRow{}).Where("generation = ?", gen).Count(&n).Error; err != nil {
			return wrap("create signing keys", err)
		}
		if n > 0 {
			return fmt.Errorf("create signing keys: generation %d: %w", gen, storage.ErrAlreadyExists)
		}
		if err := db.Create(&rows).Error; err != nil {
			return wrap("create signing keys", err)
		}
		if err := db.Model(&signingKeyRow{}).
			Where("generation < ? AND retired_at IS NULL", gen).
			Update("retired_at", dbTime(retiredAt)).Error; err != nil {
			return wrap("create signing keys: retire older", err)
		}
		return nil
	})
}

// ListSigningKeys returns all keys, newest generation first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var rows []signingKeyRow
	if err := s.db(ctx).Order("generation DESC, algorithm").Find(&rows).Error; err != nil {
		return nil, wrap("list signing keys", err)
	}
	out := make([]storage.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = r.toSigningKey()
	}
	return out, nil
}

// DeleteSigningKeysRetiredBefore drops keys retired before t.
func (s *Store) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int64, error) {
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("delete retired signing keys", err)
	}
	defer release()
	res := s.db(ctx).Where("retired_at IS NOT NULL AND retired_at < ?", dbTime(t)).Delete(&signingKeyRow{})
	if res.Error != nil {
		return 0, wrap("delete retired signing keys", res.Error)
	}
	return res.RowsAffected, nil
}

// DeleteExpired removes tokens, auth requests, sessions, challenges, used
// JWT IDs and login-failure counters whose lifetime ended before now. Each
// table is one statement; records without an expiry stay.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	now = dbTime(now)
	release, err := s.writeLock(ctx)
	if err != nil {
		return 0, wrap("delete expired", err)
	}
	defer release()
	var total int64
	for _, m := range []any{&tokenRow{}, &authRequestRow{}, &sessionRow{}, &challengeRow{}, &usedJTIRow{}, &loginFailureRow{}} {
		res := s.db(ctx).Where("expires_at IS NOT NULL AND expires_at < ?", now).Delete(m)
		if res.Error != nil {
			return total, wrap("delete expired", res.Error)
		}
		total += res.RowsAffected
	}
	return total, nil
}

// RotateToken implements storage.TokenStore. On PostgreSQL it is one
// statement (one round trip, one implicit transaction): data-modifying CTEs
// deactivate the presented token and, only when that changed a row, the
// family's tokens of r.RevokeKind, and insert r.Create. Under READ COMMITTED
// a concurrent rotation of the same token waits for the row lock, re-checks
// "active" on the committed row and changes nothing. Elsewhere (SQLite) it
// runs the same steps in a transaction. Inside a caller's transaction it
// joins it.
func (s *Store) RotateToken(ctx context.Context, r storage.Rotation) error {
	if r.Kind == "" || r.Signature == "" || r.RevokeKind == "" {
		return errors.New("rotate token: kind, signature and revoke kind are required")
	}
	rows := make([]tokenRow, len(r.Create))
	for i, t := range r.Create {
		if t.Kind == "" || t.Signature == "" {
			return errors.New("rotate token: kind and signature are required for each created token")
		}
		if t.RequestedAt.IsZero() {
			t.RequestedAt = s.now()
		}
		rows[i] = tokenRow{
			Kind: string(t.Kind), Signature: t.Signature, RequestID: t.RequestID, ClientID: t.ClientID,
			Subject: t.Subject, SessionID: t.SessionID, Active: t.Active, AccessSignature: t.AccessSignature,
			RequestedAt: dbTime(t.RequestedAt), ExpiresAt: nullTime(t.ExpiresAt), Data: emptyNil(t.Data),
		}
	}
	if s.driver != DriverPostgres {
		return s.rotateInTx(ctx, r, rows)
	}
	q, args := rotateSQL(r, rows)
	var n int64
	// database/sql directly, as in GetToken.
	if err := s.queryRow(ctx, q, args, &n); err != nil {
		return wrap("rotate token", err)
	}
	if n == 1 {
		return nil
	}
	return s.whyNotDeactivated(ctx, "rotate token", r.Kind, r.Signature)
}

// rotateSQL returns RotateToken's PostgreSQL statement and arguments.
func rotateSQL(r storage.Rotation, rows []tokenRow) (string, []any) {
	args := make([]any, 0, 4+11*len(rows))
	args = append(args, string(r.Kind), r.Signature, r.RequestID, string(r.RevokeKind))
	for _, t := range rows {
		args = append(args, t.Kind, t.Signature, t.RequestID, t.ClientID, t.Subject, t.SessionID, t.Active,
			t.AccessSignature, t.RequestedAt, t.ExpiresAt, t.Data)
	}
	if len(rows) < len(rotateSQLs) {
		return rotateSQLs[len(rows)], args
	}
	return buildRotateSQL(len(rows)), args
}

// rotateSQLs holds the statements for 0 to 3 created tokens (a refresh
// creates 2).
var rotateSQLs = func() []string {
	qs := make([]string, 4)
	for n := range qs {
		qs[n] = buildRotateSQL(n)
	}
	return qs
}()

// buildRotateSQL builds RotateToken's statement for n created tokens. The
// parameters of the inserted rows are cast because a VALUES list under
// INSERT … SELECT does not take its types from the target columns.
func buildRotateSQL(n int) string {
	var b strings.Builder
	// "active" is literal so that the partial index
	// oauth_tokens_active_request serves the family update.
	b.WriteString(`WITH r AS (UPDATE oauth_tokens SET active = false WHERE kind = $1 AND signature = $2 AND active RETURNING 1),
a AS (UPDATE oauth_tokens SET active = false WHERE request_id = $3 AND kind = $4 AND active AND EXISTS (SELECT 1 FROM r))`)
	if n > 0 {
		b.WriteString(`,
i AS (INSERT INTO oauth_tokens (kind, signature, request_id, client_id, subject, session_id, active, access_signature, requested_at, expires_at, data)
SELECT * FROM (VALUES `)
		p := 5
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d::text, $%d::text, $%d::text, $%d::text, $%d::text, $%d::text, $%d::boolean, $%d::text, $%d::timestamptz, $%d::timestamptz, $%d::bytea)",
				p, p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10)
			p += 11
		}
		b.WriteString(`) AS v WHERE EXISTS (SELECT 1 FROM r))`)
	}
	b.WriteString(`
SELECT count(*) FROM r`)
	return b.String()
}

// rotateInTx is RotateToken as separate statements in a transaction.
func (s *Store) rotateInTx(ctx context.Context, r storage.Rotation, rows []tokenRow) (err error) {
	txCtx, err := s.BeginTx(ctx)
	if err != nil {
		return wrap("rotate token", err)
	}
	defer func() {
		if err != nil {
			_ = s.Rollback(txCtx)
		}
	}()
	if err := s.DeactivateToken(txCtx, r.Kind, r.Signature); err != nil {
		return fmt.Errorf("rotate token: %w", err)
	}
	if _, err := s.DeactivateTokensByRequestID(txCtx, r.RevokeKind, r.RequestID); err != nil {
		return fmt.Errorf("rotate token: %w", err)
	}
	for i := range rows {
		if err := s.db(txCtx).Create(&rows[i]).Error; err != nil {
			return wrap("rotate token", err)
		}
	}
	if err := s.Commit(txCtx); err != nil {
		return fmt.Errorf("rotate token: %w", err)
	}
	return nil
}

// whyNotDeactivated tells, after a conditional deactivation changed no row,
// a missing token (ErrNotFound) from an inactive one (ErrConflict).
func (s *Store) whyNotDeactivated(ctx context.Context, op string, kind storage.TokenKind, signature string) error {
	var n int64
	if err := s.db(ctx).Model(&tokenRow{}).Where("kind = ? AND signature = ?", string(kind), signature).Count(&n).Error; err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return fmt.Errorf("%s: already inactive: %w", op, storage.ErrConflict)
}
