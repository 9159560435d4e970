// Package server assembles the demo server that "localauth serve" runs: a
// Service over a store, the JSON API, the live demo pages and their
// guards, under the security headers, with graceful shutdown. The command
// and the benchmark's server both build it here, so that what is measured
// is what is served.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/demo"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/web"
)

// ShutdownGrace is how long Serve waits, once its context is done, for
// requests and live connections to finish.
const ShutdownGrace = 10 * time.Second

// Config is what New assembles. Store is required; the zero value of every
// other field is the default it states.
type Config struct {
	// Store holds users and sessions. The caller opens and closes it.
	Store localauth.Store

	// Service configures the Service; its Logger and Metrics default to
	// this Config's.
	Service localauth.Config

	// TokenStorage is where browsers keep the session token:
	// liveauth.TokenLocalStorage (default) or liveauth.TokenCookie.
	TokenStorage string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed. Default none.
	TrustedProxies []netip.Prefix

	// MaxLiveConns bounds the open websockets in all. Default: the live
	// package's (from the open-file limit).
	MaxLiveConns int

	// Metrics, when not nil, receives the Service's metrics and the count
	// of open live tabs.
	Metrics *Metrics

	// Logger receives the server's records. Default slog.Default().
	Logger *slog.Logger
}

// Server is the assembled demo server.
type Server struct {
	svc     *localauth.Service
	app     *live.App
	handler http.Handler
	log     *slog.Logger
}

// New builds the server: the Service, the API, the pages and the routes.
// Close releases what it started.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Config.Store is required")
	}
	if cfg.TokenStorage == "" {
		cfg.TokenStorage = liveauth.TokenLocalStorage
	}
	if cfg.TokenStorage != liveauth.TokenLocalStorage && cfg.TokenStorage != liveauth.TokenCookie {
		return nil, fmt.Errorf("server: token storage must be %s or %s, not %q", liveauth.TokenLocalStorage, liveauth.TokenCookie, cfg.TokenStorage)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	sc := cfg.Service
	if sc.Logger == nil {
		sc.Logger = log
	}
	if sc.Metrics == nil {
		sc.Metrics = cfg.Metrics.Hook()
	}
	svc, err := localauth.New(cfg.Store, sc)
	if err != nil {
		return nil, err
	}
	wa, err := web.New(web.Config{Service: svc, TrustedProxies: cfg.TrustedProxies, Logger: log})
	if err != nil {
		svc.Close()
		return nil, err
	}
	app, _ := demo.New(svc, live.Config{Logger: log, ClientIP: wa.ClientIP, Secure: wa.Secure, MaxConns: cfg.MaxLiveConns}, liveauth.Options{
		Logger:            log,
		TokenStorage:      cfg.TokenStorage,
		TokenFromRequest:  wa.Token,
		HandoffBinding:    wa.HandoffBinding,
		DeviceFromRequest: wa.DeviceToken,
	})
	if cfg.Metrics != nil {
		if err := cfg.Metrics.prom.LiveTabs(app.Conns); err != nil {
			svc.Close()
			return nil, err
		}
	}
	mux := http.NewServeMux()
	if p, ok := cfg.Store.(localauth.Pinger); ok {
		health := web.Health(p.Ping)
		mux.Handle("/healthz", health)
		mux.Handle("/readyz", health)
	}
	// Pages give every browser a device token, which a live login then
	// makes trusted for the account.
	// They give it the secret that binds the one-time login codes to it
	// too: in cookie mode for the session cookie, in LocalStorage mode for
	// the device cookie.
	var pages http.Handler = wa.BindHandoffs(wa.DeviceCookie(app))
	if cfg.TokenStorage == liveauth.TokenCookie {
		// With the token in a cookie the server can guard pages itself,
		// before any of them is sent.
		mux.Handle("/protected", wa.RequireLogin(pages))
		mux.Handle(liveauth.AccountRoute, wa.RequireLogin(pages))
		mux.Handle(liveauth.LoginRoute, wa.RedirectIfAuthenticated(pages))
	}
	mux.Handle("/", pages)
	api := wa.API()
	handler := web.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The API answers most requests of a busy site and routes by its
		// own exact names, so it skips the ServeMux's pattern matching.
		if strings.HasPrefix(r.URL.Path, web.APIPrefix) {
			api.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return &Server{svc: svc, app: app, handler: handler, log: log}, nil
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Service is the server's Service.
func (s *Server) Service() *localauth.Service { return s.svc }

// HTTPServer returns the http.Server Serve uses for handler: the timeouts
// and limits of a server facing the internet. A benchmark's baseline
// handler is served with the same, so that only the handler differs.
func HTTPServer(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve answers on ln, over TLS when tlsConfig is not nil, until ctx is
// done. Then it stops accepting, lets requests finish and closes every live
// connection with status 1001, so that pages reconnect once a server is
// back, all within ShutdownGrace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	srv := HTTPServer(s.handler, s.log)
	srv.TLSConfig = tlsConfig
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	var srvErr, appErr error
	wg.Go(func() { srvErr = srv.Shutdown(sctx) })
	wg.Go(func() { appErr = s.app.Shutdown(sctx) })
	wg.Wait()
	if err := errors.Join(srvErr, appErr); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// Close stops the Service's background work.
func (s *Server) Close() error { return s.svc.Close() }
