package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/localauth/localauth"
)

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

// listFlags is the command line the list commands share (session list,
// device list, activity): --json, and --user NAME, whose name may also
// stand alone as the command's one argument.
type listFlags struct {
	m      *Main
	fs     *flag.FlagSet
	db     *string
	asJSON *bool
	user   *string
}

// listFlags returns the flag set of list command name; userHelp is what
// its --user lists. The command adds flags of its own to fs before parse.
func (m *Main) listFlags(name, userHelp string) *listFlags {
	fs, db := m.flagSet(name)
	return &listFlags{
		m: m, fs: fs, db: db,
		asJSON: fs.Bool("json", false, "print JSON"),
		user:   fs.String("user", "", userHelp),
	}
}

// parse parses args; a name given as the argument is --user's.
func (l *listFlags) parse(args []string) error {
	pos, err := parse(l.fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		if *l.user != "" && *l.user != pos[0] {
			return usagef("%s: name the user once, with --user or as an argument", l.fs.Name())
		}
		*l.user = pos[0]
	}
	return nil
}

// open opens the database and finds the user --user names. Without
// --user the user is the zero User (ID 0), and the command lists every
// user's.
func (l *listFlags) open(ctx context.Context) (*env, localauth.User, error) {
	if *l.user == "" {
		e, err := l.m.open(ctx, *l.db)
		return e, localauth.User{}, err
	}
	return l.m.openUser(ctx, *l.db, *l.user)
}

// printJSON writes v to standard output as indented JSON, as every
// command's --json does.
func (m *Main) printJSON(v any) error {
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
