package live_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/localauth/localauth/live"
)

// The per-client cap counts an IPv6 /64 as one client, as the throttles
// do: a host that picks a new address in its /64 for every connection gets
// no more than one that keeps its address, and another /64 is another
// client.
func TestConnsPerClientCountIPv6By64(t *testing.T) {
	var next atomic.Value
	next.Store("")
	var n atomic.Int64
	f := newFixture(t, live.Config{MaxConnsPerClient: 2, ClientIP: func(*http.Request) string {
		if p := next.Load().(string); p != "" {
			return p
		}
		// Every connection from a new address of one /64.
		return "2001:db8:1:2::" + string(rune('a'+n.Add(1)))
	}})
	f.mustDial(t)
	f.mustDial(t)
	if _, res, err := f.dial(t, ""); err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection from one /64: err %v res %v, want 429", err, res)
	}
	next.Store("2001:db8:1:3::1")
	f.mustDial(t)
	next.Store("::ffff:192.0.2.7")
	f.mustDial(t)
	next.Store("192.0.2.7")
	f.mustDial(t)
	if _, res, err := f.dial(t, ""); err == nil || res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection from one IPv4 address, mapped or not: err %v res %v, want 429", err, res)
	}
}
