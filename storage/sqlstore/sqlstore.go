package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/storage"
)

var _ storage.Store = (*Store)(nil)

// Driver names accepted in Config.Driver.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Pool defaults applied when Config leaves them zero.
const (
	defaultPostgresMaxOpen = 20
	defaultSQLiteMaxOpen   = 8
	// sqliteBusyTimeoutMS is how long an SQLite connection waits for the
	// write lock before giving up with SQLITE_BUSY (mapped to ErrConflict).
	sqliteBusyTimeoutMS = 10000
)

// Config selects and tunes the database.
type Config struct {
	// Driver is "sqlite" or "postgres". Empty means DriverForDSN(DSN).
	Driver string
	// DSN is a file path or SQLite URI ("latchkey.db", "sqlite://latchkey.db",
	// "file:latchkey.db?_pragma=..."), or a PostgreSQL URL or keyword/value
	// string. SQLite DSNs get WAL, busy_timeout, foreign_keys and
	// _txlock=immediate added unless they set them.
	DSN string
	// MaxOpenConns caps the pool (default 20 for PostgreSQL, 8 for SQLite,
	// 1 for an in-memory SQLite database).
	MaxOpenConns int
	// MaxIdleConns defaults to MaxOpenConns.
	MaxIdleConns int
	// Logger receives connection and migration events; GORM's own statements
	// are logged at debug level without their arguments. Nil discards logs.
	Logger *slog.Logger
	// Now is the clock used for expiry checks and default timestamps
	// (default time.Now).
	Now func() time.Time
}

// Store implements storage.Store over GORM with SQLite or PostgreSQL.
type Store struct {
	gdb     *gorm.DB
	sqlDB   *sql.DB
	driver  string
	log     *slog.Logger
	nowFunc func() time.Time
	// gate serialises writers within this process on SQLite (nil on
	// PostgreSQL); see writeLock.
	gate chan struct{}
}

// DriverForDSN guesses the driver from a DSN: PostgreSQL URLs
// (postgres://, postgresql://) and keyword/value strings with a host= key
// are "postgres"; anything else is an SQLite path or URI.
func DriverForDSN(dsn string) string {
	d := strings.ToLower(strings.TrimSpace(dsn))
	if strings.HasPrefix(d, "postgres://") || strings.HasPrefix(d, "postgresql://") {
		return DriverPostgres
	}
	for _, f := range strings.Fields(d) {
		if strings.HasPrefix(f, "host=") {
			return DriverPostgres
		}
	}
	return DriverSQLite
}

// Open connects to the database described by cfg and checks it is
// reachable. It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	driver := cfg.Driver
	if driver == "" {
		driver = DriverForDSN(cfg.DSN)
	}
	if cfg.DSN == "" {
		return nil, errors.New("open store: empty DSN")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	gcfg := &gorm.Config{
		SkipDefaultTransaction: true,
		// Prepared statements: on PostgreSQL pgx prepares and caches every
		// statement per connection by itself (QueryExecModeCacheStatement),
		// and GORM's own cache must stay off there: it shares one
		// preparation among concurrent callers, so a caller whose context
		// ends (a client hanging up) failed the others with its error, and
		// it closes a statement that every connection shares when one
		// connection breaks ("sql: statement is closed"). SQLite's driver
		// caches nothing, and a cancelled SQLite query breaks no connection.
		PrepareStmt: driver == DriverSQLite,
		// Name every column: SELECT * would break prepared statements when a
		// later migration adds a column while old replicas still run.
		QueryFields: true,
		NowFunc:     func() time.Time { return dbTime(now()) },
		Logger:      newGormLogger(logger),
		// Never write related rows implicitly.
		FullSaveAssociations: false,
		TranslateError:       false,
	}

	var (
		dialector gorm.Dialector
		maxOpen   = cfg.MaxOpenConns
	)
	switch driver {
	case DriverSQLite:
		dsn, memory, err := sqliteDSN(cfg.DSN)
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		if memory {
			// Every connection to ":memory:" is its own database.
			maxOpen = 1
		} else if maxOpen <= 0 {
			maxOpen = defaultSQLiteMaxOpen
		}
		dialector = &sqlite.Dialector{DSN: dsn}
	case DriverPostgres:
		if maxOpen <= 0 {
			maxOpen = defaultPostgresMaxOpen
		}
		dialector = postgres.New(postgres.Config{DSN: cfg.DSN})
	default:
		return nil, fmt.Errorf("open store: unknown driver %q", driver)
	}
	maxIdle := cfg.MaxIdleConns
	if maxIdle <= 0 || maxIdle > maxOpen {
		maxIdle = maxOpen
	}

	gdb, err := gorm.Open(dialector, gcfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{gdb: gdb, sqlDB: sqlDB, driver: driver, log: logger, nowFunc: now}
	if driver == DriverSQLite {
		s.gate = make(chan struct{}, 1)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	logger.Debug("storage opened", "driver", driver, "max_open_conns", maxOpen)
	return s, nil
}

// Driver reports the driver in use ("sqlite" or "postgres").
func (s *Store) Driver() string { return s.driver }

// Ping reports whether the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Close releases the pool and its prepared statements.
func (s *Store) Close() error {
	if err := s.sqlDB.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

// sqliteDSN adds Latchkey's defaults to an SQLite DSN. It reports whether the
// database lives in memory.
func sqliteDSN(dsn string) (string, bool, error) {
	// Accept sqlite://path as a spelling of path, for URL-minded configs.
	dsn = strings.TrimPrefix(dsn, "sqlite://")
	path, query, _ := strings.Cut(dsn, "?")
	if path == "" {
		return "", false, errors.New("parse sqlite dsn: empty path")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", false, fmt.Errorf("parse sqlite dsn: %w", err)
	}
	if q.Has("_time_format") {
		// The driver stops reading options after _time_format (so
		// _txlock would be ignored), and expiry queries compare times in
		// the default format.
		return "", false, errors.New("parse sqlite dsn: _time_format is not supported")
	}
	memory := path == ":memory:" || path == "file::memory:" || q.Get("mode") == "memory"
	set := map[string]bool{}
	for _, p := range q["_pragma"] {
		name, _, _ := strings.Cut(p, "(")
		name, _, _ = strings.Cut(name, "=")
		set[strings.ToLower(strings.TrimSpace(name))] = true
	}
	defaults := []struct{ name, value string }{
		// busy_timeout first: switching to WAL needs the lock.
		{"busy_timeout", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeoutMS)},
		{"journal_mode", "journal_mode(WAL)"},
		{"foreign_keys", "foreign_keys(1)"},
		// In WAL mode NORMAL is safe from corruption; a power loss may
		// lose the last commits, not the database.
		{"synchronous", "synchronous(NORMAL)"},
	}
	var pragmas []string
	for _, d := range defaults {
		if set[d.name] || (memory && d.name == "journal_mode") {
			continue
		}
		pragmas = append(pragmas, d.value)
	}
	q["_pragma"] = append(pragmas, q["_pragma"]...)
	if !q.Has("_txlock") {
		// Write transactions take the lock at BEGIN, so they queue on
		// busy_timeout instead of deadlocking on a lock upgrade.
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode(), memory, nil
}

// now returns the store's clock reading in database precision.
func (s *Store) now() time.Time { return dbTime(s.nowFunc()) }

// dbTime converts t to what the databases keep: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// newID returns a new random, time-ordered identifier.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// SQLite result codes (primary codes are the low byte of extended ones).
const (
	sqliteBusy   = sqlite3.SQLITE_BUSY
	sqliteLocked = sqlite3.SQLITE_LOCKED
)

// mapErr translates driver errors to the storage sentinels, keeping the
// cause in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return storage.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", storage.ErrAlreadyExists, err)
		case "23503": // foreign_key_violation: the referenced row is missing
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		case "40001", "40P01", "55P03": // serialization, deadlock, lock not available
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		}
		return err
	}
	var sqlErr *gosqlite.Error
	if errors.As(err, &sqlErr) {
		switch code := sqlErr.Code(); code {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", storage.ErrAlreadyExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		default:
			if p := code & 0xff; p == sqliteBusy || p == sqliteLocked {
				return fmt.Errorf("%w: %w", storage.ErrConflict, err)
			}
		}
	}
	return err
}

// wrap adds the operation to a mapped error: "get user: storage: not found".
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, mapErr(err))
}

// gormLogger sends GORM's messages to slog at debug level. Statements are
// logged without their arguments (they hold secrets and hashes).
type gormLogger struct {
	log   *slog.Logger
	level gormlogger.LogLevel
}

func newGormLogger(l *slog.Logger) gormlogger.Interface {
	return &gormLogger{log: l, level: gormlogger.Warn}
}

func (g *gormLogger) LogMode(level gormlogger.LogLevel) gormlogger.Interface {
	c := *g
	c.level = level
	return &c
}

func (g *gormLogger) Info(ctx context.Context, msg string, args ...any) {
	if g.level >= gormlogger.Info {
		g.log.DebugContext(ctx, "gorm: "+msg)
	}
}

func (g *gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	if g.level >= gormlogger.Warn {
		g.log.DebugContext(ctx, "gorm warning: "+msg)
	}
}

func (g *gormLogger) Error(ctx context.Context, msg string, args ...any) {
	if g.level >= gormlogger.Error {
		g.log.DebugContext(ctx, "gorm error: "+msg)
	}
}

// Trace logs slow statements and errors at debug level: timing, row count
// and error only. The statement text is not logged, since GORM interpolates
// the values (secrets, hashes) into it.
func (g *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if !g.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	elapsed := time.Since(begin)
	if (err == nil && elapsed < 200*time.Millisecond) || errors.Is(err, gorm.ErrRecordNotFound) {
		return
	}
	_, rows := fc()
	g.log.DebugContext(ctx, "gorm statement", "elapsed", elapsed, "rows", rows, "error", err)
}

// insert creates row under the write lock; op names the operation in
// errors ("create client").
func (s *Store) insert(ctx context.Context, op string, row any) error {
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer release()
	if err := s.db(ctx).Create(row).Error; err != nil {
		return wrap(op, err)
	}
	return nil
}

// deleteByID deletes the row of model's table with that primary key under
// the write lock; a missing row is storage.ErrNotFound. op names the
// operation in errors ("delete client").
func (s *Store) deleteByID(ctx context.Context, op string, model any, id string) error {
	release, err := s.writeLock(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer release()
	res := s.db(ctx).Where("id = ?", id).Delete(model)
	if res.Error != nil {
		return wrap(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}
