package liveauth_test

import (
	"context"
	"encoding/json"
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

const pw = "correct horse battery staple"

// gate holds password comparisons while closed, after telling entered.
type gate struct {
	localauth.BcryptHasher
	mu      sync.Mutex
	closed  bool
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) Compare(hash []byte, password string) error {
	g.mu.Lock()
	hold := g.closed
	g.mu.Unlock()
	if hold {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.open
	}
	return g.BcryptHasher.Compare(hash, password)
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed, g.entered, g.open = true, make(chan struct{}, 1), make(chan struct{})
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
	close(g.open)
}

type fixture struct {
	svc  *localauth.Service
	srv  *httptest.Server
	gate *gate
}

func newFixture(t *testing.T, edit func(*localauth.Config)) *fixture {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := &gate{BcryptHasher: localauth.BcryptHasher{Cost: 4}}
	cfg := localauth.Config{Hasher: g, AllowWeakCost: true, Logger: slog.New(slog.DiscardHandler)}
	if edit != nil {
		edit(&cfg)
	}
	svc, err := localauth.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if _, err := svc.Register(localauth.WithClientIP(context.Background(), "192.0.2.1"), "alice", pw); err != nil {
		t.Fatal(err)
	}
	app := live.New(live.Config{Logger: slog.New(slog.DiscardHandler)})
	liveauth.Mount(app, svc, liveauth.Options{})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	return &fixture{svc: svc, srv: srv, gate: g}
}

// tab is a live connection read message by message.
type tab struct {
	t    *testing.T
	c    *websocket.Conn
	seen strings.Builder
}

func (f *fixture) dial(t *testing.T, route string) *tab {
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
	tb.send(map[string]any{"t": "hello", "id": 1, "route": route, "query": ""})
	return tb
}

func (tb *tab) send(v any) {
	tb.t.Helper()
	b, _ := json.Marshal(v)
	if err := tb.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		tb.t.Fatal(err)
	}
}

// until reads until the messages so far contain s, failing after a
// generous deadline.
func (tb *tab) until(s string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !strings.Contains(tb.seen.String(), s) {
		_, b, err := tb.c.Read(ctx)
		if err != nil {
			tb.t.Fatalf("no message with %q: %v; got:\n%s", s, err, tb.seen.String())
		}
		tb.seen.Write(b)
		tb.seen.WriteByte('\n')
	}
}

func login(tb *tab, id int) {
	tb.send(map[string]any{"t": "event", "id": id, "name": "login.on_submit",
		"fields": map[string]string{"username": "alice", "password": pw}})
}

// A login that waits for a hashing slot says so on the page, then goes on
// to the page that asked for it.
func TestLoginShowsSigningInWhileQueued(t *testing.T) {
	f := newFixture(t, nil)
	f.gate.close()
	tb := f.dial(t, "/login")
	login(tb, 2)
	<-f.gate.entered
	tb.until(liveauth.MsgSigningIn)
	if strings.Contains(tb.seen.String(), `"to":"/"`) {
		t.Fatal("the page moved on before the password was checked")
	}
	f.gate.release()
	tb.until(`"to":"/"`)
}

// A login refused as busy retries once by itself, after the Retry-After
// the refusal gave, and gets in.
func TestLoginRetriesOnceWhenBusy(t *testing.T) {
	f := newFixture(t, func(c *localauth.Config) {
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = time.Millisecond
	})
	// Another login holds the only slot.
	f.gate.close()
	held := make(chan error, 1)
	go func() {
		_, err := f.svc.Login(localauth.WithClientIP(context.Background(), "192.0.2.1"), "alice", pw)
		held <- err
	}()
	<-f.gate.entered
	tb := f.dial(t, "/login")
	login(tb, 2)
	tb.until(liveauth.MsgBusyRetrying)
	f.gate.release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	tb.until(`"to":"/"`)
	if strings.Contains(tb.seen.String(), localauth.MsgBusy) {
		t.Fatal("the page showed the busy error although the retry got in")
	}
}

// A login on the live page is a remembered one unless "Public or shared
// computer" is ticked: the default keeps the token in LocalStorage and the
// longer lifetime; the shared-computer choice keeps it for the browser
// session (sessionStorage) and the plain lifetime.
func TestLoginSharedComputerChoice(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		name     string
		fields   map[string]string
		remember bool
	}{
		{"default", map[string]string{"username": "alice", "password": pw}, true},
		{"shared computer", map[string]string{"username": "alice", "password": pw, "shared": "yes"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := f.dial(t, "/login")
			tb.send(map[string]any{"t": "event", "id": 2, "name": "login.on_submit", "fields": c.fields})
			tb.until(`"do":"local_set","key":"_auth_token"`)
			var set struct {
				Value   string `json:"value"`
				Session bool   `json:"session"`
			}
			for _, line := range strings.Split(tb.seen.String(), "\n") {
				var m struct {
					Actions []struct {
						Do      string `json:"do"`
						Value   string `json:"value"`
						Session bool   `json:"session"`
					} `json:"actions"`
				}
				json.Unmarshal([]byte(line), &m)
				for _, a := range m.Actions {
					if a.Do == "local_set" {
						set.Value, set.Session = a.Value, a.Session
					}
				}
			}
			if set.Session == c.remember {
				t.Fatalf("token kept in sessionStorage: %v, want %v", set.Session, !c.remember)
			}
			u, err := f.svc.Authenticate(context.Background(), localauth.Token(set.Value))
			if err != nil {
				t.Fatal(err)
			}
			sessions, err := f.svc.Sessions(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			remembered, found := false, false
			for _, s := range sessions {
				if s.TokenHash == localauth.HashToken(localauth.Token(set.Value)) {
					remembered, found = s.Remember, true
				}
			}
			if !found {
				t.Fatal("the tab's session is not among the user's")
			}
			if remembered != c.remember {
				t.Fatalf("session remembered: %v, want %v", remembered, c.remember)
			}
		})
	}
}
