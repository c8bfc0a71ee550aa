package latchkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

// seedAttempts bounds retries when replicas starting together race to
// create the same rows.
const seedAttempts = 3

// seeder writes the connections and clients of a Config into a store so that
// they match, touching only rows that differ.
type seeder struct {
	cfg        Config
	store      storage.Store
	log        *slog.Logger
	demoSecret string
}

// run seeds, retrying a few times when another replica wrote the same rows
// between our read and our write.
func (s *seeder) run(ctx context.Context) error {
	var err error
	for range seedAttempts {
		err = s.once(ctx)
		if !errors.Is(err, storage.ErrAlreadyExists) && !errors.Is(err, storage.ErrConflict) {
			return err
		}
	}
	return err
}

func (s *seeder) once(ctx context.Context) error {
	for _, c := range s.cfg.Connections {
		settings, err := settingsJSON(c.Settings)
		if err != nil {
			return fmt.Errorf("seed connection %q: %w", c.Name, err)
		}
		if err := s.connection(ctx, storage.Connection{Name: c.Name, Type: c.Type, Settings: settings}); err != nil {
			return err
		}
	}
	if len(s.cfg.Connections) == 0 {
		existing, err := s.store.ListConnections(ctx)
		if err != nil {
			return fmt.Errorf("seed connections: %w", err)
		}
		if len(existing) == 0 {
			def := storage.Connection{Name: DefaultConnectionName, Type: ConnectorTypeDatabase, Settings: []byte("{}")}
			if err := s.connection(ctx, def); err != nil {
				return err
			}
		}
	}
	if s.cfg.DemoEnabled() {
		if err := s.client(ctx, s.demoClient(), s.demoSecret); err != nil {
			return err
		}
	}
	for _, c := range s.cfg.Clients {
		if err := s.client(ctx, clientFromConfig(c), c.Secret); err != nil {
			return err
		}
	}
	return nil
}

// connection creates or updates want (by name) unless it already matches.
func (s *seeder) connection(ctx context.Context, want storage.Connection) error {
	have, err := s.store.GetConnectionByName(ctx, want.Name)
	switch {
	case err == nil && have.Type == want.Type && jsonEqual(have.Settings, want.Settings):
		return nil
	case err != nil && !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("seed connection %q: %w", want.Name, err)
	}
	created := err != nil
	if _, err := s.store.UpsertConnection(ctx, want); err != nil {
		return fmt.Errorf("seed connection %q: %w", want.Name, err)
	}
	s.log.InfoContext(ctx, "connection seeded", "connection", want.Name, "type", want.Type, "created", created)
	return nil
}

// client creates or replaces want (by ID) unless it already matches. The
// stored secret hash is kept when it still verifies secret, so restarts do
// not rewrite clients.
func (s *seeder) client(ctx context.Context, want storage.Client, secret string) error {
	have, err := s.store.GetClient(ctx, want.ID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("seed client %q: %w", want.ID, err)
	}
	found := err == nil
	if secret != "" {
		if found && have.SecretHash != "" && provider.VerifyClientSecret(have.SecretHash, secret) == nil {
			want.SecretHash = have.SecretHash
		} else if want.SecretHash, err = provider.HashClientSecret(secret); err != nil {
			return fmt.Errorf("seed client %q: %w", want.ID, err)
		}
	}
	if found && sameClient(have, want) {
		return nil
	}
	if _, err := s.store.UpsertClient(ctx, want); err != nil {
		return fmt.Errorf("seed client %q: %w", want.ID, err)
	}
	s.log.InfoContext(ctx, "client seeded", "client_id", want.ID, "created", !found)
	return nil
}

// demoClient is the demo relying party's registration.
func (s *seeder) demoClient() storage.Client {
	return storage.Client{
		ID:                      DemoClientID,
		Name:                    "Latchkey demo",
		FirstParty:              true,
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{s.cfg.Issuer + "/demo/callback"},
		PostLogoutRedirectURIs:  []string{s.cfg.Issuer + "/demo"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "email", "offline_access"},
		IDTokenSigningAlg:       "RS256",
	}
}

// clientFromConfig maps a validated ClientConfig to a stored client (without
// its secret hash).
func clientFromConfig(c ClientConfig) storage.Client {
	cl := storage.Client{
		ID:                      c.ID,
		Name:                    c.Name,
		Public:                  c.Public,
		FirstParty:              c.FirstParty,
		TokenEndpointAuthMethod: c.authMethod(),
		RedirectURIs:            c.RedirectURIs,
		PostLogoutRedirectURIs:  c.PostLogoutRedirectURIs,
		GrantTypes:              c.grantTypes(),
		ResponseTypes:           c.responseTypes(),
		Scopes:                  c.scopes(),
		Audience:                c.Audience,
		WebOrigins:              c.WebOrigins,
		Connections:             c.Connections,
		IDTokenSigningAlg:       c.IDTokenSignedResponseAlg,
		JWKSURI:                 c.JWKSURI,
	}
	if cl.Name == "" {
		cl.Name = c.ID
	}
	if cl.IDTokenSigningAlg == "" {
		cl.IDTokenSigningAlg = "RS256"
	}
	if len(c.JWKS) > 0 {
		// Validate made sure the YAML mapping has string keys; yaml.v3
		// decodes nested mappings as map[string]any, which JSON encodes.
		cl.JWKS, _ = json.Marshal(c.JWKS)
	}
	return cl
}

// sameClient compares the fields seeding owns (not timestamps).
func sameClient(a, b storage.Client) bool {
	return a.ID == b.ID && a.Name == b.Name && a.SecretHash == b.SecretHash &&
		a.Public == b.Public && a.FirstParty == b.FirstParty &&
		a.TokenEndpointAuthMethod == b.TokenEndpointAuthMethod &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) &&
		slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) &&
		slices.Equal(a.GrantTypes, b.GrantTypes) &&
		slices.Equal(a.ResponseTypes, b.ResponseTypes) &&
		slices.Equal(a.Scopes, b.Scopes) &&
		slices.Equal(a.Audience, b.Audience) &&
		slices.Equal(a.WebOrigins, b.WebOrigins) &&
		slices.Equal(a.Connections, b.Connections) &&
		a.IDTokenSigningAlg == b.IDTokenSigningAlg &&
		jsonEqual(a.JWKS, b.JWKS) && a.JWKSURI == b.JWKSURI
}

// settingsJSON encodes connection settings ("{}" when there are none).
func settingsJSON(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	return b, nil
}

// jsonEqual reports whether a and b hold the same JSON value (empty equals
// empty); byte equality when either is not JSON.
func jsonEqual(a, b []byte) bool {
	a, b = bytes.TrimSpace(a), bytes.TrimSpace(b)
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}
