package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

const pw = "correct horse battery staple"

type env struct {
	svc  *localauth.Service
	auth *web.Auth
	srv  *httptest.Server
	log  *strings.Builder
}

// newEnv serves the API, a guarded page and a login page over a real
// Service on a temporary SQLite file.
func newEnv(t *testing.T, tlsServer bool, edit ...func(*web.Config)) *env {
	t.Helper()
	return newEnvWith(t, tlsServer, localauth.Config{}, edit...)
}

// newEnvWith is newEnv with a Service configuration to start from.
func newEnvWith(t *testing.T, tlsServer bool, sc localauth.Config, edit ...func(*web.Config)) *env {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "web.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &strings.Builder{}
	sc.Hasher, sc.AllowWeakCost, sc.Logger = localauth.BcryptHasher{Cost: 4}, true, slog.New(slog.DiscardHandler)
	svc, err := localauth.New(st, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	cfg := web.Config{Service: svc, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, f := range edit {
		f(&cfg)
	}
	a, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(web.APIPrefix, a.API())
	mux.Handle("/private", a.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := web.CurrentUser(r.Context())
		io.WriteString(w, "private page of "+u.Username)
	})))
	mux.Handle("/login", a.RedirectIfAuthenticated(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "login form")
	})))
	mux.Handle("/ip", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, a.ClientIP(r)) }))
	h := web.SecurityHeaders(mux)
	e := &env{svc: svc, auth: a, log: logs}
	if tlsServer {
		e.srv = httptest.NewTLSServer(h)
	} else {
		e.srv = httptest.NewServer(h)
	}
	t.Cleanup(e.srv.Close)
	return e
}

// client returns a client of its own (cookie jar included) for the env's
// server, whose exchanges with the API are held to the OpenAPI document
// (see contractTransport); do reports them at the line that called it.
func (e *env) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return checkedClient(&c, func(p string) { t.Errorf("the API departs from web/openapi.json: %s", p) })
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request with c and reads the answer. Whatever the client, an
// exchange with the API is held to the OpenAPI document (see
// contractTransport): a departure fails the test.
func do(t *testing.T, c *http.Client, method, url, contentType, body string, headers ...string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	var problems []string
	res, err := checkedClient(c, func(p string) { problems = append(problems, p) }).Do(req)
	for _, p := range problems {
		t.Errorf("the API departs from web/openapi.json: %s", p)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: string(b)}
	json.Unmarshal(b, &r.body)
	return r
}

func (e *env) post(t *testing.T, c *http.Client, path, body string, headers ...string) reply {
	t.Helper()
	return do(t, c, "POST", e.srv.URL+path, "application/json", body, headers...)
}

func creds(u, p string) string {
	b, _ := json.Marshal(map[string]string{"username": u, "password": p})
	return string(b)
}

func TestAPIFlow(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	r := e.post(t, c, "/api/auth/register", creds("Alice", pw))
	if r.status != 201 || r.body["user"].(map[string]any)["username"] != "alice" {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if strings.Contains(r.raw, "hash") || strings.Contains(r.raw, "$2a$") {
		t.Fatalf("register leaks the hash: %s", r.raw)
	}
	if r := e.post(t, c, "/api/auth/register", creds("ALICE", pw)); r.status != 409 || r.body["error"] != "user_exists" {
		t.Fatalf("duplicate register: %d %s", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/register", creds("bob", "password")); r.status != 400 || r.body["error"] != "weak_password" || r.body["field"] != "password" {
		t.Fatalf("weak password: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", ""); r.status != 401 || r.body["error"] != "unauthenticated" {
		t.Fatalf("me before login: %d %s", r.status, r.raw)
	}

	// Kept signed in: the cookie lives as long as the session (30 days).
	r = e.post(t, c, "/api/auth/login", `{"username":"alice","password":"`+pw+`","remember":true}`)
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"localauth_session=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=259"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %q", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie over plain HTTP is Secure: %q", cookie)
	}
	tokenValue := strings.TrimPrefix(strings.Split(cookie, ";")[0], "localauth_session=")
	if strings.Contains(r.raw, tokenValue) {
		t.Fatal("C24: the login response body holds the token")
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", ""); r.status != 200 || r.body["user"].(map[string]any)["display_name"] != "Alice" {
		t.Fatalf("me: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "GET", e.srv.URL+"/private", "", ""); r.status != 200 || r.raw != "private page of alice" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("guarded page with a session: %d %q %v", r.status, r.raw, r.header)
	}
	if r := do(t, c, "GET", e.srv.URL+"/login?next=/private", "", ""); r.status != 303 || r.header.Get("Location") != "/private" {
		t.Fatalf("login page when logged in: %d %v", r.status, r.header.Get("Location"))
	}
	if r := do(t, c, "GET", e.srv.URL+"/login?next=//evil.com", "", ""); r.status != 303 || r.header.Get("Location") != "/" {
		t.Fatalf("login page with a hostile next: %d %v", r.status, r.header.Get("Location"))
	}

	// Logout: never a GET; a POST ends the session and clears the cookie.
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/logout", "", ""); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("GET logout: %d %v", r.status, r.header)
	}
	if r := e.post(t, c, "/api/auth/logout", ""); r.status != 204 || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v", r.status, r.header)
	}
	// Replaying the old cookie after logout gets nothing (bad-input: token replay).
	replay := &http.Client{CheckRedirect: c.CheckRedirect}
	if r := do(t, replay, "GET", e.srv.URL+"/api/auth/me", "", "", "Cookie", "localauth_session="+tokenValue); r.status != 401 {
		t.Fatalf("replayed cookie after logout: %d", r.status)
	}
	if r := do(t, c, "GET", e.srv.URL+"/private?x=1", "", ""); r.status != 303 || r.header.Get("Location") != "/login?next=%2Fprivate%3Fx%3D1" {
		t.Fatalf("guarded page after logout: %d %q", r.status, r.header.Get("Location"))
	}
}

func TestBearerTokenAndPasswordChange(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	e.post(t, c, "/api/auth/register", creds("carol", pw))
	r := e.post(t, c, "/api/auth/token", creds("carol", pw))
	tok, _ := r.body["token"].(string)
	// A bearer login sets no session cookie; only the device cookie that
	// marks this client as one that logged in to carol before.
	setCookies := r.header.Values("Set-Cookie")
	if r.status != 200 || len(tok) != 43 || r.body["token_type"] != "Bearer" ||
		len(setCookies) != 1 || !strings.HasPrefix(setCookies[0], web.DeviceCookieName+"=") {
		t.Fatalf("token: %d %s %v", r.status, r.raw, r.header)
	}
	api := &http.Client{}
	if r := do(t, api, "GET", e.srv.URL+"/api/auth/me", "", "", "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("me with bearer: %d %s", r.status, r.raw)
	}
	other := e.post(t, c, "/api/auth/token", creds("carol", pw)).body["token"].(string)
	body := `{"current_password":"wrong one","new_password":"a new long passphrase"}`
	if r := e.post(t, api, "/api/auth/password", body, "Authorization", "Bearer "+tok); r.status != 401 || r.body["error"] != "invalid_credentials" {
		t.Fatalf("password change with a wrong current one: %d %s", r.status, r.raw)
	}
	body = `{"current_password":"` + pw + `","new_password":"a new long passphrase"}`
	if r := e.post(t, api, "/api/auth/password", body, "Authorization", "Bearer "+tok); r.status != 204 {
		t.Fatalf("password change: %d %s", r.status, r.raw)
	}
	if r := do(t, api, "GET", e.srv.URL+"/api/auth/me", "", "", "Authorization", "Bearer "+other); r.status != 401 {
		t.Fatalf("C9: another session survived the password change: %d", r.status)
	}
	if r := do(t, api, "GET", e.srv.URL+"/api/auth/me", "", "", "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("the changing session ended: %d", r.status)
	}
	if r := do(t, api, "GET", e.srv.URL+"/api/auth/me", "", "", "Authorization", "Basic Y2Fyb2w6eA=="); r.status != 401 {
		t.Fatalf("Basic auth accepted: %d", r.status)
	}
}

// C10, C13: the API's login failure is the live page's, for unknown users
// and wrong passwords alike.
func TestGenericLoginFailure(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	e.post(t, c, "/api/auth/register", creds("dave", pw))
	a := e.post(t, c, "/api/auth/login", creds("nobody", pw))
	b := e.post(t, c, "/api/auth/login", creds("dave", "wrong password"))
	if a.status != 401 || a.raw != b.raw || a.body["message"] != localauth.MsgInvalidCredentials {
		t.Fatalf("unknown user %d %s; wrong password %d %s", a.status, a.raw, b.status, b.raw)
	}
	u, _ := e.svc.UserByName(context.Background(), "dave")
	e.svc.DisableUser(context.Background(), u.ID)
	if r := e.post(t, c, "/api/auth/login", creds("dave", "wrong password")); r.raw != a.raw {
		t.Fatalf("disabled account, wrong password: %s", r.raw)
	}
	if r := e.post(t, c, "/api/auth/login", creds("dave", pw)); r.status != 403 || r.body["error"] != "account_disabled" {
		t.Fatalf("disabled account, right password: %d %s", r.status, r.raw)
	}
}

// C14: throttled answers are 429 with Retry-After.
func TestThrottledLogin(t *testing.T) {
	// The Service's clock stands still: the first delay holds however slow
	// the machine.
	at := time.Now()
	e := newEnvWith(t, false, localauth.Config{Now: func() time.Time { return at }})
	c := e.client(t)
	var r reply
	for range 8 {
		r = e.post(t, c, "/api/auth/login", creds("victim", "guess"))
	}
	if r.status != 429 || r.body["error"] != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("8th failure: %d %s %v", r.status, r.raw, r.header)
	}
	if !strings.Contains(r.body["message"].(string), "wait") {
		t.Fatalf("message %q does not say to wait", r.body["message"])
	}
}

// C25, C26, C34: strict requests.
func TestStrictRequests(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	cases := []struct {
		name, ctype, body string
		headers           []string
		status            int
		code              string
	}{
		{"form post", "application/x-www-form-urlencoded", "username=a&password=b", nil, 415, "unsupported_media_type"},
		{"no content type", "", creds("a", "b"), nil, 415, "unsupported_media_type"},
		{"text/plain", "text/plain", creds("a", "b"), nil, 415, "unsupported_media_type"},
		{"unknown field", "application/json", `{"username":"a","password":"b","admin":true}`, nil, 400, "bad_request"},
		{"malformed", "application/json", `{"username":`, nil, 400, "bad_request"},
		{"two values", "application/json", creds("a", "b") + creds("a", "b"), nil, 400, "bad_request"},
		{"array", "application/json", `[]`, nil, 400, "bad_request"},
		{"wrong type", "application/json", `{"username":1,"password":2}`, nil, 400, "bad_request"},
		{"invalid UTF-8", "application/json", "{\"username\":\"carol\",\"password\":\"abcdefgh\xff\xfe\"}", nil, 400, "bad_request"},
		{"10 MiB", "application/json", `{"username":"a","password":"` + strings.Repeat("x", 10<<20) + `"}`, nil, 413, "too_large"},
		{"1 MB password", "application/json", `{"username":"a","password":"` + strings.Repeat("x", 1<<20) + `"}`, nil, 413, "too_large"},
		{"cross-site", "application/json", creds("a", "b"), []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross_origin"},
		{"foreign origin", "application/json", creds("a", "b"), []string{"Origin", "https://evil.example"}, 403, "cross_origin"},
		{"charset is fine", "application/json; charset=utf-8", creds("nobody", pw), nil, 401, "invalid_credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, c, "POST", e.srv.URL+"/api/auth/login", tc.ctype, tc.body, tc.headers...)
			if r.status != tc.status || r.body["error"] != tc.code {
				t.Fatalf("got %d %s, want %d %s", r.status, truncate(r.raw), tc.status, tc.code)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("a CORS header was sent")
			}
		})
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/nothing", "", ""); r.status != 404 || r.body["error"] != "not_found" {
		t.Fatalf("unknown endpoint: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "OPTIONS", e.srv.URL+"/api/auth/login", "", "", "Origin", "https://evil.example", "Access-Control-Request-Method", "POST"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("a preflight was answered with CORS headers")
	}
	if us, _ := e.svc.Users(context.Background()); len(us) != 0 {
		t.Fatalf("refused requests created users: %+v", us)
	}
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// C24, C37, C38: under TLS the cookie is Secure with the __Host- prefix and
// HSTS is sent; every page carries the security headers, every JSON answer
// nosniff and no-store.
func TestTLSCookieAndHeaders(t *testing.T) {
	e := newEnv(t, true)
	c := e.client(t)
	e.post(t, c, "/api/auth/register", creds("erin", pw))
	r := e.post(t, c, "/api/auth/login", creds("erin", pw))
	cookie := r.header.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "__Host-localauth_session=") || !strings.Contains(cookie, "Secure") {
		t.Fatalf("cookie under TLS: %q", cookie)
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", ""); r.status != 200 {
		t.Fatalf("me under TLS: %d", r.status)
	}
	if h := r.header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=63072000") {
		t.Fatalf("HSTS %q", h)
	}
	// JSON answers carry what a JSON answer needs, and not the headers of
	// documents a browser renders.
	for _, path := range []string{"/api/auth/me", "/api/auth/nothing", "/api/auth/openapi.json"} {
		r := do(t, c, "GET", e.srv.URL+path, "", "")
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(r.header.Get("Strict-Transport-Security"), "max-age=63072000") {
			t.Errorf("GET %s: headers %v, want nosniff, no-store and HSTS", path, r.header)
		}
		for _, h := range []string{"Content-Security-Policy", "Referrer-Policy", "X-Frame-Options", "Cross-Origin-Opener-Policy", "Permissions-Policy"} {
			if v := r.header.Get(h); v != "" {
				t.Errorf("GET %s: a page header on a JSON answer: %s: %s", path, h, v)
			}
		}
	}
	for _, path := range []string{"/private", "/login", "/nothing"} {
		r := do(t, c, "GET", e.srv.URL+path, "", "")
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
			if r.header.Get(h) == "" {
				t.Errorf("GET %s: no %s", path, h)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, d := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("CSP %q lacks %s", csp, d)
			}
		}
	}
	if tls := e.srv.TLS; tls != nil && tls.MinVersion != 0 && tls.MinVersion < 0x0303 {
		t.Fatal("TLS below 1.2")
	}
}

// C16: X-Forwarded-For is believed only from a trusted proxy.
func TestClientIP(t *testing.T) {
	plain := newEnv(t, false)
	c := plain.client(t)
	if r := do(t, c, "GET", plain.srv.URL+"/ip", "", "", "X-Forwarded-For", "203.0.113.9"); r.raw != "127.0.0.1" {
		t.Fatalf("untrusted X-Forwarded-For believed: %q", r.raw)
	}
	proxied := newEnv(t, false, func(cfg *web.Config) { cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	c = proxied.client(t)
	if r := do(t, c, "GET", proxied.srv.URL+"/ip", "", "", "X-Forwarded-For", "198.51.100.1, 203.0.113.9"); r.raw != "203.0.113.9" {
		t.Fatalf("behind a trusted proxy: %q, want the last untrusted hop", r.raw)
	}
	if r := do(t, c, "GET", proxied.srv.URL+"/ip", "", "", "X-Forwarded-For", "203.0.113.9, 127.0.0.5"); r.raw != "203.0.113.9" {
		t.Fatalf("through two trusted proxies: %q", r.raw)
	}
	if r := do(t, c, "GET", proxied.srv.URL+"/ip", "", "", "X-Forwarded-For", "garbage"); r.raw != "127.0.0.1" {
		t.Fatalf("garbage X-Forwarded-For: %q", r.raw)
	}
}

// The live pages' cookie mode: a one-time code becomes the cookie, once.
func TestSessionExchange(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	e.post(t, c, "/api/auth/register", creds("frank", pw))
	res, err := e.svc.Login(localauth.WithClientIP(context.Background(), "192.0.2.1"), "frank", pw)
	if err != nil {
		t.Fatal(err)
	}
	const binding = "the-browser-secret"
	browser := []string{"Cookie", web.HandoffCookieName + "=" + binding}
	code, err := e.svc.IssueHandoff(context.Background(), res.Token, binding)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"code":"` + code + `"}`
	r := e.post(t, c, "/api/auth/session", body, browser...)
	if r.status != 204 || !strings.Contains(r.header.Get("Set-Cookie"), "localauth_session="+string(res.Token)) {
		t.Fatalf("exchange: %d %v", r.status, r.header)
	}
	if r := e.post(t, e.client(t), "/api/auth/session", body, browser...); r.status != 401 {
		t.Fatalf("second exchange of one code: %d", r.status)
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", ""); r.status != 200 {
		t.Fatalf("me after the exchange: %d", r.status)
	}
	_ = time.Second
}

func TestHealth(t *testing.T) {
	var down bool
	h := web.Health(func(context.Context) error {
		if down {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(p string) int {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if get("/healthz") != 200 || get("/readyz") != 200 {
		t.Fatal("probes not 200 while up")
	}
	down = true
	if get("/healthz") != 200 || get("/readyz") != 503 {
		t.Fatal("with the database down: want /healthz 200 and /readyz 503")
	}
}

// A site's own Content-Security-Policy replaces the default and keeps every
// other header; the zero Headers sends the default.
func TestHeadersPolicy(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Add("X-Handler", "ran") })
	const custom = "default-src 'self'; img-src 'self' https://images.example"
	for _, tc := range []struct {
		h    web.Headers
		want string
	}{
		{web.Headers{}, web.ContentSecurityPolicy},
		{web.Headers{ContentSecurityPolicy: custom}, custom},
	} {
		rec := httptest.NewRecorder()
		tc.h.Handler(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if got := rec.Header().Get("Content-Security-Policy"); got != tc.want {
			t.Errorf("CSP %q, want %q", got, tc.want)
		}
		if rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("X-Handler") != "ran" {
			t.Errorf("other headers lost: %v", rec.Header())
		}
	}
	// The default is unchanged for the next response: the custom policy
	// did not write into the shared value.
	rec := httptest.NewRecorder()
	web.SecurityHeaders(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Get("Content-Security-Policy"); got != web.ContentSecurityPolicy {
		t.Errorf("default CSP after a custom one: %q", got)
	}
}

// A peer with no IP address (a unix socket) has no client address, unless
// the server says the socket is its proxy's: then X-Forwarded-For tells.
func TestClientIPOverUnixSocket(t *testing.T) {
	svc := newEnv(t, false).svc
	plain, err := web.New(web.Config{Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	behind, err := web.New(web.Config{Service: svc, TrustUnixSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "@"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := plain.ClientIP(r); got != "" {
		t.Errorf("unix socket peer, not trusted: %q, want none", got)
	}
	if got := behind.ClientIP(r); got != "203.0.113.9" {
		t.Errorf("unix socket peer, trusted: %q, want the forwarded address", got)
	}
	r.Header.Del("X-Forwarded-For")
	if got := behind.ClientIP(r); got != "" {
		t.Errorf("trusted unix socket without X-Forwarded-For: %q, want none", got)
	}
	// And a login without an address is refused, not counted as everyone's.
	if _, err := svc.Login(plain.Context(r), "nobody", "whatever password"); !errors.Is(err, localauth.ErrNoClientAddress) {
		t.Errorf("login over an untrusted unix socket: %v", err)
	}
}
