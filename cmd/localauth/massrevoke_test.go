package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/pgstore"

	"github.com/localauth/localauth/internal/testkit"
)

// envInt reads a test size from the environment, or returns def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// massTab is one live tab on /protected, read by its own goroutine, which
// records when the tab was pushed to the anonymous state.
type massTab struct {
	user   int
	pushed chan time.Time
}

// dialFrom opens a live tab on srv from the loopback address src (the
// servers cap tabs per client address), signs it in with tok and waits for
// the private page.
func dialFrom(t *testing.T, srv *Server, src net.IP, tok, name string, user int) *massTab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/_live", &websocket.DialOptions{
		HTTPClient: client, HTTPHeader: http.Header{"Origin": {srv.URL}},
	})
	if err != nil {
		t.Fatalf("dialing a tab from %v: %v", src, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	hello, _ := json.Marshal(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": "", "local": map[string]string{"_auth_token": tok}})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("tab of %s before its private page: %v", name, err)
		}
		if strings.Contains(string(b), "This is private data for "+name+".") {
			break
		}
	}
	tab := &massTab{user: user, pushed: make(chan time.Time, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if strings.Contains(string(b), `"private_data":""`) {
				tab.pushed <- time.Now()
				return
			}
		}
	}()
	return tab
}

// Mass revocation across instances: four servers on one PostgreSQL
// database, every user signed in with a bearer token and live tabs spread
// over the servers; then every user is disabled by separate admin command
// runs, eight at a time. Every token is refused by every server and every
// tab is pushed out. Sizes: LOCALAUTH_MASS_USERS (default 24) and
// LOCALAUTH_MASS_TABS per user (default 4); the replay is 100 × 10.
func TestMassDisableAcrossInstances(t *testing.T) {
	db := testkit.FreshDatabase(t)
	users, tabsPer := envInt("LOCALAUTH_MASS_USERS", 24), envInt("LOCALAUTH_MASS_TABS", 4)
	const instances = 4
	var servers []*Server
	for range instances {
		servers = append(servers, StartServer(t, "--db", db.String()))
	}

	// Users and their sessions, made through the library on the same
	// database, as fast as cost-4 hashes allow.
	ctx := context.Background()
	st, err := pgstore.Open(ctx, db.String(), pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Setting up as an administrator would: no network client.
	svc, err := localauth.New(st, localauth.Config{Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	names := make([]string, users)
	tokens := make([]string, users)
	var tabs []*massTab
	for i := range users {
		names[i] = fmt.Sprintf("user%03d", i)
		if _, err := svc.Register(ctx, names[i], alicePW); err != nil {
			t.Fatal(err)
		}
		// The bearer token comes from the API of one of the servers.
		tokens[i] = bearerToken(t, servers[i%instances], names[i])
		src := net.IPv4(127, 0, 1+byte(i/250), 1+byte(i%250))
		for k := range tabsPer {
			tabs = append(tabs, dialFrom(t, servers[(i+k)%instances], src, tokens[i], names[i], i))
		}
	}
	// Every token is accepted, and so cached, on every server.
	for i, tok := range tokens {
		for _, srv := range servers {
			if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok); r.status != 200 {
				t.Fatalf("%s on %s before the disable: %d", names[i], srv.URL, r.status)
			}
		}
	}

	// Disable everyone: one admin command run per user, with its own
	// connection pool, eight running at a time.
	cli := &CLI{tb: t, db: db.String()}
	disabledAt := make([]time.Time, users)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, stderr, err := cli.Run("", "user", "disable", names[i]); err != nil {
				errs <- fmt.Errorf("disable %s: %v: %s", names[i], err, stderr)
				return
			}
			disabledAt[i] = time.Now()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Every tab is pushed out. The deadline is generous for a loaded
	// machine and far below the 30 s after which caches re-read the store
	// anyway, so a lost revocation still fails the test.
	deadline := time.After(15 * time.Second)
	var delays []time.Duration
	for n, tab := range tabs {
		select {
		case at := <-tab.pushed:
			delays = append(delays, max(0, at.Sub(disabledAt[tab.user])))
		case <-deadline:
			t.Fatalf("tab %d of %s still signed in 15s after the disable (%d of %d tabs pushed out)", n, names[tab.user], len(delays), len(tabs))
		}
	}
	// Every token is refused by every server, on the first try.
	for i, tok := range tokens {
		for _, srv := range servers {
			if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok); r.status != 401 {
				t.Fatalf("%s's token on %s after the disable: %d, want 401", names[i], srv.URL, r.status)
			}
		}
	}
	slices.Sort(delays)
	t.Logf("%d users, %d tabs on %d servers: tab pushed out after its user's disable returned: p50 %v, p99 %v, max %v",
		users, len(tabs), instances, delays[len(delays)/2], delays[len(delays)*99/100], delays[len(delays)-1])
}
