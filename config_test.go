package latchkey

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/latchkey/latchkey/storage"
)

// testSecret is a valid master secret (32 bytes, hex).
const testSecret = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	for _, c := range []struct {
		name     string
		have     any
		expected any
	}{
		{"issuer", cfg.Issuer, "http://localhost:8080"},
		{"listen", cfg.Listen, ":8080"},
		{"dsn", cfg.Database.DSN, "latchkey.db"},
		{"secret_file", cfg.SecretFile, "latchkey.secret"},
		{"insecure cookies", cfg.InsecureCookies(), true},
		{"demo", cfg.DemoEnabled(), true},
		{"access", cfg.Tokens.AccessTokenLifespan, time.Hour},
		{"refresh", cfg.Tokens.RefreshTokenLifespan, 720 * time.Hour},
		{"id", cfg.Tokens.IDTokenLifespan, time.Hour},
		{"code", cfg.Tokens.AuthorizationCodeLifespan, 10 * time.Minute},
		{"argon2 memory", cfg.Passwords.Argon2.MemoryKiB, uint32(19456)},
		{"log level", cfg.Log.Level, "info"},
		{"log format", cfg.Log.Format, "json"},
	} {
		if c.have != c.expected {
			t.Errorf("%s = %v, want %v", c.name, c.have, c.expected)
		}
	}
}

func TestLoadConfigPrecedence(t *testing.T) {
	path := writeFile(t, "latchkey.yaml", `
issuer: https://id.example.com:9443/
database:
  dsn: file.db
secret: `+testSecret+`
log:
  level: debug
tokens:
  access_token_lifespan: 15m
connections:
  - name: staff
    settings:
      signup: false
clients:
  - id: app
    secret: 0123456789abcdef0123456789abcdef
    redirect_uris: [https://app.example.com/cb]
`)
	env := []string{
		"HOME=/root",
		"LATCHKEY_DATABASE_DSN=env.db",
		"LATCHKEY_LOG_LEVEL=warn",
		"LATCHKEY_UNKNOWN=ignored",
		// A later entry wins: this is how cmd/latchkey gives flags
		// precedence.
		"LATCHKEY_DATABASE_DSN=flag.db",
		"LATCHKEY_DEMO=false",
	}
	cfg, err := LoadConfig(path, env)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	for _, c := range []struct {
		name     string
		have     any
		expected any
	}{
		{"issuer trimmed", cfg.Issuer, "https://id.example.com:9443"},
		{"listen from issuer port", cfg.Listen, ":9443"},
		{"dsn: flag over env over file", cfg.Database.DSN, "flag.db"},
		{"log level: env over file", cfg.Log.Level, "warn"},
		{"access from file", cfg.Tokens.AccessTokenLifespan, 15 * time.Minute},
		{"refresh default", cfg.Tokens.RefreshTokenLifespan, 720 * time.Hour},
		{"secure cookies for https", cfg.InsecureCookies(), false},
		{"demo from env", cfg.DemoEnabled(), false},
		{"secret file not defaulted when secret set", cfg.SecretFile, ""},
		{"connection type default", cfg.Connections[0].Type, "database"},
		{"connection settings", cfg.Connections[0].Settings["signup"], false},
		{"client", cfg.Clients[0].ID, "app"},
	} {
		if c.have != c.expected {
			t.Errorf("%s = %v, want %v", c.name, c.have, c.expected)
		}
	}
}

func TestLoadConfigErrors(t *testing.T) {
	client := func(extra string) string {
		return "clients:\n  - id: app\n    redirect_uris: [https://app.example.com/cb]\n" + extra
	}
	for _, tc := range []struct {
		name     string
		yaml     string
		env      []string
		expected []string // substrings of the error
	}{
		{name: "unknown key", yaml: "isuer: http://x\n", expected: []string{"field isuer not found"}},
		{name: "bad env duration", env: []string{"LATCHKEY_TOKENS_ACCESS_TOKEN_LIFESPAN=soon"}, expected: []string{"LATCHKEY_TOKENS_ACCESS_TOKEN_LIFESPAN"}},
		{name: "bad env bool", env: []string{"LATCHKEY_DEMO=maybe"}, expected: []string{"LATCHKEY_DEMO"}},
		{name: "issuer scheme", yaml: "issuer: ftp://x\n", expected: []string{"issuer: must be an http or https URL"}},
		{name: "issuer query", yaml: "issuer: https://x/?a=b\n", expected: []string{"issuer: must have no query"}},
		{name: "bad listen", yaml: "listen: localhost\n", expected: []string{"listen:"}},
		{name: "short secret", yaml: "secret: c2hvcnQ=\n", expected: []string{"secret: must be at least 32 bytes"}},
		{name: "not base64", yaml: "secret: '!!!'\n", expected: []string{"secret: want base64 or hex"}},
		{name: "secret and file", yaml: "secret: " + testSecret + "\nsecret_file: x\n", expected: []string{"set one, not both"}},
		{name: "insecure cookies on https", yaml: "issuer: https://id.example.com\ncookies: {insecure: true}\n", expected: []string{"cookies.insecure: allowed only for an http://localhost issuer"}},
		{name: "long code", yaml: "tokens: {authorization_code_lifespan: 1h}\n", expected: []string{"authorization_code_lifespan: at most 10m0s"}},
		{name: "negative lifespan", yaml: "tokens: {access_token_lifespan: -1h}\n", expected: []string{"access_token_lifespan: must be positive"}},
		{name: "argon2 threads", yaml: "passwords: {argon2: {memory_kib: 4}}\n", expected: []string{"passwords.argon2"}},
		{name: "log level", yaml: "log: {level: loud}\n", expected: []string{"log.level"}},
		{name: "log format", yaml: "log: {format: xml}\n", expected: []string{"log.format"}},
		{name: "connection type", yaml: "connections: [{name: x, type: ldap}]\n", expected: []string{"connections[0].type: unknown connector type \"ldap\" (known: database)"}},
		{name: "connection duplicate", yaml: "connections: [{name: x}, {name: x}]\n", expected: []string{"connections[1].name: duplicate"}},
		{name: "connection name", yaml: "connections: [{type: database}]\n", expected: []string{"connections[0].name: required"}},
		{name: "client without secret", yaml: client(""), expected: []string{"clients[0] (app).secret: required for client_secret_basic"}},
		{name: "client short secret", yaml: client("    secret: abc\n"), expected: []string{"secret: must be at least 32 characters"}},
		{name: "public client with secret", yaml: client("    public: true\n    secret: 0123456789abcdef0123456789abcdef\n"), expected: []string{"a public client has no secret"}},
		{name: "public client credentials", yaml: client("    public: true\n    grant_types: [authorization_code, client_credentials]\n"), expected: []string{"a public client cannot use client_credentials"}},
		{name: "client without redirect", yaml: "clients:\n  - id: app\n    public: true\n", expected: []string{"redirect_uris: required"}},
		{name: "relative redirect", yaml: "clients:\n  - {id: app, public: true, redirect_uris: [/cb]}\n", expected: []string{"redirect_uris[0]: must be an absolute URI"}},
		{name: "redirect fragment", yaml: "clients:\n  - {id: app, public: true, redirect_uris: ['https://a/cb#x']}\n", expected: []string{"must not have a fragment"}},
		{name: "web origin path", yaml: client("    public: true\n    web_origins: [https://a.example.com/app]\n"), expected: []string{"web_origins[0]: want scheme://host[:port]"}},
		{name: "alg", yaml: client("    public: true\n    id_token_signed_response_alg: HS256\n"), expected: []string{"id_token_signed_response_alg"}},
		{name: "private_key_jwt", yaml: client("    token_endpoint_auth_method: private_key_jwt\n"), expected: []string{"private_key_jwt needs jwks or jwks_uri"}},
		{name: "bad jwks", yaml: client("    jwks: {foo: bar}\n"), expected: []string{"jwks: want a JSON Web Key Set"}},
		{name: "unknown grant", yaml: client("    public: true\n    grant_types: [password]\n"), expected: []string{"grant_types: want"}},
		{name: "duplicate client", yaml: "demo: false\nclients:\n  - {id: a, public: true, redirect_uris: [https://a/cb]}\n  - {id: a, public: true, redirect_uris: [https://a/cb]}\n", expected: []string{"clients[1] (a).id: duplicate client"}},
		{name: "demo client id", yaml: "clients:\n  - {id: latchkey-demo, public: true, redirect_uris: [https://a/cb]}\n", expected: []string{"set demo: false"}},
		{name: "several problems at once", yaml: "issuer: ftp://x\nlog: {level: loud}\n", expected: []string{"issuer:", "; log.level:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeFile(t, "latchkey.yaml", tc.yaml)
			}
			_, err := LoadConfig(path, tc.env)
			if err == nil {
				t.Fatal("LoadConfig succeeded, want an error")
			}
			for _, want := range tc.expected {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestConfigErrorUnwraps(t *testing.T) {
	err := Config{Issuer: "ftp://x"}.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) < 2 {
		t.Fatalf("Validate() = %v, want a ConfigError with several problems", err)
	}
}

// TestConfigExample keeps the configuration reference loadable.
func TestConfigExample(t *testing.T) {
	cfg, err := LoadConfig("config.example.yaml", nil)
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if len(cfg.Clients) == 0 || len(cfg.Connections) == 0 {
		t.Error("config.example.yaml should show a client and a connection")
	}
}

// TestEnvVarsDocumented checks that config.example.yaml names every
// LATCHKEY_* variable.
func TestEnvVarsDocumented(t *testing.T) {
	b, err := os.ReadFile("config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range EnvVarNames() {
		if !strings.Contains(string(b), name) {
			t.Errorf("config.example.yaml does not mention %s", name)
		}
	}
}

// TestComposeFile checks docker-compose.yml parses and wires the health
// checks as intended (no Docker engine runs in CI).
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	pg, ok := compose.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:16") {
		t.Fatalf("postgres service missing or not postgres:16: %+v", pg)
	}
	if !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("postgres health check = %v, want pg_isready", pg.Healthcheck.Test)
	}
	lk, ok := compose.Services["latchkey"]
	if !ok {
		t.Fatal("latchkey service missing")
	}
	if lk.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("latchkey depends_on = %+v, want postgres service_healthy", lk.DependsOn)
	}
	if !strings.Contains(strings.Join(lk.Healthcheck.Test, " "), "healthcheck") {
		t.Errorf("latchkey health check = %v, want `latchkey healthcheck`", lk.Healthcheck.Test)
	}
	for _, name := range []string{"LATCHKEY_DATABASE_DSN", "LATCHKEY_SECRET"} {
		if lk.Environment[name] == "" {
			t.Errorf("latchkey environment lacks %s", name)
		}
	}
	if !strings.HasPrefix(lk.Environment["LATCHKEY_DATABASE_DSN"], "postgres://") {
		t.Errorf("LATCHKEY_DATABASE_DSN = %q, want a postgres:// URL", lk.Environment["LATCHKEY_DATABASE_DSN"])
	}
}

func TestDecodeSecret(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(200 + i%50)
	}
	for _, tc := range []struct {
		name string
		have string
		ok   bool
	}{
		{"hex", hex.EncodeToString(raw), true},
		{"hex upper", strings.ToUpper(hex.EncodeToString(raw)), true},
		{"base64", base64.StdEncoding.EncodeToString(raw), true},
		{"base64 raw", base64.RawStdEncoding.EncodeToString(raw), true},
		{"base64url", base64.URLEncoding.EncodeToString(raw), true},
		{"base64url raw", base64.RawURLEncoding.EncodeToString(raw), true},
		{"with newline", hex.EncodeToString(raw) + "\n", true},
		{"short hex", hex.EncodeToString(raw[:31]), false},
		{"short base64", base64.StdEncoding.EncodeToString(raw[:31]), false},
		{"garbage", "not a secret!", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeSecret(tc.have)
			if !tc.ok {
				if err == nil {
					t.Fatalf("decodeSecret(%q) succeeded, want an error", tc.have)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSecret(%q): %v", tc.have, err)
			}
			if string(got) != string(raw) {
				t.Fatalf("decodeSecret(%q) = %x, want %x", tc.have, got, raw)
			}
		})
	}
}

func TestMasterSecretFile(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := Config{SecretFile: DefaultSecretFile}
	first, created, err := cfg.masterSecret()
	if err != nil || !created || len(first) != 32 {
		t.Fatalf("first start: secret %x, created %v, err %v", first, created, err)
	}
	fi, err := os.Stat(DefaultSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", fi.Mode().Perm())
	}
	again, created, err := cfg.masterSecret()
	if err != nil || created || string(again) != string(first) {
		t.Fatalf("second start: secret %x (first %x), created %v, err %v", again, first, created, err)
	}

	// An explicitly named file is never generated: a typo must not replace
	// the secret that encrypts the signing keys.
	_, _, err = Config{SecretFile: "elsewhere.secret"}.masterSecret()
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing explicit secret file: err = %v, want ErrNotExist", err)
	}
	if err := os.WriteFile("short.secret", []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (Config{SecretFile: "short.secret"}).masterSecret(); err == nil || !strings.Contains(err.Error(), "short.secret") {
		t.Fatalf("short secret file: err = %v, want an error naming the file", err)
	}
}

func TestDemoSecretDeterministic(t *testing.T) {
	master, err := decodeSecret(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	a, b := demoSecret(master), demoSecret(master)
	if a != b {
		t.Fatalf("demo secret differs between calls: %q, %q", a, b)
	}
	if len(a) != 43 {
		t.Errorf("demo secret %q has %d characters, want 43 (256 bits, base64url)", a, len(a))
	}
	other := append([]byte(nil), master...)
	other[0] ^= 1
	if demoSecret(other) == a {
		t.Error("demo secret does not depend on the master secret")
	}
	if string(derive(master, labelCookieHashKey)) == string(derive(master, labelCookieBlockKey)) {
		t.Error("cookie keys are not independent")
	}
}

func TestOrderConnections(t *testing.T) {
	now := time.Now()
	stored := []storage.Connection{
		{Name: "b", CreatedAt: now},
		{Name: "a", CreatedAt: now},
		{Name: "old", CreatedAt: now.Add(-time.Hour)},
		{Name: "configured-second", CreatedAt: now.Add(-2 * time.Hour)},
		{Name: "configured-first", CreatedAt: now},
	}
	got := orderConnections(stored, []string{"configured-first", "configured-second", "absent"})
	want := []string{"configured-first", "configured-second", "old", "a", "b"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("orderConnections = %v, want %v", got, want)
	}
}
