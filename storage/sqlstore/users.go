package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/storage"
)

// defaultListLimit caps ListUsers when the filter sets no limit.
const defaultListLimit = 100

// forUpdate locks the rows a query reads until the transaction ends
// (SELECT ... FOR UPDATE). SQLite drops the clause; its transactions hold the
// database write lock from BEGIN.
func forUpdate(db *gorm.DB) *gorm.DB {
	return db.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
}

// CreateUser inserts u, filling ID and timestamps when empty. The email is
// stored normalised.
func (s *Store) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	if u.ConnectionID == "" {
		return storage.User{}, errors.New("create user: empty connection ID")
	}
	if u.ID == "" {
		u.ID = newID()
	}
	now := s.now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	r := toUserRow(u)
	if err := s.insert(ctx, "create user", &r); err != nil {
		return storage.User{}, err
	}
	return r.toUser(), nil
}

// GetUser returns the user with that ID.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	var r userRow
	if err := s.db(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return storage.User{}, wrap("get user", err)
	}
	return r.toUser(), nil
}

// GetUserByEmail looks a user up by connection and email (normalised here).
func (s *Store) GetUserByEmail(ctx context.Context, connectionID, email string) (storage.User, error) {
	email = normalizeEmail(email)
	if email == "" {
		return storage.User{}, fmt.Errorf("get user by email: %w", storage.ErrNotFound)
	}
	var r userRow
	if err := s.db(ctx).Where("connection_id = ? AND email = ?", connectionID, email).Take(&r).Error; err != nil {
		return storage.User{}, wrap("get user by email", err)
	}
	return r.toUser(), nil
}

// GetUserByUsername looks a user up by connection and username.
func (s *Store) GetUserByUsername(ctx context.Context, connectionID, username string) (storage.User, error) {
	if username == "" {
		return storage.User{}, fmt.Errorf("get user by username: %w", storage.ErrNotFound)
	}
	var r userRow
	if err := s.db(ctx).Where("connection_id = ? AND username = ?", connectionID, username).Take(&r).Error; err != nil {
		return storage.User{}, wrap("get user by username", err)
	}
	return r.toUser(), nil
}

// ListUsers returns users oldest first.
func (s *Store) ListUsers(ctx context.Context, f storage.UserFilter) ([]storage.User, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	q := s.db(ctx).Order("created_at, id").Limit(limit)
	if f.Offset > 0 {
		q = q.Offset(f.Offset)
	}
	if f.ConnectionID != "" {
		q = q.Where("connection_id = ?", f.ConnectionID)
	}
	var rows []userRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap("list users", err)
	}
	users := make([]storage.User, len(rows))
	for i, r := range rows {
		users[i] = r.toUser()
	}
	return users, nil
}

// UpdateUser reads the user with its row locked, applies fn and writes the
// result in one transaction. fn cannot change the ID; UpdatedAt is set.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) (storage.User, error) {
	var out storage.User
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		var r userRow
		if err := forUpdate(db).Where("id = ?", id).Take(&r).Error; err != nil {
			return wrap("update user", err)
		}
		u := r.toUser()
		if err := fn(&u); err != nil {
			return err
		}
		u.ID = id
		u.UpdatedAt = s.now()
		nr := toUserRow(u)
		if err := db.Select("*").Updates(&nr).Error; err != nil {
			return wrap("update user", err)
		}
		out = nr.toUser()
		return nil
	})
	return out, err
}

// DeleteUser removes the user, their credentials, sessions and consents in
// one transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		for _, m := range []any{&credentialRow{}, &sessionRow{}, &consentRow{}} {
			if err := db.Where("user_id = ?", id).Delete(m).Error; err != nil {
				return wrap("delete user", err)
			}
		}
		res := db.Where("id = ?", id).Delete(&userRow{})
		if res.Error != nil {
			return wrap("delete user", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("delete user: %w", storage.ErrNotFound)
		}
		return nil
	})
}

// CreateCredential inserts c. A duplicate ExternalID (for any user) gives
// ErrAlreadyExists; a missing user gives ErrNotFound.
func (s *Store) CreateCredential(ctx context.Context, c storage.Credential) (storage.Credential, error) {
	if c.UserID == "" || c.Kind == "" {
		return storage.Credential{}, errors.New("create credential: user ID and kind are required")
	}
	if c.ID == "" {
		c.ID = newID()
	}
	now := s.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	r := toCredentialRow(c)
	if err := s.insert(ctx, "create credential", &r); err != nil {
		return storage.Credential{}, err
	}
	return r.toCredential(), nil
}

// GetCredential returns the credential with that ID.
func (s *Store) GetCredential(ctx context.Context, id string) (storage.Credential, error) {
	var r credentialRow
	if err := s.db(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return storage.Credential{}, wrap("get credential", err)
	}
	return r.toCredential(), nil
}

// GetCredentialByExternalID finds a credential by kind and external ID.
func (s *Store) GetCredentialByExternalID(ctx context.Context, kind storage.CredentialKind, externalID []byte) (storage.Credential, error) {
	if len(externalID) == 0 {
		return storage.Credential{}, fmt.Errorf("get credential by external ID: %w", storage.ErrNotFound)
	}
	var r credentialRow
	if err := s.db(ctx).Where("external_id = ? AND kind = ?", externalID, string(kind)).Take(&r).Error; err != nil {
		return storage.Credential{}, wrap("get credential by external ID", err)
	}
	return r.toCredential(), nil
}

// ListCredentials returns the user's credentials of one kind ("" for all),
// oldest first.
func (s *Store) ListCredentials(ctx context.Context, userID string, kind storage.CredentialKind) ([]storage.Credential, error) {
	q := s.db(ctx).Where("user_id = ?", userID).Order("created_at, id")
	if kind != "" {
		q = q.Where("kind = ?", string(kind))
	}
	var rows []credentialRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, wrap("list credentials", err)
	}
	out := make([]storage.Credential, len(rows))
	for i, r := range rows {
		out[i] = r.toCredential()
	}
	return out, nil
}

// UpdateCredential reads the credential with its row locked, applies fn and
// writes it back in one transaction, so concurrent sign-counter updates
// serialise. fn cannot change the ID; UpdatedAt is set.
func (s *Store) UpdateCredential(ctx context.Context, id string, fn func(*storage.Credential) error) (storage.Credential, error) {
	var out storage.Credential
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		var r credentialRow
		if err := forUpdate(db).Where("id = ?", id).Take(&r).Error; err != nil {
			return wrap("update credential", err)
		}
		c := r.toCredential()
		if err := fn(&c); err != nil {
			return err
		}
		c.ID = id
		c.UpdatedAt = s.now()
		nr := toCredentialRow(c)
		if err := db.Select("*").Updates(&nr).Error; err != nil {
			return wrap("update credential", err)
		}
		out = nr.toCredential()
		return nil
	})
	return out, err
}

// DeleteCredential removes one credential.
func (s *Store) DeleteCredential(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "delete credential", &credentialRow{}, id)
}

// SetPassword makes hash the user's password in one transaction: the user
// row is locked (so concurrent calls for one user serialise), the current
// password becomes history, the new one is inserted, and history beyond the
// newest keepHistory entries is deleted. A missing user gives ErrNotFound.
func (s *Store) SetPassword(ctx context.Context, userID, hash string, keepHistory int) error {
	if hash == "" {
		return errors.New("set password: empty hash")
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		var u userRow
		if err := forUpdate(db).Select("id").Where("id = ?", userID).Take(&u).Error; err != nil {
			return wrap("set password", err)
		}
		now := s.now()
		if err := db.Model(&credentialRow{}).
			Where("user_id = ? AND kind = ?", userID, string(storage.CredentialPassword)).
			Updates(map[string]any{"kind": string(storage.CredentialPasswordHistory), "updated_at": now}).Error; err != nil {
			return wrap("set password: retire current", err)
		}
		r := toCredentialRow(storage.Credential{
			ID: newID(), UserID: userID, Kind: storage.CredentialPassword, Secret: hash,
			CreatedAt: now, UpdatedAt: now,
		})
		if err := db.Create(&r).Error; err != nil {
			return wrap("set password", err)
		}
		var history []credentialRow
		if err := db.Select("id").
			Where("user_id = ? AND kind = ?", userID, string(storage.CredentialPasswordHistory)).
			Order("created_at DESC, id DESC").Find(&history).Error; err != nil {
			return wrap("set password: list history", err)
		}
		keep := max(keepHistory, 0)
		if len(history) <= keep {
			return nil
		}
		drop := make([]string, 0, len(history)-keep)
		for _, h := range history[keep:] {
			drop = append(drop, h.ID)
		}
		if err := db.Where("id IN ?", drop).Delete(&credentialRow{}).Error; err != nil {
			return wrap("set password: trim history", err)
		}
		return nil
	})
}
