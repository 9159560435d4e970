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
//
// The pool may go through a connection pooler in transaction mode
// (PgBouncer 1.18 and later, Supavisor, RDS Proxy, pgcat): its statements
// name their schema, use no named prepared statement by default and keep
// nothing on a connection past their transaction (see qualify.go for how
// statements are written). What needs a session of its own, the LISTEN for
// revocations and the migrations with their lock, runs on
// Options.ListenDSN, a direct connection (or a pooler in session mode).
// Each instance holds Options.MaxConns pooled connections and one listening
// connection.
package pgstore

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/localauth/localauth"
)

//go:embed migrations/*.sql
var migrations embed.FS

// channel is the NOTIFY channel of the revocation log.
const channel = "localauth_revocations"

// Options tunes a Store. The zero value is the default configuration.
type Options struct {
	// ListenDSN names the connection for what needs a session of its
	// own: the LISTEN for revocations (one connection, held while the
	// store is open) and, at Open, the migrations under their lock. Behind
	// a pooler in transaction mode it must reach PostgreSQL directly (or
	// through a pooler in session mode); Open finds out when it does not
	// (a LISTEN on it does not hear a NOTIFY sent through the pool) and
	// fails with ErrNoSession. Default: the URL given to Open (for
	// OpenPool, the pool's own configuration).
	ListenDSN string

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

// ErrNoSession is returned by Open and OpenPool when the listening
// connection (Options.ListenDSN) does not hear a notification sent through
// the pool: it goes through a pooler in transaction mode, which does not
// keep a LISTEN, or it reaches another database than the pool.
var ErrNoSession = errors.New("pgstore: the listening connection is not a session of its own on the pool's database")

// DefaultQueryExecMode is how the pool sends statements when the URL does
// not say (default_query_exec_mode): descriptions of statements cached on
// the client, each statement parsed by the server in the same round trip
// as its execution, no named prepared statement. It works through
// PgBouncer 1.18 in transaction mode and costs little against pgx's own
// default, named prepared statements (cache_statement), which a
// transaction pooler before PgBouncer 1.21 breaks: see BENCHMARKS.md.
const DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe

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
	// pool qualifies every statement with the schema (qualify.go).
	pool conns
	// session configures a connection of its own: the listener's, and
	// the migrations'. It searches the schema.
	session *pgx.ConnConfig
	// idle is the session connection Open checked, kept for the first
	// listener, which then starts at once (nil once taken or closed).
	idleMu   sync.Mutex
	idle     *pgx.Conn
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
	_ localauth.TOTPStore             = (*Store)(nil)
	_ localauth.RecoveryCodeStore     = (*Store)(nil)
	_ localauth.PasskeyStore          = (*Store)(nil)
	_ localauth.FactorResetter        = (*Store)(nil)
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
//
// The pool sends statements in DefaultQueryExecMode unless the URL names a
// default_query_exec_mode. A search_path in the URL only names the schema:
// it is not sent to the server (PgBouncer refuses it).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgstore: the database URL is not valid")
	}
	session := cfg.ConnConfig.Copy()
	if opts.ListenDSN != "" {
		if session, err = pgx.ParseConfig(opts.ListenDSN); err != nil {
			return nil, errors.New("pgstore: the listening database URL is not valid")
		}
	}
	octx, cancel := context.WithTimeout(ctx, max(opts.QueryTimeout, 5*time.Second))
	defer cancel()
	if opts.Schema == "" {
		if opts.Schema, err = chooseSchema(octx, cfg.ConnConfig, session); err != nil {
			return nil, err
		}
	}
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = opts.MaxConns
	delete(cfg.ConnConfig.RuntimeParams, "search_path")
	if !strings.Contains(dsn, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = DefaultQueryExecMode
	}
	pool, err := pgxpool.NewWithConfig(octx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	if err := pool.Ping(octx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connecting: %w", err)
	}
	s, err := open(ctx, pool, session, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

// ConfigurePool sets the search path of cfg's connections to schema.
//
// Deprecated: the store's statements name their schema, so OpenPool needs
// nothing of the pool's configuration. A search path set this way is a
// startup parameter, which a pooler in transaction mode does not keep
// (PgBouncer refuses the connection).
func ConfigurePool(cfg *pgxpool.Config, schema string) {
	if schema == "" {
		schema = DefaultSchema
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
}

// OpenPool is Open over a pool the application already has, so that the
// store and the application share its connections. It creates the schema
// when missing and migrates it, on a connection made from
// Options.ListenDSN or else from the pool's configuration. Behind a pooler
// in transaction mode the pool must not use named prepared statements
// (default_query_exec_mode other than cache_statement; pgx's default is
// cache_statement) and Options.ListenDSN must be set. Close leaves the
// pool open.
func OpenPool(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	session := pool.Config().ConnConfig.Copy()
	if opts.ListenDSN != "" {
		if session, err = pgx.ParseConfig(opts.ListenDSN); err != nil {
			return nil, errors.New("pgstore: the listening database URL is not valid")
		}
	}
	return open(ctx, pool, session, opts)
}

func open(ctx context.Context, pool *pgxpool.Pool, session *pgx.ConnConfig, opts Options) (*Store, error) {
	// The session connection searches the schema, for the migrations,
	// which name no schema: set once connected, since a pooler in
	// transaction mode refuses it as a startup parameter, and Open must
	// get as far as saying so plainly.
	delete(session.RuntimeParams, "search_path")
	s := &Store{pool: conns{raw: pool, q: newQualifier(opts.Schema)}, session: session, timeout: opts.QueryTimeout,
		resync: opts.ResyncInterval, schema: opts.Schema, log: opts.Logger, metrics: opts.Metrics}
	// Each step has its own deadline: migrations may take long.
	step := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, max(opts.QueryTimeout, 5*time.Second))
	}
	qctx, cancel := step()
	defer cancel()
	conn, err := pgx.ConnectConfig(qctx, session.Copy())
	if err != nil {
		return nil, fmt.Errorf("pgstore: connecting for listening: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close(context.Background())
		}
	}()
	if err := s.checkSession(ctx, conn); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(qctx, `SET search_path TO `+pgx.Identifier{opts.Schema}.Sanitize()); err != nil {
		return nil, fmt.Errorf("pgstore: setting the search path: %w", err)
	}
	if opts.Existing {
		v, err := layoutVersion(qctx, conn, s.schema)
		if err != nil {
			return nil, err
		}
		if v == 0 {
			return nil, fmt.Errorf("%w: schema %s holds no users", ErrNoStore, s.schema)
		}
	}
	if err := s.ensureSchema(qctx, conn); err != nil {
		return nil, err
	}
	if err := s.recordHistory(ctx); err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	// The pool sees what the session made: the same database.
	pctx, cancel := step()
	defer cancel()
	var n int
	if err := s.pool.QueryRow(pctx, `SELECT count(*) FROM localauth_migrations`).Scan(&n); err != nil {
		return nil, fmt.Errorf("pgstore: the pool does not see the schema %s that the listening connection migrated: %w", s.schema, err)
	}
	ok, s.idle = true, conn
	return s, nil
}

// checkSession checks that conn is a session of its own on the pool's
// database: a LISTEN on it hears a NOTIFY sent through the pool. Through a
// pooler in transaction mode the LISTEN stays on whatever server
// connection ran it, and conn hears nothing.
func (s *Store) checkSession(ctx context.Context, conn *pgx.Conn) error {
	ch := "localauth_probe_" + strings.ToLower(rand.Text())
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := conn.Exec(ctx, `LISTEN `+ch); err != nil {
		return fmt.Errorf("pgstore: listening: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, ch); err != nil {
		return fmt.Errorf("pgstore: notifying through the pool: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%w: a LISTEN on it heard nothing of a NOTIFY sent through the pool within %v. "+
					"Give it a URL that reaches PostgreSQL directly or through a pooler in session mode "+
					"(Options.ListenDSN; for localauth serve, --listen-db or LOCALAUTH_LISTEN_DB), on the same database", ErrNoSession, s.timeout)
			}
			return fmt.Errorf("pgstore: listening: %w", err)
		}
		if n.Channel == ch {
			break
		}
	}
	if _, err := conn.Exec(ctx, `UNLISTEN `+ch); err != nil {
		return fmt.Errorf("pgstore: listening: %w", err)
	}
	return nil
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
	if c := s.takeIdle(); c != nil {
		c.Close(context.Background())
	}
	if s.ownsPool {
		s.pool.raw.Close()
	}
	return nil
}

// takeIdle returns the session connection Open left, once.
func (s *Store) takeIdle() *pgx.Conn {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	c := s.idle
	s.idle = nil
	return c
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
