//go:build linux

package live

import (
	"errors"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller wakes parked connections when they have something to read, so
// that an idle tab holds no goroutine (and no goroutine stack, the largest
// part of what an idle tab cost). It is an epoll set of its own beside the
// Go runtime's: a parked connection is registered, level-triggered, and on
// readiness removed again and handed to a new goroutine, which reads with
// the ordinary blocking calls (the data is there, so they do not block).
//
// Its one goroutine runs only while connections are parked, and ends a
// moment after the last one leaves.
type poller struct {
	mu      sync.Mutex
	epfd    int // -1 when the loop is not running
	parked  map[uint64]*parked
	next    uint64
	running bool
}

type parked struct {
	rc     syscall.RawConn
	resume func()
}

func newPoller() *poller { return &poller{epfd: -1, parked: make(map[uint64]*parked)} }

// waitTimeout is how often the loop looks whether it still has work; it
// bounds how long the goroutine outlives the last parked connection.
const waitTimeout = 250 // ms

// park registers conn and returns a token for unpark; resume runs on a new
// goroutine once conn is readable, closed by the peer or failed. It
// returns ok false when conn cannot be parked (not a plain TCP or Unix
// socket, such as a TLS connection, or already closed): the caller then
// reads on its own goroutine, as without a poller.
func (p *poller) park(conn net.Conn, resume func()) (token uint64, ok bool) {
	sc, isSys := conn.(syscall.Conn)
	switch conn.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return 0, false
	}
	if !isSys {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epfd < 0 {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return 0, false
		}
		p.epfd = fd
	}
	p.next++
	token = p.next
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(token), Pad: int32(token >> 32)}
	var ctlErr error
	// Control holds the descriptor open for the call: a connection being
	// closed concurrently fails here rather than registering a descriptor
	// number that may already name another connection.
	if err := rc.Control(func(fd uintptr) { ctlErr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev) }); err != nil || ctlErr != nil {
		return 0, false
	}
	p.parked[token] = &parked{rc: rc, resume: resume}
	if !p.running {
		p.running = true
		go p.loop(p.epfd)
	}
	return token, true
}

// unpark takes the connection of token out of the set, if it is still
// parked, and resumes it on a new goroutine. It reports whether it did: a
// connection is resumed once per park, by readiness or by unpark,
// whichever comes first.
func (p *poller) unpark(token uint64) bool {
	p.mu.Lock()
	pc := p.take(token)
	p.mu.Unlock()
	if pc == nil {
		return false
	}
	go pc.resume()
	return true
}

// take removes token's entry and its registration; p.mu is held.
func (p *poller) take(token uint64) *parked {
	pc := p.parked[token]
	if pc == nil {
		return nil
	}
	delete(p.parked, token)
	// A closed connection's descriptor left the set when it was closed
	// (and its number may be reused): Control then fails and nothing is
	// removed.
	pc.rc.Control(func(fd uintptr) { unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	return pc
}

func (p *poller) loop(epfd int) {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(epfd, events, waitTimeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			n = 0
		}
		p.mu.Lock()
		var ready []func()
		for _, ev := range events[:max(n, 0)] {
			if pc := p.take(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32); pc != nil {
				ready = append(ready, pc.resume)
			}
		}
		if len(p.parked) == 0 {
			p.running = false
			unix.Close(epfd)
			p.epfd = -1
			p.mu.Unlock()
			for _, fn := range ready {
				go fn()
			}
			return
		}
		p.mu.Unlock()
		for _, fn := range ready {
			go fn()
		}
	}
}
