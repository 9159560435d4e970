package liveauth_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/sqlitestore"
)

// clock is a settable clock for the Service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// instance is one server: a Service over a shared store, its live app
// with a private page, on loopback.
type instance struct {
	svc *localauth.Service
	srv *httptest.Server
}

func newInstance(t *testing.T, st localauth.Store, clk *clock, edit func(*localauth.Config)) *instance {
	t.Helper()
	cfg := localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true,
		Logger: slog.New(slog.DiscardHandler), Now: clk.Now, PurgeInterval: -1}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := localauth.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	app := live.New(live.Config{Logger: slog.New(slog.DiscardHandler)})
	liveauth.Mount(app, svc, liveauth.Options{ExpiryCheckInterval: 10 * time.Millisecond})
	app.State("private", func() any { return &struct{}{} })
	app.Computed("private.greeting", []string{"auth.authenticated_user"}, func(_ context.Context, t *live.Tab) any {
		if u, ok := liveauth.User(t); ok {
			return "secret of " + u.Username
		}
		return ""
	})
	app.Page("/protected", "Private", liveauth.RequireLogin(`<p data-text="private.greeting"></p>`))
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return &instance{svc: svc, srv: srv}
}

func openStore(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), path, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var clientCtx = localauth.WithClientIP(context.Background(), "192.0.2.1")

// signIn registers alice (once) and logs her in, returning the token.
func signIn(t *testing.T, svc *localauth.Service) localauth.Token {
	t.Helper()
	if _, err := svc.Register(clientCtx, "alice", pw); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	res, err := svc.Login(clientCtx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	return res.Token
}

// openTab opens /protected in a tab that holds tok, and waits for the
// private value.
func openTab(t *testing.T, in *instance, tok localauth.Token) *tab {
	t.Helper()
	f := &fixture{svc: in.svc, srv: in.srv}
	tb := f.dialLocal(t, "/protected", map[string]string{liveauth.LocalStorageKey: string(tok)})
	tb.until(`"greeting":"secret of alice"`)
	return tb
}

// signedOut waits until the tab was signed out as by a logout: the private
// value cleared, the token removed from the browser, the user anonymous.
func (tb *tab) signedOut() {
	tb.t.Helper()
	tb.until(`"greeting":""`)
	tb.until(`"do":"local_remove","key":"` + liveauth.LocalStorageKey + `"`)
	tb.until(`"authenticated_user":{"id":-1`)
}

// A tab left open is signed out when its session reaches its absolute
// lifetime, on every instance that shows it, with no one touching it.
func TestExpiredSessionSignsOutOpenTabsOnEveryInstance(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "auth.db")
	life := func(c *localauth.Config) { c.SessionLifetime = time.Hour; c.IdleTimeout = -1 }
	a := newInstance(t, openStore(t, path), clk, life)
	b := newInstance(t, openStore(t, path), clk, life)
	tok := signIn(t, a.svc)
	ta, tb := openTab(t, a, tok), openTab(t, b, tok)
	clk.add(59 * time.Minute)
	ta.ping()
	clk.add(time.Minute)
	ta.signedOut()
	tb.signedOut()
}

// A tab kept open by its keepalive pings alone idles out; an event the
// person sends is use of the session and moves the idle deadline.
func TestIdleSessionSignsOutTabKeptOpenByPings(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	in := newInstance(t, openStore(t, filepath.Join(t.TempDir(), "auth.db")), clk, func(c *localauth.Config) {
		c.IdleTimeout = 10 * time.Minute
	})
	tok := signIn(t, in.svc)
	tb := openTab(t, in, tok)

	// Used at minute 6 (a navigation), the session is live until 16.
	clk.add(6 * time.Minute)
	tb.send(map[string]any{"t": "nav", "id": 5, "route": "/protected", "query": ""})
	tb.until(`"id":5`)
	clk.add(5 * time.Minute)
	if _, until, err := in.svc.CheckSession(clientCtx, tok); err != nil || !until.Equal(time.Date(2026, 1, 1, 0, 16, 0, 0, time.UTC)) {
		t.Fatalf("after a navigation at minute 6: live until %v, %v; want 00:16", until, err)
	}
	for range 5 {
		tb.ping()
	}
	tb.send(map[string]any{"t": "nav", "id": 6, "route": "/protected", "query": ""})
	tb.until(`"id":6`)
	if strings.Contains(tb.seen.String(), `"greeting":""`) {
		t.Fatal("the tab was signed out although it was used 5 minutes ago")
	}
	// Only pings since minute 11: out at 21.
	clk.add(9 * time.Minute)
	for range 5 {
		tb.ping()
	}
	clk.add(time.Minute)
	tb.signedOut()
	if _, err := in.svc.Authenticate(clientCtx, tok); err == nil {
		t.Fatal("the session is still live after idling out")
	}
}

// holdStore holds one session lookup after it read the store, until told.
type holdStore struct {
	localauth.Store
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (h *holdStore) SessionByTokenHash(ctx context.Context, th localauth.TokenHash) (localauth.Session, localauth.User, error) {
	s, u, err := h.Store.SessionByTokenHash(ctx, th)
	h.mu.Lock()
	armed := h.armed
	h.armed = false
	h.mu.Unlock()
	if armed {
		close(h.entered)
		<-h.release
	}
	return s, u, err
}

// A logout that lands while a tab's session is being checked, before the
// tab is filed for revocations, still signs the tab out.
func TestLogoutDuringTabCheckSignsTabOut(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	hs := &holdStore{Store: openStore(t, filepath.Join(t.TempDir(), "auth.db")),
		entered: make(chan struct{}), release: make(chan struct{})}
	in := newInstance(t, hs, clk, nil)
	tok := signIn(t, in.svc)
	hs.mu.Lock()
	hs.armed = true
	hs.mu.Unlock()
	f := &fixture{svc: in.svc, srv: in.srv}
	tb := f.dialLocal(t, "/protected", map[string]string{liveauth.LocalStorageKey: string(tok)})
	<-hs.entered
	if err := in.svc.Logout(clientCtx, tok); err != nil {
		t.Fatal(err)
	}
	close(hs.release)
	tb.signedOut()
}

// dialLocal opens a tab on route whose browser holds the given LocalStorage.
func (f *fixture) dialLocal(t *testing.T, route string, local map[string]string) *tab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/_live", &websocket.DialOptions{
		HTTPHeader: map[string][]string{"Origin": {f.srv.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	tb := &tab{t: t, c: c}
	tb.send(map[string]any{"t": "hello", "id": 1, "route": route, "query": "", "local": local})
	return tb
}

// ping sends a keepalive, as the page does every 25 seconds.
func (tb *tab) ping() { tb.send(map[string]any{"t": "ping"}) }
