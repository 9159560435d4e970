// Package loopback makes HTTP clients that come from many loopback
// addresses (127.x.y.1), as real clients come from many addresses, so that
// per-address throttles and connection limits apply to a benchmark or a
// test as they would in production. Linux routes all of 127.0.0.0/8 to the
// loopback interface.
package loopback

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

var next atomic.Uint32

// Dialer dials from a new loopback source address at each call.
func Dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := next.Add(1)
		src := net.IPv4(127, byte(n/250%250+1), byte(n%250+1), 1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
		return d.DialContext(ctx, network, addr)
	}
}

// Client keeps up to conns connections, each from its own address; it
// never follows redirects.
func Client(conns int) *http.Client { return newClient(conns, false) }

// OneShotClient opens a new connection, from a new address, for every
// request.
func OneShotClient(conns int) *http.Client { return newClient(conns, true) }

func newClient(conns int, oneShot bool) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         Dialer(),
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			DisableKeepAlives:   oneShot,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
