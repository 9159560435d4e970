// Package smtptest runs an SMTP server in the test process, on a loopback
// port, recording the messages it receives. It can be stopped and started
// again on the same port, to play an outage, and can answer each message
// late, to play a slow server.
package smtptest

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is a message as received.
type Message struct {
	From string
	To   []string
	Data string
}

// Server is the in-process SMTP server.
type Server struct {
	tb   testing.TB
	Addr string // host:port, fixed for the server's life

	mu       sync.Mutex
	msgs     []Message
	delay    time.Duration
	gate     chan struct{} // when not nil, each message waits for it to close
	changed  chan struct{}
	srv      *smtp.Server
	stopped  bool
	listener net.Listener
}

// MustStart starts a server on a free loopback port, stopped at the end of
// the test.
func MustStart(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{tb: tb, changed: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.serve(l)
	tb.Cleanup(s.Stop)
	return s
}

// URL is the server's smtp:// URL.
func (s *Server) URL() string { return "smtp://" + s.Addr }

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	s.mu.Lock()
	s.srv, s.listener, s.stopped = srv, l, false
	s.mu.Unlock()
	go srv.Serve(l)
}

// Stop stops the server: connections are refused until Start.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l := s.srv, s.listener
	s.stopped = true
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	// The server closes only the listeners its Serve goroutine has taken
	// up; right after a start that goroutine may not have run yet.
	if l != nil {
		l.Close()
	}
}

// Start starts a stopped server again on its port.
func (s *Server) Start() {
	s.tb.Helper()
	var (
		l   net.Listener
		err error
	)
	// The port was just released; another process may briefly hold it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err = net.Listen("tcp", s.Addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatalf("smtptest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(l)
}

// SetDelay makes the server answer each message d late.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Hold makes the server keep each message unanswered until Release: a
// server that is slow for as long as a test needs.
func (s *Server) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = make(chan struct{})
}

// Release answers the messages Hold kept waiting, and those after.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// WaitFor waits until a message to the recipient whose data contains want
// ("" for any) has arrived, and returns it; it fails the test after a
// generous deadline.
func (s *Server) WaitFor(tb testing.TB, to, want string) Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		s.mu.Lock()
		ch := s.changed
		for _, m := range s.msgs {
			if (to == "" || contains(m.To, to)) && strings.Contains(m.Data, want) {
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			tb.Fatalf("smtptest: no message to %q containing %q arrived; got %d messages", to, want, len(s.Messages()))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type backend struct{ s *Server }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Reset()                                      { x.from, x.to = "", nil }
func (x *session) Logout() error                               { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	d, gate := x.s.delay, x.s.gate
	x.s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if d > 0 {
		time.Sleep(d) // playing a slow server, not waiting on a condition
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Data: string(b)})
	close(x.s.changed)
	x.s.changed = make(chan struct{})
	return nil
}

// Text returns the message's plain-text body, decoded from its transfer
// encoding, and its Subject header, decoded.
func (m Message) Text() (subject, body string) {
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		return "", m.Data
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	var r io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, _ := io.ReadAll(r)
	return subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

var linkRE = regexp.MustCompile(`https?://[^\s]+\?token=([A-Za-z0-9_-]+)`)

// Link returns the first link with a token in the message's body, and the
// token; ok is false when there is none.
func (m Message) Link() (link, token string, ok bool) {
	_, body := m.Text()
	sub := linkRE.FindStringSubmatch(body)
	if sub == nil {
		return "", "", false
	}
	return sub[0], sub[1], true
}
