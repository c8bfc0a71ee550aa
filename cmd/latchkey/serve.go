package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

// HTTP server timeouts. Requests are small; these bound slow clients.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
)

func (a *app) serveCmd() *cobra.Command {
	var issuer, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the OpenID Provider",
		Long: "Run the OpenID Provider. With no configuration it uses an SQLite database\n" +
			"(latchkey.db) and a generated secret (latchkey.secret) in the working\n" +
			"directory, listens on :8080 and serves http://localhost:8080 with a demo\n" +
			"client. It migrates the database first and stops gracefully on SIGTERM.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var overrides []string
			if issuer != "" {
				overrides = append(overrides, "LATCHKEY_ISSUER="+issuer)
			}
			if listen != "" {
				overrides = append(overrides, "LATCHKEY_LISTEN="+listen)
			}
			cfg, err := a.loadConfig(overrides...)
			if err != nil {
				return err
			}
			return a.serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "issuer URL (overrides issuer)")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address, host:port (overrides listen)")
	return cmd
}

// serve runs the server until ctx ends, then shuts it down gracefully.
func (a *app) serve(ctx context.Context, cfg latchkey.Config) error {
	start := time.Now()
	log := a.logger(cfg, false)
	store, err := openStoreEarlyKeys(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	srv, err := latchkey.New(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	discovery := cfg.Issuer + "/.well-known/openid-configuration"
	attrs := []any{
		"issuer", cfg.Issuer,
		"discovery", discovery,
		"listen", ln.Addr().String(),
		"startup_ms", time.Since(start).Milliseconds(),
	}
	demoID, demoSecret, demo := srv.DemoClient()
	if demo {
		// The demo secret stays out of the logs, which are often shipped
		// elsewhere; the banner on stdout shows it.
		attrs = append(attrs, "demo_client_id", demoID, "demo_redirect_uri", cfg.Issuer+"/demo/callback")
	}
	log.InfoContext(ctx, "latchkey started", attrs...)
	printBanner(a.stdout, cfg, ln.Addr(), demoID, demoSecret, demo)
	if a.ready != nil {
		a.ready(ln.Addr())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// printBanner tells a person where Latchkey runs and how to try it.
func printBanner(w io.Writer, cfg latchkey.Config, addr net.Addr, demoID, demoSecret string, demo bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nLatchkey is running.\n\n")
	fmt.Fprintf(&b, "  Issuer:      %s\n", cfg.Issuer)
	fmt.Fprintf(&b, "  Discovery:   %s/.well-known/openid-configuration\n", cfg.Issuer)
	fmt.Fprintf(&b, "  Listening:   %s\n", addr)
	if demo {
		fmt.Fprintf(&b, "\nDemo client, ready to use:\n\n")
		fmt.Fprintf(&b, "  client_id:      %s\n", demoID)
		fmt.Fprintf(&b, "  client_secret:  %s\n", demoSecret)
		fmt.Fprintf(&b, "  redirect_uri:   %s/demo/callback\n", cfg.Issuer)
		fmt.Fprintf(&b, "\nTry it: open %s/demo\n", cfg.Issuer)
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(cfg latchkey.Config, _ *sqlstore.Store, _ *slog.Logger) error {
				fmt.Fprintf(a.stdout, "database migrated (%s)\n", redactDSN(cfg.Database.DSN))
				return nil
			})
		},
	}
}

// redactDSN hides the password of a URL-form DSN.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

func (a *app) healthcheckCmd() *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 if the local server is ready (for container health checks)",
		Long: "GET the local server's /readyz (database reachable) and exit 0 on 200, 1\n" +
			"otherwise. The URL is built from the configured listen address and issuer\n" +
			"path (http://127.0.0.1:8080/readyz by default) unless --url is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				target = a.readyzURL()
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("health check: %s answered %s", target, resp.Status)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "readiness URL (default http://127.0.0.1:PORT/readyz from the configuration)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// readyzURL derives the local readiness URL from the configuration, falling
// back to the defaults when it does not load (the check then fails anyway if
// nothing listens there).
func (a *app) readyzURL() string {
	issuer, listen := latchkey.DefaultIssuer, latchkey.DefaultListen
	if cfg, err := a.loadConfig(); err == nil {
		issuer, listen = cfg.Issuer, cfg.Listen
	}
	host, port := "127.0.0.1", "8080"
	if h, p, err := net.SplitHostPort(listen); err == nil {
		if p != "" && p != "0" {
			port = p
		}
		// A server bound to one address is reached there; one bound to
		// every address (":8080", "0.0.0.0:8080") on loopback.
		if ip := net.ParseIP(h); h != "" && (ip == nil || !ip.IsUnspecified()) {
			host = h
		}
	}
	path := ""
	if u, err := url.Parse(issuer); err == nil {
		path = strings.TrimSuffix(u.Path, "/")
	}
	return "http://" + net.JoinHostPort(host, port) + path + "/readyz"
}
