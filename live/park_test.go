package live_test

import (
	"context"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth/live"
)

// An idle tab holds no goroutine of the server's: its connection waits in
// the poller, and a message wakes it, answered in order, however many come
// at once.
func TestIdleTabsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections are parked on Linux only")
	}
	f := newFixture(t, live.Config{})
	const n = 50
	base := runtime.NumGoroutine()
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = f.mustDial(t)
		clients[i].hello(nil)
	}
	// Each test client has one reading goroutine of its own; a server
	// reading with a goroutine per tab would add n more.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := runtime.NumGoroutine() - n
		if got < base+n/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle tabs: %d goroutines besides the clients', want fewer than %d", n, got, base+n/2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for round := range 3 {
		for _, c := range clients {
			c.send(map[string]any{"t": "event", "id": 2 + round*3, "name": "counter.inc"})
			c.send(map[string]any{"t": "event", "id": 3 + round*3, "name": "counter.inc"})
			c.send(map[string]any{"t": "event", "id": 4 + round*3, "name": "counter.inc"})
		}
		for _, c := range clients {
			for k := range 3 {
				m := c.next()
				if id, _ := m["id"].(float64); int(id) != 2+round*3+k {
					t.Fatalf("round %d: reply %v, want id %d", round, m, 2+round*3+k)
				}
				if d := delta(m, "counter"); d["n"] != float64(round*3+k+1) {
					t.Fatalf("round %d: counter %v, want %d", round, d, round*3+k+1)
				}
			}
		}
		time.Sleep(50 * time.Millisecond) // parked again
	}
}

// Parked tabs end however their pages go, a close handshake or a dropped
// connection, while others come and go: none is left open.
func TestParkedTabsEndWhenPagesGo(t *testing.T) {
	f := newFixture(t, live.Config{MaxConnsPerClient: 1000})
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/_live",
				&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {f.srv.URL}}})
			if err != nil {
				t.Error(err)
				return
			}
			c.Write(ctx, websocket.MessageText, []byte(`{"t":"hello","id":1,"route":"/","local":{}}`))
			if _, _, err := c.Read(ctx); err != nil {
				t.Error(err)
				return
			}
			if i%3 == 0 {
				time.Sleep(20 * time.Millisecond) // parked by now
			}
			if i%2 == 0 {
				c.Close(websocket.StatusNormalClosure, "")
			} else {
				c.CloseNow()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for f.app.Conns() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tabs still open 10s after every page went", f.app.Conns())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
