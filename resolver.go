package latchkey

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
)

// resolverTTL is how long an opened connector, and the list of names, is
// served from memory before the stored connection is read again. A change
// to a connection's settings (another replica's start, an admin command)
// reaches this process within that time.
const resolverTTL = 10 * time.Second

// resolver implements connector.Resolver over the stored connections.
type resolver struct {
	store  storage.Store
	hasher *password.Hasher
	// passkeys configures the passkey relying party of database
	// connections (issuer, RP name).
	passkeys database.PasskeyOptions
	// mail sends database connections' email (nil: none).
	mail *mailer
	// mfaKey is the key of database connections' second factors (see
	// withMFA); empty leaves them without MFA.
	mfaKey []byte
	// mfas are the MFA services of the opened database connections, by
	// connection ID (guarded by mu).
	mfas   map[string]*mfa.Service
	log    *slog.Logger
	custom map[string]OpenConnectorFunc
	// preferred are the configured connection names, in order: Names lists
	// them first.
	preferred []string
	now       func() time.Time

	mu       sync.Mutex
	conns    map[string]cachedConnector
	names    []string
	namesExp time.Time
}

type cachedConnector struct {
	stored  storage.Connection
	conn    connector.Connector
	expires time.Time
}

var _ connector.Resolver = (*resolver)(nil)

func newResolver(store storage.Store, hasher *password.Hasher, log *slog.Logger, custom map[string]OpenConnectorFunc, preferred []string) *resolver {
	return &resolver{
		store:     store,
		hasher:    hasher,
		log:       log,
		custom:    custom,
		preferred: preferred,
		now:       time.Now,
		conns:     make(map[string]cachedConnector),
	}
}

// Lookup returns the connector for the named connection, opening it when it
// is not cached or its stored row changed.
func (r *resolver) Lookup(ctx context.Context, name string) (connector.Connector, error) {
	now := r.now()
	r.mu.Lock()
	c, ok := r.conns[name]
	r.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.conn, nil
	}
	stored, err := r.store.GetConnectionByName(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("look up connection %q: %w", name, err)
	}
	if ok && sameConnection(c.stored, stored) {
		c.expires = now.Add(resolverTTL)
		r.mu.Lock()
		r.conns[name] = c
		r.mu.Unlock()
		return c.conn, nil
	}
	conn, err := r.open(ctx, stored)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.conns[name] = cachedConnector{stored: stored, conn: conn, expires: now.Add(resolverTTL)}
	r.mu.Unlock()
	return conn, nil
}

// open builds the connector for a stored connection by its type.
func (r *resolver) open(ctx context.Context, c storage.Connection) (connector.Connector, error) {
	if c.Type == ConnectorTypeDatabase || c.Type == "" {
		conn, err := database.Open(c, r.store, r.hasher, r.log.With("connection", c.Name), database.WithPasskeys(r.passkeys))
		if err != nil {
			return nil, fmt.Errorf("open connection %q: %w", c.Name, err)
		}
		if r.mail != nil {
			conn.SetMail(r.mail.forConnection(c.Name))
		}
		return r.withMFA(conn)
	}
	if open, ok := r.custom[c.Type]; ok {
		conn, err := open(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("open connection %q: %w", c.Name, err)
		}
		return conn, nil
	}
	known := []string{ConnectorTypeDatabase}
	for t := range r.custom {
		known = append(known, t)
	}
	slices.Sort(known[1:])
	return nil, fmt.Errorf("open connection %q: unknown connector type %q (known: %v)", c.Name, c.Type, known)
}

func sameConnection(a, b storage.Connection) bool {
	return a.ID == b.ID && a.Type == b.Type && a.UpdatedAt.Equal(b.UpdatedAt) && bytes.Equal(a.Settings, b.Settings)
}

// Names lists the connection names: the configured ones first, in
// configuration order, then the others oldest first.
func (r *resolver) Names(ctx context.Context) ([]string, error) {
	now := r.now()
	r.mu.Lock()
	if r.names != nil && now.Before(r.namesExp) {
		names := slices.Clone(r.names)
		r.mu.Unlock()
		return names, nil
	}
	r.mu.Unlock()
	stored, err := r.store.ListConnections(ctx)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	names := orderConnections(stored, r.preferred)
	r.mu.Lock()
	r.names, r.namesExp = names, now.Add(resolverTTL)
	r.mu.Unlock()
	return slices.Clone(names), nil
}

// orderConnections returns the names of stored: those in preferred first, in
// that order, then the rest by creation time and name.
func orderConnections(stored []storage.Connection, preferred []string) []string {
	rank := func(name string) int {
		if i := slices.Index(preferred, name); i >= 0 {
			return i
		}
		return len(preferred)
	}
	stored = slices.Clone(stored)
	slices.SortStableFunc(stored, func(a, b storage.Connection) int {
		return cmp.Or(
			cmp.Compare(rank(a.Name), rank(b.Name)),
			a.CreatedAt.Compare(b.CreatedAt),
			cmp.Compare(a.Name, b.Name),
		)
	})
	names := make([]string, 0, len(stored))
	for _, c := range stored {
		names = append(names, c.Name)
	}
	return names
}
