package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"
)

// massRevocation is the mass-revocation row: --mass-servers instances of
// serve (processes of their own) on one fresh PostgreSQL database, users
// each signed in with one token held by --mass-tabs live tabs spread over the
// instances; then every user is disabled at once, by concurrent calls of an
// administrative Service. Each tab's delay runs from its user's call
// returning to the tab being pushed to the anonymous state.
func (b *bench) massRevocation(ctx context.Context) error {
	if b.postgres == "" {
		b.add(benchRow{name: "mass revocation across instances", measured: "not run", goal: "p99 ≤ 1s",
			note: "needs PostgreSQL: --postgres URL (or LOCALAUTH_TEST_POSTGRES)"})
		return nil
	}
	dsn, drop, err := freshDatabase(ctx, b.postgres)
	if err != nil {
		return err
	}
	defer drop()
	var servers []*benchServer
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for range b.massServers {
		s, err := startChild(ctx, b.exe, dsn, b.cost, "--logins-per-minute", "1000000")
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	users, tabsPer := b.massUsers, b.massTabs
	names := make([]string, users)
	tokens := make([]string, users)
	c := oneShotClient(8)
	for i := range users {
		names[i] = fmt.Sprintf("mass%03d", i)
		if err := servers[i%len(servers)].register(c, names[i]); err != nil {
			return err
		}
		st, body, err := postBody(c, servers[i%len(servers)].url+"/api/auth/token", creds(names[i]))
		var tok struct{ Token string }
		json.Unmarshal(body, &tok)
		if err != nil || st != http.StatusOK || tok.Token == "" {
			return fmt.Errorf("bench: token for %s: %d %v", names[i], st, err)
		}
		tokens[i] = tok.Token
	}

	// Tabs, each from the loopback address of its (user, instance) pair:
	// the instances cap tabs per address.
	type tab struct {
		user   int
		pushed chan time.Time
		c      *websocket.Conn
	}
	var tabs []*tab
	var mu sync.Mutex
	var wg sync.WaitGroup
	var failed atomic.Value
	sem := make(chan struct{}, 64)
	for i := range users {
		for k := range tabsPer {
			srv := servers[(i+k)%len(servers)]
			src := net.IPv4(127, 40+byte(i/250), byte(i%250), byte(1+(i+k)%len(servers)))
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				c, err := signedInTab(ctx, srv.url, src, tokens[i], names[i])
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				t := &tab{user: i, pushed: make(chan time.Time, 1), c: c}
				go func() {
					for {
						_, m, err := c.Read(context.Background())
						if err != nil {
							return
						}
						if strings.Contains(string(m), `"private_data":""`) {
							t.pushed <- time.Now()
							return
						}
					}
				}()
				mu.Lock()
				tabs = append(tabs, t)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	defer func() {
		for _, t := range tabs {
			t.c.CloseNow()
		}
	}()
	if err, _ := failed.Load().(error); err != nil {
		return fmt.Errorf("bench: opening the tabs: %w", err)
	}

	// Disable everyone at once, as concurrent administrators would: one
	// call per user on an administrative Service of its own, with its own
	// connections, as the localauth command opens.
	admin, err := pgstore.Open(ctx, dsn, pgstore.Options{MaxConns: 16, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer admin.Close()
	adminSvc, err := localauth.New(admin, localauth.Config{NoClientAddress: true, PurgeInterval: -1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer adminSvc.Close()
	ids := make([]int64, users)
	for i, name := range names {
		u, err := adminSvc.UserByName(ctx, name)
		if err != nil {
			return fmt.Errorf("bench: finding %s: %w", name, err)
		}
		ids[i] = u.ID
	}
	disabled := make([]time.Time, users)
	var cmdErr atomic.Value
	start := make(chan struct{})
	for i := range users {
		wg.Go(func() {
			<-start
			if err := adminSvc.DisableUser(ctx, ids[i]); err != nil {
				cmdErr.CompareAndSwap(nil, fmt.Errorf("bench: disabling %s: %w", names[i], err))
				return
			}
			disabled[i] = time.Now()
		})
	}
	close(start)
	wg.Wait()
	if err, _ := cmdErr.Load().(error); err != nil {
		return err
	}
	deadline := time.After(30 * time.Second)
	var delays []time.Duration
	missed := 0
	for _, t := range tabs {
		select {
		case at := <-t.pushed:
			delays = append(delays, max(0, at.Sub(disabled[t.user])))
		case <-deadline:
			missed++
		}
	}
	// Every token is refused by every instance.
	accepted := 0
	for _, tok := range tokens {
		for _, s := range servers {
			req, _ := http.NewRequest("GET", s.url+"/api/auth/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if res, err := c.Do(req); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					accepted++
				}
			}
		}
	}
	slices.Sort(delays)
	p99 := pct(delays, .99)
	b.add(benchRow{
		name:     fmt.Sprintf("mass revocation: %d users disabled at once, %d tabs on %d instances, tab out p99", users, len(tabs), len(servers)),
		measured: p99.Round(time.Millisecond).String(), goal: "≤ 1s, every tab, every token",
		pass: missed == 0 && accepted == 0 && p99 <= time.Second,
		note: fmt.Sprintf("p50 %v, max %v; %d tabs not pushed within 30 s; %d (token, instance) pairs still accepted",
			pct(delays, .5).Round(time.Millisecond), pct(delays, 1).Round(time.Millisecond), missed, accepted),
	})
	return nil
}

// signedInTab opens a live tab on base from the loopback address src,
// signed in with tok, and waits until it shows name's private data.
func signedInTab(ctx context.Context, base string, src net.IP, tok, name string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/_live", &websocket.DialOptions{
		HTTPClient: hc, HTTPHeader: http.Header{"Origin": {base}},
	})
	if err != nil {
		return nil, err
	}
	hello, _ := json.Marshal(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": "", "local": map[string]string{"_auth_token": tok}})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		c.CloseNow()
		return nil, err
	}
	for {
		_, m, err := c.Read(ctx)
		if err != nil {
			c.CloseNow()
			return nil, err
		}
		if strings.Contains(string(m), "This is private data for "+name+".") {
			return c, nil
		}
	}
}

// postBody posts JSON and returns the status and the body.
func postBody(c *http.Client, u, body string) (int, []byte, error) {
	res, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// freshDatabase creates a database of its own on the server dsn names and
// returns its URL and a function that drops it.
func freshDatabase(ctx context.Context, dsn string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", nil, fmt.Errorf("bench: connecting to PostgreSQL: %w", err)
	}
	name := "localauth_bench_" + strings.ToLower(rand.Text()[:8])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() {
		admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		admin.Close(context.Background())
	}, nil
}
