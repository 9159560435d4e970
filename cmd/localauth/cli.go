package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

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
	// now, when set by a test, is the Service's clock, so that a window
	// or a lifetime can pass without the test waiting it out.
	now func() time.Time
	// ready, when set by a test, is called with the server's URL once it
	// listens.
	ready func(url string)

	// logFormat and quiet are the administrative commands' --log-format
	// and --quiet: how their audit records are written to standard error.
	logFormat string
	quiet     bool

	// schema is --schema: the PostgreSQL schema of the store's tables.
	schema string
	// listenDB is --listen-db: the PostgreSQL URL of a session of its
	// own, for the revocation listener and the migrations.
	listenDB string
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
	"serve":              {"serve [--addr ADDR] [flags]", "run the demo app; 'localauth serve --help' lists its flags", func(m *Main) command { return &serveCmd{m: m} }},
	"user create":        {"user create NAME [--password-stdin]", "create a user; without --password-stdin a random password is printed once", func(m *Main) command { return &userCreateCmd{m: m} }},
	"user list":          {"user list [--json]", "list users", func(m *Main) command { return &userListCmd{m: m} }},
	"user disable":       {"user disable NAME", "disable a user and end its sessions", func(m *Main) command { return &userStateCmd{m: m, verb: "disable"} }},
	"user enable":        {"user enable NAME", "enable a disabled user", func(m *Main) command { return &userStateCmd{m: m, verb: "enable"} }},
	"user set-password":  {"user set-password NAME [--password-stdin]", "set a user's password and end its sessions", func(m *Main) command { return &userSetPasswordCmd{m: m} }},
	"user delete":        {"user delete NAME", "delete a user and its sessions", func(m *Main) command { return &userStateCmd{m: m, verb: "delete"} }},
	"user reset-factors": {"user reset-factors NAME", "remove a user's second factors (TOTP, recovery codes, passkeys) and end its sessions", func(m *Main) command { return &userStateCmd{m: m, verb: "reset-factors"} }},
	"user set-email":     {"user set-email NAME EMAIL [--verified]", "set a user's email address: verified at once, or with a link the running server mails", func(m *Main) command { return &userSetEmailCmd{m: m} }},
	"mail test":          {"mail test --to ADDR [--smtp-url URL --mail-from ADDR]", "send one test mail now, to try the SMTP settings", func(m *Main) command { return &mailTestCmd{m: m} }},
	"session list":       {"session list [--user NAME] [--json]", "list the sessions of a user, or of all users, with the ids 'session revoke --id' takes", func(m *Main) command { return &sessionListCmd{m: m} }},
	"session revoke":     {"session revoke NAME | --id ID", "end every session of a user, or the one session with that id", func(m *Main) command { return &sessionRevokeCmd{m: m} }},
	"device list":        {"device list [--user NAME] [--json]", "list the trusted devices of a user, or of all users, with the ids 'device forget --id' takes", func(m *Main) command { return &deviceListCmd{m: m} }},
	"device forget":      {"device forget --id ID", "end the trust of one device: it counts as a stranger until its next completed login", func(m *Main) command { return &deviceForgetCmd{m: m} }},
	"activity":           {"activity [--user NAME] [--json]", "show the security activity users see on their account page: sign-ins, failures, changes", func(m *Main) command { return &activityCmd{m: m} }},
	"migrate":            {"migrate", "bring the database schema up to date and report its version", func(m *Main) command { return &migrateCmd{m: m} }},
	"version":            {"version", "print the version", func(m *Main) command { return &versionCmd{m: m} }},
	"help":               {"help [COMMAND]", "describe the commands", func(m *Main) command { return &helpCmd{m: m} }},
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// Run finds the command named by args and runs it. Global flags (--db) may
// come before the command's name as well as after it.
func (m *Main) Run(ctx context.Context, args []string) error {
	globals, args := leadingGlobals(args)
	if len(args) == 0 {
		m.printHelp(m.Stdout)
		if len(globals) > 0 {
			return usagef("no command given after %s", globals[0])
		}
		return usagef("no command given")
	}
	name := args[0]
	rest := args[1:]
	if groups[name] {
		more, r := leadingGlobals(rest)
		globals, rest = append(globals, more...), r
		if len(rest) == 0 {
			m.printGroupHelp(m.Stdout, name)
			return usagef("%s needs a subcommand; see 'localauth help %s'", name, name)
		}
		if isHelpFlag(rest[0]) {
			m.printGroupHelp(m.Stdout, name)
			return nil
		}
		name += " " + rest[0]
		rest = rest[1:]
	}
	if isHelpFlag(name) {
		name = "help"
	}
	info, ok := commands[name]
	if !ok {
		return usagef("unknown command %q; see 'localauth help'", name)
	}
	// A global flag given both before the command and among its
	// arguments would leave one of the two silently ignored.
	for _, g := range globals {
		name, _, ok := globalFlag(g)
		if !ok {
			continue
		}
		for _, a := range rest {
			if other, _, ok := globalFlag(a); ok && other == name {
				return usagef("--%s is given twice, before and after the command; give it once", name)
			}
		}
	}
	// The command's own parser takes flags anywhere among its arguments.
	err := info.new(m).Run(ctx, append(rest, globals...))
	var h helpRequested
	if errors.As(err, &h) {
		m.printCommandHelp(m.Stdout, name, h.fs)
		return nil
	}
	return err
}

// groups are the words that take a subcommand ("user create").
var groups = map[string]bool{"user": true, "session": true, "device": true, "mail": true}

func isHelpFlag(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// globalFlags are the flags every command takes, which may also stand
// before the command's name.
var globalFlags = []string{"db", "schema", "listen-db"}

// leadingGlobals splits off the global flags (--db PATH, --schema NAME, or
// --db=PATH…) that stand before a command's name.
func leadingGlobals(args []string) (globals, rest []string) {
	for len(args) > 0 {
		name, hasValue, ok := globalFlag(args[0])
		switch {
		case !ok:
			return globals, args
		case hasValue:
			globals, args = append(globals, args[0]), args[1:]
		case len(args) < 2:
			return append(globals, "--"+name), nil // the command's parser reports the missing value
		default:
			globals, args = append(globals, args[0], args[1]), args[2:]
		}
	}
	return globals, args
}

// globalFlag reports whether arg is a global flag, and whether it carries
// its value ("--db=x").
func globalFlag(arg string) (name string, hasValue, ok bool) {
	a := strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	if a == arg {
		return "", false, false
	}
	name, _, hasValue = strings.Cut(a, "=")
	for _, g := range globalFlags {
		if name == g {
			return name, hasValue, true
		}
	}
	return "", false, false
}

// helpRequested is what parse returns for -h or --help: Run prints the
// command's help and exits 0.
type helpRequested struct{ fs *flag.FlagSet }

func (helpRequested) Error() string { return "help requested" }

func (m *Main) printHelp(w io.Writer) {
	fmt.Fprintln(w, "localauth: local username and password authentication for Go web apps")
	fmt.Fprintln(w, "\nUsage:")
	m.printCommands(w, "")
	fmt.Fprintln(w, "\n"+dbHelp)
	fmt.Fprintln(w, "Run 'localauth help COMMAND' (or 'localauth COMMAND --help') for a command's flags.")
}

// dbHelp says where every command finds its database.
const dbHelp = "Every command takes --db: a SQLite file, or a PostgreSQL URL (postgres://…) or\n" +
	"connection string (host=… dbname=…). Without --db: $LOCALAUTH_DB, else localauth.db.\n" +
	"On PostgreSQL the tables live in schema localauth (--schema or $LOCALAUTH_SCHEMA to change it);\n" +
	"behind a pooler in transaction mode, --listen-db (or $LOCALAUTH_LISTEN_DB) names a direct URL."

// printCommands lists the commands whose names start with prefix.
func (m *Main) printCommands(w io.Writer, prefix string) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  localauth %-50s %s\n", commands[n].usage, commands[n].summary)
	}
}

// printGroupHelp describes the subcommands of "user", "session" or
// "device".
func (m *Main) printGroupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage of 'localauth %s':\n", group)
	m.printCommands(w, group+" ")
	fmt.Fprintln(w, "\n"+dbHelp)
}

// printCommandHelp describes one command and its flags.
func (m *Main) printCommandHelp(w io.Writer, name string, fs *flag.FlagSet) {
	info := commands[name]
	fmt.Fprintf(w, "usage: localauth %s\n\n%s.\n\nflags:\n", info.usage, info.summary)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		fmt.Fprintf(w, "  --%s%s\n    \t%s", f.Name, arg, usage)
		switch {
		case f.Name == "db":
			fmt.Fprint(w, " (default: $LOCALAUTH_DB, else localauth.db)")
		case f.Name == "schema":
			fmt.Fprint(w, " (default: $LOCALAUTH_SCHEMA, else a search_path in the URL, else where an earlier version's tables are, else localauth)")
		case f.Name == "listen-db":
			fmt.Fprint(w, " (default: $LOCALAUTH_LISTEN_DB, else --db)")
		case f.DefValue != "" && f.DefValue != "false":
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// flagSet returns a flag set that reports errors instead of printing, with
// the --db flag every command has. The administrative commands (user,
// session, migrate) also get --log-format and --quiet for their audit
// records.
func (m *Main) flagSet(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	db := fs.String("db", m.envOr("LOCALAUTH_DB", "localauth.db"), "`path` of a SQLite file, or a PostgreSQL URL or connection string")
	schemaHelp := "PostgreSQL only: the `schema` of the store's tables; it must hold them already (make it with 'localauth migrate')"
	if creates[name] {
		schemaHelp = "PostgreSQL only: the `schema` of the store's tables, created if missing"
	}
	fs.StringVar(&m.schema, "schema", m.Getenv("LOCALAUTH_SCHEMA"), schemaHelp)
	fs.StringVar(&m.listenDB, "listen-db", m.Getenv("LOCALAUTH_LISTEN_DB"), "PostgreSQL only: a `URL` that reaches the database directly (or through a pooler in session mode), for listening to revocations and migrating, when --db goes through a pooler in transaction mode")
	switch {
	case name == "serve":
		m.logFormat = "text"
		fs.Func("log-format", "the server's log records on standard error as `text` or json (default text)", m.setLogFormat)
	case name == "migrate" || groups[strings.Fields(name)[0]]:
		m.logFormat = "text"
		fs.Func("log-format", "audit records on standard error as `text` or json (default text)", m.setLogFormat)
		fs.BoolVar(&m.quiet, "quiet", false, "write no audit records; errors are still reported")
	}
	return fs, db
}

// creates names the commands that make a database, or a PostgreSQL schema,
// that does not exist yet; every other command refuses a missing one.
var creates = map[string]bool{"serve": true, "migrate": true, "user create": true}

// setLogFormat is --log-format.
func (m *Main) setLogFormat(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("%q is neither text nor json", v)
	}
	m.logFormat = v
	return nil
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
				return nil, helpRequested{fs}
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
	case errors.Is(err, localauth.ErrUserExists) || errors.Is(err, localauth.ErrUsernameConfusable):
		msg, _ := localauth.PublicUsernameTaken(err, name)
		return errors.New(strings.TrimSuffix(msg, "."))
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

// logger writes the audit records of an administrative command to
// standard error: text by default, JSON with --log-format json, nothing
// with --quiet. The records carry their own UTC time ("at"), so the
// handler's local-time stamp is left out.
func (m *Main) logger() *slog.Logger {
	if m.quiet {
		return discard()
	}
	opts := &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}
	if m.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(m.Stderr, opts))
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

// serverLogger writes the server's records to standard error, time in UTC,
// all in the one format --log-format chose: text (the default, for a
// terminal) or JSON (for a log pipeline).
func (m *Main) serverLogger() *slog.Logger {
	opts := &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				a.Value = slog.TimeValue(a.Value.Time().UTC())
			}
			return a
		},
	}
	if m.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(m.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(m.Stderr, opts))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
