package loopback_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/loopback"
)

// linuxOnly skips where 127.0.0.0/8 is not all routed to loopback.
func linuxOnly(tb testing.TB) {
	if runtime.GOOS != "linux" {
		tb.Skip("loopback addresses beyond 127.0.0.1 are Linux's")
	}
}

// addrServer answers each request with the client's address.
func addrServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		io.WriteString(w, host)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func clientAddr(tb testing.TB, c *http.Client, url string) string {
	tb.Helper()
	res, err := c.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// Each dial comes from a loopback address of its own, 127.x.y.1.
func TestDialerUsesANewLoopbackAddressEachTime(t *testing.T) {
	linuxOnly(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := map[string]bool{}
	dial := loopback.Dialer()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 20 {
		c, err := dial(ctx, "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		ip := c.LocalAddr().(*net.TCPAddr).IP
		c.Close()
		if !ip.IsLoopback() || ip.To4() == nil || ip.To4()[3] != 1 {
			t.Fatalf("dialled from %v, want 127.x.y.1", ip)
		}
		seen[ip.String()] = true
	}
	if len(seen) != 20 {
		t.Fatalf("20 dials came from %d addresses, want 20", len(seen))
	}
}

// OneShotClient comes from a new address at every request; Client keeps
// its connection, and its address, between requests.
func TestClientsAddresses(t *testing.T) {
	linuxOnly(t)
	srv := addrServer(t)
	one := loopback.OneShotClient(4)
	a, b := clientAddr(t, one, srv.URL), clientAddr(t, one, srv.URL)
	if a == b || !strings.HasPrefix(a, "127.") || !strings.HasPrefix(b, "127.") {
		t.Fatalf("one-shot requests came from %s and %s, want two loopback addresses", a, b)
	}
	kept := loopback.Client(1)
	a, b = clientAddr(t, kept, srv.URL), clientAddr(t, kept, srv.URL)
	if a != b {
		t.Fatalf("a kept connection moved from %s to %s", a, b)
	}
}

// Neither client follows redirects: a benchmark measures the answer it
// got.
func TestClientsDoNotFollowRedirects(t *testing.T) {
	linuxOnly(t)
	srv := addrServer(t)
	for name, c := range map[string]*http.Client{"Client": loopback.Client(1), "OneShotClient": loopback.OneShotClient(1)} {
		res, err := c.Get(srv.URL + "/redirect")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound {
			t.Errorf("%s: status %d, want the 302 itself", name, res.StatusCode)
		}
	}
}
