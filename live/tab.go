package live

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
)

// Tab is one browser tab's state on the server: its substates, the computed
// values, and the connection that syncs them. Its methods other than Push,
// ClientIP, Load and Store must be called only while the tab runs something
// (inside handlers, computed functions and pushed functions).
type Tab struct {
	app      *App
	ctx      context.Context
	clientIP string
	states   []reflect.Value // pointers to the substates' structs, as App.states

	route, query string
	hydrated     bool

	// last holds a digest of the JSON of every variable and computed
	// value as last settled, synced or not: enough to tell a change, and a
	// fraction of the JSON's memory in a tab that sits idle for hours. The
	// digest is SHA-256, cut to 128 bits: no value can be made to look
	// unchanged, so no update (a private value cleared, say) is skipped.
	// It is indexed by the value's slot (see settleOnce), not keyed by its
	// name: a map of some sixty names costs an idle tab four times the
	// digests themselves. An all-zero digest marks a value not settled yet.
	last     [][16]byte
	computed []any  // the computed values, as App.computed
	done     []bool // which of them were computed
	invalid  map[string]bool
	stored   map[string]string // LocalStorage as the page holds it
	actions  []action

	// mu is held while the tab runs anything: a message, a push. It is what
	// makes a tab's work happen one piece at a time, in order.
	mu      sync.Mutex
	pushing atomic.Int32

	send        func(serverMessage) bool
	closeMu     sync.Mutex
	closeFn     func(code int, reason string)
	closeCode   int
	closeReason string
	closeDone   chan struct{}

	valuesMu sync.Mutex
	values   map[string]any
}

// Load returns what Store kept under key: free storage for code built on
// top of live (liveauth keeps the tab's session there). Safe from any
// goroutine.
func (t *Tab) Load(key string) (any, bool) {
	t.valuesMu.Lock()
	defer t.valuesMu.Unlock()
	v, ok := t.values[key]
	return v, ok
}

// Store keeps v under key; a nil v deletes it. Safe from any goroutine.
func (t *Tab) Store(key string, v any) {
	t.valuesMu.Lock()
	defer t.valuesMu.Unlock()
	if v == nil {
		delete(t.values, key)
		return
	}
	t.values[key] = v
}

func newTab(a *App, ctx context.Context, clientIP string) *Tab {
	t := &Tab{
		app:      a,
		ctx:      ctx,
		clientIP: clientIP,
		states:   make([]reflect.Value, len(a.states)),
		last:     make([][16]byte, a.slots()),
		computed: make([]any, len(a.computed)),
		done:     make([]bool, len(a.computed)),
		invalid:  make(map[string]bool),
		stored:   make(map[string]string),
		values:   make(map[string]any),
	}
	for i, d := range a.states {
		t.states[i] = reflect.ValueOf(d.newFn())
	}
	return t
}

// Get returns the tab's substate registered under name, or nil if there is
// none of type T.
func Get[T any](t *Tab, name string) *T {
	d := t.app.byName[name]
	if d == nil || d.index >= len(t.states) {
		return nil
	}
	p, _ := t.states[d.index].Interface().(*T)
	return p
}

// Context returns the connection's context, done when the tab disconnects.
func (t *Tab) Context() context.Context { return t.ctx }

// ClientIP returns the address of the tab's client.
func (t *Tab) ClientIP() string { return t.clientIP }

// Route returns the page the tab shows ("/login").
func (t *Tab) Route() string { return t.route }

// Query returns the query of the page the tab shows.
func (t *Tab) Query() url.Values {
	q, _ := url.ParseQuery(strings.TrimPrefix(t.query, "?"))
	return q
}

// RawQuery returns the query as the page sent it, with its leading "?", or
// "".
func (t *Tab) RawQuery() string { return t.query }

// IsHydrated reports whether the page's route and LocalStorage values have
// reached the server.
func (t *Tab) IsHydrated() bool { return t.hydrated }

// Computed returns the current value of a computed variable.
func (t *Tab) Computed(name string) any {
	for i, c := range t.app.computed {
		if c.name == name && i < len(t.computed) {
			return t.computed[i]
		}
	}
	return nil
}

// Invalidate marks computed values for recomputation at the next sync, as
// when something they read outside the tab's state changed (a session was
// revoked).
func (t *Tab) Invalidate(names ...string) {
	for _, n := range names {
		t.invalid[n] = true
	}
}

// Redirect sends the page to a local path ("/login?x=1"). The client
// navigates without reloading when the path is a page of the app. A path that
// does not start with a single "/" is refused by the client.
func (t *Tab) Redirect(path string) { t.actions = append(t.actions, action{Do: "redirect", To: path}) }

// SetValue sets the value of the form field with the given element id.
func (t *Tab) SetValue(id, value string) {
	t.actions = append(t.actions, action{Do: "set_value", ID: id, Value: value})
}

// Post makes the page POST body (JSON) to a local path of the site, with its
// cookies, and wait for the answer before it runs the next action. It lets a
// handler have the browser set an HttpOnly cookie that scripts never see.
func (t *Tab) Post(path, body string) {
	t.actions = append(t.actions, action{Do: "post", To: path, Value: body})
}

// Focus moves the focus to the element with the given id.
func (t *Tab) Focus(id string) { t.actions = append(t.actions, action{Do: "focus", ID: id}) }

// Flush sends what changed so far, before the handler returns: a handler
// that waits (a delay, a slow call) shows progress this way. It returns
// false when the tab has disconnected.
func (t *Tab) Flush() bool {
	return t.sync(0, false)
}

// maxPushes bounds the pushes waiting for one tab.
const maxPushes = 16

// Push runs fn on the tab, in turn with its events, and then sends what fn
// changed. It may be called from any goroutine and never blocks. When the
// tab has too many pushes waiting, it is disconnected instead: its page
// reconnects and rebuilds its state from scratch, so no pushed change is
// ever lost.
func (t *Tab) Push(fn func(t *Tab)) {
	if t.pushing.Add(1) > maxPushes {
		t.pushing.Add(-1)
		t.closeWith(statusTryAgainLater, "server push queue full")
		return
	}
	go func() {
		defer t.pushing.Add(-1)
		t.mu.Lock()
		defer t.mu.Unlock()
		// A closed tab, or one not yet hydrated (its state will be built
		// fresh from the store), has nothing to update.
		if t.ctx.Err() != nil || !t.hydrated {
			return
		}
		t.app.safely(t, 0, "push", func() { fn(t) })
		t.sync(0, false)
	}()
}

func (t *Tab) closeWith(code int, reason string) {
	t.closeMu.Lock()
	fn := t.closeFn
	t.closeMu.Unlock()
	if fn != nil {
		fn(code, reason)
	}
}

// settle recomputes what needs it and returns the names of the variables
// and computed values whose JSON changed since the last settle.
func (t *Tab) settle() map[string][]byte {
	changed := make(map[string][]byte)
	// A computed function may change a variable (forgetting a token that
	// names no session, say); a few passes settle such chains.
	for range 4 {
		if !t.settleOnce(changed) {
			break
		}
	}
	return changed
}

// settleOnce runs one pass of settle, adding to changed, and reports whether
// anything changed in this pass.
func (t *Tab) settleOnce(changed map[string][]byte) bool {
	pass := make(map[string]bool)
	if n := t.app.slots(); len(t.last) != n {
		// A state or computed value registered after the tab began moved
		// the slots: every value counts as new once.
		t.last = make([][16]byte, n)
	}
	if n := len(t.app.computed); len(t.computed) < n {
		t.computed = append(t.computed, make([]any, n-len(t.computed))...)
		t.done = append(t.done, make([]bool, n-len(t.done))...)
	}
	// Each value has a slot in t.last, in the order the values are noted
	// here: the runtime's three, every state's fields in registration
	// order, then the computed values (App.slots counts them).
	note := func(slot int, name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.app.log.Error("live: a state value cannot be encoded", "var", name, "err", err)
			return
		}
		sum := sha256.Sum256(b)
		digest := [16]byte(sum[:16])
		if old := t.last[slot]; old == ([16]byte{}) || old != digest {
			t.last[slot] = digest
			changed[name] = b
			pass[name] = true
		}
	}
	note(0, "live.route", t.route)
	note(1, "live.query", t.query)
	note(2, "live.is_hydrated", t.hydrated)
	slot := 3
	for i, d := range t.app.states {
		sv := t.states[i].Elem()
		for _, f := range d.fields {
			note(slot, d.name+"."+f.name, sv.Field(f.index).Interface())
			slot++
		}
	}
	for i, c := range t.app.computed {
		slot := slot + i
		need := t.invalid[c.name]
		if !t.done[i] {
			need = true
		}
		for _, dep := range c.deps {
			if pass[dep] {
				need = true
			}
		}
		if need {
			delete(t.invalid, c.name)
			v := c.fn(t.ctx, t)
			t.computed[i], t.done[i] = v, true
			note(slot, c.name, v)
		}
	}
	return len(pass) > 0
}

// sessionStorageKey prefixes the tab values that mark LocalStorage keys kept
// in sessionStorage.
const sessionStorageKey = "live.session_storage:"

// SessionStorage makes the page keep the LocalStorage variable with the
// given key in its sessionStorage from the next time the value changes (on
// true), so that it ends when the browser closes; false goes back to
// LocalStorage. Hydration reads either. A value kept so still reaches every
// open tab of the site: a new tab asks the open ones for it over a
// BroadcastChannel before its hello (never through the server), and its
// removal in one tab removes it from the others.
func (t *Tab) SessionStorage(key string, on bool) {
	if on {
		t.Store(sessionStorageKey+key, true)
	} else {
		t.Store(sessionStorageKey+key, nil)
	}
}

// sync settles the state and sends the page what changed: synced variables
// and computed values as a delta, LocalStorage variables as actions, and
// queued actions. id and done mark the reply to an event.
func (t *Tab) sync(id int64, done bool) bool {
	changed := t.settle()
	msg := serverMessage{T: "update", ID: id, Done: done}
	for name, b := range changed {
		sub, v, _ := strings.Cut(name, ".")
		f, isField := t.app.field(sub, v)
		if isField && f.local != "" {
			var s string
			json.Unmarshal(b, &s)
			if old, ok := t.stored[f.local]; !ok || old != s {
				t.stored[f.local] = s
				if s == "" {
					msg.Actions = append(msg.Actions, action{Do: "local_remove", Key: f.local})
				} else {
					_, session := t.Load(sessionStorageKey + f.local)
					msg.Actions = append(msg.Actions, action{Do: "local_set", Key: f.local, Value: s, Session: session})
				}
			}
		}
		if isField && !f.synced {
			continue
		}
		if msg.Delta == nil {
			msg.Delta = make(map[string]map[string]json.RawMessage)
		}
		if msg.Delta[sub] == nil {
			msg.Delta[sub] = make(map[string]json.RawMessage)
		}
		msg.Delta[sub][v] = b
	}
	msg.Actions = append(msg.Actions, t.actions...)
	t.actions = nil
	if msg.Delta == nil && msg.Actions == nil && !done {
		return true
	}
	return t.send(msg)
}

// field finds the definition of variable v of substate sub.
func (a *App) field(sub, v string) (fieldDef, bool) {
	if d := a.byName[sub]; d != nil {
		for _, f := range d.fields {
			if f.name == v {
				return f, true
			}
		}
	}
	return fieldDef{}, false
}

// hydrate takes the route and the LocalStorage values of a hello.
func (t *Tab) hydrate(route, query string, local map[string]string) {
	t.route, t.query = route, query
	for i, d := range t.app.states {
		sv := t.states[i].Elem()
		for _, f := range d.fields {
			if f.local == "" {
				continue
			}
			v := local[f.local]
			sv.Field(f.index).SetString(v)
			// LocalStorage has this value already: it is not written
			// back (a token must not travel needlessly).
			t.stored[f.local] = v
		}
	}
	t.hydrated = true
}
