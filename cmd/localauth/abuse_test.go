package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/testkit"
)

// The attacks on guessing protection, replayed from outside against
// "localauth serve": on SQLite with one server, and on PostgreSQL with two
// servers on one database, requests alternating between them. Clients speak
// from many loopback addresses (127.0.0.0/8), as many hosts would.

// abuseTarget is one or more servers on one database.
type abuseTarget struct {
	servers []*Server
	n       atomic.Int64
}

// url returns the next server's URL, round-robin.
func (a *abuseTarget) url() string {
	return a.servers[int(a.n.Add(1))%len(a.servers)].URL
}

// freeze stops the servers' clocks until the test ends, so that a delay
// holds however slow the machine is (see lockAt).
func (a *abuseTarget) freeze(t *testing.T) {
	for _, s := range a.servers {
		s.Clock.Freeze()
		t.Cleanup(s.Clock.Thaw)
	}
}

// advance moves the servers' clocks on by d.
func (a *abuseTarget) advance(d time.Duration) {
	for _, s := range a.servers {
		s.Clock.Advance(d)
	}
}

// onBothStores runs fn against SQLite (one server) and PostgreSQL (two).
func onBothStores(t *testing.T, fn func(t *testing.T, target *abuseTarget), args ...string) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, &abuseTarget{servers: []*Server{StartServer(t, args...)}})
	})
	t.Run("postgres", func(t *testing.T) {
		db := testkit.FreshDatabase(t)
		a := append([]string{"--db", db.String()}, args...)
		fn(t, &abuseTarget{servers: []*Server{StartServer(t, a...), StartServer(t, a...)}})
	})
}

// clientFrom returns an HTTP client that connects from the loopback address
// ip, with a cookie jar (for the device cookie) when jar is set.
func clientFrom(ip string, jar bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 8}}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// loginFrom posts a login and returns the status and the Retry-After
// seconds (0 when absent).
func loginFrom(t *testing.T, c *http.Client, base, user, pw string) (int, int) {
	t.Helper()
	res, err := c.Post(base+"/api/auth/login", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	retry, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, retry
}

func registerUser(t *testing.T, target *abuseTarget, name string) {
	t.Helper()
	// Registrations are throttled per address: each from its own.
	c := clientFrom(fmt.Sprintf("127.9.%d.%d", len(name), name[len(name)-1]), false)
	res, err := c.Post(target.url()+"/api/auth/register", "application/json",
		strings.NewReader(`{"username":"`+name+`","password":"`+alicePW+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("register %s: %d", name, res.StatusCode)
	}
}

// lockOut guesses at user from ip until the account answers 429. The
// servers' clocks stand still from then on, so the lock holds.
func lockOut(t *testing.T, target *abuseTarget, ip, user string) {
	t.Helper()
	target.freeze(t)
	c := clientFrom(ip, false)
	for i := range 20 {
		st, _ := loginFrom(t, c, target.url(), user, "wrong guess number "+strconv.Itoa(i))
		if st == 429 {
			return
		}
		if st != 401 {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	t.Fatalf("%s not locked after 20 guesses", user)
}

// Parallel guessing: 50 addresses guess one account at the same moment.
// Each attempt is counted when admitted, so exactly as many are evaluated
// (answered 401) as one guesser gets in sequence: the free allowance plus
// one. The rest are refused with 429 and Retry-After. The servers' clocks
// stand still, so the first delay cannot run out while stragglers arrive.
func TestParallelGuessesCountedAtAdmission(t *testing.T) {
	onBothStores(t, func(t *testing.T, target *abuseTarget) {
		registerUser(t, target, "alice")
		target.freeze(t)
		var evaluated, refused, other atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 50 {
			c := clientFrom(fmt.Sprintf("127.3.0.%d", i+1), false)
			base := target.url()
			wg.Go(func() {
				<-start
				switch st, retry := loginFrom(t, c, base, "alice", "guess "+strconv.Itoa(i)); {
				case st == 401:
					evaluated.Add(1)
				case st == 429 && retry > 0:
					refused.Add(1)
				default:
					other.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if evaluated.Load() != 6 || refused.Load() != 44 || other.Load() != 0 {
			t.Fatalf("50 parallel guesses: %d evaluated, %d refused, %d other; want 6, 44, 0",
				evaluated.Load(), refused.Load(), other.Load())
		}
	})
}

// The owner locked out: an attacker keeps guessing at an account from one
// address; strangers are refused, but the owner's browser, which logged in
// before and holds its device cookie, logs in every time.
func TestTrustedDeviceLogsInWhileLockedOut(t *testing.T) {
	onBothStores(t, func(t *testing.T, target *abuseTarget) {
		registerUser(t, target, "alice")
		owner := clientFrom("127.4.0.1", true)
		if st, _ := loginFrom(t, owner, target.url(), "alice", alicePW); st != 200 {
			t.Fatalf("the owner's first login: %d", st)
		}
		lockOut(t, target, "127.4.0.2", "alice")
		stranger := clientFrom("127.4.0.3", false)
		if st, _ := loginFrom(t, stranger, target.url(), "alice", alicePW); st != 429 {
			t.Fatalf("a stranger with the right password while locked: %d, want 429", st)
		}
		for i := range 10 {
			// The attacker goes on meanwhile.
			loginFrom(t, clientFrom("127.4.0.2", false), target.url(), "alice", "another guess")
			if st, _ := loginFrom(t, owner, target.url(), "alice", alicePW); st != 200 {
				t.Fatalf("owner's login %d on a trusted device: %d, want 200", i+1, st)
			}
		}
		// The trusted device has its own small budget: a wrong password
		// from it is a plain failure, not a refusal.
		if st, _ := loginFrom(t, owner, target.url(), "alice", "owner typo"); st != 401 {
			t.Fatalf("the owner's typo: %d, want 401", st)
		}
	})
}

// Reset by flooding: thousands of cheap failures (over-long passwords,
// fresh usernames) from a thousand addresses neither unlock a locked
// account nor create per-account state.
func TestFloodDoesNotUnlock(t *testing.T) {
	onBothStores(t, func(t *testing.T, target *abuseTarget) {
		registerUser(t, target, "alice")
		lockOut(t, target, "127.5.0.1", "alice")
		long := strings.Repeat("x", 1100)
		var wg sync.WaitGroup
		var wrong atomic.Int64
		for i := range 1000 {
			c := clientFrom(fmt.Sprintf("127.5.%d.%d", 1+i/250, 1+i%250), false)
			base := target.url()
			wg.Go(func() {
				for k := range 5 {
					st, _ := loginFrom(t, c, base, fmt.Sprintf("fresh%d_%d", i, k), long)
					if st != 401 && st != 429 {
						wrong.Add(1)
					}
				}
			})
			if i%50 == 49 {
				wg.Wait()
			}
		}
		wg.Wait()
		if wrong.Load() != 0 {
			t.Fatalf("%d flood requests answered neither 401 nor 429", wrong.Load())
		}
		// The account's count survived: once the current delay has run
		// out, one more guess is evaluated and the next waits longer than
		// the first delay. A forgotten count would give five free guesses.
		// The clocks stood still through the flood; the test moves them
		// on by each Retry-After.
		stranger := clientFrom("127.5.250.1", false)
		for i := 0; ; i++ {
			st, retry := loginFrom(t, stranger, target.url(), "alice", "after the flood")
			if st == 401 {
				break
			}
			if st != 429 || retry < 1 || i == 10 {
				t.Fatalf("waiting out the lock: %d, Retry-After %d (try %d)", st, retry, i+1)
			}
			target.advance(time.Duration(retry) * time.Second)
		}
		st, retry := loginFrom(t, stranger, target.url(), "alice", "and another")
		if st != 429 || retry < 2 {
			t.Fatalf("after the flood and one more guess: %d, Retry-After %d; want 429 with at least 2", st, retry)
		}
	})
}

// Starvation: one address loops correct logins on 8 connections while 20
// other users log in one after another from other addresses: none of them
// is refused. The looping address slows itself (429 after its burst).
func TestLoopingClientStarvesNoOne(t *testing.T) {
	onBothStores(t, func(t *testing.T, target *abuseTarget) {
		registerUser(t, target, "looper")
		for i := range 20 {
			registerUser(t, target, fmt.Sprintf("user%02d", i))
		}
		stop := make(chan struct{})
		var loops sync.WaitGroup
		var looped, slowed atomic.Int64
		looper := clientFrom("127.6.0.1", false)
		for range 8 {
			loops.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					switch st, _ := loginFrom(t, looper, target.url(), "looper", alicePW); st {
					case 200:
						looped.Add(1)
					case 429:
						slowed.Add(1)
					}
				}
			})
		}
		for i := range 20 {
			c := clientFrom(fmt.Sprintf("127.6.1.%d", i+1), false)
			if st, _ := loginFrom(t, c, target.url(), fmt.Sprintf("user%02d", i), alicePW); st != 200 {
				close(stop)
				loops.Wait()
				t.Fatalf("user%02d, logging in beside the looping client: %d", i, st)
			}
		}
		close(stop)
		loops.Wait()
		if slowed.Load() == 0 {
			t.Fatalf("the looping client was never slowed (%d logins)", looped.Load())
		}
	})
}

// Ordinary bursts: users logging in at the same moment all get in; a
// refusal as busy says when to retry, and the retry succeeds.
func TestBurstOfLoginsAllSucceed(t *testing.T) {
	onBothStores(t, func(t *testing.T, target *abuseTarget) {
		const n = 30
		for i := range n {
			registerUser(t, target, fmt.Sprintf("burst%02d", i))
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range n {
			c := clientFrom(fmt.Sprintf("127.7.0.%d", i+1), false)
			base := target.url()
			wg.Go(func() {
				<-start
				for try := 0; try < 5; try++ {
					st, retry := loginFrom(t, c, base, fmt.Sprintf("burst%02d", i), alicePW)
					if st == 200 {
						return
					}
					if st != 503 || retry <= 0 {
						break
					}
					time.Sleep(time.Duration(retry) * time.Second)
				}
				failed.Add(1)
			})
		}
		close(start)
		wg.Wait()
		if failed.Load() != 0 {
			t.Fatalf("%d of %d simultaneous logins did not get in", failed.Load(), n)
		}
	})
}

// Free enumeration: the live registration page's name check goes through
// the registration throttle, as the API does: probes over one socket stop
// being answered after the allowance.
func TestLiveNameChecksThrottled(t *testing.T) {
	srv := StartServer(t)
	registerUser(t, &abuseTarget{servers: []*Server{srv}}, "alice")
	tab, _, err := DialLive(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab.Send(map[string]any{"t": "hello", "id": 1, "route": "/register", "query": ""})
	for i := range 30 {
		tab.Send(map[string]any{"t": "event", "id": 2 + i, "name": "register.handle_registration",
			"fields": map[string]string{"username": "alice", "password": "", "confirm_password": ""}})
	}
	got := tab.Replies(31)
	if !strings.Contains(got, "Too many attempts") {
		t.Fatalf("30 probes over one socket, none refused:\n%s", got)
	}
	if n := strings.Count(got, "already registered"); n > 11 {
		t.Fatalf("%d of 30 probes answered \"already registered\"; want at most the allowance", n)
	}
}
