package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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
