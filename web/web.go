package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/returnto"
)

// CookieName is the session cookie's name over plain HTTP; under TLS it is
// SecureCookieName, whose __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so no sibling subdomain can plant or read it.
const (
	CookieName       = "localauth_session"
	SecureCookieName = "__Host-localauth_session"
)

// Config sets up Auth. Service is required; every other field has a safe
// default.
type Config struct {
	// Service authenticates. Required.
	Service *localauth.Service

	// LoginPath is where RequireLogin sends anonymous browsers. Default
	// "/login".
	LoginPath string

	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed. Default
	// none: the client is the peer of the connection, and the headers are
	// ignored (anyone can send them).
	TrustedProxies []netip.Prefix

	// TrustUnixSocket says the server listens on a unix socket behind a
	// reverse proxy: a peer with no IP address (a unix socket's) is then
	// a trusted proxy too. Without it such a peer has no address, and the
	// Service refuses the calls it throttles per address
	// (localauth.ErrNoClientAddress) rather than count every visitor as
	// one. Default false.
	TrustUnixSocket bool

	// MaxBodyBytes bounds a JSON request body; a larger one gets 413.
	// Default 64 KiB.
	MaxBodyBytes int64

	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger
}

// Auth is the net/http side of localauth: session transport, guards and the
// JSON API. It is safe for concurrent use.
type Auth struct {
	svc     *localauth.Service
	login   string
	proxies []netip.Prefix
	unix    bool
	maxBody int64
	log     *slog.Logger
	csrf    *http.CrossOriginProtection
}

// New returns an Auth for cfg.
func New(cfg Config) (*Auth, error) {
	if cfg.Service == nil {
		return nil, errors.New("web: Config.Service is required")
	}
	if cfg.LoginPath == "" {
		cfg.LoginPath = "/login"
	}
	if returnto.Safe(cfg.LoginPath) != cfg.LoginPath {
		return nil, errors.New("web: LoginPath must be a local path")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &Auth{
		svc:     cfg.Service,
		login:   cfg.LoginPath,
		proxies: cfg.TrustedProxies,
		unix:    cfg.TrustUnixSocket,
		maxBody: cfg.MaxBodyBytes,
		log:     cfg.Logger,
		csrf:    http.NewCrossOriginProtection(),
	}
	a.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross_origin", "Cross-origin requests are not allowed.", 0)
	}))
	return a, nil
}

// ClientIP returns the client's address: the connection's peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not itself a trusted proxy. It returns "" when there is no address to
// give (a unix socket's peer, not trusted): no made-up text that all such
// visitors would share.
func (a *Auth) ClientIP(r *http.Request) string {
	peer := peerAddr(r)
	if !a.trusted(peer) {
		if !peer.IsValid() {
			return ""
		}
		return peer.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = ip.Unmap()
		if !a.trusted(ip) {
			return ip.String()
		}
	}
	if !peer.IsValid() {
		return ""
	}
	return peer.String()
}

func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

func (a *Auth) trusted(ip netip.Addr) bool {
	if !ip.IsValid() {
		return a.unix // a unix socket's peer
	}
	for _, p := range a.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// secure reports whether the browser reached us over TLS, directly or
// through a trusted proxy that says so.
func (a *Auth) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(a.proxies) == 0 {
		return false
	}
	return a.trusted(peerAddr(r)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Context returns the request's context carrying its client address, its
// User-Agent and its device token, as the Service wants them for
// throttling, audit and the user's list of sessions.
func (a *Auth) Context(r *http.Request) context.Context {
	ctx := localauth.WithUserAgent(localauth.WithClientIP(r.Context(), a.ClientIP(r)), r.UserAgent())
	if dev := a.DeviceToken(r); dev != "" {
		ctx = localauth.WithDeviceToken(ctx, dev)
	}
	return ctx
}

// Device cookie names, plain and under TLS. The cookie marks a browser that
// logged in to an account before, so that its failed logins are counted
// apart from strangers' (see localauth.ThrottleConfig).
const (
	DeviceCookieName       = "localauth_device"
	SecureDeviceCookieName = "__Host-localauth_device"
)

// deviceCookieAge is how long a browser keeps its device cookie; the server
// decides how long it is trusted (localauth.Config.DeviceLifetime).
const deviceCookieAge = 400 * 24 * time.Hour

// DeviceToken returns the device token the request's cookie carries, or "".
func (a *Auth) DeviceToken(r *http.Request) localauth.Token {
	if v := a.cookie(r, DeviceCookieName, SecureDeviceCookieName); len(v) == localauth.TokenLength {
		return localauth.Token(v)
	}
	return ""
}

// SetDeviceCookie stores a device token in the browser: HttpOnly,
// SameSite=Lax, long-lived, and under TLS Secure with the __Host- prefix.
func (a *Auth) SetDeviceCookie(w http.ResponseWriter, r *http.Request, device localauth.Token) {
	if device != "" {
		a.setCookie(w, r, DeviceCookieName, SecureDeviceCookieName, string(device), int(deviceCookieAge/time.Second))
	}
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole site: under
// TLS named secureName and Secure (a __Host- name binds it to this host),
// else named plain. maxAge < 0 removes it.
func (a *Auth) setCookie(w http.ResponseWriter, r *http.Request, plain, secureName, value string, maxAge int) {
	secure := a.secure(r)
	name := plain
	if secure {
		name = secureName
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// cookie returns the value of the cookie named plain, or secureName under
// TLS, or "".
func (a *Auth) cookie(r *http.Request, plain, secureName string) string {
	if a.secure(r) {
		return cookieValue(r, secureName)
	}
	return cookieValue(r, plain)
}

// DeviceCookie gives every browser that loads a page through next a device
// token, if it has none. Pages whose logins do not go through an HTTP
// response (live pages log in over their websocket) need it there, so that
// the login can make the browser a trusted device; the token means nothing
// until a login from it succeeds.
func (a *Auth) DeviceCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && a.DeviceToken(r) == "" {
			if dev, err := a.svc.NewDeviceToken(); err == nil {
				a.SetDeviceCookie(w, r, dev)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// SetSessionCookie sets the cookie of the session sess, whose token is
// token: HttpOnly (scripts cannot read it), SameSite=Lax (not sent on
// cross-site POSTs), Path=/, and under TLS Secure with the __Host- prefix.
// A "keep me signed in" session gets Max-Age its remaining life; any other
// gets no Max-Age, so that it ends when the browser closes.
func (a *Auth) SetSessionCookie(w http.ResponseWriter, r *http.Request, token localauth.Token, sess localauth.Session) {
	maxAge := 0 // a browser-session cookie
	if sess.Remember {
		maxAge = max(1, int(time.Until(sess.ExpiresAt).Seconds()))
	}
	a.setCookie(w, r, CookieName, SecureCookieName, string(token), maxAge)
}

// ClearSessionCookie removes the session cookie.
func (a *Auth) ClearSessionCookie(w http.ResponseWriter, r *http.Request) {
	a.setCookie(w, r, CookieName, SecureCookieName, "", -1)
}

// Token returns the session token a request carries: an Authorization
// Bearer header, else the session cookie. It returns "" when there is none.
func (a *Auth) Token(r *http.Request) localauth.Token {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return localauth.Token(strings.TrimSpace(tok))
		}
		return ""
	}
	return localauth.Token(a.cookie(r, CookieName, SecureCookieName))
}

// cookieValue returns the value of the first valid cookie called name in
// r, as r.Cookie(name).Value does, or "". It runs on every authenticated
// request; r.Cookie allocates a Cookie (and a slice for it) each time. It
// does not apply net/http's cap on the number of cookies, which guards
// those allocations.
func cookieValue(r *http.Request, name string) string {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			n, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v
			}
		}
	}
	return ""
}

// validCookieValue reports whether v holds only the bytes net/http accepts
// in a cookie value.
func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

type userKey struct{}

// CurrentUser returns the user that Middleware, RequireLogin or the API
// authenticated for this request.
func CurrentUser(ctx context.Context) (localauth.User, bool) {
	u, ok := ctx.Value(userKey{}).(localauth.User)
	return u, ok
}

// authenticate returns the request's user, or an error: ErrInvalidSession
// when it carries no live session.
func (a *Auth) authenticate(r *http.Request) (localauth.User, error) {
	tok := a.Token(r)
	if tok == "" {
		return localauth.User{}, localauth.ErrInvalidSession
	}
	// Not a.Context(r): Authenticate neither throttles nor audits, so it
	// has no use for the client address, and working it out costs a parse
	// on every authenticated request.
	return a.svc.Authenticate(r.Context(), tok)
}

// Middleware authenticates the request when it carries a session and
// passes it on either way; handlers read the user with CurrentUser. A store
// failure is answered with 503 rather than treating the visitor as
// anonymous or authenticated.
func (a *Auth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authenticate(r)
		switch {
		case err == nil:
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		case errors.Is(err, localauth.ErrUnavailable):
			a.unavailable(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireLogin serves next only to an authenticated request. A browser
// without a live session gets 303 to LoginPath?next=<this path>, before any
// of the page is sent; a stale cookie is cleared. A program (a request with
// a bearer token, or one that accepts JSON and not HTML) gets RequireAuth's
// 401 instead: a redirect to a page would mean nothing to it.
func (a *Auth) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authenticate(r)
		switch {
		case err == nil:
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
		case wantsJSON(r):
			a.refuseAPI(w, r, err)
		case errors.Is(err, localauth.ErrInvalidSession):
			if a.Token(r) != "" {
				a.ClearSessionCookie(w, r)
			}
			target := a.login + "?next=" + urlQueryEscape(returnto.Safe(r.URL.RequestURI()))
			http.Redirect(w, r, target, http.StatusSeeOther)
		default:
			a.unavailable(w, r, err)
		}
	})
}

// RedirectIfAuthenticated wraps the login page: a request that already
// carries a live session is sent on (303) to its validated ?next=, or "/".
func (a *Auth) RedirectIfAuthenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.authenticate(r); err == nil {
			http.Redirect(w, r, returnto.Safe(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// unavailable answers a store failure with 503 and logs the cause.
func (a *Auth) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("web: store failure", "path", r.URL.Path, "err", err)
	w.Header().Set("Retry-After", "5")
	http.Error(w, localauth.MsgUnavailable, http.StatusServiceUnavailable)
}
