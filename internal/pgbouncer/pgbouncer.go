// Package pgbouncer runs PgBouncer in transaction mode in front of a
// PostgreSQL server, for the tests and the benchmark that put the store
// behind a pooler as large deployments do.
package pgbouncer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrMissing is returned by Start when pgbouncer is not installed.
var ErrMissing = errors.New("pgbouncer is not installed (Debian package pgbouncer)")

// Bouncer is a running PgBouncer.
type Bouncer struct {
	addr   string
	cmd    *exec.Cmd
	dir    string
	exited chan struct{}
	out    *syncBuffer
}

// Start runs PgBouncer in transaction mode on a free port of 127.0.0.1, in
// front of the server that upstream names (its host and port; trust
// authentication for upstream's user), with at most poolSize server
// connections for each database, and waits until it answers. As root it
// runs as user nobody (PgBouncer refuses to run as root), its files in a
// directory of their own that Close removes.
func Start(ctx context.Context, upstream *url.URL, poolSize int) (*Bouncer, error) {
	exe, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr != nil {
			return nil, ErrMissing
		}
		exe = "/usr/sbin/pgbouncer"
	}
	dir, err := os.MkdirTemp("", "localauth-pgbouncer-")
	if err != nil {
		return nil, err
	}
	// Readable by the user it runs as.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	host, upPort := upstream.Hostname(), upstream.Port()
	if upPort == "" {
		upPort = "5432"
	}
	user := upstream.User.Username()
	users := filepath.Join(dir, "users.txt")
	cfg := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = %d
max_client_conn = 2000
ignore_startup_parameters = extra_float_digits
admin_users = %s
`, host, upPort, port, users, poolSize, poolSize, user)
	ini := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(users, []byte(fmt.Sprintf("%q \"\"\n", user)), 0o644); err == nil {
		err = os.WriteFile(ini, []byte(cfg), 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{ini}
	if os.Geteuid() == 0 {
		args = []string{"-u", "nobody", ini}
	}
	b := &Bouncer{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: exec.Command(exe, args...), dir: dir,
		exited: make(chan struct{}), out: &syncBuffer{}}
	b.cmd.Stdout, b.cmd.Stderr = b.out, b.out
	if err := b.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting pgbouncer: %w", err)
	}
	go func() { b.cmd.Wait(); close(b.exited) }()
	probe := b.URL(upstream)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, probe.String())
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(context.Background())
			if err == nil {
				return b, nil
			}
		}
		select {
		case <-b.exited:
			b.Close()
			return nil, fmt.Errorf("pgbouncer exited: %s", b.out)
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			b.Close()
			return nil, fmt.Errorf("pgbouncer did not answer within 30s (%v): %s", err, b.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL returns db (a URL on the upstream server) through the pooler.
func (b *Bouncer) URL(db *url.URL) *url.URL {
	through := *db
	through.Host = b.addr
	return &through
}

// Close stops PgBouncer and removes its files.
func (b *Bouncer) Close() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
	}
	os.RemoveAll(b.dir)
}

// syncBuffer collects PgBouncer's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
