package main

import (
	"context"
	"encoding/json"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/server"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/sqlitestore"
)

// childEnv, set to 1, makes this binary the server under test instead of
// the bench: the server of "localauth serve", assembled by package
// internal/server, plus the bare baseline handler on a listener of its own.
const childEnv = "LOCALAUTH_BENCH_SERVER"

// pprofEnv names a loopback address where the server under test serves
// net/http/pprof and expvar, for profiling it under the bench's load.
const pprofEnv = "LOCALAUTH_BENCH_PPROF"

// childReady is the one line a child writes on its standard output once it
// listens.
type childReady struct {
	URL  string `json:"url"`
	Bare string `json:"bare"`
}

// runChild serves until ctx is done (the bench sends SIGINT).
func runChild(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	db := fs.String("db", "", "SQLite file or PostgreSQL URL")
	cost := fs.Int("cost", localauth.DefaultBcryptCost, "bcrypt cost")
	storage := fs.String("token-storage", "", "localstorage or cookie")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on this address")
	loginRate := fs.Int("logins-per-minute", 0, "successful logins per client address per minute (default the Service's)")
	listenDB := fs.String("listen-db", "", "PostgreSQL: a direct URL for listening and migrating when --db goes through a pooler")
	cacheSize := fs.Int("cache-size", 0, "sessions cached (default the Service's; -1 none)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	log := slog.New(slog.DiscardHandler)
	var metrics *server.Metrics
	if *metricsAddr != "" {
		m, err := server.NewMetrics(*metricsAddr, "bench")
		if err != nil {
			return err
		}
		defer m.Close()
		go m.Serve()
		metrics = m
	}
	var st localauth.Store
	if strings.HasPrefix(*db, "postgres://") || strings.HasPrefix(*db, "postgresql://") {
		p, err := pgstore.Open(ctx, *db, pgstore.Options{Logger: log, Metrics: metrics.Hook(), ListenDSN: *listenDB})
		if err != nil {
			return err
		}
		defer p.Close()
		st = p
	} else {
		s, err := sqlitestore.Open(ctx, *db, sqlitestore.Options{})
		if err != nil {
			return err
		}
		defer s.Close()
		st = s
	}
	cfg := localauth.Config{Hasher: localauth.BcryptHasher{Cost: *cost}, AllowWeakCost: *cost < localauth.MinBcryptCost, CacheSize: *cacheSize}
	if *loginRate > 0 {
		cfg.Throttle.ClientLoginsPerMinute = *loginRate
		cfg.Throttle.ClientLoginBurst = *loginRate
	}
	srv, err := server.New(server.Config{Store: st, Service: cfg, TokenStorage: *storage, Metrics: metrics, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bare, stop, err := serveBaseline(log)
	if err != nil {
		return err
	}
	defer stop()
	if addr := os.Getenv(pprofEnv); addr != "" {
		// Profiling the server under load, for the benchmark work: on
		// loopback only.
		if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
			return fmt.Errorf("%s must be a loopback address, not %q", pprofEnv, addr)
		}
		pm := http.NewServeMux()
		pm.HandleFunc("/debug/pprof/", pprof.Index)
		pm.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pm.Handle("/debug/vars", expvar.Handler())
		go http.ListenAndServe(addr, pm)
	}
	if err := json.NewEncoder(out).Encode(childReady{URL: "http://" + ln.Addr().String(), Bare: bare}); err != nil {
		return err
	}
	return srv.Serve(ctx, ln, nil)
}

// serveBaseline serves the baseline of the me rows on a listener of its
// own on 127.0.0.1: a plain net/http handler, with no middleware and no
// routing, that writes the JSON GET /api/auth/me writes with only a
// Content-Type, without authenticating, on an http.Server with the demo
// server's timeouts and limits, so that what the row measures is all that
// me adds: routing, the session, its headers.
func serveBaseline(log *slog.Logger) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	body := []byte(`{"user":{"id":1,"username":"bench","display_name":"bench","created_at":"2026-01-01T00:00:00.123Z"}}` + "\n")
	contentType := []string{"application/json; charset=utf-8"}
	srv := server.HTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = contentType
		w.Write(body)
	}), log)
	go srv.Serve(ln)
	return fmt.Sprintf("http://%s", ln.Addr()), func() { srv.Close() }, nil
}
