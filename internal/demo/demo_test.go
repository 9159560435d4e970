package demo_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/demo"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/sqlitestore"
)

const pw = "correct horse battery staple"

// mustDemo serves the demo app over a Service on a SQLite file, with one
// user, alice, and returns a live session token of hers.
func mustDemo(tb testing.TB) (*live.App, *httptest.Server, localauth.Token) {
	tb.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(tb.TempDir(), "auth.db"), sqlitestore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	svc, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, Logger: quiet, PurgeInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	ctx := localauth.WithClientIP(context.Background(), "192.0.2.1")
	if _, err := svc.Register(ctx, "alice", pw); err != nil {
		tb.Fatal(err)
	}
	res, err := svc.Login(ctx, "alice", pw)
	if err != nil {
		tb.Fatal(err)
	}
	app, auth := demo.New(svc, live.Config{Logger: quiet}, liveauth.Options{Logger: quiet})
	if auth == nil {
		tb.Fatal("New returned no Auth")
	}
	srv := httptest.NewServer(app)
	tb.Cleanup(srv.Close)
	return app, srv, res.Token
}

// The demo has its home page, its protected page, and liveauth's pages,
// each once, in its own frame, with the stylesheet and passkey script
// served and linked.
func TestDemoPages(t *testing.T) {
	app, srv, _ := mustDemo(t)
	want := []string{"/", "/protected", liveauth.LoginRoute, liveauth.RegisterRoute, liveauth.AccountRoute,
		liveauth.ForgotPasswordRoute, liveauth.ResetPasswordRoute, liveauth.VerifyEmailRoute}
	routes := app.Routes()
	slices.Sort(want)
	if !slices.Equal(routes, want) {
		t.Fatalf("routes %v, want %v", routes, want)
	}
	for _, r := range routes {
		res, err := http.Get(srv.URL + r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `class="topbar"`) ||
			!strings.Contains(body, liveauth.StylesheetPath) || !strings.Contains(body, liveauth.PasskeyScriptPath) {
			t.Errorf("GET %s: %d, frame, stylesheet or script missing", r, res.StatusCode)
		}
	}
	for path, asset := range map[string][]byte{liveauth.StylesheetPath: liveauth.Stylesheet, liveauth.PasskeyScriptPath: liveauth.PasskeyScript} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || string(b) != string(asset) {
			t.Errorf("GET %s: %d, %d bytes, want the asset's %d", path, res.StatusCode, len(b), len(asset))
		}
	}
}

// privateData opens a tab on /protected with the given token in its
// LocalStorage and returns demo.private_data as the tab sees it.
func privateData(tb testing.TB, srv *httptest.Server, token localauth.Token) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/_live",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
	if err != nil {
		tb.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	hello, _ := json.Marshal(map[string]any{"t": "hello", "id": 1, "route": "/protected",
		"local": map[string]string{liveauth.LocalStorageKey: string(token)}})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		tb.Fatal(err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		var m struct {
			ID    int64                                 `json:"id"`
			Delta map[string]map[string]json.RawMessage `json:"delta"`
		}
		json.Unmarshal(b, &m)
		if m.ID != 1 {
			continue
		}
		var v string
		json.Unmarshal(m.Delta["demo"]["private_data"], &v)
		return v
	}
}

// The protected page's private data reaches the signed-in tab only.
func TestDemoPrivateDataForSignedInTabsOnly(t *testing.T) {
	_, srv, tok := mustDemo(t)
	if got, want := privateData(t, srv, tok), "This is private data for alice."; got != want {
		t.Fatalf("signed-in tab: %q, want %q", got, want)
	}
	if got := privateData(t, srv, ""); got != "" {
		t.Fatalf("anonymous tab: %q, want nothing", got)
	}
}
