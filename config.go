package latchkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

// Defaults applied to a Config. See config.example.yaml for the reference.
const (
	DefaultIssuer = "http://localhost:8080"
	DefaultListen = ":8080"
	// DefaultDSN is an SQLite file in the working directory.
	DefaultDSN = "latchkey.db"
	// DefaultSecretFile is where LoadConfig keeps the master secret when the
	// configuration names none; New creates it on first start.
	DefaultSecretFile = "latchkey.secret"
	// DefaultConnectionName is the database connection created when there is
	// none (Auth0's default name).
	DefaultConnectionName = "Username-Password-Authentication"
	// DemoClientID is the built-in demo relying party's client ID.
	DemoClientID = "latchkey-demo"
	// ConnectorTypeDatabase is the built-in connector type: users in
	// Latchkey's own store.
	ConnectorTypeDatabase = "database"

	defaultAccessTokenLifespan  = time.Hour
	defaultRefreshTokenLifespan = 720 * time.Hour
	defaultIDTokenLifespan      = time.Hour
	defaultCodeLifespan         = 10 * time.Minute
	// maxCodeLifespan is OAuth 2.1's recommended ceiling.
	maxCodeLifespan        = 10 * time.Minute
	defaultSessionLifetime = 7 * 24 * time.Hour
	defaultShutdownTimeout = 15 * time.Second
	// defaultKeyActivationDelay covers two key reloads (every minute).
	defaultKeyActivationDelay = 2 * time.Minute
	// defaultHashQueuePerWorker bounds how many password checks wait for a
	// hashing slot, per worker, before the hasher answers "busy".
	defaultHashQueuePerWorker = 16
	// minSecretLen is the least master secret length, in bytes.
	minSecretLen = 32
	// minClientSecretLen is the least length of a client secret declared in
	// configuration. Client secrets are checked with a fast hash (see
	// provider), so they must be long random strings, not passwords.
	minClientSecretLen = 32
)

// Config is Latchkey's whole configuration. The zero value plus a Secret is
// usable: New fills the defaults documented on each field.
type Config struct {
	// Issuer is the OpenID Provider's issuer URL: scheme, host, optional
	// port and path, no trailing slash. Endpoints are served under its path.
	// Default http://localhost:8080.
	Issuer string `yaml:"issuer"`
	// Listen is the TCP address `latchkey serve` listens on. Default: ":"
	// plus the issuer's port when the issuer names one, else ":8080".
	Listen string `yaml:"listen"`
	// Database selects the store `latchkey serve` opens.
	Database DatabaseConfig `yaml:"database"`
	// Secret is the master secret, base64 (standard or URL alphabet, padded
	// or not) or hex, of at least 32 bytes once decoded. A string of hex
	// digits is read as hex. Signing keys are encrypted, and cookie keys and
	// the demo client's secret derived, from it: every replica needs the same
	// one, and changing it makes stored signing keys unreadable.
	Secret string `yaml:"secret"`
	// SecretFile names a file holding the master secret (same encodings).
	// Set Secret or SecretFile, not both. When the configuration names
	// neither, LoadConfig uses DefaultSecretFile, which New creates (32
	// random bytes, hex, mode 0600) if it does not exist yet.
	SecretFile string `yaml:"secret_file"`
	// Cookies configure the browser-session cookie.
	Cookies CookiesConfig `yaml:"cookies"`
	// Tokens set token lifespans.
	Tokens TokensConfig `yaml:"tokens"`
	// Keys tune signing-key rotation.
	Keys KeysConfig `yaml:"keys"`
	// Passwords tune password hashing for database connections.
	Passwords PasswordsConfig `yaml:"passwords"`
	// Connections are created or updated at start, by name.
	Connections []ConnectionConfig `yaml:"connections"`
	// Clients are created or updated at start, by ID.
	Clients []ClientConfig `yaml:"clients"`
	// Demo mounts the demo relying party at /demo and seeds its client
	// (DemoClientID). Default true.
	Demo *bool `yaml:"demo"`
	// Log configures the logger cmd/latchkey builds (New takes a logger).
	Log LogConfig `yaml:"log"`
	// ThemeDir is a directory whose files override the embedded page
	// templates and assets by name (see templates). Empty: the defaults.
	ThemeDir string `yaml:"theme_dir"`
	// ShutdownTimeout bounds how long `latchkey serve` waits for requests in
	// flight on SIGTERM. Default 15s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Mail configures email delivery (SMTP); see mailconfig.go.
	Mail MailConfig `yaml:"mail"`
	// Actions are the post-login actions (JavaScript files, and Go hooks of
	// an embedding application); see actions.go.
	Actions ActionsConfig `yaml:"actions"`

	// Theme overrides the embedded templates like ThemeDir, for embedding
	// applications that ship their own (embedded) theme. It takes precedence
	// over ThemeDir. Not settable from YAML.
	Theme fs.FS `yaml:"-"`
	// ConnectorTypes lets an embedding application serve connections of its
	// own types (a custom user store). The built-in "database" type cannot
	// be replaced. Not settable from YAML.
	ConnectorTypes map[string]OpenConnectorFunc `yaml:"-"`
	// InitialKeys are signing keys generated ahead of New, used only when
	// the store has none (a fresh install): start them with
	// provider.StartKeyGeneration before migrating an empty database so that
	// key generation overlaps with the migration. Not settable from YAML.
	InitialKeys *provider.KeyGeneration `yaml:"-"`
}

// OpenConnectorFunc opens the connector serving a stored connection of a
// custom type. It is called again when the connection's settings change.
type OpenConnectorFunc func(ctx context.Context, conn storage.Connection) (connector.Connector, error)

// DatabaseConfig selects the database of `latchkey serve`. Embedding
// applications open their own store and may ignore it.
type DatabaseConfig struct {
	// DSN is an SQLite file path or URI (default "latchkey.db" in the
	// working directory), or a PostgreSQL URL (postgres://...) or
	// keyword/value string (host=... dbname=...), which selects PostgreSQL.
	DSN string `yaml:"dsn"`
	// MaxOpenConns caps the connection pool (0: the backend's default).
	MaxOpenConns int `yaml:"max_open_conns"`
}

// CookiesConfig configures the browser-session cookie.
type CookiesConfig struct {
	// Insecure drops the cookie's Secure attribute and __Host- prefix, for
	// development over plain http. Allowed only for an http://localhost
	// issuer; default true for such an issuer and false otherwise.
	Insecure *bool `yaml:"insecure"`
	// Lifetime is how long a browser session lasts. Default 168h (7 days).
	Lifetime time.Duration `yaml:"lifetime"`
}

// TokensConfig sets token lifespans.
type TokensConfig struct {
	// AccessTokenLifespan, default 1h.
	AccessTokenLifespan time.Duration `yaml:"access_token_lifespan"`
	// RefreshTokenLifespan, default 720h (30 days).
	RefreshTokenLifespan time.Duration `yaml:"refresh_token_lifespan"`
	// IDTokenLifespan, default 1h.
	IDTokenLifespan time.Duration `yaml:"id_token_lifespan"`
	// AuthorizationCodeLifespan, default and maximum 10m.
	AuthorizationCodeLifespan time.Duration `yaml:"authorization_code_lifespan"`
}

// KeysConfig tunes signing-key rotation.
type KeysConfig struct {
	// ActivationDelay is how long a rotated key generation is published in
	// the JWKS before it signs tokens, so that every replica (each reloads
	// keys every minute) serves it before a relying party meets its kid.
	// Default 2m; below 1m only for a single replica.
	ActivationDelay time.Duration `yaml:"activation_delay"`
}

// PasswordsConfig tunes argon2id and the hashing pool.
type PasswordsConfig struct {
	// Argon2 parameters for new hashes; zero fields take the OWASP minimum
	// (19456 KiB, 2 passes, 1 thread).
	Argon2 Argon2Config `yaml:"argon2"`
	// Workers is how many hashes run at once (0: the number of CPUs).
	Workers int `yaml:"workers"`
	// Queue is how many password checks may wait for a worker before the
	// login page answers "busy, try again" (0: 16 per worker).
	Queue int `yaml:"queue"`
}

// Argon2Config are argon2id parameters (RFC 9106).
type Argon2Config struct {
	// MemoryKiB is the memory cost in KiB.
	MemoryKiB uint32 `yaml:"memory_kib"`
	// Time is the number of passes.
	Time uint32 `yaml:"time"`
	// Threads is the degree of parallelism.
	Threads uint8 `yaml:"threads"`
}

// ConnectionConfig declares a connection (a source of users).
type ConnectionConfig struct {
	// Name is unique; clients and the connection= parameter refer to it.
	Name string `yaml:"name"`
	// Type names the connector: "database" (default) or a type registered in
	// Config.ConnectorTypes.
	Type string `yaml:"type"`
	// Settings are passed to the connector as JSON. For "database" see
	// connector/database (sign-up, password policy...).
	Settings map[string]any `yaml:"settings"`
}

// ClientConfig declares an OAuth 2.0 / OpenID Connect client.
type ClientConfig struct {
	// ID is the client_id.
	ID string `yaml:"id"`
	// Name is shown on the consent page.
	Name string `yaml:"name"`
	// Secret is the client secret in plain text (at least 32 characters);
	// only its hash is stored. Generate one with `openssl rand -hex 32`.
	Secret string `yaml:"secret"`
	// Public clients (SPAs, native apps) have no secret and must use PKCE.
	Public bool `yaml:"public"`
	// FirstParty clients skip the consent page.
	FirstParty bool `yaml:"first_party"`
	// RedirectURIs are matched exactly.
	RedirectURIs []string `yaml:"redirect_uris"`
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	// Default authorization_code and refresh_token.
	GrantTypes []string `yaml:"grant_types"`
	// ResponseTypes: code. Default code.
	ResponseTypes []string `yaml:"response_types"`
	// Scopes the client may request. Default openid, profile, email,
	// offline_access.
	Scopes []string `yaml:"scopes"`
	// Audience values the client may request for client_credentials tokens.
	Audience []string `yaml:"audience"`
	// WebOrigins may call the token, userinfo, revocation, JWKS and
	// discovery endpoints cross-origin (scheme://host[:port]).
	WebOrigins []string `yaml:"web_origins"`
	// Connections the client may use, in order; the first is the default.
	// Empty means every connection, the first one by default.
	Connections []string `yaml:"connections"`
	// IDTokenSignedResponseAlg is RS256 (default) or ES256.
	IDTokenSignedResponseAlg string `yaml:"id_token_signed_response_alg"`
	// TokenEndpointAuthMethod is client_secret_basic (default with a
	// secret), client_secret_post, private_key_jwt (default with jwks or
	// jwks_uri) or none (public clients).
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	// JWKS is the client's public key set for private_key_jwt, written as a
	// YAML mapping ({keys: [...]}).
	JWKS map[string]any `yaml:"jwks"`
	// JWKSURI is where to fetch that key set instead.
	JWKSURI string `yaml:"jwks_uri"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// NewLogger returns a logger writing to w at the configured level and
// format. Call it on a validated config.
func (c LogConfig) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level()}
	if strings.EqualFold(c.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c LogConfig) level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// envVar is one LATCHKEY_* variable LoadConfig understands.
type envVar struct {
	name string
	set  func(c *Config, v string) error
}

// envVars lists the LATCHKEY_* overrides, in the order config.example.yaml
// documents them. Clients and connections are not settable from the
// environment.
func envVars() []envVar {
	str := func(f func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *f(c) = v; return nil }
	}
	dur := func(f func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			*f(c) = d
			return nil
		}
	}
	boolp := func(f func(*Config) **bool) func(*Config, string) error {
		return func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return err
			}
			*f(c) = &b
			return nil
		}
	}
	integer := func(f func(*Config) *int) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			*f(c) = n
			return nil
		}
	}
	uint32v := func(f func(*Config) *uint32) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return err
			}
			*f(c) = uint32(n)
			return nil
		}
	}
	return []envVar{
		{"LATCHKEY_ISSUER", str(func(c *Config) *string { return &c.Issuer })},
		{"LATCHKEY_LISTEN", str(func(c *Config) *string { return &c.Listen })},
		{"LATCHKEY_DATABASE_DSN", str(func(c *Config) *string { return &c.Database.DSN })},
		{"LATCHKEY_DATABASE_MAX_OPEN_CONNS", integer(func(c *Config) *int { return &c.Database.MaxOpenConns })},
		{"LATCHKEY_SECRET", str(func(c *Config) *string { return &c.Secret })},
		{"LATCHKEY_SECRET_FILE", str(func(c *Config) *string { return &c.SecretFile })},
		{"LATCHKEY_COOKIES_INSECURE", boolp(func(c *Config) **bool { return &c.Cookies.Insecure })},
		{"LATCHKEY_COOKIES_LIFETIME", dur(func(c *Config) *time.Duration { return &c.Cookies.Lifetime })},
		{"LATCHKEY_TOKENS_ACCESS_TOKEN_LIFESPAN", dur(func(c *Config) *time.Duration { return &c.Tokens.AccessTokenLifespan })},
		{"LATCHKEY_TOKENS_REFRESH_TOKEN_LIFESPAN", dur(func(c *Config) *time.Duration { return &c.Tokens.RefreshTokenLifespan })},
		{"LATCHKEY_TOKENS_ID_TOKEN_LIFESPAN", dur(func(c *Config) *time.Duration { return &c.Tokens.IDTokenLifespan })},
		{"LATCHKEY_TOKENS_AUTHORIZATION_CODE_LIFESPAN", dur(func(c *Config) *time.Duration { return &c.Tokens.AuthorizationCodeLifespan })},
		{"LATCHKEY_KEYS_ACTIVATION_DELAY", dur(func(c *Config) *time.Duration { return &c.Keys.ActivationDelay })},
		{"LATCHKEY_PASSWORDS_ARGON2_MEMORY_KIB", uint32v(func(c *Config) *uint32 { return &c.Passwords.Argon2.MemoryKiB })},
		{"LATCHKEY_PASSWORDS_ARGON2_TIME", uint32v(func(c *Config) *uint32 { return &c.Passwords.Argon2.Time })},
		{"LATCHKEY_PASSWORDS_ARGON2_THREADS", func(c *Config, v string) error {
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil {
				return err
			}
			c.Passwords.Argon2.Threads = uint8(n)
			return nil
		}},
		{"LATCHKEY_PASSWORDS_WORKERS", integer(func(c *Config) *int { return &c.Passwords.Workers })},
		{"LATCHKEY_PASSWORDS_QUEUE", integer(func(c *Config) *int { return &c.Passwords.Queue })},
		{"LATCHKEY_MAIL_SMTP_HOST", str(func(c *Config) *string { return &c.Mail.SMTP.Host })},
		{"LATCHKEY_MAIL_SMTP_PORT", integer(func(c *Config) *int { return &c.Mail.SMTP.Port })},
		{"LATCHKEY_MAIL_SMTP_TLS", str(func(c *Config) *string { return &c.Mail.SMTP.TLS })},
		{"LATCHKEY_MAIL_SMTP_USERNAME", str(func(c *Config) *string { return &c.Mail.SMTP.Username })},
		{"LATCHKEY_MAIL_SMTP_PASSWORD", str(func(c *Config) *string { return &c.Mail.SMTP.Password })},
		{"LATCHKEY_MAIL_SMTP_FROM", str(func(c *Config) *string { return &c.Mail.SMTP.From })},
		{"LATCHKEY_MAIL_SMTP_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Mail.SMTP.Timeout })},
		{"LATCHKEY_MAIL_PRODUCT", str(func(c *Config) *string { return &c.Mail.Product })},
		{"LATCHKEY_DEMO", boolp(func(c *Config) **bool { return &c.Demo })},
		{"LATCHKEY_LOG_LEVEL", str(func(c *Config) *string { return &c.Log.Level })},
		{"LATCHKEY_LOG_FORMAT", str(func(c *Config) *string { return &c.Log.Format })},
		{"LATCHKEY_THEME_DIR", str(func(c *Config) *string { return &c.ThemeDir })},
		{"LATCHKEY_SHUTDOWN_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	}
}

// EnvVarNames lists the LATCHKEY_* variables LoadConfig reads.
func EnvVarNames() []string {
	var names []string
	for _, e := range envVars() {
		names = append(names, e.name)
	}
	return names
}

// LoadConfig reads the YAML file at path (skipped when path is empty), then
// applies the LATCHKEY_* variables found in env (os.Environ() form,
// "NAME=value"; when a name appears twice the later one wins, so a caller
// appends flag values to give them precedence), fills defaults and
// validates. Unknown YAML keys are errors; unknown LATCHKEY_* variables are
// ignored (see EnvVarNames).
//
// When neither secret nor secret_file is configured, LoadConfig sets
// SecretFile to DefaultSecretFile.
func LoadConfig(path string, env []string) (Config, error) {
	var cfg Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("load config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return Config{}, fmt.Errorf("load config: parse %s: %w", path, err)
		}
	}
	byName := make(map[string]envVar)
	for _, e := range envVars() {
		byName[e.name] = e
	}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		e, known := byName[name]
		if !known {
			continue
		}
		if err := e.set(&cfg, value); err != nil {
			return Config{}, fmt.Errorf("load config: %s: %w", name, err)
		}
	}
	if cfg.Secret == "" && cfg.SecretFile == "" {
		cfg.SecretFile = DefaultSecretFile
	}
	if path != "" && cfg.Actions.Dir == "" {
		// Action scripts are named relative to the configuration file.
		cfg.Actions.Dir = filepath.Dir(path)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	return cfg, nil
}

// applyDefaults fills every zero field that has a default, except the
// secret (see LoadConfig).
func (c *Config) applyDefaults() {
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.Listen == "" {
		c.Listen = DefaultListen
		if u, err := url.Parse(c.Issuer); err == nil && u.Port() != "" {
			c.Listen = ":" + u.Port()
		}
	}
	if c.Database.DSN == "" {
		c.Database.DSN = DefaultDSN
	}
	if c.Cookies.Insecure == nil {
		insecure := isLocalHTTP(c.Issuer)
		c.Cookies.Insecure = &insecure
	}
	if c.Cookies.Lifetime == 0 {
		c.Cookies.Lifetime = defaultSessionLifetime
	}
	t := &c.Tokens
	if t.AccessTokenLifespan == 0 {
		t.AccessTokenLifespan = defaultAccessTokenLifespan
	}
	if t.RefreshTokenLifespan == 0 {
		t.RefreshTokenLifespan = defaultRefreshTokenLifespan
	}
	if t.IDTokenLifespan == 0 {
		t.IDTokenLifespan = defaultIDTokenLifespan
	}
	if t.AuthorizationCodeLifespan == 0 {
		t.AuthorizationCodeLifespan = defaultCodeLifespan
	}
	if c.Keys.ActivationDelay == 0 {
		c.Keys.ActivationDelay = defaultKeyActivationDelay
	}
	def := password.DefaultParams()
	a := &c.Passwords.Argon2
	if a.MemoryKiB == 0 {
		a.MemoryKiB = def.Memory
	}
	if a.Time == 0 {
		a.Time = def.Time
	}
	if a.Threads == 0 {
		a.Threads = def.Threads
	}
	if c.Demo == nil {
		demo := true
		c.Demo = &demo
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	for i := range c.Connections {
		if c.Connections[i].Type == "" {
			c.Connections[i].Type = ConnectorTypeDatabase
		}
	}
}

// DemoEnabled reports whether the demo relying party is on (the default).
func (c Config) DemoEnabled() bool { return c.Demo == nil || *c.Demo }

// InsecureCookies reports whether the session cookie drops Secure: the
// configured value, or by default true exactly for an http://localhost
// issuer.
func (c Config) InsecureCookies() bool {
	if c.Cookies.Insecure != nil {
		return *c.Cookies.Insecure
	}
	return isLocalHTTP(c.Issuer)
}

// passwordParams returns the argon2id parameters for new hashes.
func (c Config) passwordParams() password.Params {
	p := password.DefaultParams()
	p.Memory = c.Passwords.Argon2.MemoryKiB
	p.Time = c.Passwords.Argon2.Time
	p.Threads = c.Passwords.Argon2.Threads
	return p
}

// hashQueue returns the hasher's wait-queue length.
func (c Config) hashQueue(workers int) int {
	if c.Passwords.Queue > 0 {
		return c.Passwords.Queue
	}
	return defaultHashQueuePerWorker * workers
}

// Validate reports every problem in the configuration at once, each as
// "key: problem". It expects defaults filled (LoadConfig and New do that).
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	iss, err := url.Parse(c.Issuer)
	switch {
	case err != nil:
		add("issuer: %w", err)
	case iss.Scheme != "http" && iss.Scheme != "https":
		add("issuer: must be an http or https URL, got %q", c.Issuer)
	case iss.Host == "":
		add("issuer: missing host in %q", c.Issuer)
	case iss.RawQuery != "" || iss.Fragment != "" || iss.User != nil:
		add("issuer: must have no query, fragment or user info, got %q", c.Issuer)
	}
	if c.Listen == "" {
		add("listen: must not be empty")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen: %w", err)
	}
	switch {
	case c.Secret != "" && c.SecretFile != "":
		add("secret, secret_file: set one, not both")
	case c.Secret != "":
		if _, err := decodeSecret(c.Secret); err != nil {
			add("secret: %w", err)
		}
	case c.SecretFile == "":
		add("secret: set secret or secret_file")
	}
	if c.InsecureCookies() && !isLocalHTTP(c.Issuer) {
		add("cookies.insecure: allowed only for an http://localhost issuer, not %q", c.Issuer)
	}
	if c.Cookies.Lifetime < 0 {
		add("cookies.lifetime: must be positive")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"tokens.access_token_lifespan", c.Tokens.AccessTokenLifespan},
		{"tokens.refresh_token_lifespan", c.Tokens.RefreshTokenLifespan},
		{"tokens.id_token_lifespan", c.Tokens.IDTokenLifespan},
		{"tokens.authorization_code_lifespan", c.Tokens.AuthorizationCodeLifespan},
	} {
		if d.v < 0 {
			add("%s: must be positive, got %s", d.key, d.v)
		}
	}
	if c.Tokens.AuthorizationCodeLifespan > maxCodeLifespan {
		add("tokens.authorization_code_lifespan: at most %s, got %s", maxCodeLifespan, c.Tokens.AuthorizationCodeLifespan)
	}
	if c.Keys.ActivationDelay < 0 {
		add("keys.activation_delay: must be positive, got %s", c.Keys.ActivationDelay)
	}
	if err := c.passwordParams().Validate(); err != nil {
		add("passwords.argon2: %w", err)
	}
	if c.Passwords.Workers < 0 {
		add("passwords.workers: must not be negative")
	}
	if c.Passwords.Queue < 0 {
		add("passwords.queue: must not be negative")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Log.Level)); err != nil {
		add("log.level: want debug, info, warn or error, got %q", c.Log.Level)
	}
	if f := strings.ToLower(c.Log.Format); f != "json" && f != "text" {
		add("log.format: want json or text, got %q", c.Log.Format)
	}
	if c.ThemeDir != "" && c.Theme == nil {
		if fi, err := os.Stat(c.ThemeDir); err != nil {
			add("theme_dir: %w", err)
		} else if !fi.IsDir() {
			add("theme_dir: %s is not a directory", c.ThemeDir)
		}
	}
	if c.ShutdownTimeout < 0 {
		add("shutdown_timeout: must be positive")
	}
	errs = append(errs, c.Mail.validate()...)

	connNames := make(map[string]bool)
	for i, conn := range c.Connections {
		key := fmt.Sprintf("connections[%d]", i)
		switch {
		case conn.Name == "":
			add("%s.name: required", key)
		case connNames[conn.Name]:
			add("%s.name: duplicate connection %q", key, conn.Name)
		}
		connNames[conn.Name] = true
		if conn.Type != ConnectorTypeDatabase {
			if _, ok := c.ConnectorTypes[conn.Type]; !ok {
				add("%s.type: unknown connector type %q (known: %s)", key, conn.Type, strings.Join(c.connectorTypeNames(), ", "))
			}
		}
	}
	if _, ok := c.ConnectorTypes[ConnectorTypeDatabase]; ok {
		add("connector types: %q is built in and cannot be replaced", ConnectorTypeDatabase)
	}

	clientIDs := make(map[string]bool)
	if c.DemoEnabled() {
		clientIDs[DemoClientID] = true
	}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("clients[%d]", i)
		if cl.ID != "" {
			key = fmt.Sprintf("clients[%d] (%s)", i, cl.ID)
		}
		switch {
		case cl.ID == "":
			add("%s.id: required", key)
		case clientIDs[cl.ID] && cl.ID == DemoClientID:
			add("%s.id: %q is the demo client's; set demo: false to declare it yourself", key, cl.ID)
		case clientIDs[cl.ID]:
			add("%s.id: duplicate client %q", key, cl.ID)
		}
		clientIDs[cl.ID] = true
		for _, e := range cl.validate() {
			add("%s.%w", key, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{What: "config", Problems: errs}
}

// ConfigError lists every problem Validate found.
type ConfigError struct {
	// What was validated: "config" or "client".
	What     string
	Problems []error
}

func (e *ConfigError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "invalid " + e.What + ": " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *ConfigError) Unwrap() []error { return e.Problems }

func (c Config) connectorTypeNames() []string {
	names := []string{ConnectorTypeDatabase}
	for name := range c.ConnectorTypes {
		if name != ConnectorTypeDatabase {
			names = append(names, name)
		}
	}
	slices.Sort(names[1:])
	return names
}

// Values a client may use.
var (
	knownGrantTypes    = []string{"authorization_code", "refresh_token", "client_credentials"}
	knownResponseTypes = []string{"code"}
	knownAuthMethods   = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
	knownAlgs          = []string{"RS256", "ES256"}
)

// Validate checks one client on its own, as Config.Validate does for each
// (which also checks that IDs are unique).
func (cl ClientConfig) Validate() error {
	var errs []error
	if cl.ID == "" {
		errs = append(errs, errors.New("id: required"))
	}
	errs = append(errs, cl.validate()...)
	if len(errs) == 0 {
		return nil
	}
	return &ConfigError{What: "client", Problems: errs}
}

// Client returns the client as stored, defaults filled, without its secret
// hash (see provider.HashClientSecret).
func (cl ClientConfig) Client() storage.Client { return clientFromConfig(cl) }

// validate checks one client; each error starts with the field's key.
func (cl ClientConfig) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	hasKeys := len(cl.JWKS) > 0 || cl.JWKSURI != ""
	method := cl.authMethod()
	grants := cl.grantTypes()

	if cl.Public && cl.Secret != "" {
		add("secret: a public client has no secret")
	}
	if cl.Secret != "" && len(cl.Secret) < minClientSecretLen {
		add("secret: must be at least %d characters (try `openssl rand -hex 32`)", minClientSecretLen)
	}
	if len(cl.JWKS) > 0 && cl.JWKSURI != "" {
		add("jwks: set jwks or jwks_uri, not both")
	}
	if len(cl.JWKS) > 0 {
		b, err := json.Marshal(cl.JWKS)
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err != nil || json.Unmarshal(b, &set) != nil || len(set.Keys) == 0 {
			add("jwks: want a JSON Web Key Set ({keys: [...]})")
		}
	}
	if cl.JWKSURI != "" {
		if u, err := url.Parse(cl.JWKSURI); err != nil || u.Scheme != "https" && !isLocalHTTP(cl.JWKSURI) || u.Host == "" {
			add("jwks_uri: must be an https URL, got %q", cl.JWKSURI)
		}
	}
	switch {
	case !slices.Contains(knownAuthMethods, method):
		add("token_endpoint_auth_method: want one of %s, got %q", strings.Join(knownAuthMethods, ", "), method)
	case cl.Public && method != "none":
		add("token_endpoint_auth_method: a public client uses none, got %q", method)
	case !cl.Public && method == "none":
		add("token_endpoint_auth_method: none is for public clients (set public: true)")
	case method == "private_key_jwt" && !hasKeys:
		add("jwks: private_key_jwt needs jwks or jwks_uri")
	case strings.HasPrefix(method, "client_secret_") && cl.Secret == "":
		add("secret: required for %s (or set public: true, or give jwks for private_key_jwt)", method)
	}
	for _, g := range grants {
		if !slices.Contains(knownGrantTypes, g) {
			add("grant_types: want %s, got %q", strings.Join(knownGrantTypes, ", "), g)
		}
	}
	if cl.Public && slices.Contains(grants, "client_credentials") {
		add("grant_types: a public client cannot use client_credentials")
	}
	for _, r := range cl.ResponseTypes {
		if !slices.Contains(knownResponseTypes, r) {
			add("response_types: want code, got %q", r)
		}
	}
	if alg := cl.IDTokenSignedResponseAlg; alg != "" && !slices.Contains(knownAlgs, alg) {
		add("id_token_signed_response_alg: want RS256 or ES256, got %q", alg)
	}
	if slices.Contains(grants, "authorization_code") && len(cl.RedirectURIs) == 0 {
		add("redirect_uris: required for the authorization_code grant")
	}
	for j, u := range cl.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			add("redirect_uris[%d]: %w", j, err)
		}
	}
	for j, u := range cl.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			add("post_logout_redirect_uris[%d]: %w", j, err)
		}
	}
	for j, o := range cl.WebOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			add("web_origins[%d]: want scheme://host[:port], got %q", j, o)
		}
	}
	return errs
}

// authMethod returns the configured token endpoint auth method or its
// default.
func (cl ClientConfig) authMethod() string {
	switch {
	case cl.TokenEndpointAuthMethod != "":
		return cl.TokenEndpointAuthMethod
	case cl.Public:
		return "none"
	case cl.Secret == "" && (len(cl.JWKS) > 0 || cl.JWKSURI != ""):
		return "private_key_jwt"
	default:
		return "client_secret_basic"
	}
}

func (cl ClientConfig) grantTypes() []string {
	if len(cl.GrantTypes) > 0 {
		return cl.GrantTypes
	}
	return []string{"authorization_code", "refresh_token"}
}

func (cl ClientConfig) responseTypes() []string {
	if len(cl.ResponseTypes) > 0 {
		return cl.ResponseTypes
	}
	if !slices.Contains(cl.grantTypes(), "authorization_code") {
		return nil
	}
	return []string{"code"}
}

func (cl ClientConfig) scopes() []string {
	if len(cl.Scopes) > 0 {
		return cl.Scopes
	}
	return []string{"openid", "profile", "email", "offline_access"}
}

// checkRedirectURI accepts absolute URIs without a fragment: https, http
// (any host: the provider decides what it allows), or a custom scheme for
// native apps.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case !u.IsAbs():
		return fmt.Errorf("must be an absolute URI, got %q", s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("must not have a fragment, got %q", s)
	}
	return nil
}

// isLocalHTTP reports whether rawURL is an http URL on a loopback host
// (localhost, *.localhost, 127.0.0.1, ::1).
func isLocalHTTP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || host == "127.0.0.1" || host == "::1"
}
