package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/sqlitestore"
)

// Main is the program with its environment injected, so that tests run it
// end to end in process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string

	// weakCost, when set by a test, replaces the bcrypt cost with a cost
	// below the production minimum, for speed.
	weakCost int
	// ready, when set by a test, is called with the server's URL once it
	// listens.
	ready func(url string)
}

// command is one verb of the CLI.
type command interface {
	// Run runs the command with the arguments that follow its name.
	Run(ctx context.Context, args []string) error
}

type commandInfo struct {
	usage   string // e.g. "user create NAME [--password-stdin]"
	summary string
	new     func(m *Main) command
}

// commands maps each verb, as typed, to its command.
var commands = map[string]commandInfo{
	"serve":             {"serve [--addr ADDR] [--db DB] [--tls-cert FILE --tls-key FILE] [--token-storage localstorage|cookie] [--trusted-proxies CIDRS]", "run the demo app", func(m *Main) command { return &serveCmd{m: m} }},
	"user create":       {"user create NAME [--password-stdin]", "create a user; without --password-stdin a random password is printed once", func(m *Main) command { return &userCreateCmd{m: m} }},
	"user list":         {"user list [--json]", "list users", func(m *Main) command { return &userListCmd{m: m} }},
	"user disable":      {"user disable NAME", "disable a user and end its sessions", func(m *Main) command { return &userStateCmd{m: m, verb: "disable"} }},
	"user enable":       {"user enable NAME", "enable a disabled user", func(m *Main) command { return &userStateCmd{m: m, verb: "enable"} }},
	"user set-password": {"user set-password NAME [--password-stdin]", "set a user's password and end its sessions", func(m *Main) command { return &userSetPasswordCmd{m: m} }},
	"user delete":       {"user delete NAME", "delete a user and its sessions", func(m *Main) command { return &userStateCmd{m: m, verb: "delete"} }},
	"session list":      {"session list [NAME] [--json]", "list the sessions of a user, or of all users", func(m *Main) command { return &sessionListCmd{m: m} }},
	"session revoke":    {"session revoke NAME", "end every session of a user", func(m *Main) command { return &sessionRevokeCmd{m: m} }},
	"bench":             {"bench [--duration 5s] [--cost 12] [--tabs 10000] [--sessions 1000000]", "measure the benchmark table against a server it starts on loopback", func(m *Main) command { return &benchCmd{m: m} }},
	"migrate":           {"migrate", "bring the database schema up to date and report its version", func(m *Main) command { return &migrateCmd{m: m} }},
	"version":           {"version", "print the version", func(m *Main) command { return &versionCmd{m: m} }},
	"help":              {"help [COMMAND]", "describe the commands", func(m *Main) command { return &helpCmd{m: m} }},
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Run finds the command named by args and runs it.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.printHelp(m.Stdout)
		return usagef("no command given")
	}
	name := args[0]
	rest := args[1:]
	if name == "user" || name == "session" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return usagef("%s needs a subcommand; see 'localauth help'", name)
		}
		name += " " + rest[0]
		rest = rest[1:]
	}
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	info, ok := commands[name]
	if !ok {
		return usagef("unknown command %q; see 'localauth help'", name)
	}
	return info.new(m).Run(ctx, rest)
}

func (m *Main) printHelp(w io.Writer) {
	fmt.Fprintln(w, "localauth: local username and password authentication for Go web apps")
	fmt.Fprintln(w, "\nUsage:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  localauth %-50s %s\n", commands[n].usage, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --db: a SQLite file (default localauth.db) or a postgres:// URL; or $LOCALAUTH_DB.")
}

// flagSet returns a flag set that reports errors instead of printing, with
// the --db flag every command has.
func (m *Main) flagSet(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	db := fs.String("db", m.envOr("LOCALAUTH_DB", "localauth.db"), "database: a SQLite file path, or a postgres:// URL")
	return fs, db
}

func (m *Main) envOr(key, def string) string {
	if v := m.Getenv(key); v != "" {
		return v
	}
	return def
}

// parse parses flags placed anywhere among the arguments ("user create
// alice --password-stdin" as well as "user create --password-stdin alice")
// and returns the positional arguments, checking their count.
func parse(fs *flag.FlagSet, args []string, minPos, maxPos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usagef("%s: see 'localauth help %s'", fs.Name(), fs.Name())
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minPos || len(pos) > maxPos {
		return nil, usagef("%s: wrong number of arguments; usage: localauth %s", fs.Name(), commands[fs.Name()].usage)
	}
	return pos, nil
}

// env is an open store and a service over it, for one command.
type env struct {
	svc   *localauth.Service
	store localauth.Store
	close func()
}

// open opens the database and a service for an administrative command.
// Audit records of the command go to standard error.
func (m *Main) open(ctx context.Context, db string) (*env, error) {
	st, closeStore, err := openStore(ctx, db)
	if err != nil {
		return nil, err
	}
	cfg, err := m.serviceConfig()
	if err != nil {
		closeStore()
		return nil, err
	}
	cfg.PurgeInterval = -1
	svc, err := localauth.New(st, cfg)
	if err != nil {
		closeStore()
		return nil, err
	}
	return &env{svc: svc, store: st, close: func() { svc.Close(); closeStore() }}, nil
}

// openStore opens the store a --db value names.
func openStore(ctx context.Context, db string) (localauth.Store, func(), error) {
	if db == "" {
		return nil, nil, usagef("--db is empty")
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		st, err := pgstore.Open(ctx, db, pgstore.Options{})
		if err != nil {
			// The URL may hold a password: name only the kind of database.
			return nil, nil, fmt.Errorf("opening the PostgreSQL database: %w", err)
		}
		return st, func() { st.Close() }, nil
	}
	st, err := sqlitestore.Open(ctx, db, sqlitestore.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("opening database %s: %w", db, err)
	}
	return st, func() { st.Close() }, nil
}

// userByName finds a user or explains that there is none.
func (e *env) userByName(ctx context.Context, name string) (localauth.User, error) {
	u, err := e.svc.UserByName(ctx, name)
	if errors.Is(err, localauth.ErrUserNotFound) {
		return u, fmt.Errorf("no user %q", name)
	}
	return u, explain(err, name)
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

// readPassword reads one line from standard input.
func (m *Main) readPassword() (string, error) {
	const limit = 64 << 10
	b, err := io.ReadAll(io.LimitReader(m.Stdin, limit+1))
	if err != nil {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	if len(b) > limit {
		return "", errors.New("the password on standard input is too long")
	}
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		if strings.TrimSpace(s[i+1:]) != "" {
			return "", errors.New("standard input has more than one line; give the password alone")
		}
		s = s[:i]
	}
	s = strings.TrimSuffix(s, "\r")
	if s == "" {
		return "", errors.New("no password on standard input")
	}
	return s, nil
}

// explain turns a service error into a sentence for the terminal.
func explain(err error, name string) error {
	var pe *localauth.PolicyError
	switch {
	case errors.As(err, &pe):
		return errors.New(strings.TrimSuffix(pe.Message, "."))
	case errors.Is(err, localauth.ErrUserExists):
		canonical, _ := localauth.CanonicalUsername(name)
		return fmt.Errorf("a user named %q already exists (usernames ignore case and width: %q is taken)", name, canonical)
	case errors.Is(err, localauth.ErrUnavailable):
		// An administrator at the terminal may see the cause.
		var multi interface{ Unwrap() []error }
		if errors.As(err, &multi) {
			for _, cause := range multi.Unwrap() {
				if cause != localauth.ErrUnavailable {
					return fmt.Errorf("the database failed: %v", cause)
				}
			}
		}
	}
	return err
}

// logger writes text records to standard error. The audit records carry
// their own UTC time ("at"), so the handler's local-time stamp is left out.
func (m *Main) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
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
	return cfg, nil
}

// serverLogger writes JSON records to standard error, time in UTC.
func (m *Main) serverLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(m.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				a.Value = slog.TimeValue(a.Value.Time().UTC())
			}
			return a
		},
	}))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
