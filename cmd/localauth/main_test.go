package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
)

// TestMain removes the binary the child-process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	testkit.RemoveBuilds()
	os.Exit(code)
}

// CLI runs the command line in process against one database file.
type CLI struct {
	tb testing.TB
	db string
}

func NewCLI(tb testing.TB) *CLI {
	return &CLI{tb: tb, db: filepath.Join(tb.TempDir(), "cli.db")}
}

func (c *CLI) Run(stdin string, args ...string) (stdout, stderr string, err error) {
	c.tb.Helper()
	var out, errOut bytes.Buffer
	m := &Main{
		Stdin:    strings.NewReader(stdin),
		Stdout:   &out,
		Stderr:   &errOut,
		weakCost: 4,
		Getenv: func(k string) string {
			if k == "LOCALAUTH_DB" {
				return c.db
			}
			return ""
		},
	}
	err = m.Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

func (c *CLI) MustRun(stdin string, args ...string) string {
	c.tb.Helper()
	out, errOut, err := c.Run(stdin, args...)
	if err != nil {
		c.tb.Fatalf("localauth %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func (c *CLI) Users() []localauth.User {
	c.tb.Helper()
	var us []localauth.User
	if err := json.Unmarshal([]byte(c.MustRun("", "user", "list", "--json")), &us); err != nil {
		c.tb.Fatal(err)
	}
	return us
}

const pw = "correct horse battery staple\n"

func TestUserLifecycle(t *testing.T) {
	c := NewCLI(t)
	out := c.MustRun(pw, "user", "create", "alice", "--password-stdin")
	if !strings.Contains(out, "created user alice") {
		t.Fatalf("user create printed %q", out)
	}
	if strings.Contains(out, "correct horse") {
		t.Fatal("user create echoed the password it read")
	}
	if list := c.MustRun("", "user", "list"); !strings.Contains(list, "alice") {
		t.Fatalf("user list: %q", list)
	}
	for _, dup := range []string{"Alice", "ＡＬＩＣＥ"} {
		_, errOut, err := c.Run(pw, "user", "create", dup, "--password-stdin")
		if err == nil || !strings.Contains(err.Error(), "is already registered") {
			t.Fatalf("user create %s: got %v, want the 'is already registered' refusal", dup, err)
		}
		if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
			t.Fatalf("stack trace on stderr: %s", errOut)
		}
	}
	c.MustRun("", "user", "disable", "alice")
	if us := c.Users(); len(us) != 1 || us[0].Enabled {
		t.Fatalf("after disable: %+v", us)
	}
	if out := c.MustRun("", "user", "disable", "alice"); out != "user alice is already disabled\n" {
		t.Fatalf("disabling a disabled user printed %q", out)
	}
	c.MustRun("", "user", "enable", "ALICE")
	if us := c.Users(); !us[0].Enabled {
		t.Fatalf("after enable: %+v", us)
	}
	c.MustRun("a fresh long passphrase\n", "user", "set-password", "alice", "--password-stdin")
	// Deleting asks first; no answer or "n" changes nothing.
	if _, errOut, err := c.Run("", "user", "delete", "alice"); err == nil || !strings.Contains(err.Error(), "--yes") || !strings.Contains(errOut, "[y/N]") {
		t.Fatalf("user delete without an answer: %v, stderr %q", err, errOut)
	}
	if _, _, err := c.Run("n\n", "user", "delete", "alice"); err == nil || len(c.Users()) != 1 {
		t.Fatalf("user delete answered n: %v, users %+v", err, c.Users())
	}
	c.MustRun("y\n", "user", "delete", "alice")
	if us := c.Users(); len(us) != 0 {
		t.Fatalf("after delete: %+v", us)
	}
}

// Without --password-stdin, a random password is generated, printed once,
// and works.
func TestGeneratedPassword(t *testing.T) {
	c := NewCLI(t)
	out := c.MustRun("", "user", "create", "bob")
	var generated string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "password: "); ok {
			generated = p
		}
	}
	if len(generated) < 20 {
		t.Fatalf("no generated password in %q", out)
	}
	e := openEnv(t, c.db)
	if _, err := e.svc.Login(context.Background(), "bob", generated); err != nil {
		t.Fatalf("the printed password does not log in: %v", err)
	}
}

func openEnv(t *testing.T, db string) *env {
	t.Helper()
	m := &Main{Stderr: &bytes.Buffer{}, weakCost: 4, Getenv: func(string) string { return "" }}
	e, err := m.open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e
}

// C13: the CLI applies the same password and username rules as every
// other pathway, and refuses bad input with one line and no change.
func TestBadInput(t *testing.T) {
	c := NewCLI(t)
	c.MustRun(pw, "user", "create", "carol", "--password-stdin")
	cases := []struct {
		stdin string
		args  []string
		usage bool
		want  string
	}{
		{"password\n", []string{"user", "create", "dave", "--password-stdin"}, false, "too common"},
		{"short\n", []string{"user", "create", "dave", "--password-stdin"}, false, "too short"},
		{"dave-the-user\n", []string{"user", "create", "Dave-The-User", "--password-stdin"}, false, "same as the username"},
		{"", []string{"user", "create", "dave", "--password-stdin"}, false, "no password"},
		{"one\ntwo\n", []string{"user", "create", "dave", "--password-stdin"}, false, "more than one line"},
		{"bad\x00password-here\n", []string{"user", "create", "dave", "--password-stdin"}, false, "control"},
		{pw, []string{"user", "create", "\u0430lice", "--password-stdin"}, false, "alphabets"},
		{pw, []string{"user", "create", "al ice", "--password-stdin"}, false, "spaces"},
		{pw, []string{"user", "create", "' OR '1'='1", "--password-stdin"}, false, "spaces"},
		{pw, []string{"user", "create", "<script>alert(1)</script>", "--password-stdin"}, false, "letters, digits"},
		{"", []string{"user", "create"}, true, "wrong number of arguments"},
		{"", []string{"user", "create", "a", "b"}, true, "wrong number of arguments"},
		{"", []string{"user", "create", "x", "--bogus"}, true, "flag provided but not defined"},
		{"", []string{"user"}, true, "needs a subcommand"},
		{"", []string{"frobnicate"}, true, "unknown command"},
		{"", []string{"user", "disable", "nobody"}, false, `no user "nobody"`},
		{"", []string{"session", "revoke", "nobody"}, false, `no user "nobody"`},
		{"", []string{"user", "list", "--db", ""}, true, "--db is empty"},
		{"", []string{"user", "list", "--db", "/nonexistent/dir/x.db"}, false, "no database at /nonexistent/dir/x.db"},
		{pw, []string{"user", "create", "dave", "--password-stdin", "--db", "/nonexistent/dir/x.db"}, false, "no directory /nonexistent"},
		{"", []string{"migrate", "--db", "x.db?mode=ro"}, false, "may not contain"},
	}
	for _, tt := range cases {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, err := c.Run(tt.stdin, tt.args...)
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", !tt.usage, tt.usage, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is more than one line: %q", err)
			}
			if strings.Contains(errOut, "password-here") || strings.Contains(errOut, "goroutine ") {
				t.Errorf("stderr leaks: %s", errOut)
			}
		})
	}
	if us := c.Users(); len(us) != 1 || us[0].Username != "carol" {
		t.Fatalf("bad input changed the users: %+v", us)
	}
}

func TestSessions(t *testing.T) {
	c := NewCLI(t)
	c.MustRun(pw, "user", "create", "erin", "--password-stdin")
	c.MustRun(pw, "user", "create", "frank", "--password-stdin")
	e := openEnv(t, c.db)
	ctx := context.Background()
	for _, name := range []string{"erin", "erin", "frank"} {
		if _, err := e.svc.Login(ctx, name, strings.TrimSpace(pw)); err != nil {
			t.Fatal(err)
		}
	}
	var rows []sessionRow
	if err := json.Unmarshal([]byte(c.MustRun("", "session", "list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("session list: %d rows, want 3", len(rows))
	}
	if err := json.Unmarshal([]byte(c.MustRun("", "session", "list", "erin", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Username != "erin" || len(rows[0].PublicID) != 22 {
		t.Fatalf("session list erin: %+v", rows)
	}
	var byFlag []sessionRow
	json.Unmarshal([]byte(c.MustRun("", "session", "list", "--user", "erin", "--json")), &byFlag)
	if len(byFlag) != 2 || byFlag[0].PublicID != rows[0].PublicID {
		t.Fatalf("session list --user erin: %+v", byFlag)
	}
	// The id the list prints is the one revoke --id takes.
	out := c.MustRun("", "session", "revoke", "--id", rows[0].PublicID)
	if !strings.Contains(out, "ended session "+rows[0].PublicID) {
		t.Fatalf("session revoke --id printed %q", out)
	}
	if _, _, err := c.Run("", "session", "revoke", "--id", rows[0].PublicID); err == nil || !strings.Contains(err.Error(), "no session with id") {
		t.Fatalf("revoking it again: %v", err)
	}
	if _, _, err := c.Run("", "session", "revoke"); err == nil {
		t.Fatal("session revoke with neither a user nor --id succeeded")
	}
	out = c.MustRun("", "session", "revoke", "erin")
	if !strings.Contains(out, "ended 1 session") {
		t.Fatalf("session revoke printed %q", out)
	}
	if err := json.Unmarshal([]byte(c.MustRun("", "session", "list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Username != "frank" {
		t.Fatalf("after revoke: %+v", rows)
	}
	if table := c.MustRun("", "session", "list"); !strings.Contains(table, rows[0].PublicID) {
		t.Fatalf("the table does not show the id:\n%s", table)
	}
}

func TestMigrateVersionHelp(t *testing.T) {
	c := NewCLI(t)
	if out := c.MustRun("", "migrate"); func() bool {
		m := regexp.MustCompile(`^schema at version (\d+) \(latest (\d+)\)\n$`).FindStringSubmatch(out)
		return m == nil || m[1] != m[2] || m[1] < "4"
	}() {
		t.Fatalf("migrate printed %q, want the latest version, at least 4", out)
	}
	if out := c.MustRun("", "version"); !strings.HasPrefix(out, "localauth ") {
		t.Fatalf("version printed %q", out)
	}
	if out := c.MustRun("", "help"); !strings.Contains(out, "user set-password") {
		t.Fatalf("help printed %q", out)
	}
	if out := c.MustRun("", "help", "user", "create"); !strings.Contains(out, "--password-stdin") {
		t.Fatalf("help user create printed %q", out)
	}
}

// Every command works on PostgreSQL too (LOCALAUTH_TEST_POSTGRES).
func TestCLIOnPostgres(t *testing.T) {
	// A database of its own: the CLI migrates and uses the public schema.
	u := testkit.FreshDatabase(t)
	c := &CLI{tb: t, db: u.String()}
	c.MustRun(pw, "user", "create", "alice", "--password-stdin")
	if _, _, err := c.Run(pw, "user", "create", "ALICE", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "is already registered") {
		t.Fatalf("duplicate on PostgreSQL: %v", err)
	}
	c.MustRun("", "user", "disable", "alice")
	if us := c.Users(); len(us) != 1 || us[0].Enabled {
		t.Fatalf("users on PostgreSQL: %+v", us)
	}
	// The same database as a keyword/value connection string, and as a URL
	// with an upper-case scheme.
	pass, _ := u.User.Password()
	keywords := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"))
	if pass != "" {
		keywords += " password=" + pass
	}
	upper := "POSTGRES" + strings.TrimPrefix(u.String(), u.Scheme)
	for _, db := range []string{keywords, upper} {
		if out := c.MustRun("", "user", "list", "--db", db); !strings.Contains(out, "alice") {
			t.Fatalf("user list --db %q: %q", db, out)
		}
	}
	if out := c.MustRun("", "user", "reset-factors", "alice"); !strings.Contains(out, "removed the second factors") {
		t.Fatalf("reset-factors on PostgreSQL: %q", out)
	}
	if out := c.MustRun("", "session", "list", "alice"); !strings.HasPrefix(out, "ID  USER") {
		t.Fatalf("session list: %q", out)
	}
	if out := c.MustRun("", "migrate"); !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate: %q", out)
	}
	// Another schema is another set of users, in the same database.
	c.MustRun(pw, "--schema", "tenant_b", "user", "create", "bob", "--password-stdin")
	if out := c.MustRun("", "user", "list", "--schema", "tenant_b"); !strings.Contains(out, "bob") || strings.Contains(out, "alice") {
		t.Fatalf("user list --schema tenant_b: %q", out)
	}
	if out := c.MustRun("", "user", "list"); strings.Contains(out, "bob") {
		t.Fatalf("the default schema shows another schema's user: %q", out)
	}
	if _, _, err := c.Run("", "user", "list", "--schema", "Tenant-B"); err == nil || !strings.Contains(err.Error(), "lower-case") {
		t.Fatalf("--schema Tenant-B: %v", err)
	}
	// A mistyped schema is refused by the commands that read users, and
	// nothing is created.
	if _, _, err := c.Run("", "user", "list", "--schema", "tenant_typo"); err == nil || !strings.Contains(err.Error(), "schema tenant_typo holds no users") {
		t.Fatalf("user list in a missing schema: %v", err)
	}
	if _, _, err := c.Run("", "user", "disable", "bob", "--schema", "tenant_typo"); err == nil {
		t.Fatal("user disable in a missing schema succeeded")
	}
	if out := c.MustRun("", "user", "list", "--schema", "tenant_b"); !strings.Contains(out, "bob") {
		t.Fatalf("the existing schema after the refusals: %q", out)
	}
}

// Help is asked for in every usual way and always exits 0; global flags
// go before or after the command; a read-only command on a missing SQLite
// file creates nothing.
func TestCLIHelpAndGlobalFlags(t *testing.T) {
	c := NewCLI(t)
	for _, args := range [][]string{{"help", "user"}, {"user", "--help"}, {"user", "-h"}, {"help", "session"}} {
		out := c.MustRun("", args...)
		if !strings.Contains(out, "user create") && !strings.Contains(out, "session revoke") {
			t.Errorf("localauth %s printed %q", strings.Join(args, " "), out)
		}
	}
	for _, args := range [][]string{{"user", "create", "--help"}, {"help", "user", "create"}, {"user", "create", "alice", "-h"}} {
		out := c.MustRun("", args...)
		for _, want := range []string{"usage: localauth user create", "--password-stdin", "--db", "$LOCALAUTH_DB", "localauth.db", "--log-format", "--quiet"} {
			if !strings.Contains(out, want) {
				t.Errorf("localauth %s: no %q in %q", strings.Join(args, " "), want, out)
			}
		}
	}
	if _, err := os.Stat(c.db); err == nil {
		t.Fatal("asking for help created the database")
	}
	if _, _, err := c.Run("", "user"); err == nil {
		t.Error("'localauth user' with no subcommand exited 0")
	}

	// A read-only command on a missing file says how to create it.
	missing := filepath.Join(t.TempDir(), "none.db")
	for _, args := range [][]string{{"user", "list", "--db", missing}, {"--db", missing, "session", "list"}, {"user", "--db", missing, "disable", "bob"}} {
		_, _, err := c.Run("", args...)
		want := fmt.Sprintf("no database at %s (create it with 'localauth migrate --db %s')", missing, missing)
		if err == nil || err.Error() != want {
			t.Errorf("localauth %s: %v, want %q", strings.Join(args, " "), err, want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("a read-only command created the database")
	}
	deep := filepath.Join(t.TempDir(), "a", "b", "x.db")
	if _, _, err := c.Run(pw, "user", "create", "bob", "--password-stdin", "--db", deep); err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Errorf("user create under two missing directories: %v", err)
	}

	// --db given twice is refused rather than one of them ignored.
	if _, _, err := c.Run("", "--db", "a.db", "user", "list", "--db", "b.db"); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("--db twice: %v", err)
	}
	// --db before the command, before the subcommand, after it: one database.
	other := filepath.Join(t.TempDir(), "other.db")
	c.MustRun(pw, "--db", other, "user", "create", "carol", "--password-stdin")
	for _, args := range [][]string{{"--db=" + other, "user", "list"}, {"user", "--db", other, "list"}, {"user", "list", "--db", other}} {
		if out := c.MustRun("", args...); !strings.Contains(out, "carol") {
			t.Errorf("localauth %s: %q", strings.Join(args, " "), out)
		}
	}
}

// Audit records of the administrative commands: text by default, JSON on
// request, none with --quiet.
func TestCLIAuditFormat(t *testing.T) {
	c := NewCLI(t)
	_, text, err := c.Run(pw, "user", "create", "alice", "--password-stdin")
	if err != nil || !strings.Contains(text, "event=register") {
		t.Fatalf("text audit record: %v %q", err, text)
	}
	_, js, err := c.Run("", "user", "disable", "alice", "--log-format", "json")
	var rec map[string]any
	if err != nil || json.Unmarshal([]byte(strings.SplitN(js, "\n", 2)[0]), &rec) != nil || rec["user"] != "alice" {
		t.Fatalf("JSON audit record: %v %q", err, js)
	}
	if _, quiet, err := c.Run("", "user", "enable", "alice", "--quiet"); err != nil || quiet != "" {
		t.Fatalf("--quiet: %v, stderr %q", err, quiet)
	}
	if _, _, err := c.Run("", "user", "list", "--log-format", "xml"); err == nil || !strings.Contains(err.Error(), "neither text nor json") {
		t.Fatalf("--log-format xml: %v", err)
	}
	if strings.Contains(text+js, "correct horse") {
		t.Fatal("an audit record holds the password")
	}
}

// Database names are printed without their passwords, and told apart
// right: a PostgreSQL connection string is never taken for a file name.
func TestDatabaseNamesAndPasswords(t *testing.T) {
	for _, tc := range []struct {
		db, shown string
		pg        bool
	}{
		{"postgres://u:hunter2@db/app", "postgres://u:xxxxx@db/app", true},
		{"POSTGRESQL://u:hunter2@db/app", "postgresql://u:xxxxx@db/app", true},
		{"postgres://u@db/app?password=hunter2&sslmode=disable", "postgres://u@db/app?password=xxxxx&sslmode=disable", true},
		{"host=db user=u password=hunter2 dbname=app", "host=db user=u password=xxxxx dbname=app", true},
		{"password='a b hunter2' host=db", "password=xxxxx host=db", true},
		{"dbname = app", "dbname = app", true},
		{"service=prod", "service=prod", true},
		{"postgress://u:hunter2@db/app", "postgress://u:xxxxx@db/app", false},
		{"localauth.db", "localauth.db", false},
		{"data/x.db?mode=ro", "data/x.db?mode=ro", false},
	} {
		if got := isPostgres(tc.db); got != tc.pg {
			t.Errorf("isPostgres(%q) = %v", tc.db, got)
		}
		if got := redactDSN(tc.db); got != tc.shown || strings.Contains(got, "hunter2") {
			t.Errorf("redactDSN(%q) = %q, want %q", tc.db, got, tc.shown)
		}
	}
}
