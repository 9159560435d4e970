// Package sqlitestore is the embedded SQLite Store for localauth, the
// default: a single file, no server, no cgo (modernc.org/sqlite).
//
// The database runs in WAL mode with foreign keys on, a busy timeout, and
// synchronous=FULL, so that an acknowledged registration, login or logout
// survives a crash of the process or of the machine. Writes go through one
// connection, which serializes them inside the process without SQLITE_BUSY;
// reads use a pool and run beside writes. Other processes (the admin CLI) may
// open the same file at the same time.
//
// The schema is migrated with goose at Open, from migrations embedded in the
// binary.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/localauth/localauth"
	sqlmigrations "github.com/localauth/localauth/sqlitestore/migrations"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tunes a Store. The zero value is the default configuration.
type Options struct {
	// BusyTimeout is how long a write waits for another process's write
	// lock. Default 5s.
	BusyTimeout time.Duration

	// MaxReadConns bounds the read connection pool. Default: the number of
	// CPUs, at least 4.
	MaxReadConns int

	// PollInterval is how often the revocation log is read for sessions
	// ended by other processes. Default 100ms.
	PollInterval time.Duration

	// Now is the clock for the revocation log. Default time.Now.
	Now func() time.Time
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

// Store is a localauth.Store on a SQLite file. It is safe for concurrent
// use.
type Store struct {
	write *sql.DB
	read  *sql.DB
	poll  time.Duration
	now   func() time.Time
}

// Open opens (creating if needed) the database file at path and migrates it
// to the current schema. A new file, and a missing directory made for it
// (only one level), are private to the owner (0600 and 0700).
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlitestore: database path %q may not contain '?' or '#'", path)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxReadConns <= 0 {
		opts.MaxReadConns = max(4, runtime.NumCPU())
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	// Reads through a memory map skip a system call per page: lookups stay
	// flat as the sessions table grows past the page cache.
	q.Add("_pragma", "mmap_size(268435456)")
	q.Set("_txlock", "immediate")
	dsn := path + "?" + q.Encode()

	write, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlitestore: opening %s: %w", path, err)
	}
	read.SetMaxOpenConns(opts.MaxReadConns)
	read.SetMaxIdleConns(opts.MaxReadConns)
	s := &Store{write: write, read: read, poll: opts.PollInterval, now: opts.Now}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies the embedded migrations. Two processes opening a new file
// at once may race to apply the same migration; the loser finds nothing
// pending afterwards and carries on.
func (s *Store) migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		if pending, perr := p.HasPending(ctx); perr == nil && !pending {
			return nil
		}
		return fmt.Errorf("sqlitestore: migrating the schema: %w", err)
	}
	return nil
}

func (s *Store) provider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, s.write, sub, goose.WithGoMigrations(sqlmigrations.Skeleton))
}

// SchemaVersion returns the schema version the database is at and the
// latest one this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

// inTx runs fn in one write transaction (BEGIN IMMEDIATE), committing when
// it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// affected runs a statement on the write connection and returns how many
// rows it changed.
func (s *Store) affected(ctx context.Context, query string, args ...any) (int, error) {
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }
