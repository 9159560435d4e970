package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/localauth/localauth"
)

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
		if err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("user create %s: got %v, want an 'already exists' error", dup, err)
		}
		if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
			t.Fatalf("stack trace on stderr: %s", errOut)
		}
	}
	c.MustRun("", "user", "disable", "alice")
	if us := c.Users(); len(us) != 1 || us[0].Enabled {
		t.Fatalf("after disable: %+v", us)
	}
	c.MustRun("", "user", "enable", "ALICE")
	if us := c.Users(); !us[0].Enabled {
		t.Fatalf("after enable: %+v", us)
	}
	c.MustRun("a fresh long passphrase\n", "user", "set-password", "alice", "--password-stdin")
	c.MustRun("", "user", "delete", "alice")
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
		{"", []string{"user", "list", "--db", "/nonexistent/dir/x.db"}, false, "opening database"},
		{"", []string{"user", "list", "--db", "x.db?mode=ro"}, false, "may not contain"},
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
	if len(rows) != 2 || rows[0].Username != "erin" || len(rows[0].ID) != 16 {
		t.Fatalf("session list erin: %+v", rows)
	}
	out := c.MustRun("", "session", "revoke", "erin")
	if !strings.Contains(out, "ended 2 session") {
		t.Fatalf("session revoke printed %q", out)
	}
	if err := json.Unmarshal([]byte(c.MustRun("", "session", "list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Username != "frank" {
		t.Fatalf("after revoke: %+v", rows)
	}
}

func TestMigrateVersionHelp(t *testing.T) {
	c := NewCLI(t)
	if out := c.MustRun("", "migrate"); !regexp.MustCompile(`^schema at version (\d+) \(latest (\d+)\)\n$`).MatchString(out) || !strings.Contains(out, "version 2 (latest 2)") {
		t.Fatalf("migrate printed %q", out)
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
	u := NeedPostgres(t)
	c := &CLI{tb: t, db: u.String()}
	c.MustRun(pw, "user", "create", "alice", "--password-stdin")
	if _, _, err := c.Run(pw, "user", "create", "ALICE", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate on PostgreSQL: %v", err)
	}
	c.MustRun("", "user", "disable", "alice")
	if us := c.Users(); len(us) != 1 || us[0].Enabled {
		t.Fatalf("users on PostgreSQL: %+v", us)
	}
	if out := c.MustRun("", "session", "list", "alice"); !strings.Contains(out, "SESSION") {
		t.Fatalf("session list: %q", out)
	}
	if out := c.MustRun("", "migrate"); !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate: %q", out)
	}
}
