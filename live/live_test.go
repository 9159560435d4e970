package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth/live"
)

// CounterState is a substate for the tests.
type CounterState struct {
	N      int    `live:"n"`
	Label  string `live:"label"`
	Secret string `live:"secret,server"`
	Saved  string `live:"saved,local=_saved"`
	Hidden int
}

type fixture struct {
	app      *live.App
	srv      *httptest.Server
	computes atomic.Int64
	order    chan string
	// release lets the handler of "counter.slow" finish.
	release chan struct{}
}

func newFixture(t *testing.T, cfg live.Config) *fixture {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	f := &fixture{order: make(chan string, 100), release: make(chan struct{})}
	app := live.New(cfg)
	app.State("counter", func() any { return &CounterState{} })
	app.Computed("counter.double", []string{"counter.n"}, func(_ context.Context, t *live.Tab) any {
		f.computes.Add(1)
		return live.Get[CounterState](t, "counter").N * 2
	})
	app.Computed("counter.has_secret", []string{"counter.secret"}, func(_ context.Context, t *live.Tab) any {
		return live.Get[CounterState](t, "counter").Secret != ""
	})
	app.Handle("counter.inc", func(_ context.Context, t *live.Tab, ev live.Event) error {
		live.Get[CounterState](t, "counter").N++
		return nil
	})
	app.Handle("counter.label", func(_ context.Context, t *live.Tab, ev live.Event) error {
		live.Get[CounterState](t, "counter").Label = ev.Fields["label"]
		t.SetValue("label", "")
		t.Focus("label")
		return nil
	})
	app.Handle("counter.secret", func(_ context.Context, t *live.Tab, ev live.Event) error {
		live.Get[CounterState](t, "counter").Secret = ev.Fields["secret"]
		return nil
	})
	app.Handle("counter.save", func(_ context.Context, t *live.Tab, ev live.Event) error {
		live.Get[CounterState](t, "counter").Saved = ev.Fields["v"]
		return nil
	})
	app.Handle("counter.slow", func(ctx context.Context, t *live.Tab, ev live.Event) error {
		live.Get[CounterState](t, "counter").Label = "working"
		t.Flush()
		select {
		case <-f.release:
		case <-ctx.Done():
		}
		live.Get[CounterState](t, "counter").Label = "done"
		t.Redirect("/next")
		f.order <- "slow"
		return nil
	})
	app.Handle("counter.mark", func(_ context.Context, t *live.Tab, ev live.Event) error {
		f.order <- ev.Fields["m"]
		return nil
	})
	app.Handle("counter.panic", func(context.Context, *live.Tab, live.Event) error { panic("boom") })
	app.Handle("counter.fail", func(context.Context, *live.Tab, live.Event) error {
		return errors.New("database password=hunter2 at 10.0.0.1")
	})
	app.Page("/", "Home", template.HTML(`<p data-text="counter.n"></p>`))
	f.app = app
	f.srv = httptest.NewServer(app)
	t.Cleanup(f.srv.Close)
	return f
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan map[string]any
	err  chan error
}

func (f *fixture) dial(t *testing.T, origin string) (*client, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if origin == "" {
		origin = f.srv.URL
	}
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(f.srv.URL, "http")+"/_live",
		&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
	if err != nil {
		return nil, res, err
	}
	c.SetReadLimit(1 << 20)
	cl := &client{t: t, conn: c, msgs: make(chan map[string]any, 256), err: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				cl.err <- err
				close(cl.msgs)
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			cl.msgs <- m
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return cl, res, nil
}

func (f *fixture) mustDial(t *testing.T) *client {
	t.Helper()
	c, _, err := f.dial(t, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(v any) {
	b, _ := json.Marshal(v)
	c.sendRaw(string(b))
}

func (c *client) hello(local map[string]string) map[string]any {
	c.t.Helper()
	c.send(map[string]any{"t": "hello", "id": 1, "route": "/", "local": local})
	return c.next()
}

func (c *client) next() map[string]any {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("connection closed: %v", <-c.err)
		}
		return m
	case <-time.After(30 * time.Second):
		c.t.Fatal("no message within 30s")
		return nil
	}
}

// closed waits for the connection to end and returns its close status.
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	for {
		select {
		case _, ok := <-c.msgs:
			if !ok {
				return websocket.CloseStatus(<-c.err)
			}
		case <-time.After(30 * time.Second):
			c.t.Fatal("connection still open after 30s")
		}
	}
}

func delta(m map[string]any, sub string) map[string]any {
	d, _ := m["delta"].(map[string]any)
	s, _ := d[sub].(map[string]any)
	return s
}

func TestHydrationSendsFullStateThenDeltas(t *testing.T) {
	f := newFixture(t, live.Config{})
	c := f.mustDial(t)
	m := c.hello(map[string]string{"_saved": "from-storage", "_other": "ignored"})
	if m["t"] != "update" || m["done"] != true || m["id"] != float64(1) {
		t.Fatalf("hello reply %v", m)
	}
	d := delta(m, "counter")
	if d["n"] != float64(0) || d["double"] != float64(0) || d["saved"] != "from-storage" || d["has_secret"] != false {
		t.Fatalf("full state %v", d)
	}
	if _, ok := d["secret"]; ok {
		t.Fatal("a server-only variable was sent to the page")
	}
	if delta(m, "live")["is_hydrated"] != true || delta(m, "live")["route"] != "/" {
		t.Fatalf("live state %v", delta(m, "live"))
	}
	if m["actions"] != nil {
		t.Fatalf("hydration echoed actions %v", m["actions"])
	}
	c.send(map[string]any{"t": "event", "id": 2, "name": "counter.inc"})
	m = c.next()
	d = delta(m, "counter")
	if len(d) != 2 || d["n"] != float64(1) || d["double"] != float64(2) {
		t.Fatalf("delta after inc: %v, want only n and double", d)
	}
	if len(m["delta"].(map[string]any)) != 1 {
		t.Fatalf("delta touches other substates: %v", m["delta"])
	}
}

// A computed value is recomputed only when a dependency changed.
func TestComputedRecomputedOnlyOnDependencyChange(t *testing.T) {
	f := newFixture(t, live.Config{})
	c := f.mustDial(t)
	c.hello(nil)
	base := f.computes.Load()
	for i := range 5 {
		c.send(map[string]any{"t": "event", "id": 10 + i, "name": "counter.label", "fields": map[string]string{"label": fmt.Sprint(i)}})
		c.next()
	}
	if n := f.computes.Load() - base; n != 0 {
		t.Fatalf("double recomputed %d times while n did not change", n)
	}
	c.send(map[string]any{"t": "event", "id": 20, "name": "counter.inc"})
	c.next()
	if n := f.computes.Load() - base; n != 1 {
		t.Fatalf("double recomputed %d times after one change of n, want 1", n)
	}
	// A server-only variable is a dependency too, and stays unsent.
	c.send(map[string]any{"t": "event", "id": 21, "name": "counter.secret", "fields": map[string]string{"secret": "s3cr3t"}})
	m := c.next()
	if d := delta(m, "counter"); d["has_secret"] != true || d["secret"] != nil {
		t.Fatalf("delta %v", d)
	}
}

func TestClientActionsAndLocalStorage(t *testing.T) {
	f := newFixture(t, live.Config{})
	c := f.mustDial(t)
	c.hello(map[string]string{"_saved": "old"})
	c.send(map[string]any{"t": "event", "id": 2, "name": "counter.label", "fields": map[string]string{"label": "x"}})
	m := c.next()
	acts, _ := json.Marshal(m["actions"])
	if string(acts) != `[{"do":"set_value","id":"label"},{"do":"focus","id":"label"}]` {
		t.Fatalf("actions %s", acts)
	}
	c.send(map[string]any{"t": "event", "id": 3, "name": "counter.save", "fields": map[string]string{"v": "new"}})
	acts, _ = json.Marshal(c.next()["actions"])
	if string(acts) != `[{"do":"local_set","key":"_saved","value":"new"}]` {
		t.Fatalf("actions %s", acts)
	}
	c.send(map[string]any{"t": "event", "id": 4, "name": "counter.save", "fields": map[string]string{"v": ""}})
	acts, _ = json.Marshal(c.next()["actions"])
	if string(acts) != `[{"do":"local_remove","key":"_saved"}]` {
		t.Fatalf("actions %s", acts)
	}
}

// Only registered handlers run; anything else gets an error.
func TestUnknownAndMalformedMessages(t *testing.T) {
	f := newFixture(t, live.Config{})
	c := f.mustDial(t)
	c.send(map[string]any{"t": "event", "id": 1, "name": "counter.inc"})
	if m := c.next(); m["error"] != "not_hydrated" {
		t.Fatalf("event before hello: %v", m)
	}
	c.hello(nil)
	for _, raw := range []string{
		`{"t":"event","id":2,"name":"counter.private"}`,
		`{"t":"event","id":3,"name":"counter.Inc"}`,
		`{"t":"event","id":4,"name":"counter"}`,
	} {
		c.sendRaw(raw)
		if m := c.next(); m["error"] != "unknown_event" {
			t.Fatalf("%s: got %v", raw, m)
		}
	}
	for _, raw := range []string{
		`not json`, `{"t":"event"`, `{"t":"event","id":5,"name":"counter.inc","extra":1}`, `{"t":"bogus"}`,
		`{"t":"event","id":6,"name":"counter.inc"} {"t":"event"}`, `{"t":"event","id":7,"name":"counter.inc","fields":{"a":1}}`,
		"{\"t\":\"event\",\"id\":8,\"name\":\"counter.inc\",\"fields\":{\"a\":\"\xff\"}}",
		`{"t":"nav","id":9,"route":"//evil.com"}`, `{"t":"hello","id":10,"route":"/"}`, `[]`, `null`,
	} {
		c.sendRaw(raw)
		if m := c.next(); m["t"] != "error" {
			t.Fatalf("%q: got %v, want an error reply", raw, m)
		}
	}
	// Binary frames are refused too, and the connection still works.
	c.conn.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3})
	if m := c.next(); m["error"] != "bad_message" {
		t.Fatalf("binary: %v", m)
	}
	c.send(map[string]any{"t": "event", "id": 11, "name": "counter.inc"})
	if d := delta(c.next(), "counter"); d["n"] != float64(1) {
		t.Fatalf("after the bad messages, inc gave %v", d)
	}
}

// C44: a panicking or failing handler costs its event, not the connection;
// the page sees a generic error.
func TestHandlerFailuresAreContained(t *testing.T) {
	f := newFixture(t, live.Config{})
	c := f.mustDial(t)
	c.hello(nil)
	c.send(map[string]any{"t": "event", "id": 2, "name": "counter.panic"})
	if m := c.next(); m["error"] != "handler_failed" {
		t.Fatalf("panic: %v", m)
	}
	c.next() // the done update
	c.send(map[string]any{"t": "event", "id": 3, "name": "counter.fail"})
	var m map[string]any
	for m = c.next(); m["t"] != "error"; m = c.next() {
	}
	if m["error"] != "handler_failed" || strings.Contains(fmt.Sprint(m), "hunter2") {
		t.Fatalf("failing handler: %v", m)
	}
	c.send(map[string]any{"t": "event", "id": 4, "name": "counter.inc"})
	if d := delta(c.next(), "counter"); d["n"] != float64(1) {
		t.Fatalf("after failures: %v", d)
	}
}

// Events of one tab run in order; a slow handler pushes progress and does
// not hold up other tabs: another tab is answered while the slow handler is
// still held, and its event comes after the slow one in the tab that sent
// them.
func TestOrderingAndLongHandlers(t *testing.T) {
	f := newFixture(t, live.Config{})
	a, b := f.mustDial(t), f.mustDial(t)
	a.hello(nil)
	b.hello(nil)
	a.send(map[string]any{"t": "event", "id": 2, "name": "counter.slow"})
	a.send(map[string]any{"t": "event", "id": 3, "name": "counter.mark", "fields": map[string]string{"m": "after-slow"}})
	if d := delta(a.next(), "counter"); d["label"] != "working" {
		t.Fatalf("first push of the slow handler: %v", d)
	}
	b.send(map[string]any{"t": "event", "id": 2, "name": "counter.mark", "fields": map[string]string{"m": "other-tab"}})
	b.next() // answered while the slow handler is held
	close(f.release)
	m := a.next()
	if d := delta(m, "counter"); d["label"] != "done" || m["done"] != true {
		t.Fatalf("end of the slow handler: %v", m)
	}
	acts, _ := json.Marshal(m["actions"])
	if string(acts) != `[{"do":"redirect","to":"/next"}]` {
		t.Fatalf("actions %s", acts)
	}
	got := []string{<-f.order, <-f.order, <-f.order}
	if got[0] != "other-tab" || got[1] != "slow" || got[2] != "after-slow" {
		t.Fatalf("order %v", got)
	}
}

// C27: a foreign Origin is refused at the handshake.
func TestOriginChecked(t *testing.T) {
	f := newFixture(t, live.Config{OriginPatterns: []string{"trusted.example"}})
	for _, o := range []string{"http://evil.example", "https://trusted.example.evil.example", "null"} {
		_, res, err := f.dial(t, o)
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %s: err %v, res %v; want 403", o, err, res)
		}
	}
	if _, _, err := f.dial(t, "https://trusted.example"); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
}

// C29: oversized messages close with 1009; floods are rate-limited, then
// closed; idle connections are closed; connections per client are bounded.
func TestLimits(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		f := newFixture(t, live.Config{})
		c := f.mustDial(t)
		c.hello(nil)
		c.sendRaw(`{"t":"event","id":2,"name":"counter.label","fields":{"label":"` + strings.Repeat("x", 1<<20) + `"}}`)
		if code := c.closed(); code != websocket.StatusMessageTooBig {
			t.Fatalf("close status %d, want 1009", code)
		}
	})
	t.Run("rate", func(t *testing.T) {
		f := newFixture(t, live.Config{EventsPerSecond: 5, EventBurst: 5})
		c := f.mustDial(t)
		c.hello(nil)
		for i := range 20 {
			c.send(map[string]any{"t": "event", "id": 10 + i, "name": "counter.inc"})
		}
		limited := 0
		for range 20 {
			if m := c.next(); m["error"] == "rate_limited" {
				limited++
			}
		}
		if limited < 10 {
			t.Fatalf("%d of 20 rapid events rate-limited, want most of them", limited)
		}
	})
	t.Run("flood", func(t *testing.T) {
		f := newFixture(t, live.Config{EventsPerSecond: 1, EventBurst: 1})
		c := f.mustDial(t)
		c.hello(nil)
		for range 50 {
			if c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"t":"ping"}`)) != nil {
				break
			}
		}
		if code := c.closed(); code != websocket.StatusPolicyViolation {
			t.Fatalf("close status %d, want 1008", code)
		}
	})
	t.Run("idle", func(t *testing.T) {
		f := newFixture(t, live.Config{IdleTimeout: 200 * time.Millisecond})
		c := f.mustDial(t)
		c.hello(nil)
		start := time.Now()
		c.closed()
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("idle connection closed after %v", took)
		}
	})
	t.Run("per client", func(t *testing.T) {
		f := newFixture(t, live.Config{MaxConnsPerClient: 2})
		f.mustDial(t)
		f.mustDial(t)
		_, res, err := f.dial(t, "")
		if err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection: err %v res %v, want 429", err, res)
		}
	})
}

// The server can push to a tab at any time; a shutdown closes every tab
// with 1001 and ends every goroutine.
func TestPushShutdownAndGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFixture(t, live.Config{})
	var clients []*client
	for range 5 {
		c := f.mustDial(t)
		c.hello(nil)
		clients = append(clients, c)
	}
	f.app.Each(func(tab *live.Tab) {
		tab.Push(func(tab *live.Tab) { live.Get[CounterState](tab, "counter").Label = "pushed" })
	})
	for _, c := range clients {
		if d := delta(c.next(), "counter"); d["label"] != "pushed" {
			t.Fatalf("push: %v", d)
		}
	}
	if n := f.app.Conns(); n != 5 {
		t.Fatalf("Conns() = %d, want 5", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	codes := make([]websocket.StatusCode, len(clients))
	for i, c := range clients {
		wg.Go(func() { codes[i] = c.closed() })
	}
	if err := f.app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, code := range codes {
		if code != websocket.StatusGoingAway {
			t.Fatalf("close status %d, want 1001", code)
		}
	}
	if _, res, err := f.dial(t, ""); err == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection after Shutdown: %v %v, want 503", err, res)
	}
	f.srv.Close()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPagesAndAssets(t *testing.T) {
	f := newFixture(t, live.Config{Head: `<link rel="stylesheet" href="/s.css">`})
	res, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	buf := new(strings.Builder)
	fmt.Fprint(buf, res.Status)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /: %s %v", res.Status, res.Header)
	}
	for path, want := range map[string]int{"/missing": 404, "/_live/live.js": 200} {
		res, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	res, err = http.Post(f.srv.URL+"/_live/nojs", "application/x-www-form-urlencoded", strings.NewReader("password=secret"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST /_live/nojs: %d, want 400", res.StatusCode)
	}
}
