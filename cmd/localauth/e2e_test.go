package main

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/internal/testkit/browser"
)

// The browser tests drive Debian's Chromium with chromedp against a real
// "localauth serve" on loopback. They run when LOCALAUTH_E2E=1 (CI sets it)
// and skip with a message otherwise.

// Server is a running "localauth serve" on a temporary database.
type Server struct {
	URL string
	DB  string
	Log *SyncWriter
	// Clock is the server's clock: the real time until a test moves it
	// on, so that a window or a lifetime passes without waiting.
	Clock *testkit.OffsetClock
	stop  func() error
}

// SyncWriter collects output written by several goroutines.
type SyncWriter = testkit.SyncWriter

// StartServer runs "serve" in process on 127.0.0.1:0 with extra args.
func StartServer(tb testing.TB, args ...string) *Server {
	tb.Helper()
	db := filepath.Join(tb.TempDir(), "serve.db")
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	log := &SyncWriter{}
	clock := &testkit.OffsetClock{}
	m := &Main{
		now:   clock.Now,
		Stdin: strings.NewReader(""), Stdout: log, Stderr: log, weakCost: 4,
		Getenv: testEnv,
		ready:  func(u string) { urls <- u },
	}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...))
	}()
	s := &Server{DB: db, Log: log, Clock: clock}
	select {
	case s.URL = <-urls:
	case err := <-done:
		cancel()
		tb.Fatalf("serve exited: %v\n%s", err, log)
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatal("serve did not start within 10s")
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 15s")
			}
		})
		return stopErr
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("stopping serve: %v", err)
		}
	})
	return s
}

// CLI returns a command line on the server's database.
func (s *Server) CLI(tb testing.TB) *CLI { return &CLI{tb: tb, db: s.DB} }

// The browser harness (package testkit/browser), under the names the tests
// here use.
type (
	Browser = browser.Browser
	Tab     = browser.Tab
)

var (
	NewBrowser  = browser.NewBrowser
	NeedBrowser = browser.NeedBrowser
)

// Eval evaluates a JavaScript expression in the tab and returns its value.
func Eval[T any](t *Tab, js string) T { return browser.Eval[T](t, js) }

func must(u *url.URL, err error) *url.URL {
	if err != nil {
		panic(err)
	}
	return u
}
