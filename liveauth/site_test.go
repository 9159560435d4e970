package liveauth_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/internal/testkit/smtptest"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/smtpmail"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/web"
)

// The tests built on site drive tabs the way the live client does, over a real websocket to a real server on loopback, with
// the Service on a SQLite file: what they read is what a page would show.

// patience bounds every wait of these tests. It is generous: the tests wait
// for conditions, never for time, so it is reached only when something is
// wrong.
const patience = 30 * time.Second

// privateRoute is a page of the test app's own behind RequireLogin, with a
// value computed for the signed-in user only.
const privateRoute = "/private"

// Transport modes of siteConfig.web.
const (
	noWeb           = ""
	webLocalStorage = "localstorage" // token in LocalStorage, device cookie by handoff
	webCookie       = "cookie"       // token in an HttpOnly cookie
)

// siteConfig chooses what a test site runs.
type siteConfig struct {
	// service edits the Service's configuration.
	service func(*localauth.Config)
	// opts are Mount's options; the web mode fills in the request hooks.
	opts liveauth.Options
	// web mounts the web package's API and page wrappers, as a real
	// server does (see internal/server), in the given mode.
	web string
	// unbound leaves out web.BindHandoffs: tabs get no handoff binding,
	// as in a browser that keeps no cookies.
	unbound bool
	// mail turns on the mail flows, sending to an SMTP server in the test.
	mail bool
	// totp turns on authenticator apps.
	totp bool
	// wrap puts a fault-injecting store in front of the real one.
	wrap func(*sqlitestore.Store) localauth.Store
}

// site is a live app with liveauth mounted, over a Service on a SQLite
// file, served on loopback.
type site struct {
	svc   *localauth.Service
	auth  *liveauth.Auth
	app   *live.App
	srv   *httptest.Server
	web   *web.Auth
	smtp  *smtptest.Server
	clock *testkit.OffsetClock
}

func mustSite(tb testing.TB, sc siteConfig) *site {
	tb.Helper()
	quiet := slog.New(slog.DiscardHandler)
	st, err := sqlitestore.Open(context.Background(), filepath.Join(tb.TempDir(), "auth.db"), sqlitestore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var store localauth.Store = st
	if sc.wrap != nil {
		store = sc.wrap(st)
	}
	s := &site{clock: &testkit.OffsetClock{}}
	cfg := localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true,
		Logger: quiet, Now: s.clock.Now, PurgeInterval: -1,
	}
	if sc.totp {
		cfg.SecretKey = []byte(rand.Text() + rand.Text())
		cfg.TOTP = mfa.TOTP{}
	}
	if sc.mail {
		s.smtp = smtptest.MustStart(tb)
		m, err := smtpmail.New(s.smtp.URL(), "localauth@example.com", smtpmail.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Mail = localauth.MailConfig{Mailer: m, PublicURL: "https://auth.example.com", PollInterval: time.Hour}
	}
	if sc.service != nil {
		sc.service(&cfg)
	}
	if s.svc, err = localauth.New(store, cfg); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.svc.Close() })

	opts := sc.opts
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.RegistrationDelay == 0 {
		opts.RegistrationDelay = time.Millisecond
	}
	if sc.web != noWeb {
		if s.web, err = web.New(web.Config{Service: s.svc, Logger: quiet}); err != nil {
			tb.Fatal(err)
		}
		opts.HandoffBinding = s.web.HandoffBinding
		opts.DeviceFromRequest = s.web.DeviceToken
		if sc.web == webCookie {
			opts.TokenStorage = liveauth.TokenCookie
			opts.TokenFromRequest = s.web.Token
		}
	}
	s.app = live.New(live.Config{Logger: quiet, EventsPerSecond: 1000, EventBurst: 1000})
	s.auth = liveauth.Mount(s.app, s.svc, opts)
	s.app.State("private", func() any { return &struct{}{} })
	s.app.Computed("private.secret", []string{"auth.authenticated_user"}, func(_ context.Context, t *live.Tab) any {
		if u, ok := liveauth.User(t); ok {
			return "secret of " + u.Username
		}
		return ""
	})
	s.app.Page(privateRoute, "Private", liveauth.RequireLogin(`<p data-text="private.secret"></p>`))

	var h http.Handler = s.app
	if s.web != nil {
		mux := http.NewServeMux()
		mux.Handle(web.APIPrefix, s.web.API())
		pages := s.web.DeviceCookie(s.app)
		if !sc.unbound {
			pages = s.web.BindHandoffs(pages)
		}
		mux.Handle("/", pages)
		h = mux
	}
	s.srv = httptest.NewServer(h)
	tb.Cleanup(s.srv.Close)
	return s
}

// mustRegister creates a user with the password pw.
func (s *site) mustRegister(tb testing.TB, username string) localauth.User {
	tb.Helper()
	u, err := s.svc.Register(clientCtx, username, pw)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// mustLogin starts a session for username outside any tab, as another
// device would.
func (s *site) mustLogin(tb testing.TB, username string) localauth.Token {
	tb.Helper()
	res, err := s.svc.Login(clientCtx, username, pw)
	if err != nil {
		tb.Fatal(err)
	}
	return res.Token
}

// browser is an HTTP client with a cookie jar: the cookies the site sets
// travel with its websocket handshakes, as a browser's do.
type browser struct {
	s      *site
	client *http.Client
}

// newBrowser returns a browser that has loaded the home page, and so holds
// whatever cookies the pages hand out.
func (s *site) newBrowser(tb testing.TB) *browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	b := &browser{s: s, client: &http.Client{Jar: jar}}
	res, err := b.client.Get(s.srv.URL + "/")
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	return b
}

// cookie returns the value of the named cookie the browser holds for the
// site, or "".
func (b *browser) cookie(name string) string {
	req, _ := http.NewRequest(http.MethodGet, b.s.srv.URL+"/", nil)
	for _, c := range b.client.Jar.Cookies(req.URL) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// post does what the live client does for a post action: a same-origin
// POST of the action's JSON body. It returns the status.
func (b *browser) post(tb testing.TB, a liveAction) int {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, b.s.srv.URL+a.To, strings.NewReader(a.Value))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.s.srv.URL)
	res, err := b.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// liveAction is an action the server asks of the page.
type liveAction struct {
	Do      string `json:"do"`
	To      string `json:"to"`
	ID      string `json:"id"`
	Key     string `json:"key"`
	Value   string `json:"value"`
	Session bool   `json:"session"`
}

// liveMessage is a message from the server.
type liveMessage struct {
	T       string                                `json:"t"`
	ID      int64                                 `json:"id"`
	Delta   map[string]map[string]json.RawMessage `json:"delta"`
	Actions []liveAction                          `json:"actions"`
	Done    bool                                  `json:"done"`
	Error   string                                `json:"error"`
	Message string                                `json:"message"`
}

// page is one tab, as the live client keeps it: its state from the
// deltas, and its LocalStorage from the local_set and local_remove
// actions. Only the test's goroutine touches it.
type page struct {
	tb      testing.TB
	conn    *websocket.Conn
	in      chan []byte
	readErr error // set before in is closed
	id      int64
	state   map[string]json.RawMessage
	local   map[string]string
	actions []liveAction
	log     strings.Builder
}

// open opens a tab on route (which may hold a query) whose LocalStorage
// holds local, from a browser without cookies.
func (s *site) open(tb testing.TB, route string, local map[string]string) *page {
	tb.Helper()
	return s.dial(tb, nil, route, local)
}

// open opens a tab of the browser on route.
func (b *browser) open(tb testing.TB, route string) *page {
	tb.Helper()
	return b.s.dial(tb, b.client, route, nil)
}

func (s *site) dial(tb testing.TB, client *http.Client, route string, local map[string]string) *page {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.srv.URL, "http")+"/_live", &websocket.DialOptions{
		HTTPClient: client, HTTPHeader: http.Header{"Origin": {s.srv.URL}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	c.SetReadLimit(1 << 20)
	tb.Cleanup(func() { c.CloseNow() })
	p := &page{tb: tb, conn: c, in: make(chan []byte, 1024), state: map[string]json.RawMessage{}, local: map[string]string{}}
	for k, v := range local {
		p.local[k] = v
	}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				p.readErr = err
				close(p.in)
				return
			}
			p.in <- b
		}
	}()
	path, query := splitRoute(route)
	p.id++
	p.send(map[string]any{"t": "hello", "id": p.id, "route": path, "query": query, "local": p.local})
	p.reply(p.id)
	return p
}

func splitRoute(route string) (path, query string) {
	if i := strings.IndexByte(route, '?'); i >= 0 {
		return route[:i], route[i:]
	}
	return route, ""
}

func (p *page) send(v any) {
	p.tb.Helper()
	b, _ := json.Marshal(v)
	if err := p.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		p.tb.Fatalf("sending: %v", err)
	}
}

// read takes the next message and applies it, failing the test at the
// deadline.
func (p *page) read(deadline time.Time, what string) liveMessage {
	p.tb.Helper()
	select {
	case b, ok := <-p.in:
		if !ok {
			p.tb.Fatalf("the connection closed: %v; got:\n%s", p.readErr, p.log.String())
		}
		p.log.Write(b)
		p.log.WriteByte('\n')
		var m liveMessage
		if err := json.Unmarshal(b, &m); err != nil {
			p.tb.Fatalf("undecodable message %s: %v", b, err)
		}
		for sub, vars := range m.Delta {
			for v, val := range vars {
				p.state[sub+"."+v] = val
			}
		}
		for _, a := range m.Actions {
			switch a.Do {
			case "local_set":
				p.local[a.Key] = a.Value
			case "local_remove":
				delete(p.local, a.Key)
			}
		}
		p.actions = append(p.actions, m.Actions...)
		return m
	case <-time.After(time.Until(deadline)):
		p.tb.Fatalf("%s: nothing within %v; got:\n%s", what, patience, p.log.String())
		return liveMessage{}
	}
}

// reply is what the server sent from an event until its answer.
type reply struct {
	msgs []liveMessage
	// err is the error code of an error answer, "" for an update.
	err string
}

// reply reads until the answer to message id.
func (p *page) reply(id int64) reply {
	p.tb.Helper()
	deadline := time.Now().Add(patience)
	var r reply
	for {
		m := p.read(deadline, "waiting for the answer to message "+strconv.FormatInt(id, 10))
		r.msgs = append(r.msgs, m)
		if m.ID == id && (m.Done || m.T == "error") {
			r.err = m.Error
			return r
		}
	}
}

// event sends the event and returns everything up to its answer, which
// must not be an error.
func (p *page) event(name string, fields map[string]string) reply {
	p.tb.Helper()
	r := p.try(name, fields)
	if r.err != "" {
		p.tb.Fatalf("event %s answered with error %q; got:\n%s", name, r.err, p.log.String())
	}
	return r
}

// try sends the event and returns everything up to its answer.
func (p *page) try(name string, fields map[string]string) reply {
	p.tb.Helper()
	p.id++
	p.send(map[string]any{"t": "event", "id": p.id, "name": name, "fields": fields})
	return p.reply(p.id)
}

// nav moves the tab to route, as the client does for a redirect to a page
// of the app.
func (p *page) nav(route string) reply {
	p.tb.Helper()
	path, query := splitRoute(route)
	p.id++
	p.send(map[string]any{"t": "nav", "id": p.id, "route": path, "query": query})
	return p.reply(p.id)
}

// follow navigates to the reply's last redirect, and fails when it has
// none.
func (p *page) follow(r reply) {
	p.tb.Helper()
	to := r.redirect()
	if to == "" {
		p.tb.Fatalf("no redirect; got:\n%s", p.log.String())
	}
	p.nav(to)
}

// until reads messages until cond holds.
func (p *page) until(what string, cond func() bool) {
	p.tb.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		p.read(deadline, what)
	}
}

// str returns the string value name ("login.error_message") as the page
// holds it.
func (p *page) str(name string) string {
	var s string
	json.Unmarshal(p.state[name], &s)
	return s
}

// flag returns the boolean value name as the page holds it.
func (p *page) flag(name string) bool {
	var b bool
	json.Unmarshal(p.state[name], &b)
	return b
}

// decode reads the value name as the page holds it into v.
func (p *page) decode(name string, v any) {
	p.tb.Helper()
	raw, ok := p.state[name]
	if !ok {
		p.tb.Fatalf("the page holds no %s; got:\n%s", name, p.log.String())
	}
	if err := json.Unmarshal(raw, v); err != nil {
		p.tb.Fatalf("%s: %v", name, err)
	}
}

// user is the tab's authenticated user as the page sees it.
func (p *page) user() liveauth.PublicUser {
	var u liveauth.PublicUser
	p.decode("auth.authenticated_user", &u)
	return u
}

// login submits the login form with the username and pw.
func (p *page) login(username string) reply {
	p.tb.Helper()
	return p.event("login.on_submit", map[string]string{"username": username, "password": pw})
}

// token is the session token the page keeps in LocalStorage.
func (p *page) token() localauth.Token {
	return localauth.Token(p.local[liveauth.LocalStorageKey])
}

// seen reports whether the page's transcript holds s.
func (p *page) seen(s string) bool { return strings.Contains(p.log.String(), s) }

// redirect returns the last redirect of the reply, or "".
func (r reply) redirect() string {
	to := ""
	for _, a := range r.actions("redirect") {
		to = a.To
	}
	return to
}

// actions returns the reply's actions of the kind do.
func (r reply) actions(do string) []liveAction {
	var out []liveAction
	for _, m := range r.msgs {
		for _, a := range m.Actions {
			if a.Do == do {
				out = append(out, a)
			}
		}
	}
	return out
}

// has reports whether the reply holds the action (do, id) with value.
func (r reply) has(do, id, value string) bool {
	for _, a := range r.actions(do) {
		if a.ID == id && a.Value == value {
			return true
		}
	}
	return false
}

// focused reports whether the reply moved the focus to id, last.
func (r reply) focused(id string) bool {
	f := r.actions("focus")
	return len(f) > 0 && f[len(f)-1].ID == id
}

// publicMessage is how localauth words err for people.
func publicMessage(err error) string {
	_, msg, _ := localauth.Public(err)
	return msg
}
