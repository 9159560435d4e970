package main

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/localauth/localauth/internal/pgbouncer"
)

// The pooler rows compare the store through PgBouncer in transaction mode
// (a pool of 10 server connections, as many as an instance's pool) with
// the store direct, on one fresh database, each server a process of its
// own driven by the `me` rows' generator:
//
//   - GET /api/auth/me with the session cache on, as served: the pooler
//     is met only by cache misses.
//   - GET /api/auth/me with the cache off, so that every request reads
//     the session through the pool: what each statement mode costs
//     (default_query_exec_mode), against pgx's own default, named prepared
//     statements (cache_statement), which works direct only.
//   - logins/s at bcrypt cost 4, so that the database's share of a login
//     (the throttle's transaction, the user, the session's transaction)
//     shows beside the hash.
//
// The bare handler's rate under the same generator is the generator's
// ceiling: a `me` rate well under it is the server's, not the generator's.
// Every figure is from interleaved rounds and each ratio is taken within
// its round; the medians are reported.
func (b *bench) pooler(ctx context.Context) error {
	if b.postgres == "" {
		b.add(benchRow{name: "me through PgBouncer (transaction mode) vs direct", measured: "not run", goal: "≥ 0.90",
			note: "needs PostgreSQL: --postgres URL (or LOCALAUTH_TEST_POSTGRES)"})
		return nil
	}
	dsn, drop, err := freshDatabase(ctx, b.postgres)
	if err != nil {
		return err
	}
	defer drop()
	direct, err := neturl.Parse(dsn)
	if err != nil {
		return err
	}
	pb, err := pgbouncer.Start(ctx, direct, 10)
	if errors.Is(err, pgbouncer.ErrMissing) {
		b.add(benchRow{name: "me through PgBouncer (transaction mode) vs direct", measured: "not run", goal: "≥ 0.90",
			note: "needs pgbouncer (apt-get install pgbouncer)"})
		return nil
	}
	if err != nil {
		return err
	}
	defer pb.Close()
	pooled := pb.URL(direct)
	withMode := func(u *neturl.URL, mode string) string {
		v := *u
		q := v.Query()
		if mode != "" {
			q.Set("default_query_exec_mode", mode)
		}
		v.RawQuery = q.Encode()
		return v.String()
	}
	type variant struct {
		name string
		db   string
		opts []string
		srv  *benchServer
		ck   string
		me   []float64
	}
	common := []string{"--token-storage", "cookie", "--logins-per-minute", "1000000"}
	viaPool := []string{"--listen-db", dsn}
	cacheOff := []string{"--cache-size", "-1"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	variants := []*variant{
		{name: "direct", db: dsn, opts: common},
		{name: "PgBouncer", db: pooled.String(), opts: cat(common, viaPool)},
		{name: "cache off, direct, cache_statement (pgx's default)", db: withMode(direct, "cache_statement"), opts: cat(common, cacheOff)},
		{name: "cache off, direct, cache_describe (default)", db: dsn, opts: cat(common, cacheOff)},
		{name: "cache off, PgBouncer, cache_describe (default)", db: pooled.String(), opts: cat(common, viaPool, cacheOff)},
		{name: "cache off, PgBouncer, exec", db: withMode(pooled, "exec"), opts: cat(common, viaPool, cacheOff)},
		{name: "cache off, PgBouncer, simple_protocol", db: withMode(pooled, "simple_protocol"), opts: cat(common, viaPool, cacheOff)},
	}
	defer func() {
		for _, v := range variants {
			if v.srv != nil {
				v.srv.stop()
			}
		}
	}()
	const cost = 4
	for _, v := range variants {
		if v.srv, err = startChild(ctx, b.exe, v.db, cost, v.opts...); err != nil {
			return fmt.Errorf("bench: starting the %s server: %w", v.name, err)
		}
	}
	c := httpClient(1)
	loginUsers := runtime.NumCPU() * 2
	for i := range loginUsers {
		if err := variants[0].srv.register(c, fmt.Sprintf("pool%d", i)); err != nil {
			return err
		}
	}
	for _, v := range variants {
		ck, err := v.srv.login(c, "pool0")
		if err != nil {
			return err
		}
		v.ck = ck.Name + "=" + ck.Value
	}
	gen, haveWrk := wrkGenerator()
	if !haveWrk {
		gen = goGenerator()
	}
	const rounds = 5
	seg := max(time.Second, (b.dur * 2 / 5).Round(time.Second))
	var bare []float64
	for range rounds {
		r, err := gen.run(ctx, variants[0].srv.bare+"/", variants[0].ck, seg)
		if err != nil {
			return err
		}
		bare = append(bare, r)
		for _, v := range variants {
			r, err := gen.run(ctx, v.srv.url+"/api/auth/me", v.ck, seg)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			v.me = append(v.me, r)
		}
	}
	// Logins, interleaved: two workers per CPU, each on an account of its
	// own (one account's logins are decided one at a time).
	var loginDirect, loginPooled []float64
	for range 3 {
		for i, v := range variants[:2] {
			r, err := loginLoad(v.srv, loginUsers, loginUsers, seg)
			if err != nil {
				return fmt.Errorf("%s logins: %w", v.name, err)
			}
			if i == 0 {
				loginDirect = append(loginDirect, r)
			} else {
				loginPooled = append(loginPooled, r)
			}
		}
	}
	genNote := fmt.Sprintf("%s; %d rounds of %v, interleaved; the generator's ceiling, the bare handler: %.0f req/s (median)", gen.name, rounds, seg, median(bare))
	rP := median(ratioList(variants[1].me, variants[0].me))
	b.add(benchRow{name: "GET /api/auth/me through PgBouncer (transaction mode, pool 10), cache on", measured: fmt.Sprintf("%.0f req/s", median(variants[1].me)),
		baseline: fmt.Sprintf("%.0f req/s direct", median(variants[0].me)), ratio: fmt.Sprintf("%.2f", rP), goal: "≥ 0.90", pass: rP >= 0.9,
		note: genNote + "; ratios per round " + ratios(variants[1].me, variants[0].me)})
	base := variants[2]
	for _, v := range variants[3:] {
		r := median(ratioList(v.me, base.me))
		row := benchRow{name: "GET /api/auth/me, " + v.name, measured: fmt.Sprintf("%.0f req/s", median(v.me)),
			baseline: fmt.Sprintf("%.0f req/s direct, cache_statement", median(base.me)), ratio: fmt.Sprintf("%.2f", r),
			note: "every request reads the session through the pool; ratios per round " + ratios(v.me, base.me)}
		if v.name == "cache off, PgBouncer, cache_describe (default)" {
			r2 := median(ratioList(v.me, variants[3].me))
			row.goal, row.pass = "≥ 0.90 of direct cache_describe", r2 >= 0.9
			row.note += fmt.Sprintf("; %.2f of direct with the same mode (per round %s)", r2, ratios(v.me, variants[3].me))
		}
		b.add(row)
	}
	rL := median(ratioList(loginPooled, loginDirect))
	b.add(benchRow{name: fmt.Sprintf("logins/s through PgBouncer vs direct, cost %d", cost), measured: fmt.Sprintf("%.1f/s", median(loginPooled)),
		baseline: fmt.Sprintf("%.1f/s direct", median(loginDirect)), ratio: fmt.Sprintf("%.2f", rL), goal: "≥ 0.90", pass: rL >= 0.9,
		note: fmt.Sprintf("%d workers, an account each, 3 rounds of %v, interleaved; ratios per round %s", loginUsers, seg, ratios(loginPooled, loginDirect))})
	return nil
}

// loginLoad runs workers logging in to srv for d, worker i as account
// pool(i mod users), and returns logins/s; a failed login is an error.
func loginLoad(srv *benchServer, workers, users int, d time.Duration) (float64, error) {
	c := oneShotClient(workers)
	deadline := time.Now().Add(d)
	var (
		n       atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	start := time.Now()
	for i := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := srv.login(c, fmt.Sprintf("pool%d", i%users)); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return float64(n.Load()) / time.Since(start).Seconds(), nil
}
