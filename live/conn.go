package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth/throttle"
)

// Close codes the server uses.
const (
	statusNormal        = int(websocket.StatusNormalClosure)   // 1000
	statusGoingAway     = int(websocket.StatusGoingAway)       // 1001: shutdown
	statusPolicy        = int(websocket.StatusPolicyViolation) // 1008: abuse, idle
	statusTryAgainLater = int(websocket.StatusTryAgainLater)   // 1013: slow client
)

// writeTimeout bounds one write to a page; a page slower than that is
// dropped.
const writeTimeout = 10 * time.Second

func (a *App) serveSocket(w http.ResponseWriter, r *http.Request) {
	ip := a.cfg.ClientIP(r)
	if a.foreignScheme(r) {
		a.log.Warn("live: handshake refused", "ip", ip, "origin", truncate(r.Header.Get("Origin"), 200), "err", "origin scheme is not the page's")
		http.Error(w, "cross-origin websocket refused", http.StatusForbidden)
		return
	}
	switch reason := a.admit(ip); reason {
	case "":
	case refusedPerClient:
		a.log.Warn("live: connection refused", "reason", reason, "ip", ip)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many connections", http.StatusTooManyRequests)
		return
	default:
		// The server as a whole is full or stopping: not this client's
		// doing, so 503, and the page retries later.
		a.log.Warn("live: connection refused", "reason", reason, "ip", ip)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "server busy", http.StatusServiceUnavailable)
		return
	}
	// The server's read and write timeouts are for requests; a websocket
	// lives on, its idleness bounded by IdleTimeout instead.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	sb := &smallBuffers{ResponseWriter: w}
	c, err := websocket.Accept(sb, r, &websocket.AcceptOptions{OriginPatterns: a.cfg.OriginPatterns})
	if err != nil {
		// Accept has answered already: 403 for a foreign Origin, 400 for
		// a request that is not a websocket handshake.
		a.release(ip)
		a.log.Warn("live: handshake refused", "ip", ip, "origin", truncate(r.Header.Get("Origin"), 200), "err", err)
		return
	}
	c.SetReadLimit(a.cfg.MaxMessageBytes)
	rd := a.newTabReader(c, ip, sb)
	t := a.newConnTab(c, ip, rd.closeConn)
	rd.t = t
	for _, fn := range a.onConnect {
		fn(r, t)
	}
	if !a.register(t) {
		a.release(ip)
		c.Close(websocket.StatusGoingAway, "server shutting down")
		t.closeWith(statusGoingAway, "")
		return
	}
	// The tab is read by a goroutine of its own while it has messages,
	// by none while idle (see tabReader). The HTTP server's goroutine
	// returns now, and with it the handshake's request and buffers, so an
	// idle tab costs as little memory as it can.
	rd.start()
}

// newConnTab makes the tab of a new connection, with its way to send and to
// close; closeConn runs the close handshake it is given (see
// tabReader.closeConn).
func (a *App) newConnTab(c *websocket.Conn, ip string, closeConn func(handshake func())) *Tab {
	ctx, cancel := context.WithCancel(context.Background())
	t := newTab(a, ctx, ip)
	closed := make(chan struct{})
	t.closeDone = closed
	t.closeFn = func(code int, reason string) {
		t.closeMu.Lock()
		defer t.closeMu.Unlock()
		if t.closeCode != 0 {
			return
		}
		t.closeCode, t.closeReason = code, reason
		cancel()
		// The close handshake (send the code, wait for the page's
		// answer) unblocks the reader.
		go func() {
			closeConn(func() { c.Close(websocket.StatusCode(code), reason) })
			close(closed)
		}()
	}
	// Writes go straight to the connection, from whichever goroutine
	// sends (the library serializes them); a page that does not take a
	// message within writeTimeout is dropped. No queue is kept per tab.
	t.send = func(m serverMessage) bool {
		if ctx.Err() != nil {
			return false
		}
		b, err := json.Marshal(m)
		if err != nil {
			a.log.Error("live: encoding a message", "err", err)
			return true
		}
		// Not the tab's context: cancelling a write makes the library drop
		// the connection at once, and a closing tab still owes its page a
		// close frame.
		wctx, wcancel := context.WithTimeout(context.Background(), writeTimeout)
		err = c.Write(wctx, websocket.MessageText, b)
		wcancel()
		if err != nil {
			t.closeWith(statusTryAgainLater, "client too slow")
			return false
		}
		return true
	}
	return t
}

// Why admit refused a connection.
const (
	refusedPerClient = "too many connections from this client"
	refusedTotal     = "too many connections in all"
	refusedClosing   = "shutting down"
)

// admit counts a new connection of ip, or says why it is refused.
func (a *App) admit(ip string) string {
	ip = throttle.ClientBucket(ip) // IPv6 by its /64: one network cannot fill MaxConns
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.closing:
		return refusedClosing
	case a.cfg.MaxConns > 0 && a.conns >= a.cfg.MaxConns:
		return refusedTotal
	case a.perIP[ip] >= a.cfg.MaxConnsPerClient:
		return refusedPerClient
	}
	a.perIP[ip]++
	a.conns++
	return ""
}

// foreignScheme reports whether the handshake's Origin names this very host
// under another scheme than the one the request came by (an https page of
// this host talking to its http server, or the reverse). The library's
// check compares hosts only.
func (a *App) foreignScheme(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		// Not this host: the library decides, by OriginPatterns.
		return false
	}
	want := "http"
	if a.cfg.Secure(r) {
		want = "https"
	}
	return !strings.EqualFold(u.Scheme, want)
}

func (a *App) release(ip string) {
	ip = throttle.ClientBucket(ip) // IPv6 by its /64: one network cannot fill MaxConns
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conns--
	if a.perIP[ip]--; a.perIP[ip] <= 0 {
		delete(a.perIP, ip)
	}
}

func (a *App) register(t *Tab) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return false
	}
	a.tabs[t] = struct{}{}
	a.wg.Add(1)
	return true
}

func (a *App) unregister(t *Tab) {
	a.mu.Lock()
	delete(a.tabs, t)
	a.mu.Unlock()
	for _, fn := range a.onClose {
		fn(t)
	}
	a.wg.Done()
}

func (a *App) replyBad(t *Tab, id int64, err error) {
	a.log.Warn("live: malformed message", "ip", t.clientIP, "err", err)
	t.send(serverMessage{T: "error", ID: id, Error: ErrCodeBadMessage, Message: "The message could not be understood."})
}

// handle runs one message on the tab and answers it; the caller holds t.mu.
func (a *App) handle(t *Tab, m clientMessage) bool {
	switch m.T {
	case "hello":
		if t.hydrated {
			return t.send(serverMessage{T: "error", ID: m.ID, Error: ErrCodeBadMessage, Message: "Already hydrated."})
		}
		t.hydrate(m.Route, m.Query, m.Local)
		return t.sync(m.ID, true)
	case "nav":
		if !t.hydrated {
			return t.send(serverMessage{T: "error", ID: m.ID, Error: ErrCodeNotHydrated, Message: "Send hello first."})
		}
		t.route, t.query = m.Route, m.Query
		a.beforeEvent(t, m)
		return t.sync(m.ID, true)
	case "event":
		h, ok := a.handlers[m.Name]
		if !ok {
			a.log.Warn("live: event for an unknown or private handler", "ip", t.clientIP, "event", truncate(m.Name, 64))
			return t.send(serverMessage{T: "error", ID: m.ID, Error: ErrCodeUnknownEvent, Message: "No such event handler."})
		}
		if !t.hydrated {
			return t.send(serverMessage{T: "error", ID: m.ID, Error: ErrCodeNotHydrated, Message: "Send hello first."})
		}
		a.beforeEvent(t, m)
		var herr error
		a.safely(t, m.ID, m.Name, func() { herr = h(t.ctx, t, Event{Name: m.Name, Fields: m.Fields}) })
		if herr != nil {
			if t.ctx.Err() != nil {
				return false
			}
			a.log.Error("live: handler failed", "event", m.Name, "err", herr)
			t.sync(0, false)
			return t.send(serverMessage{T: "error", ID: m.ID, Error: ErrCodeHandler, Message: "Something went wrong; please try again."})
		}
		return t.sync(m.ID, true)
	}
	return true
}

// beforeEvent runs the OnEvent hooks for message m.
func (a *App) beforeEvent(t *Tab, m clientMessage) {
	for _, fn := range a.onEvent {
		a.safely(t, m.ID, "before "+m.T, func() { fn(t) })
	}
}

// safely runs fn, turning a panic into a log line and an error reply: a
// broken handler costs its event, not the server or the connection.
func (a *App) safely(t *Tab, id int64, what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("live: handler panicked", "handler", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			t.actions = nil
			t.send(serverMessage{T: "error", ID: id, Error: ErrCodeHandler, Message: "Something went wrong; please try again."})
		}
	}()
	fn()
}

// tokenBucket is a per-connection rate limiter; it is used by one goroutine.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
