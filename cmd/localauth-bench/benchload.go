package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The `me` rows compare GET /api/auth/me, as `serve --token-storage
// cookie` answers it, with a bare net/http handler that writes the same
// bytes. The comparison means something only if the load generator is not
// the limit: a generator that saturates first reports the same rate for
// both and a ratio near 1 whatever the server does. So the rows are driven
// by wrk when it is installed (a C generator, far cheaper per request than
// the server), else by goLoad, and the bare handler's rate under both is
// printed, so the reader sees how close the generator came to the server's
// ceiling.

// meConns is the number of keep-alive connections of the `me` rows.
const meConns = 50

// generator drives GET url with meConns connections for d, sending cookie
// (a "name=value" pair, or ""), and returns requests/s.
type generator struct {
	name string
	run  func(ctx context.Context, url, cookie string, d time.Duration) (float64, error)
}

var wrkRateRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
var wrkErrRE = regexp.MustCompile(`Non-2xx or 3xx responses:\s+\d+`)

// wrkGenerator runs `wrk -t2 -c50`, when wrk is on PATH.
func wrkGenerator() (generator, bool) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return generator{}, false
	}
	return generator{name: "wrk -t2 -c50", run: func(ctx context.Context, url, cookie string, d time.Duration) (float64, error) {
		args := []string{"-t2", fmt.Sprintf("-c%d", meConns), fmt.Sprintf("-d%ds", max(1, int(d.Round(time.Second)/time.Second)))}
		if cookie != "" {
			args = append(args, "-H", "Cookie: "+cookie)
		}
		out, err := exec.CommandContext(ctx, path, append(args, url)...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("bench: wrk: %v: %s", err, out)
		}
		if m := wrkErrRE.Find(out); m != nil {
			return 0, fmt.Errorf("bench: wrk against %s: %s", url, m)
		}
		m := wrkRateRE.FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("bench: no rate in wrk's output: %s", out)
		}
		return strconv.ParseFloat(string(m[1]), 64)
	}}, true
}

// goGenerator is the load generator built in: one goroutine per
// connection, each writing a request built once and reading the answer with
// the least parsing that still checks it (the status line and
// Content-Length), so that a request costs the generator a small fraction
// of what it costs the server.
func goGenerator() generator {
	return generator{name: "Go generator, 50 conns", run: goLoad}
}

func goLoad(ctx context.Context, rawURL, cookie string, d time.Duration) (float64, error) {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		return 0, err
	}
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	reqBytes := []byte(req + "\r\n")
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range meConns {
		wg.Go(func() {
			c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", u.Host)
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
			defer stop()
			br := bufio.NewReaderSize(c, 4096)
			n := int64(0)
			for ctx.Err() == nil {
				if _, err := c.Write(reqBytes); err != nil {
					break
				}
				if err := readResponse(br); err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = err })
					}
					break
				}
				n++
			}
			done.Add(n)
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("bench: GET %s: %w", rawURL, firstErr)
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

var (
	status200     = []byte("HTTP/1.1 200 ")
	contentLength = []byte("content-length:")
)

// readResponse reads one response: a 200 with a Content-Length body.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, status200) {
		return fmt.Errorf("answer %q", bytes.TrimSpace(line))
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(line[len(contentLength):])))
			if err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return errors.New("answer without Content-Length")
	}
	_, err = br.Discard(length)
	return err
}

// meLoad measures the `me` rows: the bare handler, `me` on srv and `me` on
// withMetrics (the same server with --metrics-addr), interleaved A B C A B C
// so that the noise of a shared machine falls on all three alike, with the
// generator's own capacity on the bare handler beside wrk's.
func (b *bench) meLoad(ctx context.Context, srv, withMetrics *benchServer) error {
	if srv.bare == "" {
		return errors.New("bench: the server has no baseline handler")
	}
	var cookies [2]string
	for i, s := range []*benchServer{srv, withMetrics} {
		c := httpClient(1)
		if s != srv { // srv has its "bench" user already
			if err := s.register(c, "bench"); err != nil {
				return err
			}
		}
		ck, err := s.login(c, "bench")
		if err != nil {
			return err
		}
		cookies[i] = ck.Name + "=" + ck.Value
	}
	gen, haveWrk := wrkGenerator()
	goGen := goGenerator()
	if !haveWrk {
		gen = goGen
	}
	// Short segments, many rounds: the machine is shared, and a burst of
	// someone else's work then spoils one round, not the figure, since each
	// ratio is taken within its round and the median of the rounds is
	// reported.
	rounds := b.meRounds
	seg := max(time.Second, (b.dur * 2 / 5).Round(time.Second))
	var bare, me, meMetrics, goBare []float64
	// The server's CPU time per request beside each rate: a second view
	// of the same comparison, less moved by other load on the machine
	// than the rates are.
	var cpuBare, cpuMe []float64
	measure := func(s *benchServer, url string, cpu *[]float64) (float64, error) {
		c0, _ := s.cpuTime()
		r, err := gen.run(ctx, url, cookies[0], seg)
		if c1, cerr := s.cpuTime(); cerr == nil && err == nil && r > 0 && cpu != nil {
			*cpu = append(*cpu, float64(c1-c0)/float64(time.Microsecond)/(r*seg.Seconds()))
		}
		return r, err
	}
	var peak atomic.Int64
	sample := func(ctx context.Context) {
		for t := time.NewTicker(200 * time.Millisecond); ; {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
				if r, err := srv.rss(); err == nil && r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}
	for range rounds {
		// The bare handler gets the same request, cookie included, so that
		// both sides parse the same bytes; it ignores the cookie.
		r, err := measure(srv, srv.bare+"/", &cpuBare)
		if err != nil {
			return err
		}
		bare = append(bare, r)
		sctx, stop := context.WithCancel(ctx)
		go sample(sctx)
		r, err = measure(srv, srv.url+"/api/auth/me", &cpuMe)
		stop()
		if err != nil {
			return err
		}
		me = append(me, r)
		if r, err = gen.run(ctx, withMetrics.url+"/api/auth/me", cookies[1], seg); err != nil {
			return err
		}
		meMetrics = append(meMetrics, r)
		if haveWrk {
			if r, err = goGen.run(ctx, srv.bare+"/", cookies[0], seg); err != nil {
				return err
			}
			goBare = append(goBare, r)
		}
	}
	note := fmt.Sprintf("%s; %d rounds of %v per figure, interleaved (bare, me, me with metrics%s); medians; ratios per round %s",
		gen.name, rounds, seg, map[bool]string{true: ", Go generator on bare", false: ""}[haveWrk], ratios(me, bare))
	if haveWrk {
		r := median(ratioList(goBare, bare))
		b.add(benchRow{name: "load generator on the bare handler: Go generator vs wrk", measured: fmt.Sprintf("%.0f req/s", median(goBare)),
			baseline: fmt.Sprintf("%.0f req/s wrk", median(bare)), ratio: fmt.Sprintf("%.2f", r), goal: "≥ 0.90", pass: r >= 0.9,
			note: "the me rows are driven by wrk; this row says how close the built-in generator comes to it. Ratios per round " + ratios(goBare, bare)})
	} else {
		note += "; wrk is not installed, so the generator's own ceiling is not checked (apt-get install wrk)"
	}
	if len(cpuBare) > 0 && len(cpuMe) > 0 {
		note += fmt.Sprintf("; server CPU per request %.1f µs bare, %.1f µs me (bare/me %.2f)", median(cpuBare), median(cpuMe), median(cpuBare)/median(cpuMe))
	}
	rMe, rMetrics := median(ratioList(me, bare)), median(ratioList(meMetrics, bare))
	b.add(benchRow{name: "GET /api/auth/me, cookie mode, 50 conns", measured: fmt.Sprintf("%.0f req/s", median(me)),
		baseline: fmt.Sprintf("%.0f req/s bare", median(bare)), ratio: fmt.Sprintf("%.2f", rMe), goal: "≥ 0.90", pass: rMe >= 0.9, note: note})
	b.add(benchRow{name: "GET /api/auth/me, metrics on", measured: fmt.Sprintf("%.0f req/s", median(meMetrics)),
		baseline: fmt.Sprintf("%.0f req/s bare", median(bare)), ratio: fmt.Sprintf("%.2f", rMetrics), goal: "≥ 0.88", pass: rMetrics >= 0.88,
		note: "ratios per round " + ratios(meMetrics, bare)})
	b.add(benchRow{name: "process RSS under the me load", measured: mib(peak.Load()), goal: "≤ 50 MiB", pass: peak.Load() <= 50<<20})
	return nil
}

// ratioList divides a by b, round by round.
func ratioList(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

func ratios(a, b []float64) string {
	var parts []string
	for _, r := range ratioList(a, b) {
		parts = append(parts, fmt.Sprintf("%.2f", r))
	}
	return strings.Join(parts, " ")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
