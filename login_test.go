package localauth_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

// C10, C11: one generic failure, exactly one comparison per
// attempt, and "disabled" only after the password verified.
func TestLoginOneComparisonAndGenericFailure(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	bob := e.MustRegister(t, "bob", goodPW)
	if err := e.Svc.DisableUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	// A username that is not valid cannot belong to an account, so it is
	// refused without a comparison: that reveals nothing about accounts.
	cases := []struct {
		name, user, pw string
		want           error
		compares       int64
	}{
		{"unknown user", "nobody", goodPW, localauth.ErrInvalidCredentials, 1},
		{"wrong password", "alice", "wrong password here", localauth.ErrInvalidCredentials, 1},
		{"invalid username", "al ice", goodPW, localauth.ErrInvalidCredentials, 0},
		{"control character in password", "alice", "bad\x00password", localauth.ErrInvalidCredentials, 1},
		{"SQL injection as username", "' OR '1'='1", "' OR '1'='1", localauth.ErrInvalidCredentials, 0},
		{"disabled, wrong password", "bob", "wrong password here", localauth.ErrInvalidCredentials, 1},
		{"disabled, right password", "bob", goodPW, localauth.ErrAccountDisabled, 1},
		{"right password", "alice", goodPW, nil, 1},
	}
	var genericText string
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			before := e.Hasher.compares.Load()
			_, err := e.Svc.Login(ctx, tt.user, tt.pw)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if n := e.Hasher.compares.Load() - before; n != tt.compares {
				t.Fatalf("%d password comparisons, want exactly %d", n, tt.compares)
			}
			if errors.Is(err, localauth.ErrInvalidCredentials) {
				if genericText == "" {
					genericText = err.Error()
				}
				if err.Error() != genericText {
					t.Fatalf("failure text %q differs from %q", err.Error(), genericText)
				}
			}
		})
	}
	// A 1 MB password is refused before any hashing.
	before := e.Hasher.compares.Load()
	if _, err := e.Svc.Login(ctx, "alice", strings.Repeat("x", 1<<20)); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("1 MB password: got %v", err)
	}
	if e.Hasher.compares.Load() != before {
		t.Fatal("a 1 MB password reached the hasher")
	}
}

// C17, C19: a fresh 256-bit token at every login; a token the server did not
// issue is never adopted.
func TestLoginIssuesFreshTokens(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	a := e.MustLogin(t, "alice", goodPW)
	b := e.MustLogin(t, "alice", goodPW)
	if a.Token == b.Token {
		t.Fatal("two logins got the same token")
	}
	for _, tok := range []localauth.Token{a.Token, b.Token} {
		raw, err := base64.RawURLEncoding.DecodeString(string(tok))
		if err != nil || len(raw) != 32 {
			t.Fatalf("token decodes to %d bytes (%v), want 32", len(raw), err)
		}
		if _, err := e.Svc.Authenticate(ctx, tok); err != nil {
			t.Fatalf("Authenticate(issued token): %v", err)
		}
	}
	forged := localauth.Token(base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	for _, tok := range []localauth.Token{forged, "", "short", localauth.Token(strings.Repeat("!", 43)), localauth.Token(string(a.Token) + "x")} {
		if _, err := e.Svc.Authenticate(ctx, tok); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Errorf("Authenticate(%q): got %v, want ErrInvalidSession", string(tok), err)
		}
	}
	if sessions, _ := e.Svc.Sessions(ctx, 0); len(sessions) != 2 {
		t.Fatalf("got %d sessions, want 2", len(sessions))
	}
}

// C18: the store keeps only SHA-256 of tokens; what is read from the database
// does not work as a token.
func TestStoredHashIsNotAToken(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	db, err := sql.Open("sqlite", e.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored []byte
	if err := db.QueryRow(`SELECT token_hash FROM sessions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	h := localauth.HashToken(r.Token)
	if string(stored) != string(h[:]) {
		t.Fatal("the stored value is not the SHA-256 of the token")
	}
	for _, tok := range []string{base64.RawURLEncoding.EncodeToString(stored), string(stored)} {
		if _, err := e.Svc.Authenticate(ctx, localauth.Token(tok)); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("a value read from the database authenticated: %v", err)
		}
	}
}

// C17: 100,000 tokens, all distinct.
func TestTokensUnique(t *testing.T) {
	e := MustEnv(t)
	seen := make(map[localauth.Token]bool, 100_000)
	for range 100_000 {
		tok, err := localauth.NewToken(e.Svc)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
}

// C21: absolute and idle timeouts, on a fake clock.
func TestSessionTimeouts(t *testing.T) {
	t.Run("absolute", func(t *testing.T) {
		e := MustEnv(t)
		e.MustRegister(t, "alice", goodPW)
		r := e.MustLogin(t, "alice", goodPW)
		if want := r.Session.CreatedAt.Add(7 * 24 * time.Hour); !r.Session.ExpiresAt.Equal(want) {
			t.Fatalf("ExpiresAt = %v, want 7 days after login (%v)", r.Session.ExpiresAt, want)
		}
		e.Clock.Advance(7*24*time.Hour - time.Second)
		if _, err := e.Svc.Authenticate(ctx, r.Token); err != nil {
			t.Fatalf("1s before expiry: %v", err)
		}
		e.Clock.Advance(time.Second)
		if _, err := e.Svc.Authenticate(ctx, r.Token); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("at expiry: got %v, want ErrInvalidSession", err)
		}
		if n, err := e.Svc.PurgeExpired(ctx); err != nil || n != 1 {
			t.Fatalf("PurgeExpired: %d, %v; want 1", n, err)
		}
	})
	t.Run("idle", func(t *testing.T) {
		e := MustEnv(t, func(c *localauth.Config) { c.IdleTimeout = 30 * time.Minute })
		e.MustRegister(t, "alice", goodPW)
		r := e.MustLogin(t, "alice", goodPW)
		e.Clock.Advance(20 * time.Minute)
		if _, err := e.Svc.Authenticate(ctx, r.Token); err != nil {
			t.Fatalf("after 20 idle minutes: %v", err)
		}
		// Used at 20 minutes, so alive at 45 even with a cold cache.
		e.Clock.Advance(25 * time.Minute)
		other := MustService(t, e, localauth.Config{IdleTimeout: 30 * time.Minute})
		if _, err := other.Authenticate(ctx, r.Token); err != nil {
			t.Fatalf("45 minutes after login, 25 after last use: %v", err)
		}
		if _, err := e.Svc.Authenticate(ctx, r.Token); err != nil {
			t.Fatalf("cached, 25 after last use: %v", err)
		}
		e.Clock.Advance(31 * time.Minute)
		if _, err := e.Svc.Authenticate(ctx, r.Token); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("31 idle minutes: got %v, want ErrInvalidSession", err)
		}
		if n, _ := e.Svc.PurgeExpired(ctx); n != 1 {
			t.Fatalf("PurgeExpired removed %d idle sessions, want 1", n)
		}
	})
}

// MustService is a second Service on e's store and clock, as another process
// or instance would have.
func MustService(tb testing.TB, e *Env, cfg localauth.Config) *localauth.Service {
	tb.Helper()
	cfg.Hasher = localauth.BcryptHasher{Cost: 4}
	cfg.AllowWeakCost = true
	cfg.Now = e.Clock.Now
	cfg.PurgeInterval = -1
	cfg.NoClientAddress = true
	cfg.Logger = discardLogger()
	s, err := localauth.New(e.Store, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// C20, C22: every way a session ends takes effect at once, cache or not.
func TestSessionsEndAtOnce(t *testing.T) {
	ends := []struct {
		name string
		end  func(e *Env, u localauth.User, tok localauth.Token) error
	}{
		{"logout", func(e *Env, u localauth.User, tok localauth.Token) error { return e.Svc.Logout(ctx, tok) }},
		{"revoke", func(e *Env, u localauth.User, tok localauth.Token) error {
			_, err := e.Svc.RevokeSessions(ctx, u.ID)
			return err
		}},
		{"disable", func(e *Env, u localauth.User, tok localauth.Token) error { return e.Svc.DisableUser(ctx, u.ID) }},
		{"delete", func(e *Env, u localauth.User, tok localauth.Token) error { return e.Svc.DeleteUser(ctx, u.ID) }},
		{"set password", func(e *Env, u localauth.User, tok localauth.Token) error {
			return e.Svc.SetPassword(ctx, u.ID, "a brand new passphrase")
		}},
	}
	for _, tt := range ends {
		t.Run(tt.name, func(t *testing.T) {
			e := MustEnv(t)
			u := e.MustRegister(t, "alice", goodPW)
			r := e.MustLogin(t, "alice", goodPW)
			other := e.MustRegister(t, "bob", goodPW)
			ro := e.MustLogin(t, "bob", goodPW)
			// Listeners run on the goroutine that ended the sessions, or on
			// the store's watcher: guard what they record.
			var mu sync.Mutex
			var revoked []localauth.Revocation
			remove := e.Svc.OnRevoke(func(r localauth.Revocation) {
				mu.Lock()
				defer mu.Unlock()
				revoked = append(revoked, r)
			})
			defer remove()
			// Warm the cache.
			if _, err := e.Svc.Authenticate(ctx, r.Token); err != nil {
				t.Fatal(err)
			}
			if err := tt.end(e, u, r.Token); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Svc.Authenticate(ctx, r.Token); !errors.Is(err, localauth.ErrInvalidSession) {
				t.Fatalf("after %s: got %v, want ErrInvalidSession", tt.name, err)
			}
			mu.Lock()
			first := append([]localauth.Revocation(nil), revoked...)
			mu.Unlock()
			if len(first) == 0 || first[0].UserID != u.ID {
				t.Fatalf("OnRevoke saw %+v, want a revocation of user %d", first, u.ID)
			}
			if got, err := e.Svc.Authenticate(ctx, ro.Token); err != nil || got.ID != other.ID {
				t.Fatalf("another user's session: %+v, %v", got, err)
			}
		})
	}
	t.Run("logout twice", func(t *testing.T) {
		e := MustEnv(t)
		e.MustRegister(t, "alice", goodPW)
		r := e.MustLogin(t, "alice", goodPW)
		if err := e.Svc.Logout(ctx, r.Token); err != nil {
			t.Fatal(err)
		}
		if err := e.Svc.Logout(ctx, r.Token); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("second logout: got %v, want ErrInvalidSession", err)
		}
	})
}

// A revocation made by another process on the same database file (the admin
// CLI) reaches this service's cache within a poll.
func TestRevocationFromAnotherProcess(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	if _, err := e.Svc.Authenticate(ctx, r.Token); err != nil {
		t.Fatal(err)
	}
	cli := MustOpenStore(t, e.Path)
	if err := cli.SetUserEnabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	// The Service's clock stands still, so the cache's age bound never
	// drops the session: only the revocation log can. Whether the watch
	// took its starting point before the other process's change (and
	// reads it from the log) or after (and drops every cached session as
	// it starts), the session ends.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := e.Svc.Authenticate(ctx, r.Token)
		if errors.Is(err, localauth.ErrInvalidSession) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session still authenticates 15s after another process disabled the user: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// C9: changing a password needs the current one and ends the other sessions.
func TestChangePassword(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	mine := e.MustLogin(t, "alice", goodPW)
	other := e.MustLogin(t, "alice", goodPW)
	const next = "an entirely different passphrase"
	if err := e.Svc.ChangePassword(ctx, mine.Token, "not the password", next); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("wrong current password: got %v, want ErrInvalidCredentials", err)
	}
	if err := e.Svc.ChangePassword(ctx, mine.Token, goodPW, "password"); !errors.Is(err, localauth.ErrWeakPassword) {
		t.Fatalf("common new password: got %v, want ErrWeakPassword", err)
	}
	if _, err := e.Svc.Authenticate(ctx, other.Token); err != nil {
		t.Fatalf("refused changes ended a session: %v", err)
	}
	if err := e.Svc.ChangePassword(ctx, mine.Token, goodPW, next); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Authenticate(ctx, mine.Token); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
	if _, err := e.Svc.Authenticate(ctx, other.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("another session survived the change: %v", err)
	}
	if _, err := e.Svc.Login(ctx, "alice", goodPW); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	e.MustLogin(t, "alice", next)
	if err := e.Svc.ChangePassword(ctx, other.Token, next, goodPW); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("change through an ended session: got %v, want ErrInvalidSession", err)
	}
}

// A revocation that lands while Authenticate reads the store must not leave
// the revoked session in the cache.
func TestCacheFillRacingRevocation(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	var svc *localauth.Service
	hooked := &hookStore{Store: e.Store, afterSession: func() {
		if _, err := svc.RevokeSessions(ctx, u.ID); err != nil {
			t.Error(err)
		}
	}}
	svc, err := localauth.New(hooked, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true, PurgeInterval: -1, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	// The read happened before the revocation, so this one call may pass...
	svc.Authenticate(ctx, r.Token)
	hooked.afterSession = nil
	// ...but the cache must not keep it.
	if _, err := svc.Authenticate(ctx, r.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("revoked session served from the cache: %v", err)
	}
}

// hookStore runs afterSession after each SessionByTokenHash read.
type hookStore struct {
	localauth.Store
	afterSession func()
}

func (h *hookStore) SessionByTokenHash(ctx context.Context, th localauth.TokenHash) (localauth.Session, localauth.User, error) {
	s, u, err := h.Store.SessionByTokenHash(ctx, th)
	if h.afterSession != nil {
		h.afterSession()
	}
	return s, u, err
}

// failingStore fails every call, as a database that went away does.
type failingStore struct{ localauth.Store }

var errDBDown = errors.New("dial tcp 10.0.0.5:5432: connect: connection refused (SELECT password_hash FROM users)")

func (failingStore) UserByName(context.Context, string) (localauth.User, error) {
	return localauth.User{}, errDBDown
}

func (failingStore) CreateUser(context.Context, *localauth.User, []byte) error { return errDBDown }

func (failingStore) SessionByTokenHash(context.Context, localauth.TokenHash) (localauth.Session, localauth.User, error) {
	return localauth.Session{}, localauth.User{}, errDBDown
}

// C42 in the core: a store failure is ErrUnavailable, with a generic text;
// no session is accepted.
func TestStoreFailureIsUnavailable(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	svc, err := localauth.New(failingStore{e.Store}, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true, PurgeInterval: -1, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	_, loginErr := svc.Login(ctx, "alice", goodPW)
	_, regErr := svc.Register(ctx, "newuser", goodPW)
	_, authErr := svc.Authenticate(ctx, r.Token)
	for name, err := range map[string]error{"Login": loginErr, "Register": regErr, "Authenticate": authErr} {
		if !errors.Is(err, localauth.ErrUnavailable) {
			t.Errorf("%s: got %v, want ErrUnavailable", name, err)
			continue
		}
		if strings.Contains(err.Error(), "10.0.0.5") || strings.Contains(err.Error(), "SELECT") {
			t.Errorf("%s: error text %q leaks the cause", name, err.Error())
		}
		if !errors.Is(err, errDBDown) {
			t.Errorf("%s: the cause is not kept for logging", name)
		}
	}
}

// lateWatch is a SQLite store whose revocation watch begins only when the
// test lets it: a Service started over it caches sessions before the watch
// has a starting point, as one does when New's background watch is slow.
type lateWatch struct {
	*sqlitestore.Store
	begin chan struct{}
}

func (l lateWatch) WatchRevocations(ctx context.Context, fn func(localauth.Revocation)) error {
	select {
	case <-l.begin:
	case <-ctx.Done():
		return ctx.Err()
	}
	return l.Store.WatchRevocations(ctx, fn)
}

// A session cached before the revocation watch took its starting point,
// then revoked by another process before that point, is not trusted on
// from the cache: the watch drops every cached session as it starts. The
// clock stands still, so the cache's age bound cannot be what ends it.
func TestRevocationBeforeTheWatchStarted(t *testing.T) {
	st, _ := openSQLite(t)
	lw := lateWatch{Store: st, begin: make(chan struct{})}
	svc := serviceOver(t, lw, func(c *localauth.Config) { c.Now = NewClock().Now })
	u, err := svc.Register(ctx, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Login(ctx, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, r.Token); err != nil {
		t.Fatal(err)
	}
	// Another process disables alice: the store logs it, this Service is
	// not told.
	if err := st.SetUserEnabled(ctx, u.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, r.Token); err != nil {
		t.Fatalf("before the watch started, the cached session: %v (the test needs it cached)", err)
	}
	close(lw.begin)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := svc.Authenticate(ctx, r.Token)
		if errors.Is(err, localauth.ErrInvalidSession) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a session disabled before the watch started still authenticates 15s after it started: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// C43: when every hashing slot is taken, logins fail fast with ErrBusy.
func TestHashingIsBounded(t *testing.T) {
	release := make(chan struct{})
	blocking := &blockingHasher{BcryptHasher: localauth.BcryptHasher{Cost: 4}, gate: release, entered: make(chan struct{}, 1)}
	e := MustEnv(t, func(c *localauth.Config) {
		c.Hasher = blocking
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = 20 * time.Millisecond
	})
	hash, _ := localauth.BcryptHasher{Cost: 4}.Hash(goodPW)
	u := localauth.User{Username: "alice", DisplayName: "alice", Enabled: true, CreatedAt: time.Now()}
	if err := e.Store.CreateUser(ctx, &u, hash); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Svc.Login(ctx, "alice", goodPW)
		done <- err
	}()
	<-blocking.entered
	start := time.Now()
	_, err := e.Svc.Login(ctx, "alice", goodPW)
	if !errors.Is(err, localauth.ErrBusy) {
		t.Fatalf("second login while the slot is taken: got %v, want ErrBusy", err)
	}
	// The slot is held until the test lets go: a login that waited for
	// it would never come back before release.
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("ErrBusy took %v, want an answer at once (the expected wait exceeds the budget)", took)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the login holding the slot: %v", err)
	}
	e.MustLogin(t, "alice", goodPW)
}

type blockingHasher struct {
	localauth.BcryptHasher
	gate    chan struct{}
	entered chan struct{}
}

func (b *blockingHasher) Compare(hash []byte, pw string) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.gate
	return b.BcryptHasher.Compare(hash, pw)
}

func TestTokenNeverPrints(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	for _, s := range []string{r.Token.String(), r.Token.GoString()} {
		if strings.Contains(s, string(r.Token)) {
			t.Fatalf("Token printed as %q", s)
		}
	}
	if v := r.Token.LogValue().String(); strings.Contains(v, string(r.Token)) {
		t.Fatalf("Token logged as %q", v)
	}
}

// A server that forgets the client address (r.Context() where
// web.Auth.Context(r) was meant) is told at once, loudly, instead of
// running with per-address throttling silently off.
func TestCallsWithoutClientAddressRefused(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	log := &SyncBuffer{}
	svc, err := localauth.New(e.Store, localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, PurgeInterval: -1,
		Logger: slog.New(slog.NewTextHandler(log, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Login(ctx, "alice", goodPW); !errors.Is(err, localauth.ErrNoClientAddress) {
		t.Fatalf("Login without an address: %v, want ErrNoClientAddress", err)
	}
	if _, err := svc.Register(ctx, "bob", goodPW); !errors.Is(err, localauth.ErrNoClientAddress) {
		t.Fatalf("Register without an address: %v", err)
	}
	if _, err := svc.CheckUsername(ctx, "bob"); !errors.Is(err, localauth.ErrNoClientAddress) {
		t.Fatalf("CheckUsername without an address: %v", err)
	}
	if _, err := e.Store.UserByName(ctx, "bob"); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("a refused Register created the user: %v", err)
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "web.Auth.Context(r)") {
		t.Fatalf("no error logged: %s", log)
	}
	if code, _, _ := localauth.Public(localauth.ErrNoClientAddress); code != localauth.CodeInternal {
		t.Fatalf("public code %s, want internal (a programming error)", code)
	}
	// With an address, the same call works.
	if _, err := svc.Login(localauth.WithClientIP(ctx, "192.0.2.1"), "alice", goodPW); err != nil {
		t.Fatal(err)
	}
}
