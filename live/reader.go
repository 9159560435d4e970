package live

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// tabReader reads one tab's messages and runs them, in order, until the
// connection ends. Between messages it parks the connection with the App's
// poller and lets its goroutine end: an idle tab then costs its state and
// buffers, no goroutine. When the page sends something, the poller starts
// a goroutine that reads on. Where the connection cannot be parked (TLS, or
// no poller on this system) the one goroutine blocks in the read instead,
// as a plain websocket server does.
type tabReader struct {
	a    *App
	t    *Tab
	c    *websocket.Conn
	ip   string
	conn net.Conn      // the hijacked connection; nil if unknown
	br   *bufio.Reader // its read buffer; nil if unknown

	// Used by one goroutine at a time: the one reading.
	bucket  *tokenBucket
	strikes int

	idle  *time.Timer // closes the connection after IdleTimeout without a message
	idled atomic.Bool
	// bufMu keeps the close handshake, which reads the page's answer
	// through br, apart from run looking at br between messages.
	bufMu  sync.Mutex
	mu     sync.Mutex
	token  uint64 // the poller's token while parked, else 0
	closed bool   // set by wake: the connection is closing
}

func (a *App) newTabReader(c *websocket.Conn, ip string, sb *smallBuffers) *tabReader {
	r := &tabReader{a: a, c: c, ip: ip, conn: sb.conn, br: sb.br,
		bucket: newTokenBucket(a.cfg.EventsPerSecond, a.cfg.EventBurst)}
	return r
}

// start runs the tab: reads on a new goroutine, and the idle timer.
func (r *tabReader) start() {
	r.idle = time.AfterFunc(r.a.cfg.IdleTimeout, func() {
		r.idled.Store(true)
		r.c.CloseNow()
		r.wake()
	})
	go r.run()
}

// closeConn runs the tab's close handshake (handshake), then wakes the
// tab.
func (r *tabReader) closeConn(handshake func()) {
	r.bufMu.Lock()
	handshake()
	r.bufMu.Unlock()
	r.wake()
}

// wake is called once the connection is closing (the tab's close
// handshake is over, or the idle timer fired): a parked connection is
// resumed so that its read fails and the tab ends. The closed descriptor
// itself would never be reported by the poller.
func (r *tabReader) wake() {
	r.mu.Lock()
	r.closed = true
	tok := r.token
	r.token = 0
	r.mu.Unlock()
	if tok != 0 {
		r.a.poller.unpark(tok)
	}
}

// run reads and runs messages while they come, then parks, or ends the tab.
func (r *tabReader) run() {
	for {
		if r.t.ctx.Err() != nil || !r.readOne() {
			r.finish()
			return
		}
		r.idle.Reset(r.a.cfg.IdleTimeout)
		if r.buffered() {
			continue // the next message is already here
		}
		if r.park() {
			return
		}
	}
}

// buffered reports whether the next message has arrived already, in full
// or in part.
func (r *tabReader) buffered() bool {
	if r.br == nil {
		return false
	}
	r.bufMu.Lock()
	defer r.bufMu.Unlock()
	return r.br.Buffered() > 0
}

// park hands the connection to the poller; it reports false when the
// caller must read on (no poller for this connection, or it is closing).
func (r *tabReader) park() bool {
	if r.conn == nil || r.br == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	tok, ok := r.a.poller.park(r.conn, func() {
		r.mu.Lock()
		r.token = 0
		r.mu.Unlock()
		r.run()
	})
	if !ok {
		return false
	}
	r.token = tok
	return true
}

// readOne reads one message and runs it; it reports false when the tab is
// to end: a read error, the idle timeout, a message over the size limit
// (which the library answers with 1009), a flood, or a handler ending it.
//
// Its reads do not use the tab's context: the tab ends by the server sending
// a close frame (with its code), which is what ends the read.
func (r *tabReader) readOne() bool {
	a, t := r.a, r.t
	typ, data, err := r.c.Read(context.Background())
	if err != nil {
		if r.idled.Load() {
			a.log.Info("live: idle connection closed", "ip", t.clientIP)
		}
		return false
	}
	// The idle timeout counts the wait for a message, not its handling.
	r.idle.Stop()
	if !r.bucket.take(time.Now()) {
		r.strikes++
		if r.strikes > 10*a.cfg.EventBurst {
			a.log.Warn("live: connection closed for flooding", "ip", t.clientIP)
			t.closeWith(statusPolicy, "too many messages")
			return false
		}
		t.send(serverMessage{T: "error", Error: ErrCodeRateLimited, Message: "Too many events; slow down."})
		return true
	}
	if typ != websocket.MessageText {
		a.replyBad(t, 0, errors.New("binary message"))
		return true
	}
	m, err := decodeClientMessage(data)
	if err != nil {
		a.replyBad(t, 0, err)
		return true
	}
	if m.T == "ping" {
		return true
	}
	t.mu.Lock()
	ok := a.handle(t, m)
	t.mu.Unlock()
	return ok
}

// finish ends the tab once its reads are over.
func (r *tabReader) finish() {
	a, t, c := r.a, r.t, r.c
	defer a.release(r.ip)
	defer a.unregister(t)
	r.idle.Stop()
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
