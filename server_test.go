package latchkey

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// fastPasswords keeps argon2 cheap in tests.
var fastPasswords = PasswordsConfig{Argon2: Argon2Config{MemoryKiB: 64, Time: 1, Threads: 1}, Workers: 2}

func baseConfig() Config {
	return Config{Issuer: "http://localhost:8080", Secret: testSecret, Passwords: fastPasswords}
}

func newServer(t *testing.T, cfg Config, store storage.Store) *Server {
	t.Helper()
	srv, err := New(t.Context(), cfg, store, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func TestNewSeedsIdempotently(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		ctx := t.Context()
		cfg := baseConfig()
		cfg.Connections = []ConnectionConfig{
			{Name: "customers"},
			{Name: "staff", Settings: map[string]any{"disable_signup": true}},
		}
		cfg.Clients = []ClientConfig{
			{ID: "app", Name: "App", Secret: strings.Repeat("s", 32), RedirectURIs: []string{"https://app.example.com/cb"}},
			{ID: "spa", Public: true, RedirectURIs: []string{"http://localhost:5173/cb"}, WebOrigins: []string{"http://localhost:5173"}, Connections: []string{"staff"}},
		}
		first := newServer(t, cfg, store)
		_ = first.Close()

		conns, err := store.ListConnections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := connNames(conns); !slices.Equal(got, []string{"customers", "staff"}) {
			t.Fatalf("connections after first start = %v, want customers and staff only (no default)", got)
		}
		staff, _ := store.GetConnectionByName(ctx, "staff")
		app, err := store.GetClient(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		if err := provider.VerifyClientSecret(app.SecretHash, strings.Repeat("s", 32)); err != nil {
			t.Errorf("app secret hash does not verify: %v", err)
		}
		spa, _ := store.GetClient(ctx, "spa")
		if !spa.Public || spa.TokenEndpointAuthMethod != "none" || spa.SecretHash != "" || !slices.Equal(spa.Connections, []string{"staff"}) {
			t.Errorf("spa = %+v, want a public client with auth method none on staff", spa)
		}

		// Second start, same configuration: nothing is rewritten.
		again := newServer(t, cfg, store)
		_ = again.Close()
		app2, _ := store.GetClient(ctx, "app")
		staff2, _ := store.GetConnectionByName(ctx, "staff")
		if !app2.UpdatedAt.Equal(app.UpdatedAt) || !staff2.UpdatedAt.Equal(staff.UpdatedAt) {
			t.Errorf("unchanged rows were rewritten: client %v -> %v, connection %v -> %v",
				app.UpdatedAt, app2.UpdatedAt, staff.UpdatedAt, staff2.UpdatedAt)
		}

		// Third start with edits: updated in place.
		cfg.Connections[1].Settings = map[string]any{"disable_signup": false}
		cfg.Clients[0].Name = "App, renamed"
		cfg.Clients[0].RedirectURIs = append(cfg.Clients[0].RedirectURIs, "https://app.example.com/cb2")
		cfg.Clients[0].Secret = strings.Repeat("t", 32)
		edited := newServer(t, cfg, store)
		_ = edited.Close()

		clients, err := store.ListClients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range clients {
			ids = append(ids, c.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"app", DemoClientID, "spa"}) {
			t.Fatalf("clients = %v, want app, latchkey-demo, spa", ids)
		}
		app3, _ := store.GetClient(ctx, "app")
		if app3.Name != "App, renamed" || len(app3.RedirectURIs) != 2 || !app3.CreatedAt.Equal(app.CreatedAt) {
			t.Errorf("app after edit = %+v", app3)
		}
		if err := provider.VerifyClientSecret(app3.SecretHash, strings.Repeat("t", 32)); err != nil {
			t.Errorf("new secret does not verify: %v", err)
		}
		staff3, _ := store.GetConnectionByName(ctx, "staff")
		if staff3.ID != staff.ID || !jsonEqual(staff3.Settings, []byte(`{"disable_signup":false}`)) {
			t.Errorf("staff after edit = %+v (id was %s)", staff3, staff.ID)
		}
		if conns, _ := store.ListConnections(ctx); len(conns) != 2 {
			t.Errorf("%d connections after edits, want 2", len(conns))
		}
	})
}

func TestNewDefaultConnection(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		for range 2 {
			srv := newServer(t, baseConfig(), store)
			names, err := srv.Connectors().Names(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names, []string{DefaultConnectionName}) {
				t.Fatalf("connections = %v, want only %s", names, DefaultConnectionName)
			}
			conn, err := srv.Connectors().Lookup(t.Context(), DefaultConnectionName)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := conn.(connector.SignupConnector); !ok {
				t.Errorf("default connection is a %T, want a database connection", conn)
			}
			_ = srv.Close()
		}
	})
}

func TestDemoClient(t *testing.T) {
	store := sqltest.Open(t, sqlstore.DriverSQLite)
	a := newServer(t, baseConfig(), store)
	b := newServer(t, baseConfig(), store)
	idA, secretA, okA := a.DemoClient()
	idB, secretB, okB := b.DemoClient()
	if !okA || !okB || idA != DemoClientID || secretA != secretB || secretA == "" {
		t.Fatalf("demo clients differ: (%s, %s, %v) and (%s, %s, %v)", idA, secretA, okA, idB, secretB, okB)
	}
	stored, err := store.GetClient(t.Context(), DemoClientID)
	if err != nil {
		t.Fatal(err)
	}
	if err := provider.VerifyClientSecret(stored.SecretHash, secretA); err != nil {
		t.Errorf("stored demo hash does not verify the derived secret: %v", err)
	}
	if strings.Contains(stored.SecretHash, secretA) {
		t.Error("demo secret stored in plain text")
	}
	want := []string{"http://localhost:8080/demo/callback"}
	if !slices.Equal(stored.RedirectURIs, want) || !stored.FirstParty {
		t.Errorf("demo client = %+v", stored)
	}

	cfg := baseConfig()
	cfg.Demo = new(false)
	off := newServer(t, cfg, sqltest.Open(t, sqlstore.DriverSQLite))
	if _, _, ok := off.DemoClient(); ok {
		t.Error("DemoClient ok with demo: false")
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		edit     func(*Config)
		expected string
	}{
		{"invalid config", func(c *Config) { c.Issuer = "ftp://x" }, "issuer: must be an http or https URL"},
		{"no secret", func(c *Config) { c.Secret = "" }, "set secret or secret_file"},
		{"bad connection settings", func(c *Config) {
			c.Connections = []ConnectionConfig{{Name: "x", Settings: map[string]any{"no_such_option": 1}}}
		}, `connection "x"`},
		{"client names missing connection", func(c *Config) {
			c.Clients = []ClientConfig{{ID: "spa", Public: true, RedirectURIs: []string{"https://a/cb"}, Connections: []string{"nope"}}}
		}, `connection "nope" does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.edit(&cfg)
			_, err := New(t.Context(), cfg, sqltest.Open(t, sqlstore.DriverSQLite), nil)
			if err == nil || !strings.Contains(err.Error(), tc.expected) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.expected)
			}
		})
	}
}

// fakeConnector is a custom connector type.
type fakeConnector struct{ conn storage.Connection }

func (f fakeConnector) Connection() storage.Connection { return f.conn }

func TestResolver(t *testing.T) {
	store := sqltest.Open(t, sqlstore.DriverSQLite)
	ctx := t.Context()
	cfg := baseConfig()
	cfg.ConnectorTypes = map[string]OpenConnectorFunc{
		"custom": func(_ context.Context, c storage.Connection) (connector.Connector, error) {
			return fakeConnector{c}, nil
		},
	}
	cfg.Connections = []ConnectionConfig{{Name: "db"}, {Name: "mine", Type: "custom", Settings: map[string]any{"v": 1}}}
	srv := newServer(t, cfg, store)
	r := srv.resolver

	if _, err := store.UpsertConnection(ctx, storage.Connection{Name: "ldap", Type: "ldap"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lookup(ctx, "ldap"); err == nil || !strings.Contains(err.Error(), `unknown connector type "ldap" (known: [database custom])`) {
		t.Errorf("Lookup(ldap) = %v, want an unknown type error", err)
	}
	if _, err := r.Lookup(ctx, "absent"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Lookup(absent) = %v, want not found", err)
	}

	c1, err := r.Lookup(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c1.(*database.Connection); !ok {
		t.Fatalf("db connector is %T", c1)
	}
	c2, _ := r.Lookup(ctx, "db")
	if c1 != c2 {
		t.Error("connector not cached")
	}

	// After the TTL, an unchanged row keeps the connector; a changed one
	// reopens it.
	now := time.Now()
	r.now = func() time.Time { return now.Add(resolverTTL + time.Second) }
	if c3, _ := r.Lookup(ctx, "db"); c3 != c1 {
		t.Error("unchanged connection reopened")
	}
	if _, err := store.UpsertConnection(ctx, storage.Connection{Name: "db", Type: "database", Settings: []byte(`{"disable_signup":true}`)}); err != nil {
		t.Fatal(err)
	}
	r.now = func() time.Time { return now.Add(3 * resolverTTL) }
	c4, err := r.Lookup(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if c4 == c1 || c4.(connector.SignupConnector).SignupAllowed() {
		t.Error("changed settings not picked up")
	}

	m, err := r.Lookup(ctx, "mine")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(fakeConnector); !ok {
		t.Errorf("custom connector is %T", m)
	}
	names, err := r.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 3 || names[0] != "db" || names[1] != "mine" {
		t.Errorf("Names = %v, want the configured ones first", names)
	}
}

func TestServerServesEndpoints(t *testing.T) {
	cfg := baseConfig()
	cfg.Issuer = "http://localhost:8080/auth"
	srv := newServer(t, cfg, sqltest.Open(t, sqlstore.DriverSQLite))
	ts := httptest.NewServer(srv)
	defer ts.Close()

	for _, tc := range []struct {
		path     string
		status   int
		contains string
	}{
		{"/auth/healthz", 200, "ok"},
		{"/auth/readyz", 200, "ok"},
		{"/auth/.well-known/openid-configuration", 200, `"issuer":"http://localhost:8080/auth"`},
		{"/auth/.well-known/jwks.json", 200, `"keys"`},
		{"/healthz", 404, ""},
	} {
		resp, err := http.Get(ts.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(strings.ReplaceAll(string(body), " ", ""), tc.contains) {
			t.Errorf("GET %s = %d %.200s, want %d containing %s", tc.path, resp.StatusCode, body, tc.status, tc.contains)
		}
	}
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	resp, err := http.Get(ts.URL + "/auth/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) < 2 {
		t.Errorf("JWKS has %d keys (err %v), want RS256 and ES256", len(jwks.Keys), err)
	}
}

func TestCloseStopsMaintenance(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	srv, err := New(ctx, baseConfig(), sqltest.Open(t, sqlstore.DriverSQLite), nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-srv.done:
	case <-time.After(5 * time.Second):
		t.Fatal("maintenance did not stop when New's context ended")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}

func connNames(conns []storage.Connection) []string {
	var names []string
	for _, c := range conns {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// TestNewConcurrentStarts starts several replicas at once on one fresh
// database: all succeed and they agree on one set of rows.
func TestNewConcurrentStarts(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		cfg := baseConfig()
		cfg.Clients = []ClientConfig{{ID: "spa", Public: true, RedirectURIs: []string{"https://a/cb"}}}
		const replicas = 4
		errs := make(chan error, replicas)
		for range replicas {
			go func() {
				srv, err := New(t.Context(), cfg, store, nil)
				if err == nil {
					err = srv.Close()
				}
				errs <- err
			}()
		}
		for range replicas {
			if err := <-errs; err != nil {
				t.Errorf("concurrent New: %v", err)
			}
		}
		conns, _ := store.ListConnections(t.Context())
		clients, _ := store.ListClients(t.Context())
		keys, _ := store.ListSigningKeys(t.Context())
		if len(conns) != 1 || len(clients) != 2 || len(keys) != 2 {
			t.Errorf("after concurrent starts: %d connections, %d clients, %d keys; want 1, 2, 2", len(conns), len(clients), len(keys))
		}
	})
}
