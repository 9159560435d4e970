// Package testkit holds what the tests of several packages share to talk
// to real parts: a fresh PostgreSQL database, PgBouncer in front of it,
// and "localauth serve" in a
// process of its own (to kill it, signal it or measure it). The browser
// harness lives in package testkit/browser.
package testkit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth/internal/pgbouncer"
)

// PostgresEnv names the variable holding the URL of the PostgreSQL server
// the tests use (CI sets it).
const PostgresEnv = "LOCALAUTH_TEST_POSTGRES"

// FreshDatabase creates a database of its own on the server named by
// LOCALAUTH_TEST_POSTGRES, dropped when the test ends, and returns its URL.
// Without the variable the test skips with a message saying how to run it.
func FreshDatabase(tb testing.TB) *url.URL {
	tb.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		tb.Skip("PostgreSQL test: set LOCALAUTH_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test) to run it")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connecting to LOCALAUTH_TEST_POSTGRES: %v", err)
	}
	name := "localauth_t_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u
}

// SyncWriter collects output written by several goroutines.
type SyncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *SyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *SyncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Process is "localauth serve" running in a process of its own.
type Process struct {
	URL string
	Cmd *exec.Cmd
	// Stderr collects what the process writes on standard error.
	Stderr *SyncWriter
}

var (
	buildOnce sync.Once
	buildDir  string
	buildExe  string
	buildErr  error
)

// Binary builds cmd/localauth once per test process and returns its path.
func Binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(here), "..", "..")
		if buildDir, buildErr = os.MkdirTemp("", "localauth-testkit-"); buildErr != nil {
			return
		}
		buildExe = filepath.Join(buildDir, "localauth")
		cmd := exec.Command("go", "build", "-o", buildExe, "./cmd/localauth")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/localauth: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildExe
}

// RemoveBuilds deletes what Binary built; call it from TestMain after the
// tests ran.
func RemoveBuilds() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

var servingRE = regexp.MustCompile(`serving the demo on (https?://\S+)`)

// Serve runs "localauth serve --addr 127.0.0.1:0 --db DB ARGS…" from the
// built binary, with bcrypt at the production minimum (10) for speed, and
// waits until it says where it serves. The process is killed when the test
// ends, if it still runs.
func Serve(tb testing.TB, db string, args ...string) *Process {
	tb.Helper()
	exe := Binary(tb)
	cmd := exec.Command(exe, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
	cmd.Env = append(os.Environ(), "LOCALAUTH_BCRYPT_COST=10")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	p := &Process{Cmd: cmd, Stderr: &SyncWriter{}}
	cmd.Stderr = p.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	urls := make(chan string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if m := servingRE.FindStringSubmatch(lines.Text()); m != nil {
				urls <- m[1]
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case p.URL = <-urls:
		return p
	case <-time.After(30 * time.Second):
		tb.Fatalf("localauth serve did not start within 30s; stderr:\n%s", p.Stderr)
		return nil
	}
}

// PgBouncer starts PgBouncer in transaction mode in front of the server
// that db names (LOCALAUTH_TEST_POSTGRES's, trust authentication), with at
// most poolSize server connections for each database, and returns db's URL
// through it. It runs until the test ends, as user nobody when the test
// runs as root (PgBouncer refuses to run as root). Without pgbouncer
// (Debian package pgbouncer) the test skips with a message saying so.
func PgBouncer(tb testing.TB, db *url.URL, poolSize int) *url.URL {
	tb.Helper()
	b, err := pgbouncer.Start(context.Background(), db, poolSize)
	if errors.Is(err, pgbouncer.ErrMissing) {
		tb.Skip("PgBouncer test: install pgbouncer (Debian package pgbouncer) to run it")
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b.URL(db)
}

// HoldsSecret reports whether text holds secret. A secret of digits only
// (a six-digit code) counts only where no digit adjoins it: a log's
// nanosecond timestamps hold every six-digit run sooner or later, and a
// test that found a code there would fail by chance. A code that leaks is
// written as a number of its own, after a quote, a space, an "=" or an
// escape such as \n or %3D, which this still finds. Any other secret
// counts wherever it appears.
func HoldsSecret(text, secret string) bool {
	if secret == "" {
		return false
	}
	if strings.Trim(secret, "0123456789") != "" {
		return strings.Contains(text, secret)
	}
	for i := 0; ; {
		j := strings.Index(text[i:], secret)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(secret)
		if (start == 0 || !isDigit(text[start-1])) && (end == len(text) || !isDigit(text[end])) {
			return true
		}
		i = start + 1
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
