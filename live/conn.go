package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
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
	defer a.release(ip)
	// The server's read and write timeouts are for requests; a websocket
	// lives on, its idleness bounded by IdleTimeout instead.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: a.cfg.OriginPatterns})
	if err != nil {
		// Accept has answered already: 403 for a foreign Origin, 400 for
		// a request that is not a websocket handshake.
		a.log.Warn("live: handshake refused", "ip", ip, "origin", truncate(r.Header.Get("Origin"), 200), "err", err)
		return
	}
	c.SetReadLimit(a.cfg.MaxMessageBytes)

	ctx, cancel := context.WithCancel(context.Background())
	t := newTab(a, ctx, ip)
	out := make(chan serverMessage, a.cfg.SendBuffer)
	closing := make(chan struct{})
	var closeCode = statusNormal
	var closeReason = ""
	t.closeFn = func(code int, reason string) {
		t.closeMu.Lock()
		defer t.closeMu.Unlock()
		select {
		case <-closing:
		default:
			closeCode, closeReason = code, reason
			close(closing)
		}
		cancel()
	}
	t.send = func(m serverMessage) bool {
		select {
		case out <- m:
			return true
		case <-ctx.Done():
			return false
		default:
			t.closeWith(statusTryAgainLater, "client too slow")
			return false
		}
	}
	for _, fn := range a.onConnect {
		fn(r, t)
	}
	if !a.register(t) {
		c.Close(websocket.StatusGoingAway, "server shutting down")
		cancel()
		return
	}
	defer a.unregister(t)

	// Three goroutines per tab: this one writes, one reads, one runs the
	// tab. All end with the connection, before the tab is unregistered.
	msgs := make(chan clientMessage, 32)
	var loops sync.WaitGroup
	loops.Go(func() { a.readLoop(t, c, msgs) })
	loops.Go(func() { a.runLoop(ctx, t, msgs) })
	a.writeLoop(ctx, t, c, out)

	t.closeMu.Lock()
	code, reason := closeCode, closeReason
	t.closeMu.Unlock()
	c.Close(websocket.StatusCode(code), reason)
	cancel()
	loops.Wait()
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

// writeLoop sends queued messages until the connection ends.
func (a *App) writeLoop(ctx context.Context, t *Tab, c *websocket.Conn, out <-chan serverMessage) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-out:
			b, err := json.Marshal(m)
			if err != nil {
				a.log.Error("live: encoding a message", "err", err)
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err = c.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				t.closeWith(statusNormal, "")
				return
			}
		}
	}
}

// readLoop reads, rate-limits and decodes messages, and hands them to the
// tab's goroutine. It ends the connection on a read error, an idle timeout or
// a message over the size limit (which the library answers with 1009).
//
// Its reads do not use the tab's context: the tab ends by the server sending
// a close frame (with its code) and the page answering it, which is what
// ends the read.
func (a *App) readLoop(t *Tab, c *websocket.Conn, msgs chan<- clientMessage) {
	defer t.closeWith(statusNormal, "")
	bucket := newTokenBucket(a.cfg.EventsPerSecond, a.cfg.EventBurst)
	strikes := 0
	for {
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
		select {
		case msgs <- m:
		case <-t.ctx.Done():
			return
		default:
			t.send(serverMessage{T: "error", ID: m.ID, Error: ErrCodeRateLimited, Message: "Too many events waiting; slow down."})
		}
	}
}

func (a *App) replyBad(t *Tab, id int64, err error) {
	a.log.Warn("live: malformed message", "ip", t.clientIP, "err", err)
	t.send(serverMessage{T: "error", ID: id, Error: ErrCodeBadMessage, Message: "The message could not be understood."})
}

// runLoop runs the tab: hydration first, then events, navigation and pushes
// in order, one at a time.
func (a *App) runLoop(ctx context.Context, t *Tab, msgs <-chan clientMessage) {
	defer t.closeWith(statusNormal, "")
	for {
		select {
		case <-ctx.Done():
			return
		case fn := <-t.pushes:
			if !t.hydrated {
				// Not yet hydrated: the state is built fresh from the
				// store at hydration, which sees whatever the push
				// was about.
				continue
			}
			a.safely(t, 0, "push", func() { fn(t) })
			if !t.sync(0, false) {
				return
			}
		case m := <-msgs:
			if !a.handle(t, m) {
				return
			}
		}
	}
}

// handle runs one message on the tab's goroutine and answers it.
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
