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
	// letters, digits and underscores. Default "localauth", so that the
	// store's users and sessions tables and its goose version table never
	// meet an application's own tables of the same names.
	Schema string

	// Logger receives the revocation listener's failures and reconnects.
	// Default slog.Default().
	Logger *slog.Logger

	// Metrics receives the delay of each revocation from its commit to
	// this process's listener (RevocationDelay). Default none. Pass the
	// Service's Config.Metrics.
	Metrics localauth.Metrics
}

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
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgstore: the database URL is not valid")
	}
	cfg.MaxConns = opts.MaxConns
	ConfigurePool(cfg, opts.Schema)
	octx, cancel := context.WithTimeout(ctx, opts.QueryTimeout)
	defer cancel()
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
	if err := s.ensureSchema(ctx); err != nil {
		return nil, err
	}
	if err := s.adoptLegacy(ctx); err != nil {
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

// ownTables are the tables of the store, in every schema version.
var ownTables = []string{"users", "sessions", "revocations", "handoffs", "throttle", "devices", "totp", "recovery_codes", "passkeys"}

// adoptLegacy brings a database that an earlier version migrated into the
// current layout. Earlier versions kept the tables in the connection's
// default schema (public) or in Options.Schema, and their history in
// goose's default table, goose_db_version, which an application on goose
// shares. The tables move into the store's schema, and the store's own
// history table records the versions already applied; goose_db_version is
// left as it is, for the application. It runs under a transaction-scoped
// advisory lock, so that instances starting together adopt once.
func (s *Store) adoptLegacy(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("pgstore: adopting an earlier schema: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('localauth adopt'))`); err != nil {
		return fmt.Errorf("pgstore: adopting an earlier schema: %w", err)
	}
	exists := func(schema, table string) bool {
		var ok bool
		err := tx.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, table}.Sanitize()).Scan(&ok)
		return err == nil && ok
	}
	if exists(s.schema, versionTable) {
		return nil // current layout
	}
	for _, from := range []string{s.schema, "public"} {
		if !exists(from, "goose_db_version") || !exists(from, "users") || !exists(from, "sessions") || !exists(from, "revocations") {
			continue
		}
		var version int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version_id), 0) FROM `+pgx.Identifier{from, "goose_db_version"}.Sanitize()+` WHERE is_applied`).Scan(&version); err != nil {
			return fmt.Errorf("pgstore: reading the earlier schema's version: %w", err)
		}
		if from != s.schema {
			for _, t := range ownTables {
				if exists(from, t) {
					if _, err := tx.ExecContext(ctx, `ALTER TABLE `+pgx.Identifier{from, t}.Sanitize()+` SET SCHEMA `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
						return fmt.Errorf("pgstore: moving table %s into schema %s: %w", t, s.schema, err)
					}
				}
			}
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
			return fmt.Errorf("pgstore: adopting an earlier schema: %w", err)
		}
		s.log.Info("pgstore: adopted the tables of an earlier version", "from_schema", from, "schema", s.schema, "version", version)
		return nil
	}
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
