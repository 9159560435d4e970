package server_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/server"
)

// mustMetrics serves /metrics on a loopback port of its own until the
// test ends.
func mustMetrics(tb testing.TB) *server.Metrics {
	tb.Helper()
	m, err := server.NewMetrics("127.0.0.1:0", "v1.2.3-test")
	if err != nil {
		tb.Fatal(err)
	}
	go m.Serve()
	tb.Cleanup(m.Close)
	return m
}

// scrape returns the metrics text.
func scrape(tb testing.TB, m *server.Metrics) string {
	tb.Helper()
	res, body := get(tb, http.DefaultClient, "http://"+m.Addr().String()+"/metrics")
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	return body
}

// The metrics listener serves localauth's metrics (build, logins, open
// live tabs) and the Go runtime's; the app's own address does not.
func TestMetricsEndpoint(t *testing.T) {
	m := mustMetrics(t)
	s := mustServer(t, func(cfg *server.Config) { cfg.Metrics = m })
	srv := serve(t, s)

	body := scrape(t, m)
	for _, want := range []string{`localauth_build_info{`, `version="v1.2.3-test"`, "go_goroutines", "localauth_live_tabs_open 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if _, page := get(t, http.DefaultClient, srv.URL+"/metrics"); strings.Contains(page, "localauth_build_info") {
		t.Error("the app's own address serves the metrics")
	}

	postJSON(t, srv.Client(), srv.URL+"/api/auth/register", `{"username":"alice","password":"`+pw+`"}`)
	postJSON(t, srv.Client(), srv.URL+"/api/auth/token", `{"username":"alice","password":"`+pw+`"}`)
	postJSON(t, srv.Client(), srv.URL+"/api/auth/token", `{"username":"alice","password":"wrong"}`)
	body = scrape(t, m)
	for _, want := range []string{"localauth_logins_total{", "localauth_registrations_total{", "localauth_sessions_created_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q after a registration and logins:\n%s", want, body)
		}
	}

	dialLive(t, srv.URL, nil)
	deadline := time.Now().Add(patience)
	for !strings.Contains(scrape(t, m), "localauth_live_tabs_open 1") {
		if time.Now().After(deadline) {
			t.Fatalf("the open live tab is not counted within %v", patience)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
}

// An address without host binds loopback only; a bad address is refused;
// metrics off is a nil *Metrics whose Hook is nil.
func TestNewMetricsAddresses(t *testing.T) {
	m, err := server.NewMetrics(":0", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if ip := m.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Fatalf("bound %v, want loopback", ip)
	}
	if _, err := server.NewMetrics("no-port", "test"); err == nil {
		t.Fatal("an address without port was accepted")
	}
	var off *server.Metrics
	if off.Hook() != nil {
		t.Fatal("metrics off has a hook")
	}
	if m.Hook() == nil {
		t.Fatal("metrics on have no hook")
	}
}
