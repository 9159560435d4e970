package liveauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/demo"
	"github.com/localauth/localauth/internal/faultproxy"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/pgstore"
)

// pageClient is a websocket client that speaks the live protocol as a page.
type pageClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan string
	seen strings.Builder
	id   int64
}

func dialPage(t *testing.T, srv *httptest.Server) *pageClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/_live",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	p := &pageClient{t: t, conn: c, msgs: make(chan string, 256)}
	go func() {
		defer close(p.msgs)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			p.msgs <- string(b)
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return p
}

func (p *pageClient) send(m map[string]any) {
	p.t.Helper()
	p.id++
	m["id"] = p.id
	if m["t"] == "hello" {
		delete(m, "id")
	}
	b, _ := json.Marshal(m)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.conn.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatalf("sending: %v", err)
	}
}

// next returns the next message, or "" after d.
func (p *pageClient) next(d time.Duration) string {
	select {
	case m, ok := <-p.msgs:
		if !ok {
			p.t.Fatal("connection closed")
		}
		p.seen.WriteString(m + "\n")
		return m
	case <-time.After(d):
		return ""
	}
}

// until reads until a message contains every one of parts, for up to d.
func (p *pageClient) until(d time.Duration, parts ...string) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		m := p.next(time.Until(deadline))
		ok := m != ""
		for _, s := range parts {
			ok = ok && strings.Contains(m, s)
		}
		if ok {
			return
		}
	}
	p.t.Fatalf("no message with %q within %v; got:\n%s", parts, d, p.seen.String())
}

// A tab that a PostgreSQL outage made anonymous checks its session again
// before its next event once the database is back, and returns from the
// login page to the page it was on. The periodic re-check is set to an hour,
// so that the event is what brings the tab back.
func TestTabRechecksOnNextEventAfterOutage(t *testing.T) {
	dsn := os.Getenv("LOCALAUTH_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("PostgreSQL test: set LOCALAUTH_TEST_POSTGRES to run it")
	}
	ctx := localauth.WithClientIP(context.Background(), "192.0.2.1")
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "liveauth_test_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	u, _ := url.Parse(dsn)
	proxy, err := faultproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	u.Host = proxy.Addr()
	st, err := pgstore.Open(ctx, u.String(), pgstore.Options{Schema: schema, QueryTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	quiet := slog.New(slog.DiscardHandler)
	svc, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	const pw = "correct horse battery staple"
	if _, err := svc.Register(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := demo.New(svc, live.Config{Logger: quiet}, liveauth.Options{Logger: quiet, RecheckInterval: time.Hour})
	srv := httptest.NewServer(app)
	defer srv.Close()

	p := dialPage(t, srv)
	p.send(map[string]any{"t": "hello", "route": "/protected", "local": map[string]string{liveauth.LocalStorageKey: string(res.Token)}})
	p.until(10*time.Second, `"is_authenticated":true`)

	proxy.Cut()
	p.until(30*time.Second, `"is_authenticated":false`)
	// The page's spinner asks where to go: to /login, which the page
	// then shows.
	p.send(map[string]any{"t": "event", "name": "login.redir"})
	p.until(10*time.Second, `"redirect"`, `"/login"`)
	p.send(map[string]any{"t": "nav", "route": "/login"})
	if strings.Contains(p.seen.String(), `"local_remove"`) {
		t.Fatal("the outage made the page forget its token")
	}

	proxy.Restore()
	// Each event is the next event: the first ones may still meet a
	// broken pooled connection.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.seen.String(), `"to":"/protected"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the tab did not return to /protected within 30s of the database's return; got:\n%s", p.seen.String())
		}
		p.send(map[string]any{"t": "event", "name": "login.redir"})
		for m := p.next(300 * time.Millisecond); m != ""; m = p.next(50 * time.Millisecond) {
		}
	}
	if !strings.Contains(p.seen.String(), `"is_authenticated":true`) || strings.Count(p.seen.String(), `"is_authenticated":true`) < 2 {
		t.Fatalf("the tab is not authenticated again:\n%s", p.seen.String())
	}
}
