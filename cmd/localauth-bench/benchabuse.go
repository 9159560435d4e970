package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/throttle"
)

// The abuse rows: login admission under bursts and attacks, from many
// loopback source addresses, against a server at the real bcrypt cost.

// hashBudget is serve's default --hash-queue-wait, the wait budget the
// burst row checks admitted logins against.
const hashBudget = 2 * time.Second

// clientAt returns a client whose connections come from the loopback
// address ip, with a cookie jar when jar is set (for the device cookie).
func clientAt(ip net.IP, conns int, jar bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	c := &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			DialContext: d.DialContext, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true,
		},
	}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// attempt posts a login and returns its status, Retry-After and latency.
func (s *benchServer) attempt(c *http.Client, user, pw string) (int, time.Duration, time.Duration, error) {
	t0 := time.Now()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, pw)
	res, err := c.Post(s.url+"/api/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, 0, 0, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, time.Duration(retry) * time.Second, time.Since(t0), nil
}

// registerMany registers users name0..name(n-1), spread over addresses.
func (s *benchServer) registerMany(prefix string, n int) error {
	c := oneShotClient(runtime.NumCPU())
	var wg sync.WaitGroup
	var first atomic.Value
	sem := make(chan struct{}, runtime.NumCPU())
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.register(c, fmt.Sprintf("%s%d", prefix, i)); err != nil {
				first.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if err, _ := first.Load().(error); err != nil {
		return err
	}
	return nil
}

// abuse runs the five abuse rows on a fresh server.
func (b *bench) abuse(ctx context.Context) error {
	srv, err := b.startServer(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), b.cost)
	raw := rawRate(runtime.NumCPU(), b.dur, func() { bcrypt.CompareHashAndPassword(hash, []byte("correct horse battery staple")) })
	if err := b.burstRow(srv, raw); err != nil {
		return err
	}
	if err := b.starvationRow(srv); err != nil {
		return err
	}
	if err := b.floodRow(ctx, srv); err != nil {
		return err
	}
	return b.ownerAndGuessingRows(srv)
}

// burstRow: 50 users from 50 addresses log in at the same moment, honouring
// Retry-After: all get in, in about the time the hashes take.
func (b *bench) burstRow(srv *benchServer, raw float64) error {
	const n = 50
	if err := srv.registerMany("burst", n); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var failed, retried atomic.Int64
	var mu sync.Mutex
	var admitted []time.Duration
	var lastFailure string
	gate := make(chan struct{})
	// Each client honours Retry-After for as long as a patient person
	// would; a slow machine makes the row slower, not shorter of logins.
	const patience = 2 * time.Minute
	for i := range n {
		c := clientAt(net.IPv4(127, 20, 0, byte(i+1)), 1, false)
		wg.Go(func() {
			<-gate
			started := time.Now()
			for {
				st, retry, took, err := srv.attempt(c, fmt.Sprintf("burst%d", i), "correct horse battery staple")
				if err == nil && st == http.StatusOK {
					mu.Lock()
					admitted = append(admitted, took)
					mu.Unlock()
					return
				}
				if err == nil && st == http.StatusServiceUnavailable && retry > 0 && time.Since(started)+retry < patience {
					retried.Add(1)
					time.Sleep(retry)
					continue
				}
				failed.Add(1)
				mu.Lock()
				if err != nil {
					lastFailure = err.Error()
				} else {
					lastFailure = fmt.Sprintf("status %d after %v", st, time.Since(started).Round(time.Second))
				}
				mu.Unlock()
				return
			}
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	total := time.Since(start)
	const name = "burst: 50 users from 50 addresses at once, total time"
	if failed.Load() > 0 {
		b.add(benchRow{name: name, measured: total.Round(time.Millisecond).String(), goal: "≤ 1.25, all in", pass: false,
			note: fmt.Sprintf("%d of %d never got in (last: %s)", failed.Load(), n, lastFailure)})
		return nil
	}
	ideal := time.Duration(float64(n) / raw * float64(time.Second))
	ratio := float64(total) / float64(ideal)
	slowest := pct(admitted, 1)
	// An admitted login waits at most the budget, then takes one hash.
	withinBudget := slowest <= hashBudget+time.Duration(float64(runtime.NumCPU())/raw*float64(time.Second))+250*time.Millisecond
	b.add(benchRow{name: name, measured: total.Round(time.Millisecond).String(),
		baseline: ideal.Round(time.Millisecond).String() + " (50 ÷ raw bcrypt rate)", ratio: fmt.Sprintf("%.2f", ratio),
		goal: "≤ 1.25, all in", pass: ratio <= 1.25 && withinBudget,
		note: fmt.Sprintf("all %d got in; %d refusals with Retry-After were retried; slowest admitted answer %v (budget %v)", n, retried.Load(), slowest.Round(time.Millisecond), hashBudget)})
	return nil
}

// starvationRow: one address loops correct logins on 8 connections while
// 20 other users log in one after another from other addresses.
func (b *bench) starvationRow(srv *benchServer) error {
	if err := srv.registerMany("calm", 20); err != nil {
		return err
	}
	if err := srv.register(httpClient(1), "looper"); err != nil {
		return err
	}
	lone := func(i int) (time.Duration, error) {
		c := clientAt(net.IPv4(127, 21, 1, byte(i+1)), 1, false)
		st, _, took, err := srv.attempt(c, fmt.Sprintf("calm%d", i), "correct horse battery staple")
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("status %d", st)
		}
		return took, err
	}
	var alone []time.Duration
	for i := range 5 {
		took, err := lone(i)
		if err != nil {
			return fmt.Errorf("bench: a lone login: %w", err)
		}
		alone = append(alone, took)
	}
	looper := clientAt(net.IPv4(127, 21, 0, 1), 8, false)
	stop := make(chan struct{})
	var loops sync.WaitGroup
	var looped, slowed atomic.Int64
	for range 8 {
		loops.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch st, retry, _, _ := srv.attempt(looper, "looper", "correct horse battery staple"); st {
				case http.StatusOK:
					looped.Add(1)
				case http.StatusTooManyRequests, http.StatusServiceUnavailable:
					slowed.Add(1)
					time.Sleep(min(retry, 100*time.Millisecond))
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // the loop is under way
	var during []time.Duration
	refused := 0
	for i := range 20 {
		took, err := lone(i)
		if err != nil {
			refused++
			continue
		}
		during = append(during, took)
	}
	close(stop)
	loops.Wait()
	base := pct(alone, .5)
	p99 := pct(during, .99)
	ratio := float64(p99) / float64(base)
	b.add(benchRow{name: "starvation: 20 logins beside one address looping on 8 connections, p99", measured: p99.Round(time.Millisecond).String(),
		baseline: base.Round(time.Millisecond).String() + " alone", ratio: fmt.Sprintf("%.2f", ratio), goal: "≤ 3.0, 0 refused",
		pass: refused == 0 && ratio <= 3,
		note: fmt.Sprintf("%d of 20 refused; the looping address got %d logins and %d refusals", refused, looped.Load(), slowed.Load())})
	return nil
}

// floodRow: --flood (200,000) cheap failures from up to 65,536 addresses with fresh
// usernames while one account is locked: it stays locked, and the server's
// memory grows by a bounded amount.
func (b *bench) floodRow(ctx context.Context, srv *benchServer) error {
	// Lock the victim through the store, as 30 failures would: the lock
	// then outlasts the flood (15 minutes), so "still locked" is a fact
	// about the counter, not about timing.
	st, err := sqlitestore.Open(ctx, srv.db, sqlitestore.Options{})
	if err != nil {
		return err
	}
	seed := throttle.Rule{Free: 1000, ForgetAfter: 24 * time.Hour}
	for range 30 {
		if _, err := st.Throttle().Admit(ctx, "account:victim", time.Now(), seed); err != nil {
			st.Close()
			return err
		}
	}
	st.Close()
	probe := clientAt(net.IPv4(127, 22, 255, 1), 1, false)
	if s, _, _, err := srv.attempt(probe, "victim", "a guess"); err != nil || s != http.StatusTooManyRequests {
		return fmt.Errorf("bench: the victim is not locked before the flood (%d, %v)", s, err)
	}
	before, _ := srv.rss()
	total := b.flood
	addrs := min(total, 65_536)
	long := strings.Repeat("x", 1100)
	var next atomic.Int64
	var sent, odd atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 128 {
		wg.Go(func() {
			for {
				a := int(next.Add(1) - 1)
				if a >= addrs {
					return
				}
				ip := net.IPv4(127, 23+byte(a>>16), byte(a>>8), byte(a))
				c := clientAt(ip, 1, false)
				per := total / addrs
				if a < total%addrs {
					per++
				}
				for k := range per {
					s, _, _, err := srv.attempt(c, fmt.Sprintf("fresh%d_%d", a, k), long)
					sent.Add(1)
					if err != nil || (s != http.StatusUnauthorized && s != http.StatusTooManyRequests) {
						odd.Add(1)
					}
				}
				c.CloseIdleConnections()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	after, _ := srv.rss()
	s, _, _, err := srv.attempt(probe, "victim", "correct horse battery staple")
	locked := err == nil && s == http.StatusTooManyRequests
	growth := after - before
	b.add(benchRow{name: fmt.Sprintf("flood: %d failures from %d addresses, RSS growth", total, addrs), measured: mib(growth),
		goal: "≤ 64 MiB, victim still locked", pass: locked && growth <= 64<<20 && odd.Load() == 0,
		note: fmt.Sprintf("%d requests in %v; victim locked after: %v; %d answers other than 401/429", sent.Load(), took.Round(time.Second), locked, odd.Load())})
	return nil
}

// ownerAndGuessingRows run together for a minute (twelve times --duration):
// an attacker keeps one account locked while its owner logs in from a
// trusted device; 50 addresses guess at a second account at once, again
// whenever Retry-After runs out, beside one sequential guesser on a third.
func (b *bench) ownerAndGuessingRows(srv *benchServer) error {
	for _, u := range []string{"owner", "target", "single"} {
		if err := srv.register(httpClient(1), u); err != nil {
			return err
		}
	}
	window := 12 * b.dur
	owner := clientAt(net.IPv4(127, 24, 0, 1), 1, true)
	if s, _, _, err := srv.attempt(owner, "owner", "correct horse battery staple"); err != nil || s != http.StatusOK {
		return fmt.Errorf("bench: the owner's first login: %d, %v", s, err)
	}
	deadline := time.Now().Add(window)
	// guess loops on user from c until the window ends and returns how
	// many guesses were evaluated (answered 401).
	guess := func(c *http.Client, user string, n *atomic.Int64) {
		for i := 0; time.Now().Before(deadline); i++ {
			s, retry, _, err := srv.attempt(c, user, "guess "+strconv.Itoa(i))
			switch {
			case err != nil:
				time.Sleep(100 * time.Millisecond)
			case s == http.StatusUnauthorized:
				n.Add(1)
			default:
				time.Sleep(max(retry, 100*time.Millisecond))
			}
		}
	}
	var wg sync.WaitGroup
	var attacker, parallel, single atomic.Int64
	wg.Go(func() { guess(clientAt(net.IPv4(127, 24, 0, 2), 1, false), "owner", &attacker) })
	wg.Go(func() { guess(clientAt(net.IPv4(127, 24, 0, 3), 1, false), "single", &single) })
	for i := range 50 {
		c := clientAt(net.IPv4(127, 24, 1, byte(i+1)), 1, false)
		wg.Go(func() { guess(c, "target", &parallel) })
	}
	ownerOK := 0
	for range 10 {
		time.Sleep(window / 11)
		if s, _, _, err := srv.attempt(owner, "owner", "correct horse battery staple"); err == nil && s == http.StatusOK {
			ownerOK++
		}
	}
	wg.Wait()
	b.add(benchRow{name: fmt.Sprintf("owner: logins from a trusted device while an attacker keeps the account locked (%v)", window.Round(time.Second)),
		measured: fmt.Sprintf("%d of 10", ownerOK), goal: "10 of 10", pass: ownerOK == 10,
		note: fmt.Sprintf("the attacker's guesses evaluated meanwhile: %d", attacker.Load())})
	b.add(benchRow{name: fmt.Sprintf("parallel guessing: 50 addresses at once on one account (%v), guesses evaluated", window.Round(time.Second)),
		measured: strconv.FormatInt(parallel.Load(), 10), baseline: strconv.FormatInt(single.Load(), 10) + " by one sequential guesser",
		ratio: fmt.Sprintf("%.2f", float64(parallel.Load())/float64(max(single.Load(), 1))), goal: "≤ 1.00", pass: parallel.Load() <= single.Load()})
	return nil
}
