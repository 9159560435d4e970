package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Scrape reads the server's /metrics and returns each sample's value by
// its series ("name{labels}", as exposed).
func Scrape(tb testing.TB, url string) map[string]float64 {
	tb.Helper()
	res, err := http.Get(url)
	if err != nil {
		tb.Fatalf("scraping %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		tb.Fatalf("scraping %s: status %d", url, res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

var metricsURLRE = regexp.MustCompile(`metrics on (http://\S+/metrics)`)

// During a burst of logins, /metrics (on its own listener) answers, and
// once the burst is over its counters equal what the clients saw: every
// success, wrong password, throttle refusal and busy refusal, the sessions
// created, the hashing admissions; the open live tab and the build are
// there too.
func TestMetricsDuringLoginBurst(t *testing.T) {
	srv := StartServer(t, "--metrics-addr", "127.0.0.1:0")
	m := metricsURLRE.FindStringSubmatch(srv.Log.String())
	if m == nil {
		t.Fatalf("serve did not print the metrics address:\n%s", srv.Log)
	}
	murl := m[1]
	if strings.HasPrefix(murl, srv.URL) {
		t.Fatalf("metrics served on the app's own address %s", murl)
	}
	if res, err := http.Get(srv.URL + "/metrics"); err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("the app's address answers /metrics")
		}
	}
	c := srv.CLI(t)
	for _, u := range []string{"alice", "bob"} {
		c.MustRun(pw, "user", "create", u, "--password-stdin")
	}
	before := Scrape(t, murl)
	if before[`localauth_logins_total{outcome="success"}`] != 0 {
		t.Fatalf("logins before any: got %v", before[`localauth_logins_total{outcome="success"}`])
	}
	lc, _, err := DialLive(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	lc.Send(map[string]any{"t": "hello", "id": 1, "route": "/", "query": "", "local": map[string]any{}})
	lc.Replies(1)

	// alice logs in with her password; bob is tried with a wrong one,
	// more often than his account's free failures, so that the throttle
	// refuses some.
	statuses := map[string]map[int]int{"alice": {}, "bob": {}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	scrapes := 0
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if s := Scrape(t, murl); len(s) > 0 {
				mu.Lock()
				scrapes++
				mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	login := func(user, pass string) {
		wg.Go(func() {
			body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, pass)
			res, err := http.Post(srv.URL+"/api/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			mu.Lock()
			statuses[user][res.StatusCode]++
			mu.Unlock()
		})
	}
	// alice first, with her password; then bob with a wrong one, more
	// often than the throttle lets pass (after which alice's address is
	// throttled too, so she goes first).
	for range 20 {
		login("alice", strings.TrimSpace(pw))
	}
	wg.Wait()
	for range 20 {
		login("bob", "not bob's password at all")
	}
	wg.Wait()
	close(stop)
	after := Scrape(t, murl)
	mu.Lock()
	defer mu.Unlock()
	if scrapes == 0 {
		t.Fatal("no scrape of /metrics succeeded during the burst")
	}
	busy := statuses["alice"][503] + statuses["bob"][503]
	wrong := statuses["bob"][401]
	throttled := statuses["alice"][429] + statuses["bob"][429]
	for series, want := range map[string]int{
		`localauth_logins_total{outcome="success"}`:                 statuses["alice"][200],
		`localauth_sessions_created_total`:                          statuses["alice"][200],
		`localauth_logins_total{outcome="bad_credentials"}`:         wrong,
		`localauth_logins_total{outcome="throttled"}`:               throttled,
		`localauth_throttle_refusals_total{kind="login"}`:           throttled,
		`localauth_hash_queue_wait_seconds_count{result="refused"}`: busy,
		`localauth_hashes_in_flight`:                                0,
		`localauth_live_tabs_open`:                                  1,
	} {
		if got := after[series]; got != float64(want) {
			t.Errorf("%s: got %v, want %d (statuses %v)", series, got, want, statuses)
		}
	}
	// Every answered attempt was hashed, and no more than those plus the
	// refused ones: a guess is counted beside its hash and may then be
	// refused, unseen, when the attempts in flight filled its account's
	// count first (throttle's tests bound how many per account).
	hashed := int(after[`localauth_hash_queue_wait_seconds_count{result="admitted"}`] - before[`localauth_hash_queue_wait_seconds_count{result="admitted"}`])
	if judged := statuses["alice"][200] + wrong; hashed < judged || hashed > judged+throttled {
		t.Errorf("hashes admitted during the burst: %d, want %d (the attempts answered) to %d (with the refused)", hashed, judged, judged+throttled)
	}
	if statuses["alice"][200] == 0 || wrong == 0 || throttled == 0 {
		t.Errorf("the burst did not produce every outcome: %v", statuses)
	}
	found := false
	for series, v := range after {
		if strings.HasPrefix(series, "localauth_build_info{") && v == 1 {
			found = true
		}
	}
	if !found {
		t.Error("no localauth_build_info series")
	}
	for series := range after {
		if strings.Contains(series, "alice") || strings.Contains(series, "127.0.0.1") {
			t.Errorf("a metric label holds a username or an address: %s", series)
		}
	}
}
