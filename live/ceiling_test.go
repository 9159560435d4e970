package live_test

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth/live"
)

// Past the total ceiling a new websocket gets 503 with Retry-After, from any
// address, while pages keep being served; a freed place admits again.
func TestTotalConnectionCeiling(t *testing.T) {
	f := newFixture(t, live.Config{MaxConns: 3})
	var open []*client
	for i := range 3 {
		c, _, err := f.dial(t, "")
		if err != nil {
			t.Fatalf("connection %d of 3: %v", i+1, err)
		}
		open = append(open, c)
	}
	_, res, err := f.dial(t, "")
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("connection past the ceiling: err %v, res %v; want 503 with Retry-After", err, res)
	}
	page, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("a page at the ceiling: %d, want 200", page.StatusCode)
	}
	open[0].conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for f.app.Conns() > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection still counted: %d open", f.app.Conns())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The handshake's place is released with the connection: poll until
	// a new connection is admitted.
	for {
		_, res, err := f.dial(t, "")
		if err == nil {
			break
		}
		if res == nil || res.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after a close: err %v, res %v; want admitted", err, res)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDefaultMaxConns(t *testing.T) {
	if n := live.DefaultMaxConns(); n < 16 {
		t.Fatalf("DefaultMaxConns() = %d, want at least 16", n)
	}
}

// The page's own host under the other scheme is a foreign origin, over
// plain HTTP and over TLS alike.
func TestOriginSchemeChecked(t *testing.T) {
	for _, tlsServer := range []bool{false, true} {
		app := live.New(live.Config{Logger: slog.New(slog.DiscardHandler)})
		app.Page("/", "Home", template.HTML(`<p>home</p>`))
		var srv *httptest.Server
		if tlsServer {
			srv = httptest.NewTLSServer(app)
		} else {
			srv = httptest.NewServer(app)
		}
		defer srv.Close()
		host := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "https://"), "http://")
		own, other := "http://"+host, "https://"+host
		if tlsServer {
			own, other = other, own
		}
		dial := func(origin string) (*http.Response, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/_live",
				&websocket.DialOptions{HTTPClient: srv.Client(), HTTPHeader: http.Header{"Origin": {origin}}})
			if err == nil {
				c.CloseNow()
			}
			return res, err
		}
		if res, err := dial(other); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("TLS %v, origin %s: err %v, res %v; want 403", tlsServer, other, err, res)
		}
		if _, err := dial(own); err != nil {
			t.Fatalf("TLS %v, own origin %s refused: %v", tlsServer, own, err)
		}
	}
}
