package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
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
		maxBody: cfg.MaxBodyBytes,
		log:     cfg.Logger,
		csrf:    http.NewCrossOriginProtection(),
	}
	a.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross_origin", "Cross-origin requests are not allowed.", 0)
	}))
	return a, nil
}

// SafeReturnPath returns p when it is a path on this origin, else "/": the
// one validator of return paths, for ?next= and for the live pages'
// redirect_to alike.
func SafeReturnPath(p string) string { return returnto.Safe(p) }

// ClientIP returns the client's address: the connection's peer, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not itself a trusted proxy.
func (a *Auth) ClientIP(r *http.Request) string {
	peer := peerAddr(r)
	if !a.trusted(peer) {
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
		return false
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
	return a.trusted(peerAddr(r)) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// Context returns the request's context carrying its client address, as
// the Service wants it for throttling and audit.
func (a *Auth) Context(r *http.Request) context.Context {
	return localauth.WithClientIP(r.Context(), a.ClientIP(r))
}

// SetSessionCookie sets the session cookie: HttpOnly (scripts cannot read
// it), SameSite=Lax (not sent on cross-site POSTs), Path=/, Max-Age the
// session's remaining life, and under TLS Secure with the __Host- prefix.
func (a *Auth) SetSessionCookie(w http.ResponseWriter, r *http.Request, token localauth.Token, expires time.Time) {
	secure := a.secure(r)
	name := CookieName
	if secure {
		name = SecureCookieName
	}
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    string(token),
		Path:     "/",
		MaxAge:   max(1, int(time.Until(expires).Seconds())),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// ClearSessionCookie removes the session cookie.
func (a *Auth) ClearSessionCookie(w http.ResponseWriter, r *http.Request) {
	secure := a.secure(r)
	name := CookieName
	if secure {
		name = SecureCookieName
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
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
	name := CookieName
	if a.secure(r) {
		name = SecureCookieName
	}
	if c, err := r.Cookie(name); err == nil {
		return localauth.Token(c.Value)
	}
	return ""
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
	return a.svc.Authenticate(a.Context(r), tok)
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
// of the page is sent; a stale cookie is cleared.
func (a *Auth) RequireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authenticate(r)
		switch {
		case err == nil:
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
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
