package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm/clause"

	"github.com/latchkey/latchkey/storage"
)

// UpsertConnection creates the connection or updates the one with the same
// name (its type and settings), keeping that one's ID and CreatedAt.
func (s *Store) UpsertConnection(ctx context.Context, c storage.Connection) (storage.Connection, error) {
	if c.Name == "" {
		return storage.Connection{}, errors.New("upsert connection: empty name")
	}
	if c.ID == "" {
		c.ID = newID()
	}
	now := s.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	r := connectionRow{
		ID: c.ID, Name: c.Name, Type: c.Type, Settings: emptyNil(c.Settings),
		CreatedAt: dbTime(c.CreatedAt), UpdatedAt: c.UpdatedAt,
	}
	var out storage.Connection
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		if err := db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"type", "settings", "updated_at"}),
		}).Create(&r).Error; err != nil {
			return wrap("upsert connection", err)
		}
		var got connectionRow
		if err := db.Where("name = ?", c.Name).Take(&got).Error; err != nil {
			return wrap("upsert connection", err)
		}
		out = got.toConnection()
		return nil
	})
	return out, err
}

// GetConnection returns the connection with that ID.
func (s *Store) GetConnection(ctx context.Context, id string) (storage.Connection, error) {
	var r connectionRow
	if err := s.db(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return storage.Connection{}, wrap("get connection", err)
	}
	return r.toConnection(), nil
}

// GetConnectionByName returns the connection with that name.
func (s *Store) GetConnectionByName(ctx context.Context, name string) (storage.Connection, error) {
	var r connectionRow
	if err := s.db(ctx).Where("name = ?", name).Take(&r).Error; err != nil {
		return storage.Connection{}, wrap("get connection by name", err)
	}
	return r.toConnection(), nil
}

// ListConnections returns all connections ordered by name.
func (s *Store) ListConnections(ctx context.Context) ([]storage.Connection, error) {
	var rows []connectionRow
	if err := s.db(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, wrap("list connections", err)
	}
	out := make([]storage.Connection, len(rows))
	for i, r := range rows {
		out[i] = r.toConnection()
	}
	return out, nil
}

// DeleteConnection removes the connection (not its users).
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "delete connection", &connectionRow{}, id)
}

// clientUpdateColumns are the columns UpsertClient overwrites.
func clientUpdateColumns() []string {
	return []string{
		"name", "secret_hash", "public", "first_party", "token_endpoint_auth_method",
		"redirect_uris", "post_logout_redirect_uris", "grant_types", "response_types", "scopes",
		"audience", "web_origins", "connections", "id_token_signing_alg", "jwks", "jwks_uri", "updated_at",
	}
}

// CreateClient inserts c (ID generated when empty); ErrAlreadyExists if the
// ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) (storage.Client, error) {
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
	r := toClientRow(c)
	if err := s.insert(ctx, "create client", &r); err != nil {
		return storage.Client{}, err
	}
	out, err := r.toClient()
	if err != nil {
		return storage.Client{}, fmt.Errorf("create client: %w", err)
	}
	return out, nil
}

// UpsertClient creates the client or replaces every field of the one with
// c.ID except CreatedAt.
func (s *Store) UpsertClient(ctx context.Context, c storage.Client) (storage.Client, error) {
	if c.ID == "" {
		return storage.Client{}, errors.New("upsert client: empty ID")
	}
	now := s.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	r := toClientRow(c)
	var out storage.Client
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		if err := db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "id"}},
			DoUpdates: clause.AssignmentColumns(clientUpdateColumns()),
		}).Create(&r).Error; err != nil {
			return wrap("upsert client", err)
		}
		var got clientRow
		if err := db.Where("id = ?", c.ID).Take(&got).Error; err != nil {
			return wrap("upsert client", err)
		}
		cl, err := got.toClient()
		if err != nil {
			return fmt.Errorf("upsert client: %w", err)
		}
		out = cl
		return nil
	})
	return out, err
}

// GetClient returns the client with that ID.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	var r clientRow
	if err := s.db(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return storage.Client{}, wrap("get client", err)
	}
	c, err := r.toClient()
	if err != nil {
		return storage.Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

// ListClients returns all clients ordered by ID.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	var rows []clientRow
	if err := s.db(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, wrap("list clients", err)
	}
	out := make([]storage.Client, 0, len(rows))
	for _, r := range rows {
		c, err := r.toClient()
		if err != nil {
			return nil, fmt.Errorf("list clients: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// DeleteClient removes the client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "delete client", &clientRow{}, id)
}

// GetConsent returns what the user granted the client.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	var r consentRow
	if err := s.db(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Take(&r).Error; err != nil {
		return storage.Consent{}, wrap("get consent", err)
	}
	c, err := r.toConsent()
	if err != nil {
		return storage.Consent{}, fmt.Errorf("get consent: %w", err)
	}
	return c, nil
}

// UpsertConsent records the scopes the user granted the client, replacing
// an earlier grant (its CreatedAt is kept). A missing user gives ErrNotFound.
func (s *Store) UpsertConsent(ctx context.Context, c storage.Consent) (storage.Consent, error) {
	if c.UserID == "" || c.ClientID == "" {
		return storage.Consent{}, errors.New("upsert consent: user ID and client ID are required")
	}
	now := s.now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	r := consentRow{
		UserID: c.UserID, ClientID: c.ClientID, Scopes: encodeStrings(c.Scopes),
		CreatedAt: dbTime(c.CreatedAt), UpdatedAt: now,
	}
	var out storage.Consent
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.db(ctx)
		if err := db.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}, {Name: "client_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"scopes", "updated_at"}),
		}).Create(&r).Error; err != nil {
			return wrap("upsert consent", err)
		}
		var got consentRow
		if err := db.Where("user_id = ? AND client_id = ?", c.UserID, c.ClientID).Take(&got).Error; err != nil {
			return wrap("upsert consent", err)
		}
		cs, err := got.toConsent()
		if err != nil {
			return fmt.Errorf("upsert consent: %w", err)
		}
		out = cs
		return nil
	})
	return out, err
}

// DeleteConsent withdraws the user's grant to the client.
func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap("delete consent", err)
	}
	defer release()
	res := s.db(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&consentRow{})
	if res.Error != nil {
		return wrap("delete consent", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete consent: %w", storage.ErrNotFound)
	}
	return nil
}
