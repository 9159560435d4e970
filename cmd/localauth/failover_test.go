package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/testkit"
)

// The promise of the README's deployment text, kept: two instances on a
// primary with a synchronous standby, behind the multi-host URL with
// target_session_attrs=read-write. Logins and logouts run on both
// throughout; the primary is killed with SIGKILL and the standby promoted.
// Both instances serve again, every login and logout acknowledged before,
// during or after the crash holds on both, and a logout after the failover
// reaches the other instance.
//
// It builds its own PostgreSQL servers (initdb, pg_basebackup), so it needs
// no server of LOCALAUTH_TEST_POSTGRES, but runs with the PostgreSQL tests
// of an end-to-end run: LOCALAUTH_E2E=1 and LOCALAUTH_TEST_POSTGRES set, as
// .ci/run sets them.
func TestFailoverToSynchronousStandby(t *testing.T) {
	if os.Getenv("LOCALAUTH_E2E") != "1" || os.Getenv(testkit.PostgresEnv) == "" {
		t.Skip("failover test: set LOCALAUTH_E2E=1 and LOCALAUTH_TEST_POSTGRES, with PostgreSQL's initdb and pg_basebackup installed, to run it")
	}
	pg := testkit.StartReplicated(t)
	t.Setenv(secretKeyEnv, testSecretKey)
	db := pg.URL("postgres")
	// One address for every client here: the per-address login rate is
	// not what is tested.
	args := []string{"--logins-per-minute", "100000"}
	a := testkit.Serve(t, db, args...)
	b := testkit.Serve(t, db, args...)
	instances := []*testkit.Process{a, b}

	users := []string{"ann", "bea", "cid", "dot"}
	hc := &http.Client{Timeout: 20 * time.Second}
	for i, u := range users {
		if st, _ := call(hc, "POST", instances[i%2].URL+"/api/auth/register", "", creds(u)); st != 201 {
			t.Fatalf("registering %s: %d", u, st)
		}
	}

	// The workload: on each instance, workers log in (a bearer token) and
	// log out every other session, recording what was acknowledged.
	var (
		mu        sync.Mutex
		kept      []string // tokens of acknowledged logins never logged out
		loggedOut []string // tokens of acknowledged logouts
		unsure    int      // logouts sent whose answer never came
		slowest   time.Duration
		promoted  time.Time
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		inst := instances[w%2]
		user := users[w]
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				began := time.Now()
				st, body := call(hc, "POST", inst.URL+"/api/auth/token", "", creds(user))
				mu.Lock()
				if !promoted.IsZero() && began.After(promoted) {
					slowest = max(slowest, time.Since(began))
				}
				mu.Unlock()
				if st != 200 {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				tok := jsonField(body, "token")
				if i%2 == 0 {
					mu.Lock()
					kept = append(kept, tok)
					mu.Unlock()
					continue
				}
				st, _ = call(hc, "POST", inst.URL+"/api/auth/logout", tok, "")
				mu.Lock()
				switch st {
				case 204:
					loggedOut = append(loggedOut, tok)
				case 0, 503:
					unsure++ // not acknowledged: it may or may not have happened
				default:
					t.Errorf("logout on %s answered %d", inst.URL, st)
				}
				mu.Unlock()
			}
		})
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				stop()
				wg.Wait()
				t.Fatalf("%s: not within 2 minutes", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(kept), len(loggedOut)
	}
	waitFor("logins and logouts before the crash", func() bool { k, l := counts(); return k >= 6 && l >= 6 })

	pg.KillPrimary()
	k0, l0 := counts()
	time.Sleep(300 * time.Millisecond) // the instances find the primary gone
	at, promoting := pg.Promote()
	mu.Lock()
	promoted = at
	mu.Unlock()

	// Each instance serves again: its readiness probe reaches the new
	// primary, and a login (a bcrypt comparison and writes) succeeds on it.
	ready := make([]time.Duration, len(instances))
	back := make([]time.Duration, len(instances))
	var probes sync.WaitGroup
	for i, inst := range instances {
		probes.Go(func() {
			for time.Since(at) < 2*time.Minute {
				if st, _ := call(hc, "GET", inst.URL+"/readyz", "", ""); st == 200 {
					ready[i] = time.Since(at)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		probes.Go(func() {
			for time.Since(at) < 2*time.Minute {
				if st, _ := call(hc, "POST", inst.URL+"/api/auth/token", "", creds(users[i])); st == 200 {
					back[i] = time.Since(at)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	probes.Wait()
	for i, d := range back {
		if d == 0 || ready[i] == 0 {
			stop()
			wg.Wait()
			t.Fatalf("instance %d did not serve again within 2 minutes of the promotion", i+1)
		}
	}
	waitFor("logins and logouts after the failover", func() bool { k, l := counts(); return k >= k0+6 && l >= l0+6 })
	stop()
	wg.Wait()

	// Nothing acknowledged was lost or undone, on either instance.
	for _, inst := range instances {
		for _, tok := range kept {
			if st, _ := call(hc, "GET", inst.URL+"/api/auth/me", tok, ""); st != 200 {
				t.Errorf("an acknowledged login is lost on %s: me answers %d", inst.URL, st)
			}
		}
		for _, tok := range loggedOut {
			if st, _ := call(hc, "GET", inst.URL+"/api/auth/me", tok, ""); st != 401 {
				t.Errorf("an acknowledged logout is undone on %s: me answers %d", inst.URL, st)
			}
		}
	}

	// A logout after the failover reaches the other instance: a's logout
	// of a session b has just served (and cached) is refused by b.
	st, body := call(hc, "POST", a.URL+"/api/auth/token", "", creds("ann"))
	tok := jsonField(body, "token")
	if st != 200 {
		t.Fatalf("login after the failover: %d", st)
	}
	if st, _ := call(hc, "GET", b.URL+"/api/auth/me", tok, ""); st != 200 {
		t.Fatalf("the other instance refuses a new session: %d", st)
	}
	if st, _ := call(hc, "POST", a.URL+"/api/auth/logout", tok, ""); st != 204 {
		t.Fatalf("logout after the failover: %d", st)
	}
	loggedOutAt := time.Now()
	reached := time.Duration(0)
	// Under CacheMaxAge (30 s): only the revocation's announcement gets
	// it there sooner.
	for time.Since(loggedOutAt) < 20*time.Second {
		if st, _ := call(hc, "GET", b.URL+"/api/auth/me", tok, ""); st == 401 {
			reached = time.Since(loggedOutAt)
			break
		}
		time.Sleep(time.Millisecond)
	}
	if reached == 0 {
		t.Fatal("a logout on one instance after the failover did not reach the other within 20 s")
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("failover: %d logins kept and %d logouts acknowledged (%d before the crash: %d and %d), %d logouts unanswered; "+
		"pg_ctl promote took %v; after it was asked, ready again (/readyz): instance 1 %v, instance 2 %v; a login served: instance 1 %v, instance 2 %v; slowest request after the promotion %v; "+
		"a logout after the failover reached the other instance in %v",
		len(kept), len(loggedOut), k0+l0, k0, l0, unsure, promoting.Round(time.Millisecond), ready[0].Round(time.Millisecond), ready[1].Round(time.Millisecond), back[0].Round(time.Millisecond), back[1].Round(time.Millisecond),
		slowest.Round(time.Millisecond), reached.Round(time.Millisecond))
}

// call sends a request with an optional bearer token and JSON body and
// returns the status (0 when no answer came) and the body.
func call(hc *http.Client, method, url, token, body string) (int, string) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, ""
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// creds is a login or registration body; every user has one password.
func creds(user string) string {
	return fmt.Sprintf(`{"username":%q,"password":"correct horse battery staple"}`, user)
}

// jsonField returns the string value of a top-level field of a small JSON
// object, or "".
func jsonField(body, name string) string {
	_, rest, ok := strings.Cut(body, `"`+name+`":"`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
