package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/localauth/localauth"
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
