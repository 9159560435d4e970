package localauth_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	var rl *localauth.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("got %v, want a *RateLimitError", err)
	}
	return rl.RetryAfter
}

// C14: per-account delays grow, are the same for unknown and known
// usernames, and reset on success.
func TestThrottleAccount(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	for _, name := range []string{"alice", "ghost"} {
		t.Run(name, func(t *testing.T) {
			for i := range 5 {
				if _, err := e.Svc.Login(ctx, name, "wrong password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
					t.Fatalf("free failure %d: got %v", i+1, err)
				}
			}
			// The sixth failure is still tried; from then on each attempt waits.
			if _, err := e.Svc.Login(ctx, name, "wrong password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
				t.Fatalf("sixth failure: got %v", err)
			}
			before := e.Hasher.compares.Load()
			for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
				_, err := e.Svc.Login(ctx, name, goodPW)
				if got := retryAfter(t, err); got != want {
					t.Fatalf("RetryAfter = %v, want %v", got, want)
				}
				if e.Hasher.compares.Load() != before {
					t.Fatal("a throttled attempt ran a comparison")
				}
				e.Clock.Advance(want)
				if _, err := e.Svc.Login(ctx, name, "wrong password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
					t.Fatalf("after waiting: got %v", err)
				}
				before = e.Hasher.compares.Load()
			}
			e.Clock.Advance(8 * time.Second)
		})
	}
	// A successful login gives its attempt back, no more: strangers who
	// locked the account do not get it unlocked by its owner.
	res := e.MustLogin(t, "alice", goodPW)
	if _, err := e.Svc.Login(ctx, "alice", "wrong password"); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("a stranger after the owner's login: got %v, want ErrRateLimited", err)
	}
	// The owner's browser, with the device token of that login, has its
	// own allowance.
	if res.DeviceToken == "" {
		t.Fatal("a login returned no device token")
	}
	owner := localauth.WithDeviceToken(ctx, res.DeviceToken)
	if _, err := e.Svc.Login(owner, "alice", "wrong password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("the owner's device while strangers are locked out: got %v, want a plain failure", err)
	}
	if _, err := e.Svc.Login(owner, "alice", goodPW); err != nil {
		t.Fatalf("the owner's device logs in while strangers are locked out: %v", err)
	}
}

// C14: one client spraying many accounts is throttled by its address, and a
// login to its own account does not clear that.
func TestThrottleClient(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "mallory", goodPW)
	attacker := localauth.WithClientIP(ctx, "203.0.113.7")
	for i := range 20 {
		if _, err := e.Svc.Login(attacker, "victim"+string(rune('a'+i)), "guess"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("failure %d: got %v", i+1, err)
		}
	}
	if _, err := e.Svc.Login(attacker, "mallory", goodPW); err != nil {
		t.Fatalf("own account within the free allowance: %v", err)
	}
	e.Svc.Login(attacker, "victimx", "guess")
	_, err := e.Svc.Login(attacker, "victimy", "guess")
	if d := retryAfter(t, err); d != time.Second {
		t.Fatalf("RetryAfter = %v, want 1s", d)
	}
	if _, err := e.Svc.Login(attacker, "mallory", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("a throttled client logging in to its own account: got %v, want ErrRateLimited", err)
	}
	// Another client is not affected, nor is the same /64 spared.
	if _, err := e.Svc.Login(localauth.WithClientIP(ctx, "198.51.100.1"), "mallory", goodPW); err != nil {
		t.Fatalf("another client: %v", err)
	}
	v6 := localauth.WithClientIP(ctx, "2001:db8::1")
	for i := range 22 {
		if _, err := e.Svc.Login(v6, fmt.Sprint("someone", i), "guess"); i < 21 && !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("IPv6 failure %d: got %v", i+1, err)
		}
	}
	if _, err := e.Svc.Login(localauth.WithClientIP(ctx, "2001:db8::ffff:1"), "mallory", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("another address in the same IPv6 /64: got %v, want ErrRateLimited", err)
	}
}

// C15: concurrent failures are all counted.
func TestThrottleCountsConcurrentFailures(t *testing.T) {
	for _, tc := range []struct {
		free      int
		throttled bool
	}{{200, false}, {199, true}} {
		e := MustEnv(t, func(c *localauth.Config) {
			c.Throttle.AccountFree = tc.free
			c.MaxConcurrentHashes = 256
			c.HashQueueWait = time.Minute
		})
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				if _, err := e.Svc.Login(ctx, "target", "wrong"); !errors.Is(err, localauth.ErrInvalidCredentials) {
					t.Errorf("concurrent failure: got %v", err)
				}
			})
		}
		wg.Wait()
		_, err := e.Svc.Login(ctx, "target", "wrong")
		if got := errors.Is(err, localauth.ErrRateLimited); got != tc.throttled {
			t.Fatalf("after 200 concurrent failures with %d free: throttled = %v, want %v (%v)", tc.free, got, tc.throttled, err)
		}
	}
}

// C12: registration reveals taken names, so it is throttled per client.
func TestThrottleRegistration(t *testing.T) {
	e := MustEnv(t)
	c := localauth.WithClientIP(ctx, "192.0.2.9")
	for i := range 10 {
		if _, err := e.Svc.Register(c, "user"+string(rune('a'+i)), goodPW); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	if _, err := e.Svc.Register(c, "usera", goodPW); !errors.Is(err, localauth.ErrUserExists) {
		t.Fatalf("probe of a taken name: got %v, want ErrUserExists", err)
	}
	_, err := e.Svc.Register(c, "another", goodPW)
	if d := retryAfter(t, err); d != time.Second {
		t.Fatalf("RetryAfter = %v, want 1s", d)
	}
	if _, err := e.Svc.UserByName(ctx, "another"); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatal("a throttled registration stored a user")
	}
	e.Clock.Advance(time.Second)
	if _, err := e.Svc.Register(c, "another", goodPW); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

func TestThrottleForgets(t *testing.T) {
	e := MustEnv(t)
	for range 10 {
		e.Svc.Login(ctx, "someone", "wrong")
	}
	if _, err := e.Svc.Login(ctx, "someone", "wrong"); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("got %v, want ErrRateLimited", err)
	}
	e.Clock.Advance(24*time.Hour + time.Second)
	if _, err := e.Svc.Login(ctx, "someone", "wrong"); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("a day later: got %v, want a plain failure", err)
	}
}

// A user's sessions are capped: the oldest ends when a login would exceed
// the cap, and its listeners (open live pages) are told.
func TestSessionsPerUserCapped(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) { c.MaxSessionsPerUser = 3 })
	u := e.MustRegister(t, "alice", goodPW)
	var mu sync.Mutex
	var ended []localauth.TokenHash
	defer e.Svc.OnRevoke(func(r localauth.Revocation) {
		mu.Lock()
		defer mu.Unlock()
		ended = append(ended, r.TokenHash)
	})()
	var logins []localauth.LoginResult
	for range 5 {
		logins = append(logins, e.MustLogin(t, "alice", goodPW))
	}
	sessions, err := e.Svc.Sessions(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 3 {
		t.Fatalf("%d sessions, want 3", len(sessions))
	}
	for i, l := range logins {
		_, err := e.Svc.Authenticate(ctx, l.Token)
		if live := err == nil; live != (i >= 2) {
			t.Fatalf("login %d: live %v (%v), want only the newest three live", i+1, live, err)
		}
	}
	// Listeners may hear a revocation twice (from this process and again
	// from the store's log): what counts is which sessions they heard of.
	mu.Lock()
	defer mu.Unlock()
	heard := map[localauth.TokenHash]bool{}
	for _, h := range ended {
		heard[h] = true
	}
	if len(heard) != 2 || !heard[logins[0].Session.TokenHash] || !heard[logins[1].Session.TokenHash] {
		t.Fatalf("revocations told for %d sessions, want the two oldest", len(heard))
	}
}

// A client that loops correct logins slows itself after its burst; another
// client is not affected.
func TestSuccessfulLoginsRateLimitedPerClient(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) {
		c.Throttle.ClientLoginsPerMinute = 6
		c.Throttle.ClientLoginBurst = 3
	})
	e.MustRegister(t, "alice", goodPW)
	looper := localauth.WithClientIP(ctx, "192.0.2.50")
	for i := range 3 {
		if _, err := e.Svc.Login(looper, "alice", goodPW); err != nil {
			t.Fatalf("login %d of the burst: %v", i+1, err)
		}
	}
	_, err := e.Svc.Login(looper, "alice", goodPW)
	if d := retryAfter(t, err); d != 10*time.Second {
		t.Fatalf("RetryAfter %v, want 10s", d)
	}
	if _, err := e.Svc.Login(localauth.WithClientIP(ctx, "192.0.2.51"), "alice", goodPW); err != nil {
		t.Fatalf("another client: %v", err)
	}
	e.Clock.Advance(10 * time.Second)
	if _, err := e.Svc.Login(looper, "alice", goodPW); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// Logins whose hash was never tried (the server was busy) do not count: a
// busy server never locks anyone out. The refusal says when to retry.
func TestBusyLoginsDoNotCount(t *testing.T) {
	var gate *gatedHasher
	e := MustEnv(t, func(c *localauth.Config) {
		gate = &gatedHasher{CountingHasher: c.Hasher.(*CountingHasher)}
		c.Hasher = gate
		c.MaxConcurrentHashes = 1
		c.HashQueueWait = time.Millisecond
		c.Throttle.AccountFree = 1
	})
	e.MustRegister(t, "alice", goodPW)
	e.MustRegister(t, "carol", goodPW)
	gate.arm()
	done := make(chan error, 1)
	go func() {
		_, err := e.Svc.Login(localauth.WithClientIP(ctx, "192.0.2.60"), "alice", goodPW)
		done <- err
	}()
	<-gate.verified // alice's login holds the only slot
	for range 5 {
		_, err := e.Svc.Login(localauth.WithClientIP(ctx, "192.0.2.61"), "carol", "wrong password")
		var busy *localauth.BusyError
		if !errors.As(err, &busy) || busy.RetryAfter <= 0 {
			t.Fatalf("while the slot is held: %v, want a *BusyError with RetryAfter", err)
		}
	}
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// carol's count is untouched: one free failure and the next attempt.
	for range 2 {
		if _, err := e.Svc.Login(ctx, "carol", "wrong password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("after the busy refusals: %v, want a plain failure", err)
		}
	}
	if _, err := e.Svc.Login(ctx, "carol", "wrong password"); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("third failure: %v, want ErrRateLimited", err)
	}
}
