package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	neturl "net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/localauth/localauth/internal/server"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/mfa"
)

// serveCmd is "serve": the demo app on the live runtime.
type serveCmd struct{ m *Main }

func (c *serveCmd) Run(ctx context.Context, args []string) error {
	fs, db := c.m.flagSet("serve")
	addr := fs.String("addr", c.m.envOr("LOCALAUTH_ADDR", "localhost:8000"), "address to listen on")
	certFile := fs.String("tls-cert", c.m.Getenv("LOCALAUTH_TLS_CERT"), "TLS certificate file (PEM)")
	keyFile := fs.String("tls-key", c.m.Getenv("LOCALAUTH_TLS_KEY"), "TLS key file (PEM)")
	storage := fs.String("token-storage", c.m.envOr("LOCALAUTH_TOKEN_STORAGE", liveauth.TokenLocalStorage), "where browsers keep the session token: localstorage or cookie")
	metricsAddr := fs.String("metrics-addr", c.m.Getenv("LOCALAUTH_METRICS_ADDR"), "serve Prometheus metrics at /metrics on this address, a listener of its own (a host left out means 127.0.0.1); default off")
	proxies := fs.String("trusted-proxies", c.m.Getenv("LOCALAUTH_TRUSTED_PROXIES"), "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	maxLive := fs.String("max-live-conns", c.m.Getenv("LOCALAUTH_MAX_LIVE_CONNS"), "most open live connections (websockets) in all; past it new ones get 503 (default: three quarters of the open-file limit, less 64)")
	queueWait := fs.Duration("hash-queue-wait", 2*time.Second, "the most a login or registration waits for a hashing slot; one that would wait longer is refused at once with 503 and Retry-After")
	loginRate := fs.Int("logins-per-minute", 30, "successful logins per client address per minute, after a burst of as many")
	reauthWindow := fs.Duration("reauth-window", 10*time.Minute, "how recent a password confirmation must be to change the password, end other sessions or delete the account")
	rpID := fs.String("rp-id", c.m.Getenv("LOCALAUTH_RP_ID"), "passkeys: the relying party id, the site's domain (default on a localhost --addr: localhost)")
	rpOrigins := fs.String("rp-origin", c.m.Getenv("LOCALAUTH_RP_ORIGIN"), "passkeys: comma-separated origins the pages run at, e.g. https://example.com (default on a localhost --addr: http(s)://localhost:PORT)")
	lifetimes := c.m.lifetimeFlags(fs)
	mailSettings := c.m.mailFlags(fs, true)
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if err := lifetimes.check(); err != nil {
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
	// Checked before anything starts (a key file beside a mistyped URL
	// would be made otherwise): a PostgreSQL deployment without its key
	// must not come up.
	if err := checkDB(*db, true); err != nil {
		return err
	}
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
	var metrics *server.Metrics
	if *metricsAddr != "" {
		if metrics, err = server.NewMetrics(*metricsAddr, version()); err != nil {
			return usagef("serve: --metrics-addr: %v", err)
		}
		defer metrics.Close()
	}
	st, closeStore, err := c.m.openStoreMetrics(ctx, *db, metrics.Hook(), false)
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
	cfg.HashQueueWait = *queueWait
	cfg.ReauthWindow = *reauthWindow
	lifetimes.apply(&cfg)
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
		log.Info("passkeys are off: give --rp-id and --rp-origin to offer them (they default only on a localhost --addr)")
	}
	url := scheme + "://" + displayAddr(ln.Addr(), *addr)
	if err := c.configureMail(&cfg, mailSettings, url); err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store: st, Service: cfg, TokenStorage: *storage, TrustedProxies: trusted,
		MaxLiveConns: maxConns, Metrics: metrics, Logger: log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	if metrics != nil {
		go metrics.Serve()
		fmt.Fprintf(c.m.Stdout, "localauth: metrics on http://%s/metrics\n", metrics.Addr())
	}
	fmt.Fprintf(c.m.Stdout, "localauth: serving the demo on %s (database %s, tokens in %s)\n", url, redactDSN(*db), *storage)
	if !useTLS && !isLoopback(*addr) {
		fmt.Fprintln(c.m.Stderr, "WARNING: listening on a non-loopback address without TLS. Passwords and session\n"+
			"WARNING: tokens would cross the network in the clear. Use --tls-cert and --tls-key,\n"+
			"WARNING: or put a TLS-terminating proxy in front and listen on loopback only.")
		log.Warn("serving without TLS on a non-loopback address", "addr", *addr)
	}
	if c.m.ready != nil {
		c.m.ready(url)
	}
	// Until SIGTERM; then requests finish and live pages are told to
	// reconnect (status 1001).
	return srv.Serve(ctx, ln, tlsConfig)
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

// isLoopback reports whether addr listens on loopback only.
func isLoopback(addr string) bool {
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

// redactDSN hides the password of a database URL or connection string,
// for printing: in the user information and in a password= query parameter
// of a URL, and in a password keyword of a keyword/value string.
func redactDSN(db string) string {
	if u, err := neturl.Parse(db); err == nil && u.Scheme != "" && strings.Contains(db, "://") {
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
			}
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	return passwordKeywordRE.ReplaceAllString(db, "${1}xxxxx")
}

var passwordKeywordRE = regexp.MustCompile(`((?:^|\s)password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

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
