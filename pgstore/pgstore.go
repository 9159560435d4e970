// Package pgstore is the PostgreSQL Store for localauth, for when one
// machine is not enough: several stateless instances share one database,
// and a session ended on any of them ends on all of them at once (the
// revocation log is announced with LISTEN/NOTIFY).
//
// It uses github.com/jackc/pgx/v5 with a connection pool. Every operation
// runs under Options.QueryTimeout, so an exhausted pool or a stalled server
// fails within it instead of hanging. The schema is migrated with goose at
// Open, from migrations embedded in the binary, under a PostgreSQL advisory
// lock so that instances starting together do not race.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	"github.com/localauth/localauth"
	pgmigrations "github.com/localauth/localauth/pgstore/migrations"
)

//go:embed migrations/*.sql
var migrations embed.FS

// channel is the NOTIFY channel of the revocation log.
const channel = "localauth_revocations"

// Options tunes a Store. The zero value is the default configuration.
type Options struct {
	// MaxConns bounds the connection pool. Default 10. (OpenPool uses the
	// pool as it is.)
	MaxConns int32

	// QueryTimeout bounds every operation, waiting for a pooled connection
	// included. Default 5s.
	QueryTimeout time.Duration

	// ResyncInterval is how often the revocation watcher reads the log
	// even without a notification, as a safety net. Default 1s.
	ResyncInterval time.Duration

	// Schema is the PostgreSQL schema that holds the store's tables and
	// its migration history, created at Open when missing: lower-case
	// letters, digits and underscores. Default: the first schema of a
	// search_path in the URL; else the schema where an earlier version
	// left the store's tables; else "localauth", so that the store's users
	// and sessions tables and its migration history never meet an
	// application's own tables of the same names.
	Schema string

	// Existing asks for a store that was made before: Open refuses a
	// schema that does not hold the store's tables, with ErrNoStore,
	// instead of creating them. Administrative commands that read or
	// change users set it, so that a mistyped schema creates nothing.
	// Pending migrations still run.
	Existing bool

	// Logger receives the revocation listener's failures and reconnects.
	// Default slog.Default().
	Logger *slog.Logger

	// Metrics receives the delay of each revocation from its commit to
	// this process's listener (RevocationDelay). Default none. Pass the
	// Service's Config.Metrics.
	Metrics localauth.Metrics
}

// ErrNoStore is returned by Open with Options.Existing when the schema
// does not hold the store's tables.
var ErrNoStore = errors.New("pgstore: no localauth store here")

// DefaultSchema is the schema of Options.Schema's default.
const DefaultSchema = "localauth"

// versionTable is the migration history's table, in the store's schema.
// goose's default name, goose_db_version, is left to applications.
const versionTable = "localauth_migrations"

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (o Options) withDefaults() (Options, error) {
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 5 * time.Second
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = time.Second
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaRE.MatchString(o.Schema) || strings.HasPrefix(o.Schema, "pg_") {
		return o, fmt.Errorf("pgstore: schema %q: use lower-case letters, digits and underscores, not starting with pg_", o.Schema)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = localauth.NopMetrics{}
	}
	return o, nil
}

// Store is a localauth.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
	timeout  time.Duration
	resync   time.Duration
	schema   string
	log      *slog.Logger
	metrics  localauth.Metrics
}

// Every ability the Service and the localauth command look for.
var (
	_ localauth.Store                 = (*Store)(nil)
	_ localauth.HandoffStore          = (*Store)(nil)
	_ localauth.FactorStore           = (*Store)(nil)
	_ localauth.DeviceStore           = (*Store)(nil)
	_ localauth.ThrottleStoreProvider = (*Store)(nil)
	_ localauth.RevocationWatcher     = (*Store)(nil)
	_ localauth.Pinger                = (*Store)(nil)
	_ localauth.SchemaVersioner       = (*Store)(nil)
)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and migrates it to the current schema.
//
// The schema is Options.Schema; without it, the first schema of a
// search_path the URL names; without that, a schema where an earlier
// version of the store left its tables (the connection's default schema,
// usually public), used where it is; else DefaultSchema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgstore: the database URL is not valid")
	}
	octx, cancel := context.WithTimeout(ctx, max(opts.QueryTimeout, 5*time.Second))
	defer cancel()
	if opts.Schema == "" {
		if opts.Schema, err = chooseSchema(octx, cfg); err != nil {
			return nil, err
		}
	}
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = opts.MaxConns
	ConfigurePool(cfg, opts.Schema)
	pool, err := pgxpool.NewWithConfig(octx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	if err := pool.Ping(octx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	s, err := open(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// ConfigurePool sets the search path of cfg's connections to schema, for a
// pool that OpenPool will use (and that the application may use for its
// own queries, schema-qualified). pg_catalog is searched in any case.
func ConfigurePool(cfg *pgxpool.Config, schema string) {
	if schema == "" {
		schema = DefaultSchema
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
}

// OpenPool is Open over a pool the application already has, so that the
// store and the application share its connections. The pool's connections
// must search opts.Schema first (see ConfigurePool); OpenPool checks that,
// creates the schema when missing and migrates it. Close leaves the pool
// open.
func OpenPool(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return open(ctx, pool, opts)
}

func open(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	s := &Store{pool: pool, timeout: opts.QueryTimeout, resync: opts.ResyncInterval, schema: opts.Schema, log: opts.Logger, metrics: opts.Metrics}
	if opts.Existing {
		qctx, cancel := s.ctx(ctx)
		defer cancel()
		v, err := layoutVersion(qctx, pool, s.schema)
		if err != nil {
			return nil, err
		}
		if v == 0 {
			return nil, fmt.Errorf("%w: schema %s holds no users", ErrNoStore, s.schema)
		}
	}
	if err := s.ensureSchema(ctx); err != nil {
		return nil, err
	}
	if err := s.recordHistory(ctx); err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureSchema creates the store's schema when it is missing, and checks
// that the pool's connections work in it. It asks for the CREATE privilege
// only when the schema is missing, so that a role that may not create
// schemas runs in one made for it by an administrator.
func (s *Store) ensureSchema(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: looking for schema %s: %w", s.schema, err)
	}
	if !exists {
		// Under a lock: two instances creating it at once would race
		// even with IF NOT EXISTS (a unique violation in pg_namespace).
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('localauth schema'))`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize())
			return err
		})
		if err != nil {
			return fmt.Errorf("pgstore: creating schema %s: %w", s.schema, err)
		}
	}
	var current *string
	if err := s.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return fmt.Errorf("pgstore: reading the search path: %w", err)
	}
	if current == nil || *current != s.schema {
		return fmt.Errorf("pgstore: the pool's connections do not work in schema %s (see ConfigurePool)", s.schema)
	}
	return nil
}

// chooseSchema picks the schema when Options.Schema is empty: the first of
// the URL's search_path, so that a deployment that named its schema that
// way keeps it; else the connection's default schema when an earlier
// version left the store's tables there (they are used in place: moving
// them would break instances of that version still running); else
// DefaultSchema.
func chooseSchema(ctx context.Context, cfg *pgxpool.Config) (string, error) {
	if sp := cfg.ConnConfig.RuntimeParams["search_path"]; sp != "" {
		first, _, _ := strings.Cut(sp, ",")
		return strings.Trim(strings.TrimSpace(first), `"`), nil
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return "", fmt.Errorf("pgstore: connecting: %w", err)
	}
	defer conn.Close(context.Background())
	var current *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return "", fmt.Errorf("pgstore: reading the search path: %w", err)
	}
	var present bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{DefaultSchema, versionTable}.Sanitize()).Scan(&present); err != nil {
		return "", err
	}
	if present || current == nil {
		return DefaultSchema, nil
	}
	v, err := layoutVersion(ctx, conn, *current)
	if err != nil {
		return "", err
	}
	if v > 0 {
		return *current, nil
	}
	return DefaultSchema, nil
}

// querier is what layoutVersion reads the catalog with.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// layoutVersion reads which of the store's migrations a schema's tables
// show applied: 0 when the schema does not hold the store's tables. It
// trusts the tables, not a version number, so that a goose history shared
// with an application cannot mislead it. Each migration leaves a column or
// a table only it makes; the version is the last of an unbroken run.
func layoutVersion(ctx context.Context, q querier, schema string) (int64, error) {
	marks := []struct{ table, column string }{
		{"users", "password_hash"},      // 1, with sessions.token_hash below
		{"throttle", "count"},           // 2
		{"users", "credential_version"}, // 3
		{"users", "skeleton"},           // 4
		{"devices", "token_hash"},       // 5
		{"sessions", "public_id"},       // 6
		{"totp", "sealed"},              // 7
	}
	has := func(table, column string) (bool, error) {
		var ok bool
		err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
			WHERE table_schema = $1 AND table_name = $2 AND column_name = $3)`, schema, table, column).Scan(&ok)
		return ok, err
	}
	var v int64
	for i, m := range marks {
		ok, err := has(m.table, m.column)
		if err != nil {
			return 0, fmt.Errorf("pgstore: reading the layout of schema %s: %w", schema, err)
		}
		if ok && i == 0 {
			ok, err = has("sessions", "token_hash")
			if err == nil && ok {
				ok, err = has("revocations", "id")
			}
			if err != nil {
				return 0, fmt.Errorf("pgstore: reading the layout of schema %s: %w", schema, err)
			}
		}
		if !ok {
			break
		}
		v = int64(i + 1)
	}
	return v, nil
}

// recordHistory gives a schema that an earlier version migrated, whose
// history is in goose's default table goose_db_version (which an
// application on goose may share), a history table of the store's own,
// recording the migrations its tables show applied. It changes no table of
// the store's and leaves goose_db_version as it is. It runs under a lock,
// so that instances starting together do it once.
func (s *Store) recordHistory(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("pgstore: recording the schema's history: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('localauth history'))`); err != nil {
		return fmt.Errorf("pgstore: recording the schema's history: %w", err)
	}
	var present bool
	if err := tx.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{s.schema, versionTable}.Sanitize()).Scan(&present); err != nil || present {
		return err // current layout, or a history recorded meanwhile
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	version, err := layoutVersion(ctx, conn, s.schema)
	conn.Release()
	if err != nil || version == 0 {
		return err // a fresh schema: goose creates the history
	}
	history, err := database.NewStore(database.DialectPostgres, versionTable)
	if err != nil {
		return err
	}
	if err := history.CreateVersionTable(ctx, tx); err != nil {
		return fmt.Errorf("pgstore: creating %s: %w", versionTable, err)
	}
	for v := int64(0); v <= version; v++ {
		if err := history.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
			return fmt.Errorf("pgstore: recording version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("pgstore: recording the schema's history: %w", err)
	}
	s.log.Info("pgstore: recorded the history of tables an earlier version made", "schema", s.schema, "version", version)
	return nil
}

func (s *Store) provider() (*goose.Provider, func() error, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, err
	}
	db := stdlib.OpenDBFromPool(s.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker),
		goose.WithTableName(versionTable), goose.WithGoMigrations(pgmigrations.Skeleton))
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return p, db.Close, nil
}

func (s *Store) migrate(ctx context.Context) error {
	p, closeDB, err := s.provider()
	if err != nil {
		return err
	}
	defer closeDB()
	// A schema already at the latest version needs no lock: instances
	// and admin commands starting together do not queue for it. (An
	// error here, a database never migrated for one, falls through to Up.)
	if pending, err := p.HasPending(ctx); err == nil && !pending {
		return nil
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("pgstore: migrating the schema: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version the database is at and the
// latest one this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, closeDB, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	defer closeDB()
	return p.GetVersions(ctx)
}

// SchemaName returns Options.Schema as given to Open.
func (s *Store) SchemaName() string { return s.schema }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return s.pool.Ping(ctx)
}

// Close closes the pool, unless it was the application's (OpenPool).
func (s *Store) Close() error {
	if s.ownsPool {
		s.pool.Close()
	}
	return nil
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// inTx runs fn in one transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == "23505" }
func isForeignKey(err error) bool { return pgCode(err) == "23503" }

func notFound(err, sentinel error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return sentinel
	}
	return err
}

func utc(t time.Time) time.Time { return t.UTC() }

// revocationRead reports, for a revocation the watcher has just read from
// the log, how long it took to arrive. The watcher measures it with the
// database's own clock (clock_timestamp() at the read minus the row's
// created_at), so that the clocks of the instances do not enter into it.
func (s *Store) revocationRead(age time.Duration) {
	s.metrics.RevocationDelay(max(0, age))
}
