package main

import (
	"context"
	"crypto/tls"
	"errors"
	"expvar"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/demo"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/web"
)

// serveCmd is "serve": the demo app on the live runtime.
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
	metricsAddr := fs.String("metrics-addr", c.m.Getenv("LOCALAUTH_METRICS_ADDR"), "serve Prometheus metrics at /metrics on this address, a listener of its own (a host left out means 127.0.0.1); default off")
	proxies := fs.String("trusted-proxies", c.m.Getenv("LOCALAUTH_TRUSTED_PROXIES"), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	maxLive := fs.String("max-live-conns", c.m.Getenv("LOCALAUTH_MAX_LIVE_CONNS"), "most open live connections (websockets) in all; past it new ones get 503 (default: three quarters of the open-file limit, less 64)")
	queueWait := fs.Duration("hash-queue-wait", 2*time.Second, "the most a login or registration waits for a hashing slot; one that would wait longer is refused at once with 503 and Retry-After")
	loginRate := fs.Int("logins-per-minute", 30, "successful logins per client address per minute, after a burst of as many")
	reauthWindow := fs.Duration("reauth-window", 10*time.Minute, "how recent a password confirmation must be to change the password, end other sessions or delete the account")
	rpID := fs.String("rp-id", c.m.Getenv("LOCALAUTH_RP_ID"), "passkeys: the relying party id, the site's domain (default on a localhost --addr: localhost)")
	rpOrigins := fs.String("rp-origin", c.m.Getenv("LOCALAUTH_RP_ORIGIN"), "passkeys: comma-separated origins the pages run at, e.g. https://example.com (default on a localhost --addr: http(s)://localhost:PORT)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *queueWait <= 0 || *loginRate <= 0 || *reauthWindow <= 0 {
		return usagef("serve: --hash-queue-wait, --logins-per-minute and --reauth-window must be positive")
	}
	maxConns := 0
	if *maxLive != "" {
		n, err := strconv.Atoi(*maxLive)
		if err != nil || n <= 0 {
			return usagef("serve: --max-live-conns must be a positive number, not %q", *maxLive)
		}
		maxConns = n
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
		tlsConfig = serverTLSConfig(cert)
	}

	if (*rpID == "") != (*rpOrigins == "") {
		return usagef("serve: --rp-id and --rp-origin go together")
	}
	// Checked before anything starts: a PostgreSQL deployment without its
	// key must not come up.
	secretKey, err := c.m.loadSecretKey(*db)
	if err != nil {
		return err
	}
	// Listening comes first: the default relying party of passkeys names
	// the bound port.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	defer ln.Close()
	scheme := "http"
	if useTLS {
		scheme = "https"
	}

	log := c.m.serverLogger()
	var metrics *serveMetrics
	if *metricsAddr != "" {
		if metrics, err = newServeMetrics(*metricsAddr); err != nil {
			return err
		}
		defer metrics.close()
	}
	st, closeStore, err := c.m.openStoreMetrics(ctx, *db, metrics.hook())
	if err != nil {
		return err
	}
	defer closeStore()
	warnPermissive(c.m.Stderr, *db)
	cfg, err := c.m.serviceConfig()
	if err != nil {
		return err
	}
	cfg.Logger = log
	cfg.Metrics = metrics.hook()
	cfg.HashQueueWait = *queueWait
	cfg.ReauthWindow = *reauthWindow
	cfg.Throttle.ClientLoginsPerMinute = *loginRate
	cfg.Throttle.ClientLoginBurst = *loginRate
	cfg.SecretKey = secretKey
	cfg.TOTP = mfa.TOTP{}
	id, origins := *rpID, splitList(*rpOrigins)
	if id == "" {
		id, origins, _ = defaultRelyingParty(*addr, ln.Addr(), scheme)
	}
	if id != "" {
		if cfg.Passkeys, err = mfa.NewPasskeys(mfa.PasskeyConfig{RPID: id, Origins: origins}); err != nil {
			return usagef("serve: %v", err)
		}
	} else {
		fmt.Fprintln(c.m.Stderr, "localauth: passkeys are off: give --rp-id and --rp-origin to offer them (they default only on a localhost --addr)")
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
	app, _ := demo.New(svc, live.Config{Logger: log, ClientIP: wa.ClientIP, Secure: wa.Secure, MaxConns: maxConns}, liveauth.Options{
		Logger:            log,
		TokenStorage:      *storage,
		TokenFromRequest:  wa.Token,
		HandoffBinding:    wa.HandoffBinding,
		DeviceFromRequest: wa.DeviceToken,
	})
	if metrics != nil {
		if err := metrics.prom.LiveTabs(app.Conns); err != nil {
			return err
		}
	}
	mux := http.NewServeMux()
	mux.Handle(web.APIPrefix, wa.API())
	if p, ok := st.(localauth.Pinger); ok {
		health := web.Health(p.Ping)
		mux.Handle("/healthz", health)
		mux.Handle("/readyz", health)
	}
	// Pages give every browser a device token, which a live login then
	// makes trusted for the account.
	var pages http.Handler = wa.DeviceCookie(app)
	if *storage == liveauth.TokenCookie {
		// Pages give the browser the secret that binds the one-time
		// login codes to it.
		pages = wa.BindHandoffs(pages)
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
	url := scheme + "://" + displayAddr(ln.Addr(), *addr)
	if *baseline {
		stop, err := serveBenchBaseline(c.m.Stdout, srv)
		if err != nil {
			return err
		}
		defer stop()
	}
	if metrics != nil {
		go metrics.srv.Serve(metrics.ln)
		fmt.Fprintf(c.m.Stdout, "localauth: metrics on http://%s/metrics\n", metrics.ln.Addr())
	}
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

// serveBenchBaseline serves the bench command's baseline on a listener of
// its own on 127.0.0.1: a plain net/http handler, with no middleware and no
// routing, that writes the bytes GET /api/auth/me writes (the same headers,
// a body of the same length), without authenticating. Its server has the
// timeouts and limits of like (the demo's), so that only the handler
// differs. It prints its address before the demo's, for the bench to read.
func serveBenchBaseline(out io.Writer, like *http.Server) (stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := []byte(`{"user":{"id":1,"username":"bench","display_name":"bench","created_at":"2026-01-01T00:00:00.123Z"}}` + "\n")
	// The headers are those SecurityHeaders and the API set, captured once
	// and assigned in order, as cheaply as a handler can.
	type kv struct {
		k string
		v []string
	}
	var hdr []kv
	web.SecurityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range w.Header() {
			hdr = append(hdr, kv{k, v})
		}
	})).ServeHTTP(headerSink{http.Header{}}, &http.Request{Method: "GET", URL: &neturl.URL{Path: "/"}})
	hdr = append(hdr, kv{"Content-Type", []string{"application/json; charset=utf-8"}})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, e := range hdr {
			h[e.k] = e.v
		}
		w.Write(body)
	}),
		ReadHeaderTimeout: like.ReadHeaderTimeout,
		ReadTimeout:       like.ReadTimeout,
		WriteTimeout:      like.WriteTimeout,
		IdleTimeout:       like.IdleTimeout,
		MaxHeaderBytes:    like.MaxHeaderBytes,
	}
	go srv.Serve(ln)
	fmt.Fprintf(out, "localauth: bench baseline on http://%s\n", ln.Addr())
	return func() { srv.Close() }, nil
}

// headerSink is a ResponseWriter that keeps only headers.
type headerSink struct{ h http.Header }

func (s headerSink) Header() http.Header       { return s.h }
func (headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (headerSink) WriteHeader(int)             {}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
