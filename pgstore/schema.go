package pgstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"

	pgmigrations "github.com/localauth/localauth/pgstore/migrations"
)

// ensureSchema creates the store's schema when it is missing, on conn,
// the session connection. It asks for the CREATE privilege only when the
// schema is missing, so that a role that may not create schemas runs in
// one made for it by an administrator.
func (s *Store) ensureSchema(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
		return fmt.Errorf("pgstore: looking for schema %s: %w", s.schema, err)
	}
	if !exists {
		// Under a lock: two instances creating it at once would race
		// even with IF NOT EXISTS (a unique violation in pg_namespace).
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
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
	return nil
}

// chooseSchema picks the schema when Options.Schema is empty: the first of
// the URL's search_path, so that a deployment that named its schema that
// way keeps it; else the connection's default schema when an earlier
// version left the store's tables there (they are used in place: moving
// them would break instances of that version still running); else
// DefaultSchema. It reads the catalog on a session connection.
func chooseSchema(ctx context.Context, pool, session *pgx.ConnConfig) (string, error) {
	for _, cfg := range []*pgx.ConnConfig{pool, session} {
		if sp := cfg.RuntimeParams["search_path"]; sp != "" {
			first, _, _ := strings.Cut(sp, ",")
			return strings.Trim(strings.TrimSpace(first), `"`), nil
		}
	}
	conn, err := pgx.ConnectConfig(ctx, session.Copy())
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

// sessionDB opens database/sql connections of the session's kind,
// searching the schema, for goose.
func (s *Store) sessionDB() *sql.DB {
	search := `SET search_path TO ` + pgx.Identifier{s.schema}.Sanitize()
	return stdlib.OpenDB(*s.session.Copy(), stdlib.OptionAfterConnect(func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, search)
		return err
	}))
}

// sqlQuerier reads through database/sql.
type sqlQuerier struct{ tx *sql.Tx }

func (q sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return q.tx.QueryRowContext(ctx, query, args...)
}

// layoutVersion reads which of the store's migrations a schema's tables
// show applied: 0 when the schema does not hold the store's tables. It
// trusts the tables, not a version number, so that a goose history shared
// with an application cannot mislead it. Each migration leaves a column or
// a table only it makes; the version is the last of an unbroken run.
func layoutVersion(ctx context.Context, q querier, schema string) (int64, error) {
	marks := layoutMarks
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
		v = m.version
	}
	return v, nil
}

// layoutMarks names, for each of the store's migrations in order, a column
// only that migration makes. Every migration in migrations/ has a mark
// here (TestLayoutMarksEveryMigration holds that).
var layoutMarks = []struct {
	version       int64
	table, column string
}{
	{1, "users", "password_hash"}, // with sessions.token_hash and revocations
	{2, "throttle", "count"},
	{3, "users", "credential_version"},
	{4, "users", "skeleton"},
	{5, "devices", "token_hash"},
	{6, "sessions", "public_id"},
	{7, "totp", "sealed"},
	{8, "devices", "public_id"},
	{9, "passkeys", "user_handle"},
	{10, "users", "email_key"},
	{11, "activity", "first_at"},
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
	db := s.sessionDB()
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
	version, err := layoutVersion(ctx, sqlQuerier{tx}, s.schema)
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
	applied := []int64{0}
	for _, m := range layoutMarks {
		if m.version <= version {
			applied = append(applied, m.version)
		}
	}
	for _, v := range applied {
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
	// On the session connection: its search path names the schema for
	// the migrations' statements, and the lock is a session's.
	db := s.sessionDB()
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
// latest one this binary knows, read on a session connection.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, closeDB, err := s.provider()
	if err != nil {
		return 0, 0, err
	}
	defer closeDB()
	return p.GetVersions(ctx)
}
