// Package liveauth is authentication on top of the live runtime:
// the shared auth state (a token kept in LocalStorage, the authenticated
// user computed from it on the server), the login and registration states
// with their handlers, a RequireLogin page wrapper, and canned login and
// registration pages an app can mount as they are or restyle.
//
//	app := live.New(live.Config{})
//	liveauth.Mount(app, svc, liveauth.Options{})
//	app.Page("/protected", "Protected", liveauth.RequireLogin(`<h1 data-text="auth.authenticated_user.display_name"></h1>`))
//
// Every page of a live app is public. RequireLogin only moves people to and
// from the login page; private data must come from state computed on the
// server from the user the server authenticated (see User, and the
// package's example).
package liveauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// Routes of the canned pages.
const (
	LoginRoute    = "/login"
	RegisterRoute = "/register"
)

// LocalStorageKey is where the page keeps the session token.
const LocalStorageKey = "_auth_token"

// Options tunes Mount.
type Options struct {
	// RegistrationDelay is how long "Registration successful!" shows
	// before the page goes to /login. Default 0.5s.
	RegistrationDelay time.Duration

	// NoPages leaves out the canned /login, /register and /account pages, for an app
	// that writes its own (they must use the same state names).
	NoPages bool

	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger

	// TokenStorage is where the browser keeps the session token:
	// TokenLocalStorage (the default) or TokenCookie.
	TokenStorage string

	// RecheckInterval is how often, while the store is unavailable, a
	// tab that could not have its session checked tries again (one query
	// for all such tabs). A tab also tries again before its next event.
	// Default 1s.
	RecheckInterval time.Duration

	// ExpiryCheckInterval is how often the Service's clock is read to
	// find sessions that reached their lifetime or idle timeout, whose
	// open tabs are then signed out as after a logout (see expiry.go):
	// a tab outlives its session by at most this long. Default 1s.
	ExpiryCheckInterval time.Duration

	// For TokenCookie: TokenFromRequest reads the session token from the
	// websocket handshake (the HttpOnly cookie), SessionEndpoint exchanges
	// a one-time code for the cookie (default "/api/auth/session"), and
	// LogoutEndpoint clears it (default "/api/auth/logout"). The web
	// package provides all three.
	TokenFromRequest func(r *http.Request) localauth.Token
	SessionEndpoint  string
	LogoutEndpoint   string
	// DeviceEndpoint, in LocalStorage mode with HandoffBinding set,
	// exchanges a live login's one-time code for the device cookie alone
	// (default "/api/auth/device"), so that the browser becomes a trusted
	// device of the account as it does in cookie mode.
	DeviceEndpoint string

	// For TokenCookie, required: HandoffBinding reads, from the websocket
	// handshake, the browser's secret that one-time codes are bound to
	// (web.Auth.HandoffBinding, with web.Auth.BindHandoffs around the
	// pages). A code redeemed without it fails, so a code that an
	// injected script sends elsewhere is useless there.
	HandoffBinding func(r *http.Request) string

	// DeviceFromRequest reads the browser's device token from the
	// websocket handshake (web.Auth.DeviceToken, with web.Auth.DeviceCookie
	// around the pages), so that a login from a browser that logged in to
	// the account before is counted apart from strangers' failures. Default:
	// none, every tab is a stranger.
	DeviceFromRequest func(r *http.Request) localauth.Token
}

// Where the browser keeps the token.
const (
	// TokenLocalStorage keeps the token in LocalStorage under
	// LocalStorageKey: simple, and readable by any script
	// on the page.
	TokenLocalStorage = "localstorage"
	// TokenCookie keeps it in an HttpOnly cookie that no script can read:
	// a live login hands the page a one-time code, which the page trades
	// for the cookie with a POST; the websocket handshake then carries the
	// cookie.
	TokenCookie = "cookie"
)

// AuthState is the shared auth state, substate "auth", with the token in
// LocalStorage. The token is a server-side variable mirrored in
// LocalStorage: it is never part of the state sent to the page.
type AuthState struct {
	AuthToken string `live:"auth_token,server,local=_auth_token"`
}

// CookieAuthState is substate "auth" with the token in an HttpOnly cookie:
// the token lives on the server only and never travels to the page.
type CookieAuthState struct {
	AuthToken string `live:"auth_token,server"`
}

// PublicUser is what the page learns of the authenticated user: never the
// password hash. The anonymous user has ID -1.
type PublicUser struct {
	ID          int64  `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

var anonymous = PublicUser{ID: -1}

// Auth is the mounted auth states of one app.
type Auth struct {
	app    *live.App
	svc    *localauth.Service
	delay  time.Duration
	log    *slog.Logger
	cookie bool
	opts   Options

	mu       sync.Mutex
	byHash   map[localauth.TokenHash]map[*live.Tab]struct{}
	byUser   map[int64]map[*live.Tab]struct{}
	waiting  map[*live.Tab]waiter // tabs whose token the store could not check
	retrying bool                 // retryLoop runs

	// revocations counts the revocations heard, so that a tab filed
	// while one landed checks again (see checkTab).
	revocations uint64
	// until is when each filed session stops being live unless used;
	// expiries orders those times for expiryLoop, which runs while
	// expiring.
	until    map[localauth.TokenHash]time.Time
	expiries expiryHeap
	expiring bool
}

// tabKey is where a tab's current identity is kept (Tab.Store).
const tabKey = "liveauth.identity"

// bindingKey is where a tab in cookie mode keeps its browser's handoff
// binding (Options.HandoffBinding).
const bindingKey = "liveauth.handoff_binding"

type identity struct {
	hash   localauth.TokenHash
	userID int64
}

// Mount registers the auth, login and registration states, their computed
// values and handlers, and (unless opts.NoPages) the canned pages, and
// subscribes to the service's revocations so that a session ended anywhere
// turns its open tabs unauthenticated at once.
//
// Variables and handlers:
//
//	auth.authenticated_user (computed)  auth.is_authenticated (computed)  auth.do_logout (public)
//	login.error_message  login.redirect_to  login.on_submit (public: username, password, shared)  login.redir (public)
//	register.success  register.error_message  register.new_user_id  register.handle_registration (public)
//
// and for second factors (factors.go): login.second_step, login.use_recovery,
// login.passkey, login.start_over (public), the account page's
// account.factors (computed) and its totp_*, regenerate_codes, codes_saved,
// passkey_added, passkey_reauth and remove_passkey handlers. Passkeys need
// PasskeyScript served and linked from the pages' <head>.
func Mount(app *live.App, svc *localauth.Service, opts Options) *Auth {
	if opts.RegistrationDelay <= 0 {
		opts.RegistrationDelay = 500 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SessionEndpoint == "" {
		opts.SessionEndpoint = "/api/auth/session"
	}
	if opts.LogoutEndpoint == "" {
		opts.LogoutEndpoint = "/api/auth/logout"
	}
	if opts.DeviceEndpoint == "" {
		opts.DeviceEndpoint = "/api/auth/device"
	}
	if opts.RecheckInterval <= 0 {
		opts.RecheckInterval = time.Second
	}
	if opts.ExpiryCheckInterval <= 0 {
		opts.ExpiryCheckInterval = time.Second
	}
	a := &Auth{
		app: app, svc: svc, delay: opts.RegistrationDelay, log: opts.Logger,
		cookie: opts.TokenStorage == TokenCookie, opts: opts,
		byHash:  make(map[localauth.TokenHash]map[*live.Tab]struct{}),
		byUser:  make(map[int64]map[*live.Tab]struct{}),
		waiting: make(map[*live.Tab]waiter),
		until:   make(map[localauth.TokenHash]time.Time),
	}
	switch opts.TokenStorage {
	case "", TokenLocalStorage:
		app.State("auth", func() any { return &AuthState{} })
		if opts.HandoffBinding != nil {
			// For the device cookie of a login (DeviceEndpoint).
			app.OnConnect(func(r *http.Request, t *live.Tab) {
				if b := opts.HandoffBinding(r); b != "" {
					t.Store(bindingKey, b)
				}
			})
		}
	case TokenCookie:
		if opts.TokenFromRequest == nil || opts.HandoffBinding == nil {
			panic("liveauth: TokenCookie needs Options.TokenFromRequest and Options.HandoffBinding")
		}
		app.State("auth", func() any { return &CookieAuthState{} })
		app.OnConnect(func(r *http.Request, t *live.Tab) {
			*a.token(t) = string(opts.TokenFromRequest(r))
			if b := opts.HandoffBinding(r); b != "" {
				t.Store(bindingKey, b)
			}
		})
	default:
		panic(fmt.Sprintf("liveauth: unknown TokenStorage %q", opts.TokenStorage))
	}
	if opts.DeviceFromRequest != nil {
		app.OnConnect(func(r *http.Request, t *live.Tab) {
			if dev := opts.DeviceFromRequest(r); dev != "" {
				t.Store(deviceKey, dev)
			}
		})
	}
	passkeys := svc.PasskeysAvailable()
	app.State("login", func() any { return &LoginState{Passkeys: passkeys} })
	app.State("register", func() any { return &RegistrationState{} })
	app.Computed("auth.authenticated_user", []string{"auth.auth_token"}, a.authenticatedUser)
	app.Computed("auth.is_authenticated", []string{"auth.authenticated_user"}, func(_ context.Context, t *live.Tab) any {
		return t.Computed("auth.authenticated_user").(PublicUser).ID >= 0
	})
	app.Handle("auth.do_logout", a.doLogout)
	app.Handle("login.on_submit", a.onSubmit)
	app.Handle("login.redir", a.redir)
	app.Handle("login.second_step", a.secondStep)
	app.Handle("login.use_recovery", a.useRecovery)
	app.Handle("login.passkey", a.passkeyLogin)
	app.Handle("login.start_over", a.startOver)
	app.Handle("register.handle_registration", a.handleRegistration)
	a.mountAccount(app)
	a.mountMail(app, !opts.NoPages)
	if !opts.NoPages {
		app.Page(LoginRoute, "Log in", LoginPage)
		app.Page(RegisterRoute, "Create an account", RegisterPage)
		app.Page(AccountRoute, "Your account", RequireLogin(AccountPage))
	}
	svc.OnRevoke(a.revoked)
	app.OnClose(a.Forget)
	app.OnEvent(a.recheck)
	app.OnEvent(a.activity)
	return a
}

// User returns the authenticated user of a tab, and false for an anonymous
// tab. Computed values that hold private data depend on
// "auth.authenticated_user" and call it.
func User(t *live.Tab) (PublicUser, bool) {
	u, _ := t.Computed("auth.authenticated_user").(PublicUser)
	return u, u.ID >= 0
}

// authenticatedUser is the computed auth.authenticated_user: the user whose
// live session the tab's token names, else the anonymous user. It also files
// the tab under its session, so that a revocation or the session's expiry
// finds it (see checkTab). The check is not use of the session: a tab that
// only stays open lets its session idle out.
func (a *Auth) authenticatedUser(ctx context.Context, t *live.Tab) any {
	return a.checkTab(ctx, t, a.token(t))
}

// file records which session a tab is authenticated by (none when id is
// zero) and until when that session is live, and reports whether no
// revocation was heard since the count gen was read.
func (a *Auth) file(t *live.Tab, id identity, until time.Time, gen uint64) bool {
	v, _ := t.Load(tabKey)
	old, had := v.(identity)
	if id.userID != 0 {
		t.Store(tabKey, id)
	} else {
		t.Store(tabKey, nil)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if had {
		delete(a.byHash[old.hash], t)
		if len(a.byHash[old.hash]) == 0 {
			delete(a.byHash, old.hash)
			a.unscheduleLocked(old.hash)
		}
		delete(a.byUser[old.userID], t)
		if len(a.byUser[old.userID]) == 0 {
			delete(a.byUser, old.userID)
		}
	}
	if id.userID != 0 {
		if a.byHash[id.hash] == nil {
			a.byHash[id.hash] = make(map[*live.Tab]struct{})
		}
		a.byHash[id.hash][t] = struct{}{}
		if a.byUser[id.userID] == nil {
			a.byUser[id.userID] = make(map[*live.Tab]struct{})
		}
		a.byUser[id.userID][t] = struct{}{}
		a.scheduleLocked(id.hash, until)
	}
	return a.revocations == gen
}

// Forget drops a disconnected tab from the revocation index. The app calls
// it from its disconnect hook; a tab left in the index only costs memory
// until its session ends.
func (a *Auth) Forget(t *live.Tab) {
	a.file(t, identity{}, time.Time{}, 0)
	a.unwait(t)
}

// revoked pushes every tab of the ended sessions to recompute its user:
// they become anonymous at once, their private data is cleared, and a
// RequireLogin page sends them on to /login.
func (a *Auth) revoked(r localauth.Revocation) {
	a.mu.Lock()
	a.revocations++
	var tabs, others []*live.Tab
	switch {
	case r.All && r.UserID == 0:
		for _, set := range a.byUser {
			for t := range set {
				tabs = append(tabs, t)
			}
		}
	case r.All:
		for t := range a.byUser[r.UserID] {
			tabs = append(tabs, t)
		}
	default:
		for t := range a.byHash[r.TokenHash] {
			tabs = append(tabs, t)
		}
		// The user's other tabs stay signed in; their account pages
		// drop the ended session from the list.
		for t := range a.byUser[r.UserID] {
			if !slices.Contains(tabs, t) {
				others = append(others, t)
			}
		}
	}
	a.mu.Unlock()
	for _, t := range tabs {
		t.Push(func(t *live.Tab) { t.Invalidate("auth.authenticated_user") })
	}
	for _, t := range others {
		t.Push(func(t *live.Tab) {
			if t.Route() == AccountRoute {
				t.Invalidate("account.sessions")
			}
		})
	}
}

// token returns the tab's token variable, wherever the mode keeps it.
func (a *Auth) token(t *live.Tab) *string {
	if a.cookie {
		return &live.Get[CookieAuthState](t, "auth").AuthToken
	}
	return &live.Get[AuthState](t, "auth").AuthToken
}

// doLogout is auth.do_logout: it ends the session behind the tab's token
// (and in cookie mode has the page clear the cookie).
func (a *Auth) doLogout(ctx context.Context, t *live.Tab, _ live.Event) error {
	token := a.token(t)
	if *token != "" {
		err := a.svc.Logout(a.withIP(ctx, t), localauth.Token(*token))
		if err != nil && !errors.Is(err, localauth.ErrInvalidSession) {
			return err
		}
	}
	*token = ""
	if a.cookie {
		t.Post(a.opts.LogoutEndpoint, "{}")
	}
	return nil
}

// deviceKey is the tab's server-side value holding the browser's device
// token.
const deviceKey = "liveauth.device"

// withIP returns ctx with the tab's client address and device token, as the
// Service wants them for throttling and audit.
func (a *Auth) withIP(ctx context.Context, t *live.Tab) context.Context {
	ctx = localauth.WithClientIP(ctx, t.ClientIP())
	if ua, ok := t.Load(userAgentKey); ok {
		ctx = localauth.WithUserAgent(ctx, ua.(string))
	}
	if dev, ok := t.Load(deviceKey); ok {
		ctx = localauth.WithDeviceToken(ctx, dev.(localauth.Token))
	}
	if _, bound := t.Load(bindingKey); !a.cookie && !bound {
		// No HTTP answer of a login can reach this browser: it would
		// never hold a device token issued now.
		ctx = localauth.WithoutDeviceIssue(ctx)
	}
	return ctx
}
