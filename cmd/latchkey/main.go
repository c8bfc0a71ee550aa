package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.Environ()}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// app is one run of the command: its streams, its environment and the
// global flags. Tests build one with buffers and a fake environment.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// env is the process environment, os.Environ() form.
	env []string
	// ready, when set, is called with the listener's address once serve
	// accepts connections.
	ready func(addr net.Addr)

	configPath string
	dsn        string
}

// run executes args and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.stderr, "latchkey: %v\n", err)
		return 1
	}
	return 0
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "latchkey",
		Short: "An OpenID Connect provider",
		Long: "Latchkey is an OpenID Connect provider. Run `latchkey serve` to start it on\n" +
			"http://localhost:8080 with an SQLite database in the working directory.",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "YAML configuration file (default $LATCHKEY_CONFIG)")
	root.PersistentFlags().StringVar(&a.dsn, "dsn", "", "database DSN: an SQLite file or a postgres:// URL (overrides database.dsn)")
	root.AddCommand(
		a.serveCmd(),
		a.migrateCmd(),
		a.clientsCmd(),
		a.usersCmd(),
		a.keysCmd(),
		a.healthcheckCmd(),
	)
	return root
}

// getenv returns the value of name in the app's environment.
func (a *app) getenv(name string) string {
	for _, kv := range slices.Backward(a.env) {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// loadConfig reads the configuration: file, environment, then the global
// flags and overrides ("NAME=value" pairs of LATCHKEY_* variables, which
// win over the environment because they come later).
func (a *app) loadConfig(overrides ...string) (latchkey.Config, error) {
	path := a.configPath
	if path == "" {
		path = a.getenv("LATCHKEY_CONFIG")
	}
	env := slices.Clone(a.env)
	if a.dsn != "" {
		env = append(env, "LATCHKEY_DATABASE_DSN="+a.dsn)
	}
	env = append(env, overrides...)
	return latchkey.LoadConfig(path, env)
}

// logger returns the logger for cfg. Administrative commands log warnings
// and errors only, unless the configuration asks for debug.
func (a *app) logger(cfg latchkey.Config, admin bool) *slog.Logger {
	lc := cfg.Log
	if admin && !strings.EqualFold(lc.Level, "debug") {
		lc.Level = "warn"
	}
	return lc.NewLogger(a.stderr)
}

// openStore opens the configured database and migrates it.
func openStore(ctx context.Context, cfg latchkey.Config, log *slog.Logger) (*sqlstore.Store, error) {
	return openAndMigrate(ctx, cfg, log, nil)
}

// openStoreEarlyKeys is openStore for serve: on an empty database (a fresh
// install) it starts generating the signing keys before migrating, so that
// the slow RSA key generation overlaps with the migration, and hands them
// to latchkey.New in cfg.InitialKeys.
func openStoreEarlyKeys(ctx context.Context, cfg *latchkey.Config, log *slog.Logger) (*sqlstore.Store, error) {
	return openAndMigrate(ctx, *cfg, log, func() {
		if cfg.InitialKeys == nil {
			cfg.InitialKeys = provider.StartKeyGeneration()
		}
	})
}

// openAndMigrate opens the database, calls fresh (when not nil) if it has
// no schema yet, and migrates it.
func openAndMigrate(ctx context.Context, cfg latchkey.Config, log *slog.Logger, fresh func()) (*sqlstore.Store, error) {
	store, err := sqlstore.Open(ctx, sqlstore.Config{
		Driver:       sqlstore.DriverForDSN(cfg.Database.DSN),
		DSN:          cfg.Database.DSN,
		MaxOpenConns: cfg.Database.MaxOpenConns,
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if fresh != nil {
		if v, err := store.SchemaVersion(ctx); err == nil && v == 0 {
			fresh()
		}
	}
	if err := store.Migrate(ctx); err != nil {
		_ = store.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return store, nil
}

// withStore loads the configuration, opens the database and runs fn.
func (a *app) withStore(ctx context.Context, fn func(cfg latchkey.Config, store *sqlstore.Store, log *slog.Logger) error) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	log := a.logger(cfg, true)
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(cfg, store, log)
}

// withServer is withStore plus a latchkey.Server (provider, connectors,
// seeded configuration), for commands that need more than rows.
func (a *app) withServer(ctx context.Context, fn func(srv *latchkey.Server, store *sqlstore.Store) error) error {
	return a.withStore(ctx, func(cfg latchkey.Config, store *sqlstore.Store, log *slog.Logger) error {
		srv, err := latchkey.New(ctx, cfg, store, log)
		if err != nil {
			return err
		}
		defer srv.Close()
		return fn(srv, store)
	})
}
