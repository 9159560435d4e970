package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// loneLogins is how many logins the lone-login row times.
const loneLogins = 30

// loneLogin measures one successful login at a time, from outside, against
// one bcrypt comparison at the same cost (10, the production minimum, where
// the rest of a login weighs most): a fresh server at that cost, each login
// a POST /api/auth/login from an address of its own on a new connection,
// alternated with a comparison in this process, so that the machine's other
// load falls on both alike. The ratio is that of the medians.
func (b *bench) loneLogin(ctx context.Context) error {
	const cost = 10
	srv, err := startChild(ctx, b.exe, filepath.Join(b.dir, fmt.Sprintf("lone-%d.db", time.Now().UnixNano())), cost)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := srv.register(httpClient(1), "lone"); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse battery staple"), cost)
	if err != nil {
		return err
	}
	var logins, compares []time.Duration
	for range loneLogins {
		c := oneShotClient(1)
		t0 := time.Now()
		st, _, err := srv.post(c, "/api/auth/login", creds("lone"))
		d := time.Since(t0)
		c.CloseIdleConnections()
		if err != nil {
			return err
		}
		if st != 200 {
			return fmt.Errorf("bench: a lone login: status %d", st)
		}
		logins = append(logins, d)
		t0 = time.Now()
		if err := bcrypt.CompareHashAndPassword(hash, []byte("correct horse battery staple")); err != nil {
			return err
		}
		compares = append(compares, time.Since(t0))
	}
	ml, mc := median(durations(logins)), median(durations(compares))
	r := ml / mc
	b.add(benchRow{name: "one successful login at a time, cost 10, each from its own address",
		measured: fmt.Sprintf("%.1f ms", ml), baseline: fmt.Sprintf("%.1f ms bcrypt comparison", mc),
		ratio: fmt.Sprintf("%.2f", r), goal: "≤ 1.05", pass: r <= 1.05,
		note: fmt.Sprintf("%d logins alternated with in-process comparisons; medians; per-pair ratios %s", loneLogins, pairRatios(logins, compares))})
	return nil
}

// durations converts to milliseconds.
func durations(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// pairRatios lists a[i]/b[i], sorted, for the note.
func pairRatios(a, b []time.Duration) string {
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = float64(a[i]) / float64(b[i])
	}
	slices.Sort(rs)
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, " ")
}
