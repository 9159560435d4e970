package testkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replicated is a PostgreSQL primary with one synchronous streaming
// standby, each a server of its own on a free loopback port, built with
// initdb and pg_basebackup in a temporary directory: what a deployment
// that must survive the loss of its database machine runs. A commit is
// acknowledged only once the standby has the WAL on disk
// (synchronous_commit on, the standby named in synchronous_standby_names),
// so what a client was told is done survives the primary's death and the
// standby's promotion.
type Replicated struct {
	tb      testing.TB
	bin     string // directory of initdb, pg_ctl, pg_basebackup
	dir     string
	runAs   *syscall.Credential // nil: as this process
	Primary PGServer
	Standby PGServer
}

// PGServer is one server of a Replicated pair.
type PGServer struct {
	Port int
	Dir  string // its data directory
}

// standbyName is the standby's application_name, which the primary's
// synchronous_standby_names waits for.
const standbyName = "standby1"

// StartReplicated builds and starts a primary and its synchronous standby,
// both stopped and removed when the test ends. It skips the test, with
// one line saying what is missing, when initdb, pg_ctl or pg_basebackup
// cannot be found (on PATH, beside initdb, or under
// /usr/lib/postgresql/*/bin). PostgreSQL refuses to run as root: under
// root the servers run as the user postgres (else nobody), in a directory
// that user owns.
func StartReplicated(tb testing.TB) *Replicated {
	tb.Helper()
	bin, err := postgresBin()
	if err != nil {
		tb.Skipf("replicated PostgreSQL test: %v (install the postgresql package)", err)
	}
	r := &Replicated{tb: tb, bin: bin}
	if os.Geteuid() == 0 {
		if r.runAs, err = unprivileged(); err != nil {
			tb.Skipf("replicated PostgreSQL test: running as root and %v", err)
		}
	}
	if r.dir, err = os.MkdirTemp("", "localauth-replicated-"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(r.cleanup)
	if err := os.Chmod(r.dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if r.runAs != nil {
		if err := os.Chown(r.dir, int(r.runAs.Uid), int(r.runAs.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	r.Primary = PGServer{Port: freePort(tb), Dir: filepath.Join(r.dir, "primary")}
	r.Standby = PGServer{Port: freePort(tb), Dir: filepath.Join(r.dir, "standby")}

	r.run("initdb", "-D", r.Primary.Dir, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
	r.appendConf(r.Primary.Dir, "postgresql.conf", fmt.Sprintf(
		"port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"+
			"wal_level = replica\nmax_wal_senders = 4\nsynchronous_commit = on\n"+
			"shared_buffers = 16MB\nmax_connections = 60\n", r.Primary.Port, r.dir))
	r.run("pg_ctl", "-D", r.Primary.Dir, "-l", filepath.Join(r.dir, "primary.log"), "-w", "-t", "120", "start")

	// The standby: a copy of the primary that streams its WAL, on a port
	// of its own. synchronous_standby_names, copied from the primary, is
	// cleared: once promoted it has no standby to wait for.
	r.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(r.Primary.Port), "-U", "postgres",
		"-D", r.Standby.Dir, "-R", "-X", "stream", "-c", "fast")
	r.appendConf(r.Standby.Dir, "postgresql.auto.conf", fmt.Sprintf(
		"port = %d\nsynchronous_standby_names = ''\n"+
			"primary_conninfo = 'host=127.0.0.1 port=%d user=postgres application_name=%s'\n",
		r.Standby.Port, r.Primary.Port, standbyName))
	r.run("pg_ctl", "-D", r.Standby.Dir, "-l", filepath.Join(r.dir, "standby.log"), "-w", "-t", "120", "start")

	// Only now does the primary wait for the standby: commits made
	// before it streamed would have hung.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.Primary.URL("postgres"))
	if err != nil {
		tb.Fatalf("connecting to the primary: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = '"+standbyName+"'"); err != nil {
		tb.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		tb.Fatal(err)
	}
	for {
		var state string
		err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", standbyName).Scan(&state)
		if err == nil && state == "sync" {
			break
		}
		if ctx.Err() != nil {
			tb.Fatalf("the standby did not become synchronous within 2 minutes (last: %q, %v)\n%s", state, err, r.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// URL is the server's URL for database db (trust authentication).
func (s PGServer) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// URL is the multi-host URL a deployment gives every instance: both
// servers, and target_session_attrs=read-write, so that connections go to
// whichever of them is the primary.
func (r *Replicated) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write&connect_timeout=5",
		r.Primary.Port, r.Standby.Port, db)
}

// KillPrimary kills the primary's postmaster and every process it
// started with SIGKILL, as the loss of its machine would: nothing is
// flushed, no client is told.
func (r *Replicated) KillPrimary() {
	r.tb.Helper()
	pid, err := postmasterPID(r.Primary.Dir)
	if err != nil {
		r.tb.Fatal(err)
	}
	victims := append(children(pid), pid)
	for _, p := range victims {
		syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(time.Minute)
	for _, p := range victims {
		for syscall.Kill(p, 0) == nil && !zombie(p) {
			if time.Now().After(deadline) {
				r.tb.Fatalf("process %d of the primary still runs a minute after SIGKILL", p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Promote makes the standby the primary (pg_ctl promote, waiting until it
// accepts writes) and returns when it was asked to and how long pg_ctl took.
func (r *Replicated) Promote() (asked time.Time, took time.Duration) {
	r.tb.Helper()
	asked = time.Now()
	r.run("pg_ctl", "-D", r.Standby.Dir, "-w", "-t", "120", "promote")
	return asked, time.Since(asked)
}

// run runs one of PostgreSQL's programs as the servers' user and fails the
// test, with its output and the servers' logs, if it fails.
func (r *Replicated) run(name string, args ...string) {
	r.tb.Helper()
	cmd := exec.Command(filepath.Join(r.bin, name), args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", "LC_ALL=C")
	if r.runAs != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.runAs}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		r.tb.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, r.logs())
	}
}

// appendConf appends lines to a configuration file of a data directory.
func (r *Replicated) appendConf(dataDir, file, lines string) {
	r.tb.Helper()
	f, err := os.OpenFile(filepath.Join(dataDir, file), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		r.tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + lines); err != nil {
		r.tb.Fatal(err)
	}
}

// logs returns the tail of both servers' logs, for a failure message.
func (r *Replicated) logs() string {
	var b strings.Builder
	for _, name := range []string{"primary.log", "standby.log"} {
		data, err := os.ReadFile(filepath.Join(r.dir, name))
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s:\n%s\n", name, data)
	}
	return b.String()
}

// cleanup stops whatever still runs and removes the directory.
func (r *Replicated) cleanup() {
	for _, s := range []PGServer{r.Primary, r.Standby} {
		if pid, err := postmasterPID(s.Dir); err == nil {
			for _, p := range append(children(pid), pid) {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	}
	if r.tb.Failed() {
		r.tb.Log(r.logs())
	}
	// The servers' processes may take a moment to go; their files with them.
	for range 50 {
		if err := os.RemoveAll(r.dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// postgresBin finds the directory holding initdb, pg_ctl and pg_basebackup.
func postgresBin() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(versions)))
	dirs = append(dirs, versions...)
	for _, d := range dirs {
		ok := true
		for _, name := range []string{"initdb", "pg_ctl", "pg_basebackup", "postgres"} {
			if _, err := os.Stat(filepath.Join(d, name)); err != nil {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", errors.New("initdb, pg_ctl, pg_basebackup and postgres not found together on PATH or under /usr/lib/postgresql/*/bin")
}

// unprivileged returns the credentials of the user postgres, else nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
	}
	return nil, errors.New("there is no user postgres or nobody to run PostgreSQL as")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// postmasterPID reads the postmaster's pid from its data directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after
		// its closing parenthesis.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// zombie reports whether pid has exited and awaits its parent.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	return len(f) > 0 && f[0] == "Z"
}
