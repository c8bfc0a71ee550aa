package latchkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/handlers"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// Intervals of the background maintenance.
const (
	// keyReloadInterval bounds how long a key rotation done elsewhere takes
	// to reach this process.
	keyReloadInterval = time.Minute
	// cleanupInterval is how often expired rows are deleted.
	cleanupInterval = 10 * time.Minute
)

// Server is a configured Latchkey: an http.Handler serving every endpoint
// under the issuer's path. Create it with New and Close it when done.
type Server struct {
	cfg        Config
	store      storage.Store
	log        *slog.Logger
	provider   *provider.Provider
	resolver   *resolver
	handler    http.Handler
	demoSecret string

	stop      context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// New builds a Server from cfg over store, which must be migrated. It fills
// cfg's defaults and validates it, builds the provider (generating signing
// keys on a fresh database), seeds the configured connections and clients
// (see the package documentation) and mounts the handlers. logger may be nil
// (logs are then discarded).
//
// ctx bounds start-up and the server's background maintenance (key reloads,
// expired-row cleanup), which stops when ctx ends or Close is called. The
// caller keeps ownership of store.
func New(ctx context.Context, cfg Config, store storage.Store, logger *slog.Logger) (*Server, error) {
	if store == nil {
		return nil, errors.New("new server: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	secret, created, err := cfg.masterSecret()
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	if created {
		logger.WarnContext(ctx, "generated a new master secret; keep this file, and give every replica the same secret",
			"secret_file", cfg.SecretFile)
	}
	if !isLocalHTTP(cfg.Issuer) && strings.HasPrefix(cfg.Issuer, "http:") {
		logger.WarnContext(ctx, "issuer is plain http on a non-local host; browsers will drop the secure session cookie", "issuer", cfg.Issuer)
	}

	if cfg.DemoEnabled() && !isLocalHTTP(cfg.Issuer) {
		logger.WarnContext(ctx, "the demo relying party is mounted at /demo; set demo: false (LATCHKEY_DEMO=false) in production", "issuer", cfg.Issuer)
	}

	prov, err := provider.New(ctx, provider.Config{
		Issuer:                cfg.Issuer,
		Secret:                secret,
		AccessTokenLifespan:   cfg.Tokens.AccessTokenLifespan,
		RefreshTokenLifespan:  cfg.Tokens.RefreshTokenLifespan,
		IDTokenLifespan:       cfg.Tokens.IDTokenLifespan,
		AuthorizeCodeLifespan: cfg.Tokens.AuthorizationCodeLifespan,
		KeyActivationDelay:    cfg.Keys.ActivationDelay,
		InitialKeys:           cfg.InitialKeys,
		Logger:                logger,
	}, store)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	theme := cfg.Theme
	if theme == nil && cfg.ThemeDir != "" {
		theme = os.DirFS(cfg.ThemeDir)
	}
	tmpl, err := templates.New(theme)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	workers := cfg.Passwords.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	hasher, err := password.NewHasher(cfg.passwordParams(), workers, cfg.hashQueue(workers))
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}

	s := &Server{cfg: cfg, store: store, log: logger, provider: prov}
	if cfg.DemoEnabled() {
		s.demoSecret = demoSecret(secret)
	}
	var preferred []string
	for _, c := range cfg.Connections {
		preferred = append(preferred, c.Name)
	}
	s.resolver = newResolver(store, hasher, logger, cfg.ConnectorTypes, preferred)
	// Passkeys: the issuer's host is each database connection's default RP
	// ID and its origin the default allowed origin (per-connection
	// "passkeys" settings may override both).
	s.resolver.passkeys = database.PasskeyOptions{Issuer: cfg.Issuer, RPDisplayName: "Latchkey"}
	if s.resolver.mail, err = newMailer(cfg, logger); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	if s.resolver.mail.outbox != nil {
		logger.InfoContext(ctx, "no SMTP server configured (mail.smtp.host): email is written to the log, with its single-use links", "outbox_page", s.resolver.mail.devOutbox() != nil)
	}
	s.resolver.mfaKey = derive(secret, labelMFAKey)
	runner, err := cfg.actionsRunner(logger)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}

	sd := &seeder{cfg: cfg, store: store, log: logger, demoSecret: s.demoSecret}
	if err := sd.run(ctx); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	if err := s.checkConnections(ctx); err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}

	opts := handlers.Options{
		Issuer:     cfg.Issuer,
		Store:      store,
		Provider:   prov,
		Connectors: s.resolver,
		Actions:    runner,
		MFA:        s.resolver.MFA,
		Templates:  tmpl,
		Logger:     logger,
		DevOutbox:  s.resolver.mail.devOutbox(),
		Cookies: handlers.CookieOptions{
			HashKey:  derive(secret, labelCookieHashKey),
			BlockKey: derive(secret, labelCookieBlockKey),
			Insecure: cfg.InsecureCookies(),
			Lifetime: cfg.Cookies.Lifetime,
		},
	}
	if cfg.DemoEnabled() {
		opts.Demo = &handlers.DemoOptions{ClientID: DemoClientID, ClientSecret: s.demoSecret}
	}
	h, err := handlers.New(opts)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	s.handler = h

	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan struct{})
	go s.maintain(bg, ctx.Done())
	return s, nil
}

// checkConnections opens every configured connection, so that bad settings
// fail the start rather than the first login, and checks that every
// configured client names existing connections.
func (s *Server) checkConnections(ctx context.Context) error {
	for _, c := range s.cfg.Connections {
		if _, err := s.resolver.Lookup(ctx, c.Name); err != nil {
			return fmt.Errorf("check connections: %w", err)
		}
	}
	for _, cl := range s.cfg.Clients {
		for _, name := range cl.Connections {
			if _, err := s.store.GetConnectionByName(ctx, name); errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("check client %q: connection %q does not exist", cl.ID, name)
			} else if err != nil {
				return fmt.Errorf("check client %q: %w", cl.ID, err)
			}
		}
	}
	return nil
}

// maintain reloads signing keys and deletes expired rows until ctx is
// cancelled (Close) or parentDone closes (New's context ended).
func (s *Server) maintain(ctx context.Context, parentDone <-chan struct{}) {
	defer close(s.done)
	reload := time.NewTicker(keyReloadInterval)
	defer reload.Stop()
	cleanup := time.NewTicker(cleanupInterval)
	defer cleanup.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-parentDone:
			return
		case <-reload.C:
			if err := s.provider.ReloadKeys(ctx); err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "reload signing keys", "error", err)
			}
		case <-cleanup.C:
			n, err := s.store.DeleteExpired(ctx, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.ErrorContext(ctx, "delete expired rows", "error", err)
			case n > 0:
				s.log.DebugContext(ctx, "deleted expired rows", "rows", n)
			}
		}
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Handler returns the http.Handler serving every endpoint. Routes include
// the issuer's path, so mount it at that path without stripping it.
func (s *Server) Handler() http.Handler { return s.handler }

// Provider returns the OAuth 2.0 / OpenID Connect provider (signing keys,
// token issuance).
func (s *Server) Provider() *provider.Provider { return s.provider }

// Connectors returns the resolver that opens stored connections.
func (s *Server) Connectors() connector.Resolver { return s.resolver }

// Config returns the configuration in effect, defaults filled.
func (s *Server) Config() Config { return s.cfg }

// DemoClient returns the demo relying party's client credentials; ok is
// false when the demo is disabled.
func (s *Server) DemoClient() (id, secret string, ok bool) {
	if s.demoSecret == "" {
		return "", "", false
	}
	return DemoClientID, s.demoSecret, true
}

// Close stops the background maintenance and waits for it. It does not
// close the store. Close is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.done
	})
	return nil
}
