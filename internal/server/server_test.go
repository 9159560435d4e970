package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/server"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

const pw = "correct horse battery staple"

// patience bounds every wait; the tests wait for conditions, never for
// time.
const patience = 30 * time.Second

// mustServer assembles the server over a SQLite file; edit changes the
// configuration first.
func mustServer(tb testing.TB, edit func(*server.Config)) *server.Server {
	tb.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(tb.TempDir(), "auth.db"), sqlitestore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	quiet := slog.New(slog.DiscardHandler)
	cfg := server.Config{
		Store:   st,
		Service: localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, PurgeInterval: -1},
		Logger:  quiet,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// serve runs the server's handler on loopback.
func serve(tb testing.TB, s *server.Server) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return srv
}

// get fetches url without following redirects.
func get(tb testing.TB, c *http.Client, url string, header ...string) (*http.Response, string) {
	tb.Helper()
	return do(tb, c, http.MethodGet, url, nil, header...)
}

// postJSON posts body to url.
func postJSON(tb testing.TB, c *http.Client, url, body string, header ...string) (*http.Response, string) {
	tb.Helper()
	return do(tb, c, http.MethodPost, url, strings.NewReader(body), append([]string{"Content-Type", "application/json"}, header...)...)
}

// do sends one request with the header pairs given and returns the answer
// with its body read.
func do(tb testing.TB, c *http.Client, method, url string, body io.Reader, header ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func noRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// New needs a store and a known token storage.
func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := server.New(server.Config{}); err == nil {
		t.Fatal("New accepted a configuration without a store")
	}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := server.New(server.Config{Store: st, TokenStorage: "indexeddb"}); err == nil {
		t.Fatal("New accepted an unknown token storage")
	}
}

// Every page of the demo answers under the page security headers, the
// assets with their types, the health checks, and the API under its own
// headers; pages hand out the device and handoff cookies.
func TestRoutesAnswerUnderSecurityHeaders(t *testing.T) {
	srv := serve(t, mustServer(t, nil))
	c := noRedirects(srv.Client())
	for _, path := range []string{"/", "/protected", liveauth.LoginRoute, liveauth.RegisterRoute, liveauth.AccountRoute,
		liveauth.ForgotPasswordRoute, liveauth.ResetPasswordRoute, liveauth.VerifyEmailRoute} {
		res, body := get(t, c, srv.URL+path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
			continue
		}
		if !strings.Contains(body, liveauth.StylesheetPath) || !strings.Contains(body, liveauth.PasskeyScriptPath) {
			t.Errorf("GET %s: the page links neither the stylesheet nor the passkey script", path)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "Permissions-Policy"} {
			if res.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s", path, h)
			}
		}
		if res.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s: HSTS over plain HTTP", path)
		}
		names := map[string]bool{}
		for _, ck := range res.Cookies() {
			names[ck.Name] = ck.HttpOnly
		}
		if !names[web.DeviceCookieName] || !names[web.HandoffCookieName] {
			t.Errorf("GET %s: cookies %v, want the device and handoff cookies, HttpOnly", path, names)
		}
	}
	for path, ctype := range map[string]string{
		liveauth.StylesheetPath:    "text/css",
		liveauth.PasskeyScriptPath: "text/javascript",
	} {
		if res, _ := get(t, c, srv.URL+path); res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %s, want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		if res, body := get(t, c, srv.URL+path); res.StatusCode != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, res.StatusCode, body, want)
		}
	}
	res, body := get(t, c, srv.URL+web.APIPrefix+"no-such-endpoint")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(body, `"not_found"`) {
		t.Errorf("unknown API path: %d %s", res.StatusCode, body)
	}
	if res.Header.Get("Content-Security-Policy") != "" || res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("API headers %v, want nosniff and no-store without the page policy", res.Header)
	}
}

// The API registers, logs in and answers who the bearer is; the login is
// a session of the Service the server exposes.
func TestAPIThroughTheServer(t *testing.T) {
	s := mustServer(t, nil)
	srv := serve(t, s)
	c := srv.Client()
	if res, body := postJSON(t, c, srv.URL+"/api/auth/register", `{"username":"alice","password":"`+pw+`"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", res.StatusCode, body)
	}
	res, body := postJSON(t, c, srv.URL+"/api/auth/token", `{"username":"alice","password":"`+pw+`"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %s", res.StatusCode, body)
	}
	var tok struct {
		Token string `json:"token"`
	}
	json.Unmarshal([]byte(body), &tok)
	if u, err := s.Service().Authenticate(context.Background(), localauth.Token(tok.Token)); err != nil || u.Username != "alice" {
		t.Fatalf("the token names %v, %v; want alice's session", u, err)
	}
	res, body = get(t, c, srv.URL+"/api/auth/me", "Authorization", "Bearer "+tok.Token)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `"username":"alice"`) {
		t.Fatalf("me: %d %s", res.StatusCode, body)
	}
}

// Behind a trusted proxy the client's address is the one the proxy
// forwards; from anyone else the header is ignored.
func TestTrustedProxies(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9"},
		{"not trusted", nil, "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustServer(t, func(cfg *server.Config) { cfg.TrustedProxies = c.trusted })
			srv := serve(t, s)
			postJSON(t, srv.Client(), srv.URL+"/api/auth/register", `{"username":"alice","password":"`+pw+`"}`)
			res, body := postJSON(t, srv.Client(), srv.URL+"/api/auth/token", `{"username":"alice","password":"`+pw+`"}`,
				"X-Forwarded-For", "203.0.113.9")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("token: %d %s", res.StatusCode, body)
			}
			u, err := s.Service().UserByName(context.Background(), "alice")
			if err != nil {
				t.Fatal(err)
			}
			sessions, err := s.Service().Sessions(context.Background(), u.ID)
			if err != nil || len(sessions) != 1 {
				t.Fatalf("sessions %v, %v", sessions, err)
			}
			if sessions[0].IP != c.want {
				t.Fatalf("session address %q, want %q", sessions[0].IP, c.want)
			}
		})
	}
}

// In cookie mode the server guards the private pages itself, before any
// of them is sent, and sends a signed-in browser on from the login page.
func TestCookieModeGuardsPages(t *testing.T) {
	s := mustServer(t, func(cfg *server.Config) { cfg.TokenStorage = liveauth.TokenCookie })
	srv := serve(t, s)
	c := noRedirects(srv.Client())
	for _, path := range []string{"/protected", liveauth.AccountRoute} {
		res, _ := get(t, c, srv.URL+path)
		if loc := res.Header.Get("Location"); res.StatusCode/100 != 3 || !strings.HasPrefix(loc, liveauth.LoginRoute) {
			t.Errorf("anonymous GET %s: %d to %q, want a redirect to the login page", path, res.StatusCode, loc)
		}
	}
	if _, err := s.Service().Register(localauth.WithClientIP(context.Background(), "192.0.2.1"), "alice", pw); err != nil {
		t.Fatal(err)
	}
	res, err := s.Service().Login(localauth.WithClientIP(context.Background(), "192.0.2.1"), "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	cookie := web.CookieName + "=" + string(res.Token)
	if r, _ := get(t, c, srv.URL+"/protected", "Cookie", cookie); r.StatusCode != http.StatusOK {
		t.Errorf("signed-in GET /protected: %d, want 200", r.StatusCode)
	}
	if r, _ := get(t, c, srv.URL+liveauth.LoginRoute, "Cookie", cookie); r.StatusCode/100 != 3 {
		t.Errorf("signed-in GET /login: %d, want a redirect", r.StatusCode)
	}
	// In LocalStorage mode the server cannot know: pages are sent.
	open := serve(t, mustServer(t, nil))
	if r, _ := get(t, noRedirects(open.Client()), open.URL+"/protected"); r.StatusCode != http.StatusOK {
		t.Errorf("LocalStorage mode GET /protected: %d, want 200", r.StatusCode)
	}
}

// dialLive opens a live tab on the server at base ("http://…").
func dialLive(tb testing.TB, base string, client *http.Client) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/_live",
		&websocket.DialOptions{HTTPClient: client, HTTPHeader: http.Header{"Origin": {base}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	hello := `{"t":"hello","id":1,"route":"/"}`
	if err := c.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		tb.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"is_hydrated":true`) {
		tb.Fatalf("hello answered %s, %v", b, err)
	}
	return c
}

// Serve answers on its listener until the context ends; then it closes
// the live connections with status 1001 (so that pages reconnect), stops
// accepting, and returns.
func TestServeShutsDownGracefully(t *testing.T) {
	s := mustServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, nil) }()
	base := "http://" + ln.Addr().String()
	if res, _ := get(t, http.DefaultClient, base+"/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", res.StatusCode)
	}
	conn := dialLive(t, base, nil)
	cancel()
	rctx, rcancel := context.WithTimeout(context.Background(), patience)
	defer rcancel()
	for {
		_, _, err := conn.Read(rctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusGoingAway {
				t.Fatalf("the live connection ended with %v (status %d), want 1001", err, st)
			}
			break
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(patience):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still answers after shutting down")
	}
}

// Over TLS every answer carries HSTS, pages and API alike.
func TestServeOverTLS(t *testing.T) {
	s := mustServer(t, nil)
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert}}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + ln.Addr().String()
	for _, path := range []string{"/", web.APIPrefix + "me"} {
		res, _ := get(t, c, base+path)
		if res.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("GET %s over TLS: no HSTS", path)
		}
	}
	res, _ := get(t, c, base+"/")
	for _, ck := range res.Cookies() {
		if !ck.Secure || !strings.HasPrefix(ck.Name, "__Host-") {
			t.Errorf("cookie %s over TLS: secure %v, want Secure with the __Host- prefix", ck.Name, ck.Secure)
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// The http.Server of Serve has the timeouts and limits of a server facing
// the internet: no zero timeout a slow client could hold a connection
// open with.
func TestHTTPServerLimits(t *testing.T) {
	hs := server.HTTPServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	if hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 || hs.ErrorLog == nil {
		t.Fatalf("server %+v lacks a timeout, a limit or its error log", hs)
	}
}
