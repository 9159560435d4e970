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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/loopback"
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
	b := &bench{dur: *dur, cost: *cost, tabs: *tabs, sessions: *sessions, flood: *flood,
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
var benchRows = []string{"auth", "me", "rate", "abuse", "live-rtt", "live-rss", "revocation", "pooler"}

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

// --- the server under test ---------------------------------------------------

type benchServer struct {
	url string
	cmd *exec.Cmd
	db  string
	// bare is the URL of the bare baseline handler beside the server.
	bare string
}

// startServer runs the server under test on a new SQLite database, on
// 127.0.0.1 with a free port, and waits until it listens.
func (b *bench) startServer(ctx context.Context, opts ...string) (*benchServer, error) {
	db := filepath.Join(b.dir, fmt.Sprintf("serve-%d.db", time.Now().UnixNano()))
	return startChild(ctx, b.exe, db, b.cost, opts...)
}

// startChild runs the server under test (this binary, as a child: see
// child.go) in a process of its own, so that its memory and CPU time are
// its own, on db, and waits for the line that says where it listens.
func startChild(ctx context.Context, exe, db string, cost int, opts ...string) (*benchServer, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"--db", db, "--cost", strconv.Itoa(cost)}, opts...)...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan childReady, 1)
	go func() {
		var r childReady
		if json.NewDecoder(out).Decode(&r) == nil {
			ready <- r
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case r := <-ready:
		return &benchServer{url: r.URL, bare: r.Bare, cmd: cmd, db: db}, nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("the server did not start within 20s")
	}
}

func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// rss reads the server's resident set size from /proc.
func (s *benchServer) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTime reads the server's CPU time (user and system) from /proc.
func (s *benchServer) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: utime and stime are the 12th and 13th, in clock ticks.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	// The kernel's USER_HZ is 100 on every Linux that Go supports.
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}

// The bench's clients come from many loopback addresses (package loopback).
var (
	httpClient    = loopback.Client
	oneShotClient = loopback.OneShotClient
	sourceDialer  = loopback.Dialer
)

func (s *benchServer) post(c *http.Client, path, body string) (int, http.Header, error) {
	req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header, nil
}

func creds(user string) string {
	return fmt.Sprintf(`{"username":%q,"password":"correct horse battery staple"}`, user)
}

func (s *benchServer) register(c *http.Client, user string) error {
	st, _, err := s.post(c, "/api/auth/register", creds(user))
	if err == nil && st != http.StatusCreated {
		err = fmt.Errorf("bench: register %s: status %d", user, st)
	}
	return err
}

func (s *benchServer) login(c *http.Client, user string) (*http.Cookie, error) {
	st, h, err := s.post(c, "/api/auth/login", creds(user))
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("bench: login: status %d", st)
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if strings.HasSuffix(ck.Name, "localauth_session") {
			return ck, nil
		}
	}
	return nil, errors.New("bench: no session cookie")
}

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

// liveClient is one tab, as the bench drives it.
type liveClient struct {
	c  *websocket.Conn
	id int64
}

func dialTab(ctx context.Context, srv *benchServer, hc *http.Client) (*liveClient, error) {
	u := "ws" + strings.TrimPrefix(srv.url, "http") + "/_live"
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {srv.url}}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	t := &liveClient{c: c}
	if _, err := t.roundTrip(ctx, `{"t":"hello","id":%d,"route":"/","query":"","local":{}}`); err != nil {
		c.CloseNow()
		return nil, err
	}
	return t, nil
}

// roundTrip sends a message (format gets the id) and waits for its reply.
func (t *liveClient) roundTrip(ctx context.Context, format string) (time.Duration, error) {
	t.id++
	msg := fmt.Sprintf(format, t.id)
	t0 := time.Now()
	if err := t.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return 0, err
	}
	want := fmt.Sprintf(`"id":%d,`, t.id)
	for {
		_, b, err := t.c.Read(ctx)
		if err != nil {
			return 0, err
		}
		if strings.Contains(string(b), want) {
			var m struct{ T string }
			json.Unmarshal(b, &m)
			if m.T != "update" {
				return 0, fmt.Errorf("bench: live reply %s", b)
			}
			return time.Since(t0), nil
		}
	}
}

func dialTabs(ctx context.Context, srv *benchServer, n int) ([]*liveClient, error) {
	hc := httpClient(n)
	tabs := make([]*liveClient, n)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range tabs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t, err := dialTab(ctx, srv, hc)
			if err != nil {
				select {
				case errc <- err:
				default:
				}
				return
			}
			tabs[i] = t
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		closeTabs(tabs)
		return nil, err
	default:
	}
	return tabs, nil
}

func closeTabs(tabs []*liveClient) {
	for _, t := range tabs {
		if t != nil {
			t.c.CloseNow()
		}
	}
}

func (b *bench) liveRTT(ctx context.Context, srv *benchServer) error {
	tabs, err := dialTabs(ctx, srv, 1000)
	if err != nil {
		return err
	}
	defer closeTabs(tabs)
	// Each tab sends one event a second, staggered: 1,000 events/s in all.
	ctx, cancel := context.WithTimeout(ctx, b.dur+2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, t := range tabs {
		wg.Go(func() {
			next := start.Add(time.Duration(i) * time.Millisecond)
			var mine []time.Duration
			for time.Until(next) > -time.Second && next.Sub(start) < b.dur {
				time.Sleep(time.Until(next))
				d, err := t.roundTrip(ctx, `{"t":"event","id":%d,"name":"login.redir"}`)
				if err != nil {
					failed.Add(1)
					break
				}
				mine = append(mine, d)
				next = next.Add(time.Second)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("bench: %d live tabs failed during the round-trip row", failed.Load())
	}
	p99 := pct(lat, .99)
	b.add(benchRow{name: "live: event round trip p99, 1,000 tabs at 1,000 ev/s", measured: p99.Round(10 * time.Microsecond).String(),
		goal: "≤ 5ms", pass: p99 <= 5*time.Millisecond,
		note: fmt.Sprintf("%d events, %.0f/s, p50 %v", len(lat), float64(len(lat))/b.dur.Seconds(), pct(lat, .5).Round(10*time.Microsecond))})
	return nil
}

func (b *bench) liveRSS(ctx context.Context, srv *benchServer) error {
	time.Sleep(time.Second)
	before, err := srv.rss()
	if err != nil {
		return err
	}
	tabs, err := dialTabs(ctx, srv, b.tabs)
	if err != nil {
		return err
	}
	defer closeTabs(tabs)
	time.Sleep(2 * time.Second)
	after, err := srv.rss()
	if err != nil {
		return err
	}
	per := float64(after-before) / float64(b.tabs)
	b.add(benchRow{name: fmt.Sprintf("live: RSS per hydrated idle tab, %d tabs", b.tabs), measured: fmt.Sprintf("%.1f KiB", per/1024),
		goal: "≤ 16 KiB", pass: per <= 16<<10, note: fmt.Sprintf("RSS %s before, %s with the tabs open", mib(before), mib(after))})
	return nil
}
