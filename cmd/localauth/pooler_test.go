package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localauth/localauth/internal/loopback"
	"github.com/localauth/localauth/internal/testkit"
)

// Four serve processes with --db through PgBouncer in transaction mode (a
// pool of five server connections) and --listen-db direct: 40 users
// register and log in across them, a logout on one is refused by the three
// others within a second, and under load on all four the database sees at
// most 11 connections (5 pooled, 4 listening, 2 spare) while no request
// fails.
func TestFourServersBehindPgBouncer(t *testing.T) {
	db := testkit.FreshDatabase(t)
	pooled := testkit.PgBouncer(t, db, 5)
	t.Setenv("LOCALAUTH_SECRET_KEY", hex.EncodeToString([]byte(rand.Text() + rand.Text())[:32]))
	var servers []*testkit.Process
	for range 4 {
		servers = append(servers, testkit.Serve(t, pooled.String(), "--listen-db", db.String(), "--logins-per-minute", "1000000",
			// Logins wait for bcrypt rather than be refused as busy on a
			// loaded machine: what is tested is the database's side.
			"--hash-queue-wait", "30s"))
	}
	client := loopback.OneShotClient(8)
	// call and login may run on several goroutines: they return errors.
	call := func(method, u, body, token string) (int, string, error) {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), nil
	}
	login := func(srv *testkit.Process, user string) (string, error) {
		status, body, err := call("POST", srv.URL+"/api/auth/token", `{"username":"`+user+`","password":"`+alicePW+`"}`, "")
		var out struct{ Token string }
		json.Unmarshal([]byte(body), &out)
		if err == nil && (status != 200 || out.Token == "") {
			err = fmt.Errorf("login of %s on %s: %d %s", user, srv.URL, status, body)
		}
		return out.Token, err
	}

	// 40 users register on one instance and log in on another, four at
	// a time.
	tokens := make([]string, 40)
	errs := make([]error, 40)
	var reg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range tokens {
		reg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			user := fmt.Sprintf("user%02d", i)
			status, body, err := call("POST", servers[i%4].URL+"/api/auth/register", `{"username":"`+user+`","password":"`+alicePW+`"}`, "")
			if err == nil && status != 201 {
				err = fmt.Errorf("register %s: %d %s", user, status, body)
			}
			if err == nil {
				tokens[i], err = login(servers[(i+1)%4], user)
			}
			errs[i] = err
		})
	}
	reg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Load on all four: me with every token, and logins, while the
	// database's connections are counted.
	counter, err := pgx.Connect(context.Background(), strings.Replace(db.String(), db.Path, "/postgres", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer counter.Close(context.Background())
	count := func() int {
		var n int
		if err := counter.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, strings.TrimPrefix(db.Path, "/")).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	loadClient := loopback.Client(32)
	var (
		requests, failures atomic.Int64
		firstFailure       atomic.Value
		wg                 sync.WaitGroup
	)
	stop := make(chan struct{})
	for g := range 16 {
		wg.Go(func() {
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				srv := servers[i%4]
				req, _ := http.NewRequest("GET", srv.URL+"/api/auth/me", nil)
				req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
				if g < 4 && i%10 == 0 {
					// Each goroutine logs in as a user of its own: one
					// account's logins are not run in parallel.
					req, _ = http.NewRequest("POST", srv.URL+"/api/auth/token", strings.NewReader(`{"username":"`+fmt.Sprintf("user%02d", g)+`","password":"`+alicePW+`"}`))
					req.Header.Set("Content-Type", "application/json")
				}
				requests.Add(1)
				res, err := loadClient.Do(req)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						err = fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, res.StatusCode)
					}
				}
				if err != nil {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	most := 0
	for range 40 {
		most = max(most, count())
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("under load: %d requests on 4 instances, %d failed; at most %d connections to the database", requests.Load(), failures.Load(), most)
	if failures.Load() > 0 {
		t.Fatalf("%d of %d requests failed, first: %v", failures.Load(), requests.Load(), firstFailure.Load())
	}
	if most > 11 {
		t.Fatalf("%d connections to the database under load, want at most 11 (5 pooled + 4 listening + 2 spare)", most)
	}

	// A logout on one instance is refused by the three others within 1 s.
	var worst time.Duration
	for i := range 8 {
		from := servers[i%4]
		tok, err := login(from, fmt.Sprintf("user%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range servers {
			if status, _, err := call("GET", srv.URL+"/api/auth/me", "", tok); status != 200 {
				t.Fatalf("a fresh session on %s: %d %v", srv.URL, status, err)
			}
		}
		if status, body, err := call("POST", from.URL+"/api/auth/logout", "", tok); status != 204 {
			t.Fatalf("logout: %d %s %v", status, body, err)
		}
		start := time.Now()
		for _, srv := range servers {
			for {
				status, _, err := call("GET", srv.URL+"/api/auth/me", "", tok)
				if err != nil {
					t.Fatal(err)
				}
				if status == 401 {
					break
				}
				// Well under the cache's 30 s age bound: the revocation
				// came through the log, not the cache's expiry.
				if time.Since(start) > 10*time.Second {
					t.Fatalf("%s still accepts a session 10s after its logout on %s (%d)", srv.URL, from.URL, status)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("logout on one instance refused by all four within %v at worst, over 8 logouts", worst)
}
