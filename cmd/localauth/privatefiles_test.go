package main

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// wantMode fails unless path exists with exactly mode.
func wantMode(t *testing.T, path string, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if fi.Mode().Perm() != mode {
		t.Fatalf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), mode)
	}
}

// Under umask 022 the CLI and serve create the database, its -wal and -shm
// files 0600 and the directories they make 0700, and say nothing about it.
func TestPrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	base := t.TempDir()
	c := &CLI{tb: t, db: filepath.Join(base, "made-by-cli", "cli.db")}
	_, stderr, err := c.Run(pw, "user", "create", "alice", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr, "WARNING") {
		t.Fatalf("a new database drew a warning: %q", stderr)
	}
	wantMode(t, filepath.Join(base, "made-by-cli"), 0o700)
	wantMode(t, c.db, 0o600)
	for _, p := range []string{c.db + "-wal", c.db + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			wantMode(t, p, 0o600)
		}
	}

	// A running server holds the -wal and -shm files open.
	db := filepath.Join(base, "made-by-serve", "serve.db")
	srv := StartServer(t, "--db", db)
	res := postJSON(t, srv.URL+"/api/auth/register", `{"username":"bob","password":"`+alicePW+`"}`)
	if res != 201 {
		t.Fatalf("register: %d", res)
	}
	wantMode(t, filepath.Dir(db), 0o700)
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		wantMode(t, p, 0o600)
	}
	if strings.Contains(srv.Log.String(), "WARNING: "+db) {
		t.Fatalf("a new database drew a warning:\n%s", srv.Log)
	}
}

// A database file that others can read draws a warning from the CLI and
// from serve at start-up, naming the file and the fix; the file is left as
// it is.
func TestWarnsOnReadableDatabase(t *testing.T) {
	c := NewCLI(t)
	c.MustRun(pw, "user", "create", "alice", "--password-stdin")
	if err := os.Chmod(c.db, 0o644); err != nil {
		t.Fatal(err)
	}
	want := "WARNING: " + c.db + " can be read by other users (mode 0644). It holds password hashes; make it private: chmod 600 " + c.db
	_, stderr, err := c.Run("", "user", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, want) {
		t.Fatalf("user list on a readable database: stderr %q, want %q", stderr, want)
	}
	srv := StartServer(t, "--db", c.db)
	if !strings.Contains(srv.Log.String(), want) {
		t.Fatalf("serve on a readable database did not warn:\n%s", srv.Log)
	}
	wantMode(t, c.db, 0o644)
}

// postJSON posts body and returns the status.
func postJSON(t *testing.T, url, body string) int {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
