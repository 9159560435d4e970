package main

import (
	"context"
	"crypto/tls"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	neturl "net/url"
	"strings"
	"sync"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/demo"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/web"
)

// serveCmd is "serve": the seed's demo app on the live runtime.
type serveCmd struct{ m *Main }

// shutdownGrace is how long SIGTERM waits for requests and live connections
// to finish.
const shutdownGrace = 10 * time.Second

func (c *serveCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("serve")
	addr := fs.String("addr", c.m.envOr("LOCALAUTH_ADDR", "localhost:8000"), "address to listen on")
	certFile := fs.String("tls-cert", c.m.Getenv("LOCALAUTH_TLS_CERT"), "TLS certificate file (PEM)")
	keyFile := fs.String("tls-key", c.m.Getenv("LOCALAUTH_TLS_KEY"), "TLS key file (PEM)")
	storage := fs.String("token-storage", c.m.envOr("LOCALAUTH_TOKEN_STORAGE", liveauth.TokenLocalStorage), "where browsers keep the session token: localstorage or cookie")
	baseline := fs.Bool("bench-baseline", false, "also serve GET /_bench/me, a bare handler for the bench command's baseline")
	proxies := fs.String("trusted-proxies", c.m.Getenv("LOCALAUTH_TRUSTED_PROXIES"), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if (*certFile == "") != (*keyFile == "") {
		return usagef("serve: --tls-cert and --tls-key go together")
	}
	if *storage != liveauth.TokenLocalStorage && *storage != liveauth.TokenCookie {
		return usagef("serve: --token-storage must be localstorage or cookie, not %q", *storage)
	}
	trusted, err := parsePrefixes(*proxies)
	if err != nil {
		return usagef("serve: --trusted-proxies: %v", err)
	}
	useTLS := *certFile != ""
	var tlsConfig *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	log := c.m.serverLogger()
	st, closeStore, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer closeStore()
	cfg, err := c.m.serviceConfig()
	if err != nil {
		return err
	}
	cfg.Logger = log
	if pg, ok := st.(*pgstore.Store); ok {
		// Several instances on one database throttle together.
		cfg.Throttle.Store = pg.Throttle()
	}
	svc, err := localauth.New(st, cfg)
	if err != nil {
		return err
	}
	defer svc.Close()

	wa, err := web.New(web.Config{Service: svc, TrustedProxies: trusted, Logger: log})
	if err != nil {
		return err
	}
	app, _ := demo.New(svc, live.Config{Logger: log, ClientIP: wa.ClientIP}, liveauth.Options{
		Logger:           log,
		TokenStorage:     *storage,
		TokenFromRequest: wa.Token,
	})
	mux := http.NewServeMux()
	mux.Handle(web.APIPrefix, wa.API())
	if p, ok := st.(interface{ Ping(context.Context) error }); ok {
		health := web.Health(p.Ping)
		mux.Handle("/healthz", health)
		mux.Handle("/readyz", health)
	}
	if *storage == liveauth.TokenCookie {
		// With the token in a cookie the server can guard pages itself,
		// before any of them is sent.
		mux.Handle("/protected", wa.RequireLogin(app))
		mux.Handle(liveauth.LoginRoute, wa.RedirectIfAuthenticated(app))
	}
	mux.Handle("/", app)
	if *baseline {
		mux.Handle("GET /_bench/me", benchBaseline())
	}
	handler := web.SecurityHeaders(mux)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if useTLS {
		scheme = "https"
	}
	url := scheme + "://" + displayAddr(ln.Addr(), *addr)
	fmt.Fprintf(c.m.Stdout, "localauth: serving the demo on %s (database %s, tokens in %s)\n", url, redactDSN(*db), *storage)
	if !useTLS && !loopback(*addr) {
		fmt.Fprintln(c.m.Stderr, "WARNING: listening on a non-loopback address without TLS. Passwords and session\n"+
			"WARNING: tokens would cross the network in the clear. Use --tls-cert and --tls-key,\n"+
			"WARNING: or put a TLS-terminating proxy in front and listen on loopback only.")
		log.Warn("serving without TLS on a non-loopback address", "addr", *addr)
	}
	if c.m.ready != nil {
		c.m.ready(url)
	}

	if dbg := c.m.Getenv("LOCALAUTH_PPROF"); dbg != "" {
		// Profiling, for the benchmark work: never on a public address.
		if !loopback(dbg) {
			return usagef("LOCALAUTH_PPROF must be a loopback address, not %q", dbg)
		}
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.Handle("/debug/vars", expvar.Handler())
		go http.ListenAndServe(dbg, pm)
		log.Info("profiling", "addr", dbg)
	}

	errc := make(chan error, 1)
	go func() {
		if useTLS {
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
	// SIGTERM: stop accepting, let requests finish, and close every live
	// connection with 1001 so that pages reconnect once the server is back.
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var wg sync.WaitGroup
	var srvErr, appErr error
	wg.Go(func() { srvErr = srv.Shutdown(sctx) })
	wg.Go(func() { appErr = app.Shutdown(sctx) })
	wg.Wait()
	if err := errors.Join(srvErr, appErr); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// displayAddr is the address to print: the bound port (for ":0"), with the
// host as given, or localhost when none was.
func displayAddr(bound net.Addr, asked string) string {
	host, _, _ := net.SplitHostPort(asked)
	_, port, _ := net.SplitHostPort(bound.String())
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// loopback reports whether addr listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parsePrefixes parses comma-separated CIDRs (a bare address is a /32 or
// /128).
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// redactDSN hides the password of a database URL, for printing.
func redactDSN(db string) string {
	u, err := neturl.Parse(db)
	if err != nil || u.Scheme == "" || u.User == nil {
		return db
	}
	if _, ok := u.User.Password(); ok {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// benchBaseline is a bare handler that answers what GET /api/auth/me answers,
// without authenticating: the bench command's baseline, behind the same
// middleware.
func benchBaseline() http.Handler {
	body := []byte(`{"user":{"id":1,"username":"bench","display_name":"bench","created_at":"2026-01-01T00:00:00Z"}}` + "\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(body)
	})
}
