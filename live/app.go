// Package live keeps each browser tab's state on the server and syncs it to
// the page over a websocket: the page is static HTML with data- bindings,
// and everything that changes is computed on the server.
//
// An App holds typed per-tab state (substates: structs registered with
// State), computed values with declared dependencies (Computed), public event
// handlers (Handle) and static pages (Page). A page binds state to the DOM
// with data- attributes; the small JavaScript client, embedded in this
// package, connects to /_live, hydrates the tab's state from the route and
// LocalStorage, sends events, applies the deltas the server sends back and
// performs client actions (redirect, set a field's value, focus, LocalStorage).
//
// Pages are static: every visitor receives the same HTML. Anything private
// must come from state, computed on the server after it checked who the tab
// belongs to.
//
// # State variables
//
// A substate is a pointer to a struct. Its fields tagged live:"…" are the
// tab's variables, named on the page "substate.name"; untagged fields are
// Go's alone:
//
//	type LoginState struct {
//		ErrorMessage string `live:"error_message"`                       // synced to the page
//		Token        string `live:"auth_token,server,local=_auth_token"` // never in page state
//		attempts     int                                                 // untagged: Go only
//	}
//
// Options follow the name, comma-separated:
//
//   - server: the variable stays on the server. It is never sent to the
//     page, but computed values may depend on it.
//   - local=KEY: the variable is mirrored in the browser's LocalStorage
//     under KEY (or its sessionStorage, see Tab.SessionStorage), sent with
//     the tab's hello on every connection, and hydrated from there. With
//     server, the browser keeps the value but no page script ever sees it in
//     the state: the pattern for a session token.
//
// Variables synced to the page must be JSON-encodable; State panics at
// start-up on a tag it cannot read.
//
// The package knows nothing of authentication.
package live

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Config tunes an App. The zero value is a safe configuration; each field
// states its default.
type Config struct {
	// OriginPatterns are host patterns (as in path.Match, e.g.
	// "*.example.com", or "https://*.example.com" to match the scheme too)
	// of other origins allowed to open the websocket. The page's own
	// origin, scheme, host and port, is always allowed; a handshake from
	// any other origin is refused with 403 (cross-site websocket
	// hijacking), the same host under another scheme included. Default
	// none.
	OriginPatterns []string

	// Secure reports whether a request reached the server over TLS,
	// directly or through a trusted proxy: the page's own origin is then
	// https. Default: r.TLS != nil. The web package's Auth.Secure believes
	// X-Forwarded-Proto from trusted proxies.
	Secure func(r *http.Request) bool

	// MaxMessageBytes bounds one message from a page; a larger one closes
	// the connection with status 1009. Default 64 KiB.
	MaxMessageBytes int64

	// EventsPerSecond and EventBurst bound the messages one connection may
	// send; excess ones get a rate_limited error and are not run. Defaults
	// 20 and 40.
	EventsPerSecond float64
	EventBurst      int

	// IdleTimeout closes a connection from which nothing arrived for this
	// long. The client sends a ping every 25 seconds. Default 75s.
	IdleTimeout time.Duration

	// MaxConnsPerClient bounds the open connections of one client: one
	// IPv4 address, or one IPv6 /64, since a single host or home network
	// is handed a whole /64 and picks addresses in it at will (the
	// grouping localauth's throttles use). Default 64.
	MaxConnsPerClient int

	// MaxConns bounds the open connections of the whole App, so that
	// websockets from many addresses cannot use up the process's file
	// descriptors and leave none for logins, the API and the database:
	// past it a new websocket is refused with 503 and Retry-After while
	// plain HTTP requests keep being served. Default DefaultMaxConns(),
	// derived from the open-file limit; negative means no ceiling.
	MaxConns int

	// Head is extra trusted markup for every page's <head>, such as a
	// stylesheet link. Default none.
	Head template.HTML

	// ClientIP returns the address of the client of a request. Default:
	// the host of r.RemoteAddr.
	ClientIP func(r *http.Request) string

	// Logger receives one line per refused handshake, malformed message and
	// failed handler. Default slog.Default().
	Logger *slog.Logger
}

// App is a live application: its states, computed values, handlers and
// pages. Register everything before serving; App is safe for concurrent use
// once serving.
type App struct {
	cfg      Config
	log      *slog.Logger
	states   []*stateDef
	byName   map[string]*stateDef
	computed []*computedDef
	handlers map[string]HandlerFunc
	pages    map[string]page
	assets   map[string]asset
	locals   []string

	onClose   []func(*Tab)
	onConnect []func(*http.Request, *Tab)
	onEvent   []func(*Tab)

	mu    sync.Mutex
	tabs  map[*Tab]struct{}
	perIP map[string]int
	conns int // admitted connections, handshakes included
	// poller holds idle tabs' connections, so that they need no
	// goroutine.
	poller  *poller
	closing bool
	wg      sync.WaitGroup
}

// noScriptPath is the action of live forms: where a browser posts a form
// if the script did not intercept it, so that a password never lands in a
// URL (the default GET) or in a handler that would log it.
const noScriptPath = "/_live/nojs"

// HandlerFunc handles an event from a page. It runs on the tab's own
// goroutine: events of one tab run in order, and tabs do not wait for one
// another. It changes state through t; changes are sent when it returns (or
// earlier, at t.Flush). An error is logged and answered with a generic error
// to the page.
type HandlerFunc func(ctx context.Context, t *Tab, ev Event) error

// Event is what a page sent with an event.
type Event struct {
	// Name is the handler's name, e.g. "login.on_submit".
	Name string
	// Fields are a submitted form's fields by name; empty for a click or a
	// mount.
	Fields map[string]string
}

type computedDef struct {
	name string // "substate.var"
	deps []string
	fn   func(ctx context.Context, t *Tab) any
}

type page struct {
	title string
	body  template.HTML
}

type asset struct {
	contentType string
	data        []byte
}

// New returns an empty App.
func New(cfg Config) *App {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 64 << 10
	}
	if cfg.EventsPerSecond <= 0 {
		cfg.EventsPerSecond = 20
	}
	if cfg.EventBurst <= 0 {
		cfg.EventBurst = 40
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 75 * time.Second
	}
	if cfg.MaxConnsPerClient <= 0 {
		cfg.MaxConnsPerClient = 64
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns()
	}
	if cfg.Secure == nil {
		cfg.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &App{
		cfg:      cfg,
		log:      cfg.Logger,
		byName:   make(map[string]*stateDef),
		handlers: make(map[string]HandlerFunc),
		pages:    make(map[string]page),
		assets:   make(map[string]asset),
		tabs:     make(map[*Tab]struct{}),
		poller:   newPoller(),
		perIP:    make(map[string]int),
	}
	a.assets["/_live/live.js"] = asset{"text/javascript; charset=utf-8", clientJS}
	return a
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if net.ParseIP(host) == nil {
		return "" // a unix socket's peer: no address, rather than one all share
	}
	return host
}

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// State registers a substate: newFn returns a new pointer to a struct whose
// tagged fields are the state's variables (see the package documentation of
// tags). Every tab gets its own. The name "live" is reserved for the
// runtime's own variables: live.route, live.query and live.is_hydrated.
// State panics on a programming error (a bad name or struct), as
// http.Handle does.
func (a *App) State(name string, newFn func() any) {
	if !identRE.MatchString(name) || name == "live" || a.byName[name] != nil {
		panic(fmt.Sprintf("live: bad or duplicate state name %q", name))
	}
	d, err := newStateDef(name, newFn)
	if err != nil {
		panic(err)
	}
	for _, f := range d.fields {
		if f.local != "" {
			a.locals = append(a.locals, f.local)
		}
	}
	d.index = len(a.states)
	a.states = append(a.states, d)
	a.byName[name] = d
}

// Computed registers a computed variable "substate.var", recomputed only
// when one of deps (variables or earlier computed values, as
// "substate.var") changed, or when invalidated with Tab.Invalidate. Its
// value is sent to the page like any synced variable; fn runs on the tab's
// goroutine. Dependencies must be registered first, so that one pass in
// registration order settles every value.
func (a *App) Computed(name string, deps []string, fn func(ctx context.Context, t *Tab) any) {
	sub, v, ok := strings.Cut(name, ".")
	if !ok || a.byName[sub] == nil || !identRE.MatchString(v) {
		panic(fmt.Sprintf("live: computed %q must be substate.var of a registered state", name))
	}
	for _, d := range deps {
		if !a.known(d) {
			panic(fmt.Sprintf("live: computed %q depends on unknown %q", name, d))
		}
	}
	a.computed = append(a.computed, &computedDef{name: name, deps: deps, fn: fn})
}

// slots counts the values a tab settles: the runtime's three, every
// state's variables and the computed values.
func (a *App) slots() int {
	n := 3 + len(a.computed)
	for _, d := range a.states {
		n += len(d.fields)
	}
	return n
}

// known reports whether name is a registered variable or computed value.
func (a *App) known(name string) bool {
	sub, v, _ := strings.Cut(name, ".")
	if sub == "live" {
		return v == "route" || v == "query" || v == "is_hydrated"
	}
	if d := a.byName[sub]; d != nil {
		for _, f := range d.fields {
			if f.name == v {
				return true
			}
		}
	}
	for _, c := range a.computed {
		if c.name == name {
			return true
		}
	}
	return false
}

// Handle registers a public event handler under name ("substate.handler").
// Only registered handlers can be called from a page: an event naming
// anything else gets an unknown_event error and runs nothing.
func (a *App) Handle(name string, h HandlerFunc) {
	sub, v, ok := strings.Cut(name, ".")
	if !ok || !identRE.MatchString(sub) || !identRE.MatchString(v) || a.handlers[name] != nil {
		panic(fmt.Sprintf("live: bad or duplicate handler name %q", name))
	}
	a.handlers[name] = h
}

// Page registers a static page at route ("/login"). body is trusted markup
// with data- bindings; it is the same for every visitor.
func (a *App) Page(route, title string, body template.HTML) {
	if !strings.HasPrefix(route, "/") {
		panic(fmt.Sprintf("live: route %q must start with /", route))
	}
	a.pages[route] = page{title: title, body: body}
}

// OnConnect registers fn to run at the websocket handshake, before the tab
// hydrates, with the handshake request (to read a cookie, say).
func (a *App) OnConnect(fn func(r *http.Request, t *Tab)) { a.onConnect = append(a.onConnect, fn) }

// OnClose registers fn to run when a tab disconnects, on the tab's
// connection goroutine.
func (a *App) OnClose(fn func(t *Tab)) { a.onClose = append(a.onClose, fn) }

// OnEvent registers fn to run on the tab before each of its events and
// navigations, in turn with them. fn may invalidate computed values that
// depend on something outside the tab and call t.Flush, so that the event's
// handler sees them fresh (liveauth re-checks a session the store could not
// confirm earlier).
func (a *App) OnEvent(fn func(t *Tab)) { a.onEvent = append(a.onEvent, fn) }

// Asset serves data at path with the given content type (a stylesheet, an
// image).
func (a *App) Asset(path, contentType string, data []byte) {
	a.assets[path] = asset{contentType, data}
}

// Routes returns the registered page routes, sorted.
func (a *App) Routes() []string {
	rs := make([]string, 0, len(a.pages))
	for r := range a.pages {
		rs = append(rs, r)
	}
	sort.Strings(rs)
	return rs
}

// ServeHTTP serves the pages, the assets and the websocket at /_live.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_live":
		a.serveSocket(w, r)
		return
	case noScriptPath:
		// Forms post here only when the script did not run. The body
		// (a password, perhaps) is never read.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "This page needs JavaScript to send its form. Please enable JavaScript and try again.\n")
		return
	}
	if as, ok := a.assets[r.URL.Path]; ok {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", as.contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(as.data)
		return
	}
	a.servePage(w, r)
}

// Each calls fn for every connected tab. fn must not block: use t.Push to
// change a tab's state.
func (a *App) Each(fn func(t *Tab)) {
	a.mu.Lock()
	tabs := make([]*Tab, 0, len(a.tabs))
	for t := range a.tabs {
		tabs = append(tabs, t)
	}
	a.mu.Unlock()
	for _, t := range tabs {
		fn(t)
	}
}

// Shutdown closes every live connection with status 1001 (going away), so
// that pages reconnect to another instance or after a restart, and waits for
// their goroutines to end or ctx to be done. New connections are refused
// from the moment it is called.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closing = true
	for t := range a.tabs {
		t.closeWith(statusGoingAway, "server shutting down")
	}
	a.mu.Unlock()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Conns returns the number of open connections.
func (a *App) Conns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.tabs)
}
