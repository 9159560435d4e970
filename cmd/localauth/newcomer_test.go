package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A --db value shaped like a URL with a scheme localauth does not know (a
// typo of postgres://, another database) is refused with its scheme named,
// password hidden, by every command, and nothing is created for it: no
// SQLite file, no key file.
func TestDatabaseURLWithUnknownScheme(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"user", "list"}, {"user", "create", "alice"}, {"migrate"}, {"session", "list"},
		{"serve", "--addr", "127.0.0.1:0"},
	} {
		for _, db := range []string{"postgress://u:hunter2@db/app", "mysql://u:hunter2@db/app", "SQLITE://app.db"} {
			var out, errOut bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: testEnv, weakCost: 4}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := m.Run(ctx, append(args, "--db", db))
			cancel()
			scheme, _, _ := strings.Cut(db, "://")
			var u usageError
			if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), `"`+scheme+`" is not a kind of database`) {
				t.Fatalf("%s --db %s: got %v, want a usage error naming the scheme %q", strings.Join(args, " "), db, err, scheme)
			}
			if strings.Contains(err.Error()+out.String()+errOut.String(), "hunter2") {
				t.Fatalf("%s --db %s: the password was shown: %v", strings.Join(args, " "), db, err)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("a mistyped URL created %s", entries[0].Name())
	}
}

// --schema says "created if missing" only for the commands that create it;
// the others say it must exist. session list describes --user.
func TestHelpWordsSchemaAndUser(t *testing.T) {
	c := NewCLI(t)
	for _, cmd := range [][]string{{"migrate"}, {"serve"}, {"user", "create"}} {
		if out := c.MustRun("", append(cmd, "--help")...); !strings.Contains(out, "created if missing") {
			t.Errorf("%s --help does not say the schema is created:\n%s", strings.Join(cmd, " "), out)
		}
	}
	for _, cmd := range [][]string{{"user", "list"}, {"user", "disable"}, {"session", "list"}, {"session", "revoke"}} {
		out := c.MustRun("", append(cmd, "--help")...)
		if strings.Contains(out, "created if missing") || !strings.Contains(out, "must hold them already") {
			t.Errorf("%s --help tells wrong of a missing schema:\n%s", strings.Join(cmd, " "), out)
		}
	}
	out := c.MustRun("", "session", "list", "--help")
	if !strings.Contains(out, "--user name\n    \tlist only the sessions of the user with this name") {
		t.Errorf("session list --help does not describe --user:\n%s", out)
	}
}

// serve writes every log record in the one format --log-format chose, the
// start-up notices and the shutdown record included; standard output
// keeps the line that says where it serves.
func TestServeLogsInOneFormat(t *testing.T) {
	for _, format := range []string{"", "text", "json"} {
		t.Run("format="+format, func(t *testing.T) {
			var stdout, stderr SyncWriter
			urls := make(chan string, 1)
			m := &Main{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: testEnv, weakCost: 4,
				ready: func(u string) { urls <- u }}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := []string{"serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "serve.db")}
			if format != "" {
				args = append(args, "--log-format", format)
			}
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx, args) }()
			select {
			case <-urls:
			case err := <-done:
				t.Fatalf("serve exited: %v\n%s", err, stderr.String())
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not start within 30s")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("serve did not stop within 30s")
			}
			if !strings.Contains(stdout.String(), "serving the demo on http://") {
				t.Fatalf("stdout: %q", stdout.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			var msgs []string
			for _, line := range lines {
				if format == "json" {
					var rec struct{ Time, Level, Msg string }
					if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Time == "" || rec.Msg == "" {
						t.Fatalf("a line that is not a JSON record: %q", line)
					}
					msgs = append(msgs, rec.Msg)
					continue
				}
				if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " level=") || !strings.Contains(line, " msg=") {
					t.Fatalf("a line that is not a text record: %q", line)
				}
				msgs = append(msgs, line)
			}
			all := strings.Join(msgs, "\n")
			for _, want := range []string{"passkeys are off", "shutting down"} {
				if !strings.Contains(all, want) {
					t.Errorf("no record %q in:\n%s", want, stderr.String())
				}
			}
		})
	}
	var out bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: testEnv}
	if err := m.Run(context.Background(), []string{"serve", "--log-format", "xml"}); err == nil || !strings.Contains(err.Error(), "neither text nor json") {
		t.Fatalf("--log-format xml: %v", err)
	}
}
