package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	"github.com/localauth/localauth/sqlitestore"
)

// benchCmd is "bench": it starts "localauth serve" as a child process on
// loopback, drives it, and prints the table of BENCHMARKS.md: each figure
// beside a baseline measured in the same run, its ratio and its goal. Every
// loop is bounded in count and time; the command stops by itself.
type benchCmd struct{ m *Main }

// benchRow is one line of the table.
type benchRow struct {
	name, measured, baseline, ratio, goal string
	pass                                  bool
	note                                  string
}

type bench struct {
	m        *Main
	dur      time.Duration
	cost     int
	tabs     int
	sessions int
	exe      string
	dir      string
	rows     []benchRow
	progress io.Writer
}

func (c *benchCmd) Run(ctx context.Context, args []string) error {
	fs, _ := c.m.flagSet("bench")
	dur := fs.Duration("duration", 5*time.Second, "how long each throughput row runs")
	cost := fs.Int("cost", localauth.DefaultBcryptCost, "bcrypt cost of the login and registration rows")
	tabs := fs.Int("tabs", 10_000, "live tabs held open for the memory row")
	sessions := fs.Int("sessions", 1_000_000, "sessions stored for the Authenticate scaling row")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
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
	b := &bench{m: c.m, dur: *dur, cost: *cost, tabs: *tabs, sessions: *sessions, exe: exe, dir: dir, progress: c.m.Stderr}
	start := time.Now()
	if err := b.run(ctx); err != nil {
		return err
	}
	b.print(c.m.Stdout)
	fmt.Fprintf(c.m.Stdout, "\nmachine: %d CPUs, %s/%s, %s; whole run %v\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Since(start).Round(time.Second))
	return nil
}

func (b *bench) step(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

func (b *bench) run(ctx context.Context) error {
	b.step("[1/7] Authenticate with %d vs 1,000 sessions stored", b.sessions)
	if err := b.authScaling(ctx); err != nil {
		return err
	}
	srv, err := b.startServer(ctx, "--token-storage", "cookie")
	if err != nil {
		return err
	}
	defer srv.stop()
	idle, _ := srv.rss()
	b.add(benchRow{name: "process RSS, idle", measured: mib(idle), goal: "≤ 20 MiB", pass: idle <= 20<<20})

	b.step("[2/7] GET /api/auth/me vs a bare handler, 50 connections, %v each", b.dur)
	if err := b.meLoad(ctx, srv); err != nil {
		return err
	}
	b.step("[3/7] logins/s vs raw bcrypt comparisons/s at cost %d", b.cost)
	if err := b.loginRate(ctx, srv); err != nil {
		return err
	}
	b.step("[4/7] registrations/s vs raw bcrypt hashes/s at cost %d", b.cost)
	if err := b.registerRate(ctx, srv); err != nil {
		return err
	}
	b.step("[5/7] 50 concurrent logins")
	if err := b.burst(ctx, srv); err != nil {
		return err
	}
	b.step("[6/7] live: event round trips at 1,000 events/s over 1,000 tabs")
	if err := b.liveRTT(ctx, srv); err != nil {
		return err
	}
	b.step("[7/7] live: RSS per hydrated idle tab, %d tabs, on a fresh server", b.tabs)
	fresh, err := b.startServer(ctx)
	if err != nil {
		return err
	}
	defer fresh.stop()
	return b.liveRSS(ctx, fresh)
}

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
}

var servingRE = regexp.MustCompile(`serving the demo on (http://\S+)`)

// startServer runs "localauth serve" from this binary on a new database, on
// 127.0.0.1 with a free port, and waits until it listens.
func (b *bench) startServer(ctx context.Context, args ...string) (*benchServer, error) {
	db := filepath.Join(b.dir, fmt.Sprintf("serve-%d.db", time.Now().UnixNano()))
	return startChild(ctx, b.exe, db, b.cost, append([]string{"--bench-baseline"}, args...)...)
}

// startChild runs "serve" from exe in a process of its own, on db, and
// waits until it listens.
func startChild(ctx context.Context, exe, db string, cost int, args ...string) (*benchServer, error) {
	cmd := exec.CommandContext(ctx, exe, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
	cmd.Env = append(os.Environ(), "LOCALAUTH_AS_CLI=1", "LOCALAUTH_BCRYPT_COST="+strconv.Itoa(cost))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(out)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := servingRE.FindStringSubmatch(lines.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return &benchServer{url: u, cmd: cmd, db: db}, nil
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

// clients spread over many loopback source addresses, as real clients come
// from many addresses: the per-address throttles and connection limits then
// apply as they would in production.
var nextSource atomic.Uint32

func sourceDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		n := nextSource.Add(1)
		src := net.IPv4(127, byte(n/250%250+1), byte(n%250+1), 1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
		return d.DialContext(ctx, network, addr)
	}
}

func httpClient(conns int) *http.Client {
	return newHTTPClient(conns, false)
}

// oneShotClient opens a new connection, from a new source address, for
// every request: for rows whose requests count against per-address limits.
func oneShotClient(conns int) *http.Client { return newHTTPClient(conns, true) }

func newHTTPClient(conns int, oneShot bool) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         sourceDialer(),
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
			DisableCompression:  true,
			DisableKeepAlives:   oneShot,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

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

// load runs conns goroutines issuing GET path for d and returns requests/s
// and the latencies.
func load(ctx context.Context, c *http.Client, url string, conns int, d time.Duration, cookie *http.Cookie, sample func()) (float64, []time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conns {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				if cookie != nil {
					req.AddCookie(cookie)
				}
				t0 := time.Now()
				res, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	if sample != nil {
		go func() {
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					sample()
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if n := failed.Load(); n > int64(len(lat))/100 {
		return 0, nil, fmt.Errorf("bench: %d of %d requests to %s failed", n, int64(len(lat))+n, url)
	}
	return float64(len(lat)) / el.Seconds(), lat, nil
}

func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func (b *bench) meLoad(ctx context.Context, srv *benchServer) error {
	c := httpClient(50)
	if err := srv.register(c, "bench"); err != nil {
		return err
	}
	cookie, err := srv.login(c, "bench")
	if err != nil {
		return err
	}
	base, baseLat, err := load(ctx, c, srv.url+"/_bench/me", 50, b.dur, nil, nil)
	if err != nil {
		return err
	}
	var peak atomic.Int64
	me, meLat, err := load(ctx, c, srv.url+"/api/auth/me", 50, b.dur, cookie, func() {
		if r, err := srv.rss(); err == nil && r > peak.Load() {
			peak.Store(r)
		}
	})
	if err != nil {
		return err
	}
	ratio := me / base
	b.add(benchRow{
		name: "GET /api/auth/me, 50 conns", measured: fmt.Sprintf("%.0f req/s", me),
		baseline: fmt.Sprintf("%.0f req/s", base), ratio: fmt.Sprintf("%.2f", ratio), goal: "≥ 0.80", pass: ratio >= 0.8,
		note: fmt.Sprintf("p50/p99 %v/%v (bare handler %v/%v)", pct(meLat, .5).Round(time.Microsecond), pct(meLat, .99).Round(time.Microsecond),
			pct(baseLat, .5).Round(time.Microsecond), pct(baseLat, .99).Round(time.Microsecond)),
	})
	b.add(benchRow{name: "process RSS under the me load", measured: mib(peak.Load()), goal: "≤ 50 MiB", pass: peak.Load() <= 50<<20})
	return nil
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

func (b *bench) burst(ctx context.Context, srv *benchServer) error {
	c := httpClient(64)
	var single []time.Duration
	for range 3 {
		t0 := time.Now()
		if _, err := srv.login(c, "bench"); err != nil {
			return err
		}
		single = append(single, time.Since(t0))
	}
	one := pct(single, .5)
	type result struct {
		status int
		took   time.Duration
	}
	results := make([]result, 50)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range results {
		wg.Go(func() {
			<-gate
			t0 := time.Now()
			st, _, err := srv.post(c, "/api/auth/login", creds("bench"))
			if err != nil {
				st = -1
			}
			results[i] = result{st, time.Since(t0)}
		})
	}
	close(gate)
	wg.Wait()
	var admitted, rejected []time.Duration
	for _, r := range results {
		switch r.status {
		case http.StatusOK:
			admitted = append(admitted, r.took)
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			rejected = append(rejected, r.took)
		default:
			return fmt.Errorf("bench: a burst login answered %d", r.status)
		}
	}
	p99 := pct(admitted, .99)
	maxRej := pct(rejected, 1)
	ratio := float64(p99) / float64(one)
	b.add(benchRow{name: "50 concurrent logins: admitted p99", measured: p99.Round(time.Millisecond).String(),
		baseline: one.Round(time.Millisecond).String() + " alone", ratio: fmt.Sprintf("%.2f", ratio), goal: "≤ 3.0", pass: ratio <= 3,
		note: fmt.Sprintf("%d admitted, %d rejected", len(admitted), len(rejected))})
	b.add(benchRow{name: "50 concurrent logins: slowest rejection", measured: maxRej.Round(time.Millisecond).String(),
		goal: "< 100ms", pass: maxRej < 100*time.Millisecond})
	return nil
}

// authScaling measures Authenticate with few and with many sessions stored:
// as it runs (the cache on, 1,000 sessions in use, as active sessions are a
// fraction of the stored ones), and as a cache miss costs (the store lookup
// alone).
func (b *bench) authScaling(ctx context.Context) error {
	type p50s struct{ cached, lookup time.Duration }
	measure := func(n int) (p50s, error) {
		path := filepath.Join(b.dir, fmt.Sprintf("scale-%d.db", n))
		st, err := sqlitestore.Open(ctx, path, sqlitestore.Options{})
		if err != nil {
			return p50s{}, err
		}
		defer st.Close()
		hash, _ := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
		u := localauth.User{Username: "scale", DisplayName: "scale", Enabled: true, CreatedAt: time.Now()}
		if err := st.CreateUser(ctx, &u, hash); err != nil {
			return p50s{}, err
		}
		tokens, err := fillSessions(ctx, path, u.ID, n)
		if err != nil {
			return p50s{}, err
		}
		var out p50s
		for _, cached := range []bool{true, false} {
			cfg := localauth.Config{PurgeInterval: -1, Logger: discard()}
			if !cached {
				cfg.CacheSize = -1
			}
			svc, err := localauth.New(st, cfg)
			if err != nil {
				return p50s{}, err
			}
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
					svc.Close()
					return p50s{}, err
				}
			}
			svc.Close()
			if cached {
				out.cached = pct(lat, .5)
			} else {
				out.lookup = pct(lat, .5)
			}
		}
		return out, nil
	}
	few, err := measure(1000)
	if err != nil {
		return err
	}
	many, err := measure(b.sessions)
	if err != nil {
		return err
	}
	for _, r := range []struct {
		name      string
		few, many time.Duration
		note      string
	}{
		{"Authenticate p50", few.cached, many.cached, "cache on, 1,000 sessions in use"},
		{"Authenticate p50, store lookup", few.lookup, many.lookup, "cache off: the cost of a miss, an indexed SQLite query"},
	} {
		ratio := float64(r.many) / float64(r.few)
		b.add(benchRow{name: fmt.Sprintf("%s, %d sessions stored", r.name, b.sessions), measured: r.many.Round(10 * time.Nanosecond).String(),
			baseline: r.few.Round(10*time.Nanosecond).String() + " at 1,000", ratio: fmt.Sprintf("%.2f", ratio), goal: "≤ 1.10", pass: ratio <= 1.1, note: r.note})
	}
	return nil
}

// fillSessions inserts n sessions for userID straight into the file, in one
// transaction, and returns a sample of their tokens.
func fillSessions(ctx context.Context, path string, userID int64, n int) ([]localauth.Token, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMilli()
	var sample []localauth.Token
	for i := range n {
		tok := localauth.Token(fmt.Sprintf("%043d", i))
		h := localauth.HashToken(tok)
		if _, err := stmt.ExecContext(ctx, h[:], userID, now, now+86_400_000, now); err != nil {
			return nil, err
		}
		if i%max(1, n/1000) == 0 {
			sample = append(sample, tok)
		}
	}
	return sample, tx.Commit()
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
