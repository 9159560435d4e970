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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
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
	// MaxConns bounds the connection pool. Default 10.
	MaxConns int32

	// QueryTimeout bounds every operation, waiting for a pooled connection
	// included. Default 5s.
	QueryTimeout time.Duration

	// ResyncInterval is how often the revocation watcher reads the log
	// even without a notification, as a safety net. Default 1s.
	ResyncInterval time.Duration

	// Schema, when set, is the search_path the store works in. Default
	// the connection's own.
	Schema string

	// Logger receives the revocation listener's failures and reconnects.
	// Default slog.Default().
	Logger *slog.Logger

	// Metrics receives the delay of each revocation from its commit to
	// this process's listener (RevocationDelay). Default none. Pass the
	// Service's Config.Metrics.
	Metrics localauth.Metrics
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

// Store is a localauth.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	timeout time.Duration
	resync  time.Duration
	schema  string
	log     *slog.Logger
	metrics localauth.Metrics
}

var (
	_ localauth.Store                 = (*Store)(nil)
	_ localauth.RevocationWatcher     = (*Store)(nil)
	_ localauth.DeviceStore           = (*Store)(nil)
	_ localauth.ThrottleStoreProvider = (*Store)(nil)
)

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string) and migrates it to the current schema.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 5 * time.Second
	}
	if opts.ResyncInterval <= 0 {
		opts.ResyncInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = localauth.NopMetrics{}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgstore: the database URL is not valid")
	}
	cfg.MaxConns = opts.MaxConns
	if opts.Schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
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
	s := &Store{pool: pool, timeout: opts.QueryTimeout, resync: opts.ResyncInterval, schema: opts.Schema, log: opts.Logger, metrics: opts.Metrics}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
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
		goose.WithGoMigrations(pgmigrations.Skeleton))
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

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
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
