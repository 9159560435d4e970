package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/localauth/localauth/internal/loopback"
)

// The server under test: this binary as a child process (child.go), with
// the HTTP calls the rows make to it.

type benchServer struct {
	url string
	cmd *exec.Cmd
	db  string
	// bare is the URL of the bare baseline handler beside the server.
	bare string
}

// startServer runs the server under test on a new SQLite database, on
// 127.0.0.1 with a free port, and waits until it listens.
func (b *bench) startServer(ctx context.Context, opts ...string) (*benchServer, error) {
	db := filepath.Join(b.dir, fmt.Sprintf("serve-%d.db", time.Now().UnixNano()))
	return startChild(ctx, b.exe, db, b.cost, opts...)
}

// startChild runs the server under test (this binary, as a child: see
// child.go) in a process of its own, so that its memory and CPU time are
// its own, on db, and waits for the line that says where it listens.
func startChild(ctx context.Context, exe, db string, cost int, opts ...string) (*benchServer, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"--db", db, "--cost", strconv.Itoa(cost)}, opts...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan childReady, 1)
	go func() {
		var r childReady
		if json.NewDecoder(out).Decode(&r) == nil {
			ready <- r
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case r := <-ready:
		return &benchServer{url: r.URL, bare: r.Bare, cmd: cmd, db: db}, nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("the server did not start within 20s")
	}
}

func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// rss reads the server's resident set size from /proc.
func (s *benchServer) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTime reads the server's CPU time (user and system) from /proc.
func (s *benchServer) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th, in clock ticks.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// The kernel's USER_HZ is 100 on every Linux that Go supports.
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}

// The bench's clients come from many loopback addresses (package loopback).
var (
	httpClient    = loopback.Client
	oneShotClient = loopback.OneShotClient
	sourceDialer  = loopback.Dialer
)

func (s *benchServer) post(c *http.Client, path, body string) (int, http.Header, error) {
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header, nil
}

func creds(user string) string {
	return fmt.Sprintf(`{"username":%q,"password":"correct horse battery staple"}`, user)
}

func (s *benchServer) register(c *http.Client, user string) error {
	st, _, err := s.post(c, "/api/auth/register", creds(user))
	if err == nil && st != http.StatusCreated {
		err = fmt.Errorf("bench: register %s: status %d", user, st)
	}
	return err
}

func (s *benchServer) login(c *http.Client, user string) (*http.Cookie, error) {
	st, h, err := s.post(c, "/api/auth/login", creds(user))
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("bench: login: status %d", st)
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if strings.HasSuffix(ck.Name, "localauth_session") {
			return ck, nil
		}
	}
	return nil, errors.New("bench: no session cookie")
}
