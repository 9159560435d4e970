package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"

	"github.com/localauth/localauth/internal/loopback"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/pgstore"
)

// StartChild runs "localauth serve" in a process of its own, so that it
// can be killed.
func StartChild(tb testing.TB, db string, args ...string) *testkit.Process {
	tb.Helper()
	return testkit.Serve(tb, db, args...)
}

// RL4: kill -9 during loops of registration, login and password change;
// after each restart no user is without a valid hash, no session without its
// user, no canonical username twice, and every acknowledged registration
// and password change is there.
func TestKillNineDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short mode")
	}
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "crash.db")
		crashLoops(t, db, func() { checkSQLite(t, db) })
	})
	t.Run("postgres", func(t *testing.T) {
		u := testkit.FreshDatabase(t)
		// The child inherits the environment: a PostgreSQL server needs
		// the key that seals second factors there.
		t.Setenv(secretKeyEnv, testSecretKey)
		crashLoops(t, u.String(), func() { checkPostgres(t, u.String()) })
	})
}

func crashLoops(t *testing.T, db string, check func()) {
	acked := map[string]string{} // user -> password acknowledged last
	pending := map[string]string{}
	var mu sync.Mutex
	seq := 0
	for round := range 3 {
		srv := StartChild(t, db)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				// Many source addresses, as many clients: the registration
				// throttle (per address) stays out of the way.
				client := loopback.OneShotClient(4)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					seq++
					name := fmt.Sprintf("u%d-%d-%d", round, w, seq)
					mu.Unlock()
					pw := "first passphrase " + name
					st := post(client, srv.URL+"/api/auth/register", fmt.Sprintf(`{"username":%q,"password":%q}`, name, pw), "")
					if st != http.StatusCreated {
						continue
					}
					mu.Lock()
					acked[name] = pw
					mu.Unlock()
					tok := token(client, srv.URL, name, pw)
					if tok == "" {
						continue
					}
					next := "second passphrase " + name
					mu.Lock()
					pending[name] = next
					mu.Unlock()
					if post(client, srv.URL+"/api/auth/password", fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, pw, next), tok) == http.StatusNoContent {
						mu.Lock()
						acked[name] = next
						delete(pending, name)
						mu.Unlock()
					}
				}
			})
		}
		// Kill once this round has some acknowledged writes (slow machines
		// and the race detector make a fixed time unreliable), at a random
		// moment after.
		mu.Lock()
		target := len(acked) + 4
		mu.Unlock()
		for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= target {
				break
			}
		}
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		srv.Cmd.Process.Signal(syscall.SIGKILL)
		srv.Cmd.Wait()
		close(stop)
		wg.Wait()
		check()
	}
	// After the last crash the server starts and every acknowledged
	// account logs in with its acknowledged password (or the change that
	// was in flight when the process died).
	srv := StartChild(t, db)
	// Each login from its own address: one address may log in 30 times a
	// minute, and a fast machine acknowledges more accounts than that.
	client := loopback.OneShotClient(4)
	client.Timeout = 10 * time.Second
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 8 {
		t.Fatalf("only %d registrations were acknowledged; the loops did not run", len(acked))
	}
	for name, pw := range acked {
		if token(client, srv.URL, name, pw) != "" {
			continue
		}
		if p, ok := pending[name]; ok && token(client, srv.URL, name, p) != "" {
			continue
		}
		t.Errorf("acknowledged user %s cannot log in with its acknowledged password", name)
	}
	t.Logf("%d acknowledged registrations over 3 kill -9 cycles, all intact", len(acked))
}

func post(c *http.Client, url, body, bearer string) int {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func token(c *http.Client, base, name, pw string) string {
	req, _ := http.NewRequest("POST", base+"/api/auth/token", strings.NewReader(fmt.Sprintf(`{"username":%q,"password":%q}`, name, pw)))
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	var out struct{ Token string }
	if res.StatusCode != 200 || jsonDecode(res, &out) != nil {
		return ""
	}
	return out.Token
}

func checkInvariants(t *testing.T, db *sql.DB, orphanQuery string) {
	t.Helper()
	rows, err := db.Query(`SELECT username, password_hash FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var name, hash string
		rows.Scan(&name, &hash)
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			t.Errorf("user %s has no valid hash: %q", name, hash)
		}
		if seen[name] {
			t.Errorf("canonical username %s twice", name)
		}
		seen[name] = true
	}
	rows.Close()
	var orphans int
	if err := db.QueryRow(orphanQuery).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d orphan sessions (%v)", orphans, err)
	}
}

func checkSQLite(t *testing.T, path string) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("integrity_check after kill -9: %q %v", ok, err)
	}
	checkInvariants(t, db, `SELECT count(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL`)
}

func checkPostgres(t *testing.T, dsn string) {
	// The store's tables are in its own schema.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", pgstore.DefaultSchema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkInvariants(t, db, `SELECT count(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL`)
}

// RL4: SIGTERM drains: open live tabs receive close code 1001 and the
// process exits cleanly.
func TestSIGTERMClosesLiveConnections(t *testing.T) {
	srv := StartChild(t, filepath.Join(t.TempDir(), "term.db"))
	var conns []*websocket.Conn
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/_live", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.Write(context.Background(), websocket.MessageText, []byte(`{"t":"hello","id":1,"route":"/","query":"","local":{}}`))
		c.Read(context.Background())
		conns = append(conns, c)
	}
	srv.Cmd.Process.Signal(syscall.SIGTERM)
	for _, c := range conns {
		_, _, err := c.Read(context.Background())
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Fatalf("live connection closed with %d (%v), want 1001", code, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit within 15s of SIGTERM")
	}
}

func jsonDecode(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }
