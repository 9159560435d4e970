package localauth_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

var ctx = context.Background()

// Clock is a settable clock for expiry and throttling tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

func NewClock() *Clock { return &Clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// CountingHasher counts the calls to a real BcryptHasher.
type CountingHasher struct {
	localauth.BcryptHasher
	hashes, compares atomic.Int64
}

func (h *CountingHasher) Hash(pw string) ([]byte, error) {
	h.hashes.Add(1)
	return h.BcryptHasher.Hash(pw)
}

func (h *CountingHasher) Compare(hash []byte, pw string) error {
	h.compares.Add(1)
	return h.BcryptHasher.Compare(hash, pw)
}

// SyncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Env is a Service over a fresh SQLite file, with a settable clock, a
// counting hasher and a captured log.
type Env struct {
	Svc    *localauth.Service
	Store  *sqlitestore.Store
	Path   string
	Clock  *Clock
	Hasher *CountingHasher
	Log    *SyncBuffer
}

// MustEnv builds an Env; edit adjusts the Config before New.
func MustEnv(tb testing.TB, edit ...func(*localauth.Config)) *Env {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "auth.db")
	st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	e := &Env{Store: st, Path: path, Clock: NewClock(), Hasher: &CountingHasher{BcryptHasher: localauth.BcryptHasher{Cost: 4}}, Log: &SyncBuffer{}}
	cfg := localauth.Config{
		Hasher:        e.Hasher,
		AllowWeakCost: true,
		// Most tests call the Service directly, as a program without
		// network clients would; those about per-address throttling set
		// an address with WithClientIP.
		NoClientAddress: true,
		Now:             e.Clock.Now,
		Logger:          slog.New(slog.NewJSONHandler(e.Log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range edit {
		f(&cfg)
	}
	watched := &watchStart{Store: st, started: make(chan struct{})}
	svc, err := localauth.New(watched, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	e.Svc = svc
	// New starts the revocation watch in the background, and the watch
	// reports a flush of everything once it has its starting point. Wait
	// for it, so that a listener the test registers hears only what the
	// test did.
	select {
	case <-watched.started:
	case <-time.After(30 * time.Second):
		tb.Fatal("New's revocation watch never took its starting point")
	}
	if cfg.Hasher == e.Hasher {
		// New makes the dummy hash for unknown usernames in the
		// background. Wait for it, so that a test counting hashes counts
		// only those its own calls made.
		deadline := time.Now().Add(30 * time.Second)
		for e.Hasher.hashes.Load() == 0 {
			if time.Now().After(deadline) {
				tb.Fatal("New never made its dummy hash")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return e
}

// watchStart is the SQLite store as MustEnv gives it to New: it closes
// started once New's revocation watch has made its first report.
type watchStart struct {
	*sqlitestore.Store
	started chan struct{}
	once    sync.Once
}

func (w *watchStart) WatchRevocations(ctx context.Context, fn func(localauth.Revocation)) error {
	return w.Store.WatchRevocations(ctx, func(r localauth.Revocation) {
		fn(r)
		w.once.Do(func() { close(w.started) })
	})
}

// MustRegister registers a user or fails the test.
func (e *Env) MustRegister(tb testing.TB, name, pw string) localauth.User {
	tb.Helper()
	u, err := e.Svc.Register(ctx, name, pw)
	if err != nil {
		tb.Fatalf("Register(%q): %v", name, err)
	}
	return u
}

// MustLogin logs in or fails the test.
func (e *Env) MustLogin(tb testing.TB, name, pw string) localauth.LoginResult {
	tb.Helper()
	r, err := e.Svc.Login(ctx, name, pw)
	if err != nil {
		tb.Fatalf("Login(%q): %v", name, err)
	}
	return r
}

const goodPW = "correct horse battery staple"

// MustOpenStore opens a second handle on an existing database file, as
// another process (the admin CLI) would.
func MustOpenStore(tb testing.TB, path string) *sqlitestore.Store {
	tb.Helper()
	st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openSQLite opens a store in a fresh SQLite file, closed when the test
// ends, and returns it with the file's path: for tests that wrap the store
// (to inject a fault) before a Service is built over it.
func openSQLite(tb testing.TB) (*sqlitestore.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "auth.db")
	return MustOpenStore(tb, path), path
}

// serviceOver builds a Service over store, closed when the test ends,
// with the tests' defaults (bcrypt cost 4, no client address needed, the
// log discarded), then edit's changes.
func serviceOver(tb testing.TB, store localauth.Store, edit func(*localauth.Config)) *localauth.Service {
	tb.Helper()
	cfg := localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		Logger: discardLogger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := localauth.New(store, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	return svc
}
