package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/coder/websocket"
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
	if !a.admit(ip) {
		a.log.Warn("live: connection refused", "reason", "too many connections or shutting down", "ip", ip)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many connections", http.StatusTooManyRequests)
		return
	}
	// The server's read and write timeouts are for requests; a websocket
	// lives on, its idleness bounded by IdleTimeout instead.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: a.cfg.OriginPatterns})
	if err != nil {
		// Accept has answered already: 403 for a foreign Origin, 400 for
		// a request that is not a websocket handshake.
		a.release(ip)
		a.log.Warn("live: handshake refused", "ip", ip, "origin", truncate(r.Header.Get("Origin"), 200), "err", err)
		return
	}
	c.SetReadLimit(a.cfg.MaxMessageBytes)
	t := a.newConnTab(c, ip)
	for _, fn := range a.onConnect {
		fn(r, t)
	}
	if !a.register(t) {
		a.release(ip)
		c.Close(websocket.StatusGoingAway, "server shutting down")
		t.closeWith(statusGoingAway, "")
		return
	}
	// One goroutine per tab: it reads and runs the tab. The HTTP server's
	// goroutine returns now, and with it the handshake's request and
	// buffers, so an idle tab costs as little memory as it can.
	go a.serveTab(t, c, ip)
}

// newConnTab makes the tab of a new connection, with its way to send and to
// close.
func (a *App) newConnTab(c *websocket.Conn, ip string) *Tab {
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
			c.Close(websocket.StatusCode(code), reason)
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

// serveTab reads the tab's messages and runs them, in order, until the
// connection ends.
func (a *App) serveTab(t *Tab, c *websocket.Conn, ip string) {
	defer a.release(ip)
	defer a.unregister(t)
	a.readLoop(t, c)
	t.closeWith(statusNormal, "")
	// Let the close handshake finish, then wait for a push still running.
	select {
	case <-t.closeDone:
	case <-time.After(10 * time.Second):
	}
	c.CloseNow()
	t.mu.Lock()
	t.mu.Unlock()
}

// admit counts a new connection of ip, or refuses it.
func (a *App) admit(ip string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing || a.perIP[ip] >= a.cfg.MaxConnsPerClient {
		return false
	}
	a.perIP[ip]++
	return true
}

func (a *App) release(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
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

// readLoop reads, rate-limits and decodes messages, and runs each on the
// tab, in order. It ends on a read error, an idle timeout, a message over the
// size limit (which the library answers with 1009), or when the tab closes.
//
// Its reads do not use the tab's context: the tab ends by the server sending
// a close frame (with its code), which is what ends the read.
func (a *App) readLoop(t *Tab, c *websocket.Conn) {
	bucket := newTokenBucket(a.cfg.EventsPerSecond, a.cfg.EventBurst)
	strikes := 0
	for t.ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(context.Background(), a.cfg.IdleTimeout)
		typ, data, err := c.Read(rctx)
		idle := rctx.Err() != nil
		cancel()
		if err != nil {
			if idle {
				a.log.Info("live: idle connection closed", "ip", t.clientIP)
			}
			return
		}
		if !bucket.take(time.Now()) {
			strikes++
			if strikes > 10*a.cfg.EventBurst {
				a.log.Warn("live: connection closed for flooding", "ip", t.clientIP)
				t.closeWith(statusPolicy, "too many messages")
				return
			}
			t.send(serverMessage{T: "error", Error: ErrCodeRateLimited, Message: "Too many events; slow down."})
			continue
		}
		if typ != websocket.MessageText {
			a.replyBad(t, 0, errors.New("binary message"))
			continue
		}
		m, err := decodeClientMessage(data)
		if err != nil {
			a.replyBad(t, 0, err)
			continue
		}
		if m.T == "ping" {
			continue
		}
		t.mu.Lock()
		ok := a.handle(t, m)
		t.mu.Unlock()
		if !ok {
			return
		}
	}
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
