// Command localauth-bench measures the benchmark table of BENCHMARKS.md:
// each figure beside a baseline measured in the same run, its ratio and its
// goal. It runs the server of "localauth serve" (package internal/server)
// as a child process of its own on loopback and drives it. Every loop is
// bounded in count and time; the command stops by itself.
//
//	go run ./cmd/localauth-bench                  # every row, about 5 minutes
//	go run ./cmd/localauth-bench --rows me,abuse  # some rows
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
)

// benchRow is one line of the table.
type benchRow struct {
	name, measured, baseline, ratio, goal string
	pass                                  bool
	note                                  string
}

type bench struct {
	dur      time.Duration
	cost     int
	tabs     int
	sessions int
	flood    int
	// meRounds is how many interleaved rounds the me rows run.
	meRounds int
	// postgres, massUsers, massTabs, massServers: the mass-revocation row.
	postgres                         string
	massUsers, massTabs, massServers int
	exe                              string
	dir                              string
	rows                             []benchRow
	progress                         io.Writer
	// only holds the row groups --rows named; empty means all.
	only map[string]bool
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run parses the command line, runs the rows and prints the table on out;
// progress goes to errOut.
func run(ctx context.Context, args []string, out, errOut io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("localauth-bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	dur := fs.Duration("duration", 5*time.Second, "how long each throughput row runs")
	cost := fs.Int("cost", localauth.DefaultBcryptCost, "bcrypt cost of the login and registration rows")
	tabs := fs.Int("tabs", 10_000, "live tabs held open for the memory row")
	sessions := fs.Int("sessions", 1_000_000, "sessions stored for the Authenticate scaling row")
	flood := fs.Int("flood", 200_000, "failed logins sent by the flood row, from up to 65,536 addresses")
	postgres := fs.String("postgres", getenv("LOCALAUTH_TEST_POSTGRES"), "PostgreSQL server URL for the mass-revocation and pooler rows (a database of its own is created and dropped); default $LOCALAUTH_TEST_POSTGRES")
	massUsers := fs.Int("mass-users", 100, "users of the mass-revocation row")
	massTabs := fs.Int("mass-tabs", 100, "live tabs per user in the mass-revocation row")
	massServers := fs.Int("mass-servers", 4, "instances in the mass-revocation row")
	meRounds := fs.Int("me-rounds", 5, "interleaved rounds of the me rows, each --duration×2/5 (at least 1s) per figure; more on a busy machine")
	rows := fs.String("rows", "", "comma-separated row groups to run ("+strings.Join(benchRows, ", ")+"); default all")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q; see -help", fs.Arg(0))
	}
	only := map[string]bool{}
	for _, r := range strings.Split(*rows, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !slices.Contains(benchRows, r) {
			return usagef("--rows: no row group %q (%s)", r, strings.Join(benchRows, ", "))
		}
		only[r] = true
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "localauth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if *meRounds < 1 {
		return usagef("--me-rounds must be at least 1")
	}
	b := &bench{dur: *dur, cost: *cost, tabs: *tabs, sessions: *sessions, flood: *flood, meRounds: *meRounds,
		postgres: *postgres, massUsers: *massUsers, massTabs: *massTabs, massServers: *massServers, exe: exe, dir: dir, progress: errOut, only: only}
	start := time.Now()
	if err := b.run(ctx); err != nil {
		return err
	}
	b.print(out)
	fmt.Fprintf(out, "\nmachine: %d CPUs, %s/%s, %s; whole run %v\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Since(start).Round(time.Second))
	return nil
}

func (b *bench) step(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

func (b *bench) run(ctx context.Context) error {
	if b.want("auth") {
		b.step("[1/9] Authenticate with %d vs 1,000 sessions stored", b.sessions)
		if err := b.authScaling(ctx); err != nil {
			return err
		}
	}
	srv, err := b.startServer(ctx, "--token-storage", "cookie")
	if err != nil {
		return err
	}
	defer srv.stop()
	idle, _ := srv.rss()
	b.add(benchRow{name: "process RSS, idle", measured: mib(idle), goal: "≤ 20 MiB", pass: idle <= 20<<20})
	if err := srv.register(httpClient(1), "bench"); err != nil {
		return err
	}

	if b.want("me") {
		b.step("[2/9] GET /api/auth/me vs a bare handler, 50 connections, with and without metrics")
		withMetrics, err := b.startServer(ctx, "--token-storage", "cookie", "--metrics-addr", "127.0.0.1:0")
		if err != nil {
			return err
		}
		err = b.meLoad(ctx, srv, withMetrics)
		withMetrics.stop()
		if err != nil {
			return err
		}
	}
	if b.want("rate") {
		b.step("[3/9] logins/s vs raw bcrypt comparisons/s at cost %d", b.cost)
		if err := b.loginRate(ctx, srv); err != nil {
			return err
		}
		b.step("[4/9] registrations/s vs raw bcrypt hashes/s at cost %d", b.cost)
		if err := b.registerRate(ctx, srv); err != nil {
			return err
		}
	}
	if b.want("lone") {
		b.step("[4b/8] one successful login at a time vs one bcrypt comparison, cost 10, on a fresh server")
		if err := b.loneLogin(ctx); err != nil {
			return err
		}
	}
	if b.want("abuse") {
		b.step("[5/9] abuse: a login burst, a looping client, a flood, a locked-out owner and parallel guessing, on a fresh server (about %v)", 14*b.dur)
		if err := b.abuse(ctx); err != nil {
			return err
		}
	}
	if b.want("live-rtt") {
		b.step("[6/9] live: event round trips at 1,000 events/s over 1,000 tabs")
		if err := b.liveRTT(ctx, srv); err != nil {
			return err
		}
	}
	if b.want("live-rss") {
		b.step("[7/9] live: RSS per hydrated idle tab, %d tabs, on a fresh server", b.tabs)
		fresh, err := b.startServer(ctx)
		if err != nil {
			return err
		}
		err = b.liveRSS(ctx, fresh)
		fresh.stop()
		if err != nil {
			return err
		}
	}
	if b.want("revocation") {
		b.step("[8/9] mass revocation: %d users × %d tabs on %d instances on PostgreSQL, all disabled at once", b.massUsers, b.massTabs, b.massServers)
		if err := b.massRevocation(ctx); err != nil {
			return err
		}
	}
	if b.want("pooler") {
		b.step("[9/9] PostgreSQL through PgBouncer in transaction mode vs direct: me with the cache on and off, by statement mode, and logins")
		return b.pooler(ctx)
	}
	return nil
}

// benchRows are the names --rows takes, in the order the rows run.
var benchRows = []string{"auth", "me", "rate", "lone", "abuse", "live-rtt", "live-rss", "revocation", "pooler"}

// want reports whether the row group name is to run.
func (b *bench) want(name string) bool { return len(b.only) == 0 || b.only[name] }

func (b *bench) add(r benchRow) { b.rows = append(b.rows, r) }

func (b *bench) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tMEASURED\tBASELINE\tRATIO\tGOAL\tRESULT")
	for _, r := range b.rows {
		res := "pass"
		if !r.pass {
			res = "short"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.measured, dash(r.baseline), dash(r.ratio), r.goal, res)
	}
	tw.Flush()
	for _, r := range b.rows {
		if r.note != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.name, r.note)
		}
	}
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// --- rows ----------------------------------------------------------------------

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// rawBcrypt runs fn with workers goroutines for d and returns operations/s.
func rawRate(workers int, d time.Duration, fn func()) float64 {
	deadline := time.Now().Add(d)
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				fn()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func (b *bench) loginRate(ctx context.Context, srv *benchServer) error {
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), b.cost)
	return b.rateRow("logins/s", 0.95,
		func() { bcrypt.CompareHashAndPassword(hash, []byte("correct horse battery staple")) },
		func(c *http.Client) error { _, err := srv.login(c, "bench"); return err })
}

func (b *bench) registerRate(ctx context.Context, srv *benchServer) error {
	var seq atomic.Int64
	return b.rateRow("registrations/s", 0.9,
		func() { bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), b.cost) },
		func(c *http.Client) error { return srv.register(c, fmt.Sprintf("reg%d", seq.Add(1))) })
}

// rateRow measures op through the server beside raw, each with one worker
// per CPU, and adds the row.
func (b *bench) rateRow(what string, goal float64, raw func(), op func(*http.Client) error) error {
	cpus := runtime.NumCPU()
	base := rawRate(cpus, b.dur, raw)
	c := oneShotClient(cpus)
	var failed atomic.Int64
	rate := rawRate(cpus, b.dur, func() {
		if op(c) != nil {
			failed.Add(1)
		}
	})
	if failed.Load() > 0 {
		return fmt.Errorf("bench: %d %s failed under steady load", failed.Load(), strings.TrimSuffix(what, "/s"))
	}
	ratio := rate / base
	b.add(benchRow{name: fmt.Sprintf("%s, cost %d", what, b.cost), measured: fmt.Sprintf("%.2f/s", rate),
		baseline: fmt.Sprintf("%.2f/s raw", base), ratio: fmt.Sprintf("%.3f", ratio), goal: fmt.Sprintf("≥ %.2f", goal), pass: ratio >= goal})
	return nil
}

// authScaling measures Authenticate as it runs with few and with many
// sessions stored: the cache on, 1,000 sessions in use, as active sessions
// are a fraction of the stored ones. The store lookup alone (cache off) is
// not a row: at a million sessions it measures the depth of SQLite's
// B-tree, not what a user feels, since the sessions in use are served from
// the cache.
func (b *bench) authScaling(ctx context.Context) error {
	measure := func(n int) (time.Duration, error) {
		path := filepath.Join(b.dir, fmt.Sprintf("scale-%d.db", n))
		st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
		if err != nil {
			return 0, err
		}
		defer st.Close()
		hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
		u := localauth.User{Username: "scale", DisplayName: "scale", Enabled: true, CreatedAt: time.Now()}
		if err := st.CreateUser(ctx, &u, hash); err != nil {
			return 0, err
		}
		tokens, err := fillSessions(ctx, st, u.ID, n)
		if err != nil {
			return 0, err
		}
		svc, err := localauth.New(st, localauth.Config{PurgeInterval: -1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return 0, err
		}
		defer svc.Close()
		for _, tok := range tokens { // warm up
			svc.Authenticate(ctx, tok)
		}
		var lat []time.Duration
		for i := range 20_000 {
			tok := tokens[(i*7919)%len(tokens)]
			t0 := time.Now()
			_, err := svc.Authenticate(ctx, tok)
			lat = append(lat, time.Since(t0))
			if err != nil {
				return 0, err
			}
		}
		return pct(lat, .5), nil
	}
	few, err := measure(1000)
	if err != nil {
		return err
	}
	many, err := measure(b.sessions)
	if err != nil {
		return err
	}
	ratio := float64(many) / float64(few)
	b.add(benchRow{name: fmt.Sprintf("Authenticate p50, %d sessions stored", b.sessions), measured: many.Round(10 * time.Nanosecond).String(),
		baseline: few.Round(10*time.Nanosecond).String() + " at 1,000", ratio: fmt.Sprintf("%.2f", ratio), goal: "≤ 1.10", pass: ratio <= 1.1,
		note: "cache on, 1,000 sessions in use"})
	return nil
}

// fillSessions stores n sessions for userID through the store's bulk
// import, in one transaction, and returns a sample of their tokens.
func fillSessions(ctx context.Context, st *sqlitestore.Store, userID int64, n int) ([]localauth.Token, error) {
	now := time.Now()
	var sample []localauth.Token
	const batch = 10_000
	sessions := make([]localauth.Session, 0, batch)
	for i := range n {
		tok := localauth.Token(fmt.Sprintf("%043d", i))
		sessions = append(sessions, localauth.Session{
			TokenHash: localauth.HashToken(tok), UserID: userID, PublicID: fmt.Sprintf("%032x", i),
			CreatedAt: now, LastSeenAt: now, ReauthAt: now, ExpiresAt: now.Add(24 * time.Hour),
		})
		if i%max(1, n/1000) == 0 {
			sample = append(sample, tok)
		}
		if len(sessions) == batch || i == n-1 {
			if err := st.ImportSessions(ctx, sessions); err != nil {
				return nil, err
			}
			sessions = sessions[:0]
		}
	}
	return sample, nil
}
