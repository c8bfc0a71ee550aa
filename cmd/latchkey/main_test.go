package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

const testSecret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// env is a test environment: a fresh SQLite file and cheap password hashing.
type env struct {
	dir  string
	dsn  string
	vars []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	dsn := filepath.Join(dir, "latchkey.db")
	return &env{dir: dir, dsn: dsn, vars: []string{
		"LATCHKEY_DATABASE_DSN=" + dsn,
		"LATCHKEY_SECRET=" + testSecret,
		"LATCHKEY_PASSWORDS_ARGON2_MEMORY_KIB=64",
		"LATCHKEY_PASSWORDS_ARGON2_TIME=1",
		"LATCHKEY_LOG_LEVEL=warn",
	}}
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes the command line in-process.
func (e *env) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, env: e.vars}
	code := a.run(t.Context(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// ok runs and fails the test unless the command succeeded.
func (e *env) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := e.run(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("latchkey %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs and fails the test unless the command failed with an error
// message containing want on stderr.
func (e *env) fails(t *testing.T, want, stdin string, args ...string) {
	t.Helper()
	r := e.run(t, stdin, args...)
	if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.HasPrefix(r.stderr, "latchkey: ") {
		t.Fatalf("latchkey %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
}

func (e *env) store(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), sqlstore.Config{DSN: e.dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMigrate(t *testing.T) {
	e := newEnv(t)
	out := e.ok(t, "", "migrate")
	if !strings.Contains(out, "database migrated") {
		t.Errorf("migrate printed %q", out)
	}
	if err := e.store(t).Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Idempotent.
	e.ok(t, "", "migrate")
}

func TestFlagsOverrideEnv(t *testing.T) {
	e := newEnv(t)
	other := filepath.Join(t.TempDir(), "flag.db")
	e.ok(t, "", "migrate", "--dsn", other)
	if _, err := os.Stat(other); err != nil {
		t.Errorf("--dsn not used: %v", err)
	}
	if _, err := os.Stat(e.dsn); err == nil {
		t.Error("env DSN used although --dsn was given")
	}
}

func TestConfigFile(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, "latchkey.yaml")
	dsn := filepath.Join(e.dir, "from-file.db")
	if err := os.WriteFile(path, []byte("database: {dsn: "+dsn+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.vars = append(e.vars[1:], "LATCHKEY_CONFIG="+path) // drop the env DSN
	e.ok(t, "", "migrate")
	if _, err := os.Stat(dsn); err != nil {
		t.Errorf("config file from LATCHKEY_CONFIG not used: %v", err)
	}
	e.fails(t, "parse", "", "migrate", "--config", writeTemp(t, "bad.yaml", "database: [\n"))
	e.fails(t, "no such file", "", "migrate", "--config", filepath.Join(e.dir, "missing.yaml"))
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUnknownCommand(t *testing.T) {
	e := newEnv(t)
	e.fails(t, "unknown command", "", "frobnicate")
	e.fails(t, "accepts 1 arg", "", "clients", "delete")
}

var secretLine = regexp.MustCompile(`(?m)^\s*client_secret:\s+(\S+)$`)

func TestClients(t *testing.T) {
	e := newEnv(t)
	out := e.ok(t, "", "clients", "create", "--id", "app", "--name", "My app",
		"--redirect-uri", "https://app.example.com/cb", "--redirect-uri", "https://app.example.com/cb2",
		"--first-party", "--alg", "ES256")
	m := secretLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed no secret:\n%s", out)
	}
	secret := m[1]
	if len(secret) < 43 {
		t.Errorf("generated secret %q is shorter than 256 bits", secret)
	}

	out = e.ok(t, "", "clients", "create", "--id", "spa", "--public",
		"--redirect-uri", "http://localhost:5173/cb", "--web-origin", "http://localhost:5173")
	if secretLine.MatchString(out) {
		t.Errorf("public client got a secret:\n%s", out)
	}

	e.fails(t, `client "app" already exists`, "", "clients", "create", "--id", "app", "--redirect-uri", "https://a/cb")
	e.fails(t, "redirect_uris: required", "", "clients", "create", "--id", "x")
	e.fails(t, "id_token_signed_response_alg", "", "clients", "create", "--id", "x", "--redirect-uri", "https://a/cb", "--alg", "none")

	store := e.store(t)
	app, err := store.GetClient(t.Context(), "app")
	if err != nil {
		t.Fatal(err)
	}
	if err := provider.VerifyClientSecret(app.SecretHash, secret); err != nil {
		t.Errorf("printed secret does not verify: %v", err)
	}
	if app.Name != "My app" || !app.FirstParty || app.IDTokenSigningAlg != "ES256" || len(app.RedirectURIs) != 2 ||
		app.TokenEndpointAuthMethod != "client_secret_basic" {
		t.Errorf("stored app = %+v", app)
	}
	spa, err := store.GetClient(t.Context(), "spa")
	if err != nil {
		t.Fatal(err)
	}
	if !spa.Public || spa.SecretHash != "" || spa.TokenEndpointAuthMethod != "none" {
		t.Errorf("stored spa = %+v", spa)
	}

	out = e.ok(t, "", "clients", "list")
	for _, want := range []string{"ID", "REDIRECT URIS", "app", "My app", "confidential", "ES256", "spa", "public"} {
		if !strings.Contains(out, want) {
			t.Errorf("clients list lacks %q:\n%s", want, out)
		}
	}

	e.ok(t, "", "clients", "delete", "app")
	if _, err := store.GetClient(t.Context(), "app"); err == nil {
		t.Error("app still stored after delete")
	}
	e.fails(t, `no client "app"`, "", "clients", "delete", "app")
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	const pw = "purple monkey dishwasher 42"
	out := e.ok(t, pw+"\n", "users", "create", "--email", "Ada@Example.com", "--name", "Ada Lovelace")
	if !strings.Contains(out, "created user") || !strings.Contains(out, "Username-Password-Authentication") {
		t.Errorf("users create printed %q", out)
	}
	e.ok(t, "", "users", "create", "--email", "bob@example.com", "--password", "seventeen orange kites 99")

	e.fails(t, "already has an account", pw+"\n", "users", "create", "--email", "ada@example.com")
	e.fails(t, "password rejected", "password\n", "users", "create", "--email", "carol@example.com")
	e.fails(t, "--email is required", pw+"\n", "users", "create")
	e.fails(t, "give --password or the password on stdin", "", "users", "create", "--email", "dan@example.com")
	e.fails(t, `no connection "nope"`, "", "users", "list", "--connection", "nope")

	out = e.ok(t, "", "users", "list")
	for _, want := range []string{"EMAIL", "ada@example.com", "bob@example.com", "Username-Password-Authentication"} {
		if !strings.Contains(out, want) {
			t.Errorf("users list lacks %q:\n%s", want, out)
		}
	}
	out = e.ok(t, "", "users", "list", "--connection", "Username-Password-Authentication", "--limit", "1")
	if strings.Count(out, "@example.com") != 1 {
		t.Errorf("users list --limit 1 printed:\n%s", out)
	}

	store := e.store(t)
	conn, err := store.GetConnectionByName(t.Context(), "Username-Password-Authentication")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := store.GetUserByEmail(t.Context(), conn.ID, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}

	e.ok(t, "", "users", "delete", "ada@example.com")
	e.ok(t, "", "users", "delete", bob.ID)
	e.fails(t, "no user", "", "users", "delete", bob.ID)
	e.fails(t, "no user with email", "", "users", "delete", "ada@example.com")
	users, err := store.ListUsers(t.Context(), storage.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 0 {
		t.Errorf("%d users left after deleting both", len(users))
	}
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	out := e.ok(t, "", "keys", "list")
	if strings.Count(out, "RS256") != 1 || strings.Count(out, "ES256") != 1 {
		t.Errorf("keys list on a fresh install:\n%s", out)
	}
	out = e.ok(t, "", "keys", "rotate")
	if !strings.Contains(out, "rotated signing keys") || strings.Count(out, "RS256") != 2 {
		t.Errorf("keys rotate printed:\n%s", out)
	}
	keys, err := e.store(t).ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	gens := map[int]int{}
	for _, k := range keys {
		gens[k.Generation]++
	}
	if len(keys) != 4 || gens[1] != 2 || gens[2] != 2 {
		t.Errorf("stored keys by generation = %v (%d keys), want 2 generations of 2", gens, len(keys))
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServe(t *testing.T) {
	e := newEnv(t)
	e.vars = append(e.vars, "LATCHKEY_LOG_LEVEL=info")
	var stdout, stderr syncBuffer
	ready := make(chan net.Addr, 1)
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, env: e.vars,
		ready: func(addr net.Addr) { ready <- addr }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exited := make(chan int, 1)
	start := time.Now()
	go func() { exited <- a.run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}) }()

	var addr net.Addr
	select {
	case addr = <-ready:
	case code := <-exited:
		t.Fatalf("serve exited with %d before it was ready: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not become ready")
	}
	t.Logf("serve ready in %v on a fresh database", time.Since(start))
	base := "http://" + addr.String()
	for _, path := range []string{"/healthz", "/readyz", "/.well-known/openid-configuration"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}

	// The container health check, against this server and a closed port.
	e.ok(t, "", "healthcheck", "--url", base+"/readyz")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	e.fails(t, "health check", "", "healthcheck", "--url", "http://"+closed+"/readyz", "--timeout", "2s")

	banner := stdout.String()
	for _, want := range []string{
		"Issuer:      http://localhost:8080",
		"http://localhost:8080/.well-known/openid-configuration",
		"client_id:      latchkey-demo",
		"client_secret:  ",
		"redirect_uri:   http://localhost:8080/demo/callback",
		"open http://localhost:8080/demo",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"latchkey started"`, `"discovery":"http://localhost:8080/.well-known/openid-configuration"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, secretLine.FindStringSubmatch(banner)[1]) {
		t.Error("the demo client secret is in the logs")
	}
}

func TestReadyzURL(t *testing.T) {
	for _, tc := range []struct {
		name     string
		vars     []string
		expected string
	}{
		{"defaults", nil, "http://127.0.0.1:8080/readyz"},
		{"listen port", []string{"LATCHKEY_LISTEN=:9000"}, "http://127.0.0.1:9000/readyz"},
		{"issuer port and path", []string{"LATCHKEY_ISSUER=http://localhost:7000/auth"}, "http://127.0.0.1:7000/auth/readyz"},
		{"bound address", []string{"LATCHKEY_LISTEN=10.1.2.3:8443"}, "http://10.1.2.3:8443/readyz"},
		{"invalid config falls back", []string{"LATCHKEY_ISSUER=ftp://x"}, "http://127.0.0.1:8080/readyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{env: append([]string{"LATCHKEY_SECRET=" + testSecret}, tc.vars...)}
			if got := a.readyzURL(); got != tc.expected {
				t.Errorf("readyzURL() = %q, want %q", got, tc.expected)
			}
		})
	}
}

// startServe runs `latchkey serve` until the returned stop function is
// called; it returns the address and the banner.
func startServe(t *testing.T, vars []string, args ...string) (addr net.Addr, banner func() string, stop func()) {
	t.Helper()
	var stdout, stderr syncBuffer
	ready := make(chan net.Addr, 1)
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, env: vars,
		ready: func(addr net.Addr) { ready <- addr }}
	ctx, cancel := context.WithCancel(t.Context())
	exited := make(chan int, 1)
	go func() { exited <- a.run(ctx, append([]string{"serve"}, args...)) }()
	select {
	case addr = <-ready:
	case code := <-exited:
		cancel()
		t.Fatalf("serve exited with %d before it was ready: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not become ready")
	}
	return addr, stdout.String, func() {
		cancel()
		if code := <-exited; code != 0 {
			t.Errorf("serve exited with %d: %s", code, stderr.String())
		}
	}
}

// TestServeZeroConfig starts the server as a newcomer would: no config, no
// secret, in an empty directory.
func TestServeZeroConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	vars := []string{"LATCHKEY_PASSWORDS_ARGON2_MEMORY_KIB=64", "LATCHKEY_PASSWORDS_ARGON2_TIME=1"}
	_, banner, stop := startServe(t, vars, "--listen", "127.0.0.1:0")
	first := secretLine.FindStringSubmatch(banner())
	stop()
	for _, name := range []string{"latchkey.db", "latchkey.secret"} {
		if _, err := os.Stat(name); err != nil {
			t.Errorf("%s not created in the working directory: %v", name, err)
		}
	}
	if fi, err := os.Stat("latchkey.secret"); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("latchkey.secret mode = %v, want 0600", fi.Mode().Perm())
	}

	// A restart reuses the secret: same demo client secret.
	_, banner, stop = startServe(t, vars, "--listen", "127.0.0.1:0")
	second := secretLine.FindStringSubmatch(banner())
	stop()
	if first == nil || second == nil || first[1] != second[1] {
		t.Errorf("demo secret changed across restarts: %v, %v", first, second)
	}
}

// TestServeBackends runs the server and the user commands on every backend
// (PostgreSQL when LATCHKEY_TEST_POSTGRES_DSN is set).
func TestServeBackends(t *testing.T) {
	for _, backend := range sqltest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t)
			e.dsn = sqltest.DSN(t, backend)
			e.vars = append(e.vars, "LATCHKEY_DATABASE_DSN="+e.dsn)
			addr, _, stop := startServe(t, e.vars, "--listen", "127.0.0.1:0")
			defer stop()
			resp, err := http.Get("http://" + addr.String() + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("readyz = %d", resp.StatusCode)
			}
			// Admin commands work next to the running server.
			e.ok(t, "seventeen orange kites 99\n", "users", "create", "--email", "ada@example.com")
			if out := e.ok(t, "", "users", "list"); !strings.Contains(out, "ada@example.com") {
				t.Errorf("users list:\n%s", out)
			}
			if out := e.ok(t, "", "keys", "list"); strings.Count(out, "RS256") != 1 {
				t.Errorf("keys list:\n%s", out)
			}
		})
	}
}
