package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/sqlitestore"
)

// env is an open store and a service over it, for one command.
type env struct {
	svc   *localauth.Service
	store localauth.Store
	close func()
}

// open opens the existing database and a service for an administrative
// command. Audit records of the command go to standard error.
func (m *Main) open(ctx context.Context, db string) (*env, error) {
	return m.openEnv(ctx, db, false)
}

// openEnv is open; create allows a new SQLite database (user create).
func (m *Main) openEnv(ctx context.Context, db string, create bool) (*env, error) {
	if err := checkDB(db, create); err != nil {
		return nil, err
	}
	st, closeStore, err := m.openStoreMetrics(ctx, db, nil, !create)
	if err != nil {
		return nil, err
	}
	warnPermissive(m.Stderr, db)
	cfg, err := m.serviceConfig()
	if err != nil {
		closeStore()
		return nil, err
	}
	cfg.PurgeInterval = -1
	cfg.NoClientAddress = true // an administrator at a terminal, not a network client
	svc, err := localauth.New(st, cfg)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &env{svc: svc, store: st, close: func() { svc.Close(); closeStore() }}, nil
}

// openStore opens the store a --db value names.
func (m *Main) openStore(ctx context.Context, db string) (localauth.Store, func(), error) {
	return m.openStoreMetrics(ctx, db, nil, false)
}

// openStoreMetrics is openStore with the metrics a PostgreSQL store reports
// (the revocation delay between instances); m may be nil.
// existing refuses a PostgreSQL schema without the store's tables, as a
// missing SQLite file is refused, instead of making an empty store.
func (m *Main) openStoreMetrics(ctx context.Context, db string, metrics localauth.Metrics, existing bool) (localauth.Store, func(), error) {
	if db == "" {
		return nil, nil, usagef("--db is empty")
	}
	if isPostgres(db) {
		if p := pgScheme(db); p != "" {
			db = strings.ToLower(p) + db[len(p):] // pgx knows only lower-case schemes
		}
		listen := m.listenDB
		if p := pgScheme(listen); p != "" {
			listen = strings.ToLower(p) + listen[len(p):]
		}
		if listen != "" && !isPostgres(listen) {
			return nil, nil, usagef("--listen-db must be a PostgreSQL URL or connection string")
		}
		st, err := pgstore.Open(ctx, db, pgstore.Options{Metrics: metrics, Schema: m.schema, Existing: existing, ListenDSN: listen})
		if errors.Is(err, pgstore.ErrNoStore) {
			// "no localauth store here: schema X holds no users"
			return nil, nil, fmt.Errorf("%s; create it with 'localauth migrate', or name the right schema with --schema", strings.TrimPrefix(err.Error(), "pgstore: "))
		}
		if err != nil {
			// The URL may hold a password: name only the kind of database.
			return nil, nil, fmt.Errorf("opening the PostgreSQL database: %w", err)
		}
		return st, func() { st.Close() }, nil
	}
	if m.listenDB != "" {
		return nil, nil, usagef("--listen-db is for a PostgreSQL --db")
	}
	if err := checkDB(db, true); err != nil {
		return nil, nil, err
	}
	st, err := sqlitestore.Open(ctx, db, sqlitestore.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("opening database %s: %w", redactDSN(db), err)
	}
	return st, func() { st.Close() }, nil
}

// isPostgres reports whether a --db value names a PostgreSQL database: a
// postgres:// or postgresql:// URL in any case, or a keyword/value
// connection string such as "host=localhost dbname=app" (any of libpq's
// connection keywords, spaces around "=" allowed).
func isPostgres(db string) bool {
	if pgScheme(db) != "" {
		return true
	}
	return !strings.Contains(db, "://") && pgKeywordRE.MatchString(db)
}

var pgKeywordRE = regexp.MustCompile(`(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|service|sslmode|sslrootcert|connect_timeout|application_name|options|target_session_attrs)\s*=`)

// pgScheme returns the postgres:// or postgresql:// prefix of db, in the
// case it was typed, or "".
func pgScheme(db string) string {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if len(db) >= len(p) && strings.EqualFold(db[:len(p)], p) {
			return db[:len(p)]
		}
	}
	return ""
}

// urlScheme returns the scheme of a --db value shaped like a URL
// ("postgress://…", "mysql://…"), or "" for anything else: such a value is a
// mistyped or unsupported database, never a SQLite file to create.
func urlScheme(db string) string {
	scheme, _, ok := strings.Cut(db, "://")
	if !ok || !urlSchemeRE.MatchString(scheme) {
		return ""
	}
	return scheme
}

var urlSchemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// checkDB explains a SQLite path that cannot be right before anything is
// created: a database that does not exist for a command that only reads or
// changes one, or a directory that does not exist. PostgreSQL values pass.
func checkDB(db string, create bool) error {
	if db == "" || isPostgres(db) {
		return nil
	}
	if scheme := urlScheme(db); scheme != "" {
		return usagef("--db %s: %q is not a kind of database localauth knows; give a PostgreSQL URL (postgres:// or postgresql://), a connection string (host=… dbname=…) or the path of a SQLite file",
			redactDSN(db), scheme)
	}
	if _, err := os.Stat(db); err == nil {
		return nil
	}
	if !create {
		shown := redactDSN(db)
		return fmt.Errorf("no database at %s (create it with 'localauth migrate --db %s')", shown, shown)
	}
	// sqlitestore creates one missing directory level; more is a mistake.
	parent := filepath.Dir(filepath.Dir(db))
	if _, err := os.Stat(parent); err != nil {
		return fmt.Errorf("no directory %s to create the database %s in", redactDSN(parent), redactDSN(db))
	}
	return nil
}

// userByName finds a user or explains that there is none.
func (e *env) userByName(ctx context.Context, name string) (localauth.User, error) {
	u, err := e.svc.UserByName(ctx, name)
	if errors.Is(err, localauth.ErrUserNotFound) {
		return u, fmt.Errorf("no user %q", name)
	}
	return u, explain(err, name)
}

// usernames maps every user's id to its name, for the lists that show
// whose each row is.
func (e *env) usernames(ctx context.Context) (map[int64]string, error) {
	users, err := e.svc.Users(ctx)
	if err != nil {
		return nil, explain(err, "")
	}
	names := make(map[int64]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Username
	}
	return names, nil
}

// openUser opens the database for a command that names one user, and
// finds the user.
func (m *Main) openUser(ctx context.Context, db, name string) (*env, localauth.User, error) {
	e, err := m.open(ctx, db)
	if err != nil {
		return nil, localauth.User{}, err
	}
	u, err := e.userByName(ctx, name)
	if err != nil {
		e.close()
		return nil, localauth.User{}, err
	}
	return e, u, nil
}

// serviceConfig is the Config every command shares: the bcrypt cost from
// $LOCALAUTH_BCRYPT_COST (default 12, at least 10) and the logger.
func (m *Main) serviceConfig() (localauth.Config, error) {
	cfg := localauth.Config{Logger: m.logger()}
	if v := m.Getenv("LOCALAUTH_BCRYPT_COST"); v != "" {
		cost, err := strconv.Atoi(v)
		if err != nil {
			return cfg, usagef("LOCALAUTH_BCRYPT_COST=%q is not a number", v)
		}
		cfg.Hasher = localauth.BcryptHasher{Cost: cost}
	}
	if m.weakCost > 0 {
		cfg.Hasher = localauth.BcryptHasher{Cost: m.weakCost}
		cfg.AllowWeakCost = true
	}
	if m.now != nil {
		cfg.Now = m.now
	}
	return cfg, nil
}
