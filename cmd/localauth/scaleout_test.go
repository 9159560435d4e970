package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/faultproxy"
	"github.com/localauth/localauth/internal/testkit"
)

type apiReply struct {
	status int
	body   string
	header http.Header
}

func api(t *testing.T, method, u, body string, headers ...string) apiReply {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return apiReply{res.StatusCode, string(b), res.Header}
}

func bearerToken(t *testing.T, srv *Server, user string) string {
	t.Helper()
	r := api(t, "POST", srv.URL+"/api/auth/token", `{"username":"`+user+`","password":"`+alicePW+`"}`)
	var out struct{ Token string }
	json.Unmarshal([]byte(r.body), &out)
	if r.status != 200 || out.Token == "" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return out.Token
}

// Two instances on one PostgreSQL database behave as one: a session from A
// works on B, and a logout on A ends it on B at once, open live tab
// included: the tab is pushed to the anonymous state and its private data
// cleared. The delay is measured over many logouts.
func TestTwoServersOneDatabase(t *testing.T) {
	db := testkit.FreshDatabase(t)
	// 200 logins from one address: not what the login rate is for.
	a := StartServer(t, "--db", db.String(), "--logins-per-minute", "1000000")
	b := StartServer(t, "--db", db.String(), "--logins-per-minute", "1000000")
	if r := api(t, "POST", a.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register on A: %d %s", r.status, r.body)
	}
	const rounds = 200
	var delays []time.Duration
	for i := range rounds {
		tok := bearerToken(t, a, "alice")
		if r := api(t, "GET", b.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok); r.status != 200 {
			t.Fatalf("A's session on B: %d", r.status)
		}
		tab, _, err := DialLive(t, b, nil)
		if err != nil {
			t.Fatal(err)
		}
		tab.Send(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": "", "local": map[string]string{"_auth_token": tok}})
		tab.Until("This is private data for alice.")
		start := time.Now()
		if r := api(t, "POST", a.URL+"/api/auth/logout", "", "Authorization", "Bearer "+tok); r.status != 204 {
			t.Fatalf("logout on A: %d", r.status)
		}
		tab.Until(`"private_data":""`)
		delays = append(delays, time.Since(start))
		if r := api(t, "GET", b.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok); r.status != 401 {
			t.Fatalf("round %d: B accepts the session after the logout on A: %d", i, r.status)
		}
		tab.conn.CloseNow()
	}
	slices.Sort(delays)
	p50, p99 := delays[len(delays)/2], delays[len(delays)*99/100]
	// The notification carries a logout in milliseconds (p50 1.4 ms
	// measured); the resync each second alone would put the median near
	// half a second, and the cache's age bound alone near 15 s. The bounds
	// sit far above the measured figures, so a loaded machine does not
	// fail them, and still tell those paths apart.
	if p50 > 300*time.Millisecond || delays[len(delays)-1] > 10*time.Second {
		t.Fatalf("revocation delay p50 %v, max %v; want under 300ms and 10s", p50, delays[len(delays)-1])
	}
	t.Logf("logout on A → live tab on B anonymous, over %d logouts: p50 %v, p99 %v, max %v", rounds, p50, p99, delays[len(delays)-1])

	// Disable and password change on B end A's sessions too.
	tok := bearerToken(t, a, "alice")
	api(t, "GET", a.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok) // cached on A
	tok2 := bearerToken(t, b, "alice")
	r := api(t, "POST", b.URL+"/api/auth/password", `{"current_password":"`+alicePW+`","new_password":"another long passphrase"}`, "Authorization", "Bearer "+tok2)
	if r.status != 204 {
		t.Fatalf("password change on B: %d %s", r.status, r.body)
	}
	waitStatus(t, a.URL+"/api/auth/me", tok, 401)
}

// waitStatus waits up to 10 seconds (generous, for a loaded machine; well
// under the 30 s after which caches re-read the store anyway) for GET url
// with the bearer token to answer want.
func waitStatus(t *testing.T, u, tok string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := api(t, "GET", u, "", "Authorization", "Bearer "+tok)
		if r.status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d after 10s, want %d", u, r.status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// C42: with the database gone, logins and registrations answer 503 with a
// generic message, no session is accepted, and service resumes by itself
// when the database is back.
func TestDatabaseFault(t *testing.T) {
	db := testkit.FreshDatabase(t)
	proxy, err := faultproxy.Start(db.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	via := *db
	via.Host = proxy.Addr()
	srv := StartServer(t, "--db", via.String())
	api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`)
	tok := bearerToken(t, srv, "alice")
	if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok); r.status != 200 {
		t.Fatalf("me before the fault: %d", r.status)
	}

	proxy.Cut()
	cut := time.Now()
	// Within a moment of the fault, the cached session stops counting.
	waitStatus(t, srv.URL+"/api/auth/me", tok, 503)
	t.Logf("cached session refused %v after the database went away", time.Since(cut))
	for _, c := range []struct{ path, body string }{
		{"/api/auth/login", `{"username":"alice","password":"` + alicePW + `"}`},
		{"/api/auth/register", `{"username":"bob","password":"` + alicePW + `"}`},
		{"/api/auth/token", `{"username":"alice","password":"` + alicePW + `"}`},
	} {
		start := time.Now()
		r := api(t, "POST", srv.URL+c.path, c.body)
		if r.status != 503 || !strings.Contains(r.body, `"error":"unavailable"`) {
			t.Fatalf("%s during the fault: %d %s", c.path, r.status, r.body)
		}
		for _, leak := range []string{"dial", "127.0.0.1", "SELECT", "INSERT", "pgx", "goroutine"} {
			if strings.Contains(r.body, leak) {
				t.Fatalf("%s during the fault leaks %q: %s", c.path, leak, r.body)
			}
		}
		if took := time.Since(start); took > 6*time.Second {
			t.Fatalf("%s took %v during the fault", c.path, took)
		}
	}
	for range 20 {
		if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok); r.status == 200 {
			t.Fatal("a session authenticated during the fault")
		}
	}
	if r := api(t, "GET", srv.URL+"/readyz", ""); r.status != 503 {
		t.Fatalf("/readyz during the fault: %d", r.status)
	}
	if r := api(t, "GET", srv.URL+"/healthz", ""); r.status != 200 {
		t.Fatalf("/healthz during the fault: %d", r.status)
	}

	proxy.Restore()
	restored := time.Now()
	waitFor(t, 15*time.Second, func() bool { return api(t, "GET", srv.URL+"/readyz", "").status == 200 })
	waitStatus(t, srv.URL+"/api/auth/me", tok, 200)
	t.Logf("service back %v after the database returned", time.Since(restored))
	if r := api(t, "POST", srv.URL+"/api/auth/login", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 200 {
		t.Fatalf("login after recovery: %d %s", r.status, r.body)
	}
	// The registration refused during the fault left nothing behind.
	if r := api(t, "POST", srv.URL+"/api/auth/login", `{"username":"bob","password":"`+alicePW+`"}`); r.status != 401 {
		t.Fatalf("bob, refused during the fault, can log in: %d", r.status)
	}
	if strings.Contains(srv.Log.String(), "panic") {
		t.Fatal("the server log shows a panic")
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
