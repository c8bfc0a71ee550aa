package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey/storage"
)

// unexpired is the condition for records with a lifetime; a NULL expires_at
// never expires.
const unexpired = "(expires_at IS NULL OR expires_at > ?)"

// CreateSession inserts a browser session. ID, CreatedAt, LastSeenAt and
// AuthTime are filled in when empty. A missing user gives ErrNotFound; a
// reused token hash gives ErrAlreadyExists.
func (s *Store) CreateSession(ctx context.Context, se storage.Session) (storage.Session, error) {
	if len(se.TokenHash) == 0 || se.UserID == "" {
		return storage.Session{}, errors.New("create session: token hash and user ID are required")
	}
	if se.ID == "" {
		se.ID = newID()
	}
	now := s.now()
	if se.CreatedAt.IsZero() {
		se.CreatedAt = now
	}
	if se.LastSeenAt.IsZero() {
		se.LastSeenAt = se.CreatedAt
	}
	if se.AuthTime.IsZero() {
		se.AuthTime = se.CreatedAt
	}
	r := toSessionRow(se)
	if err := s.insert(ctx, "create session", &r); err != nil {
		return storage.Session{}, err
	}
	out, err := r.toSession()
	if err != nil {
		return storage.Session{}, fmt.Errorf("create session: %w", err)
	}
	return out, nil
}

// GetSession returns the unexpired session with that ID.
func (s *Store) GetSession(ctx context.Context, id string) (storage.Session, error) {
	var r sessionRow
	if err := s.db(ctx).Where("id = ?", id).Where(unexpired, s.now()).Take(&r).Error; err != nil {
		return storage.Session{}, wrap("get session", err)
	}
	out, err := r.toSession()
	if err != nil {
		return storage.Session{}, fmt.Errorf("get session: %w", err)
	}
	return out, nil
}

// GetSessionByTokenHash returns the unexpired session with that token hash.
func (s *Store) GetSessionByTokenHash(ctx context.Context, tokenHash []byte) (storage.Session, error) {
	if len(tokenHash) == 0 {
		return storage.Session{}, fmt.Errorf("get session by token: %w", storage.ErrNotFound)
	}
	var r sessionRow
	if err := s.db(ctx).Where("token_hash = ?", tokenHash).Where(unexpired, s.now()).Take(&r).Error; err != nil {
		return storage.Session{}, wrap("get session by token", err)
	}
	out, err := r.toSession()
	if err != nil {
		return storage.Session{}, fmt.Errorf("get session by token: %w", err)
	}
	return out, nil
}

// ListUserSessions returns the user's unexpired sessions, oldest first.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	var rows []sessionRow
	if err := s.db(ctx).Where("user_id = ?", userID).Where(unexpired, s.now()).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, wrap("list user sessions", err)
	}
	out := make([]storage.Session, 0, len(rows))
	for _, r := range rows {
		se, err := r.toSession()
		if err != nil {
			return nil, fmt.Errorf("list user sessions: %w", err)
		}
		out = append(out, se)
	}
	return out, nil
}

// UpdateSession reads the unexpired session with its row locked, applies fn
// and writes it back in one transaction. fn cannot change the ID.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*storage.Session) error) (storage.Session, error) {
	var out storage.Session
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		var r sessionRow
		if err := forUpdate(db).Where("id = ?", id).Where(unexpired, s.now()).Take(&r).Error; err != nil {
			return wrap("update session", err)
		}
		se, err := r.toSession()
		if err != nil {
			return fmt.Errorf("update session: %w", err)
		}
		if err := fn(&se); err != nil {
			return err
		}
		se.ID = id
		nr := toSessionRow(se)
		if err := db.Select("*").Updates(&nr).Error; err != nil {
			return wrap("update session", err)
		}
		out, err = nr.toSession()
		if err != nil {
			return fmt.Errorf("update session: %w", err)
		}
		return nil
	})
	return out, err
}

// DeleteSession ends one session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "delete session", &sessionRow{}, id)
}

// DeleteUserSessions ends every session of the user (none is not an error).
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) error {
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap("delete user sessions", err)
	}
	defer release()
	if err := s.db(ctx).Where("user_id = ?", userID).Delete(&sessionRow{}).Error; err != nil {
		return wrap("delete user sessions", err)
	}
	return nil
}

// CreateAuthRequest inserts a pending authorization request (ID and
// CreatedAt filled in when empty).
func (s *Store) CreateAuthRequest(ctx context.Context, a storage.AuthRequest) (storage.AuthRequest, error) {
	if a.ID == "" {
		a.ID = newID()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	r := toAuthRequestRow(a)
	if err := s.insert(ctx, "create auth request", &r); err != nil {
		return storage.AuthRequest{}, err
	}
	return r.toAuthRequest(), nil
}

// GetAuthRequest returns the unexpired request or ErrNotFound.
func (s *Store) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	var r authRequestRow
	if err := s.db(ctx).Where("id = ?", id).Where(unexpired, s.now()).Take(&r).Error; err != nil {
		return storage.AuthRequest{}, wrap("get auth request", err)
	}
	return r.toAuthRequest(), nil
}

// UpdateAuthRequest reads the unexpired request with its row locked, applies
// fn and writes it back in one transaction. fn cannot change the ID.
func (s *Store) UpdateAuthRequest(ctx context.Context, id string, fn func(*storage.AuthRequest) error) (storage.AuthRequest, error) {
	var out storage.AuthRequest
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		var r authRequestRow
		if err := forUpdate(db).Where("id = ?", id).Where(unexpired, s.now()).Take(&r).Error; err != nil {
			return wrap("update auth request", err)
		}
		a := r.toAuthRequest()
		if err := fn(&a); err != nil {
			return err
		}
		a.ID = id
		nr := toAuthRequestRow(a)
		if err := db.Select("*").Updates(&nr).Error; err != nil {
			return wrap("update auth request", err)
		}
		out = nr.toAuthRequest()
		return nil
	})
	return out, err
}

// DeleteAuthRequest removes the request.
func (s *Store) DeleteAuthRequest(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "delete auth request", &authRequestRow{}, id)
}
