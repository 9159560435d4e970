package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/faultproxy"
)

// patience bounds each network wait; a healthy loopback answers at once.
const patience = 30 * time.Second

// echoServer answers every line with the same line, until the test ends.
func echoServer(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line over c and reads it back.
func roundTrip(c net.Conn, line string) (string, error) {
	c.SetDeadline(time.Now().Add(patience))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func dial(tb testing.TB, p *faultproxy.Proxy) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), patience)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// The proxy forwards until Cut, which ends the open connections and
// refuses new ones, as a database that went away; after Restore it
// forwards again.
func TestCutAndRestore(t *testing.T) {
	p, err := faultproxy.Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	open := dial(t, p)
	if got, err := roundTrip(open, "hello"); err != nil || got != "hello" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}

	p.Cut()
	if _, err := roundTrip(open, "still there?"); err == nil {
		t.Fatal("an open connection survived the cut")
	} else if timedOut(err) {
		t.Fatalf("the cut connection hung instead of ending: %v", err)
	}
	during := dial(t, p) // the listener still accepts, then hangs up
	if _, err := roundTrip(during, "anyone?"); err == nil {
		t.Fatal("a connection made during the cut was served")
	}

	p.Restore()
	after := dial(t, p)
	if got, err := roundTrip(after, "back"); err != nil || got != "back" {
		t.Fatalf("after restore: %q, %v", got, err)
	}
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close stops accepting and ends the forwarded connections.
func TestClose(t *testing.T) {
	p, err := faultproxy.Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	if _, err := roundTrip(c, "x"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := roundTrip(c, "y"); err == nil {
		t.Fatal("a connection survived Close")
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), patience); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts after Close")
	}
}

// A target that refuses connections makes the proxy hang up on its client.
func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p, err := faultproxy.Start(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := roundTrip(dial(t, p), "hello"); err == nil {
		t.Fatal("a client was served with the target down")
	}
}
