package localauth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/throttle"
)

// failingCommits is a SQLite store whose CommitLogin fails while down is
// set, as a database that went away between the password check and the
// session would.
type failingCommits struct {
	*sqlitestore.Store
	down atomic.Bool
}

func (f *failingCommits) CommitLogin(ctx context.Context, c *localauth.LoginCommit) error {
	if f.down.Load() {
		return errors.New("database gone")
	}
	return f.Store.CommitLogin(ctx, c)
}

// A right password whose session the store fails to write is not a wrong
// guess: an owner who retries through an outage is not locked out by it,
// and when the store is back the next login goes through.
func TestFailedSessionWriteDoesNotCountAsAGuess(t *testing.T) {
	st, _ := openSQLite(t)
	store := &failingCommits{Store: st}
	clock := NewClock()
	svc := serviceOver(t, store, func(c *localauth.Config) { c.Now = clock.Now })
	if _, err := svc.Register(ctx, "alice", goodPW); err != nil {
		t.Fatal(err)
	}
	store.down.Store(true)
	for i := range 12 {
		if _, err := svc.Login(ctx, "alice", goodPW); !errors.Is(err, localauth.ErrUnavailable) {
			t.Fatalf("login %d while the store fails: %v, want ErrUnavailable", i+1, err)
		}
	}
	if c, err := st.Throttle().Count(ctx, "account:alice"); err != nil || c.Count != 0 {
		t.Fatalf("after 12 right passwords the store failed to seal, the account holds %d attempts (%v), want 0", c.Count, err)
	}
	store.down.Store(false)
	clock.Advance(time.Millisecond)
	if _, err := svc.Login(ctx, "alice", goodPW); err != nil {
		t.Fatalf("login once the store is back: %v", err)
	}
	// Wrong passwords still count, as ever.
	for range 6 {
		svc.Login(ctx, "alice", "not the password")
	}
	var rl *localauth.RateLimitError
	if _, err := svc.Login(ctx, "alice", "not the password"); !errors.As(err, &rl) {
		t.Fatalf("the 7th wrong password: %v, want a *RateLimitError", err)
	}
}

// When the session write fails, the client address's count, settled
// before the commit, is not given back a second time: failures the client
// made before stay counted.
func TestFailedSessionWriteKeepsTheClientsFailures(t *testing.T) {
	st, _ := openSQLite(t)
	store := &failingCommits{Store: st}
	clock := NewClock()
	svc := serviceOver(t, store, func(c *localauth.Config) {
		c.Now, c.NoClientAddress, c.Throttle.ClientFree = clock.Now, false, 3
	})
	client := localauth.WithClientIP(ctx, "192.0.2.77")
	if _, err := svc.Register(localauth.WithClientIP(ctx, "192.0.2.1"), "alice", goodPW); err != nil {
		t.Fatal(err)
	}
	// Three wrong guesses, each on an account of its own: the client's
	// free allowance is spent, no account's is.
	for _, name := range []string{"u1", "u2", "u3"} {
		if _, err := svc.Login(client, name, "not the password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("wrong guess on %s: %v", name, err)
		}
	}
	store.down.Store(true)
	for range 3 {
		if _, err := svc.Login(client, "alice", goodPW); !errors.Is(err, localauth.ErrUnavailable) {
			t.Fatalf("login while the store fails: %v, want ErrUnavailable", err)
		}
	}
	store.down.Store(false)
	// Still three counted: one more goes (the first delay runs from it),
	// the next waits.
	if _, err := svc.Login(client, "u4", "not the password"); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("the 4th wrong guess: %v, want it judged", err)
	}
	var rl *localauth.RateLimitError
	if _, err := svc.Login(client, "u5", "not the password"); !errors.As(err, &rl) {
		t.Fatalf("the 5th wrong guess: %v, want a *RateLimitError (failures given back twice?)", err)
	}
}

// elsewhere is account counters in a real store shared with other
// instances, whose first Admit finds the rest of the key's allowance
// already taken by guesses made elsewhere: as if another instance's
// guessers got there between this instance's claim and its count.
type elsewhere struct {
	throttle.Store
	once sync.Once
}

func (e *elsewhere) Admit(ctx context.Context, key string, now time.Time, rule throttle.Rule) (time.Duration, error) {
	e.once.Do(func() {
		for range rule.Free + 1 {
			e.Store.Admit(ctx, key, now, rule)
		}
	})
	return e.Store.Admit(ctx, key, now, rule)
}

// A login is compared beside the commit of its count, and its result is
// used only once the count is in. When other instances' guesses filled
// the account's count meanwhile, the result is dropped unseen: a right
// password and a wrong one get the same refusal, and no session starts.
func TestLoginActsOnlyOnACountedGuess(t *testing.T) {
	for _, pw := range []string{goodPW, "not the password"} {
		st, _ := openSQLite(t)
		hasher := &CountingHasher{BcryptHasher: localauth.BcryptHasher{Cost: 4}}
		svc := serviceOver(t, st, func(c *localauth.Config) {
			c.Hasher, c.NoClientAddress = hasher, false
			c.Now = NewClock().Now // a delay holds however slow the machine
			c.Throttle = localauth.ThrottleConfig{Store: &elsewhere{Store: st.Throttle()}, ClientFree: 1}
		})
		u, err := svc.Register(localauth.WithClientIP(ctx, "192.0.2.1"), "alice", goodPW)
		if err != nil {
			t.Fatal(err)
		}
		client := localauth.WithClientIP(ctx, "192.0.2.77")
		compares := hasher.compares.Load()
		_, err = svc.Login(client, "alice", pw)
		var rl *localauth.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
			t.Fatalf("a guess whose count others filled meanwhile (%q): %v, want a *RateLimitError", pw, err)
		}
		if hasher.compares.Load() != compares+1 {
			t.Fatalf("%d comparisons, want the one made beside the count", hasher.compares.Load()-compares)
		}
		if ss, err := svc.Sessions(ctx, u.ID); err != nil || len(ss) != 0 {
			t.Fatalf("sessions after the refused login: %d (%v), want none", len(ss), err)
		}
		if c, err := st.Throttle().Count(ctx, "account:alice"); err != nil || c.Count != 6 {
			t.Fatalf("the account's count: %d (%v), want the 6 made elsewhere, and not this refused one", c.Count, err)
		}
		// The client keeps the attempt, which cost a hash: with one
		// failure free, its next is the last it may make at once.
		if _, err := svc.Login(client, "ghost", "a guess"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("the client's second attempt: %v, want ErrInvalidCredentials", err)
		}
		if _, err := svc.Login(client, "ghost2", "a guess"); !errors.Is(err, localauth.ErrRateLimited) {
			t.Fatalf("the client's third attempt: %v, want ErrRateLimited: the refused attempt was not charged to it", err)
		}
	}
}

// Account counters in process memory (a store that keeps none) are counted
// before the hash, not beside it: once the table is full, keys without a
// counter of their own share its overflow counter, which their Count does
// not show. A client trying fresh usernames against a locked overflow
// gets no hashing from it.
func TestFullMemoryCountersRefuseBeforeHashing(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) { c.Throttle.Store = throttle.NewMemory(3) })
	for _, name := range []string{"u1", "u2", "u3"} {
		for range 2 { // two attempts each: none may give way to a new key
			e.Svc.Login(ctx, name, "a guess")
		}
	}
	for i := range 6 { // the overflow counter's allowance
		if _, err := e.Svc.Login(ctx, fmt.Sprint("fresh", i), "a guess"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("guess %d on the overflow counter: %v, want ErrInvalidCredentials", i+1, err)
		}
	}
	compares := e.Hasher.compares.Load()
	for i := range 20 {
		if _, err := e.Svc.Login(ctx, fmt.Sprint("fresher", i), "a guess"); !errors.Is(err, localauth.ErrRateLimited) {
			t.Fatalf("a fresh username on the locked overflow counter: %v, want ErrRateLimited", err)
		}
	}
	if n := e.Hasher.compares.Load() - compares; n != 0 {
		t.Fatalf("%d comparisons for 20 attempts refused by the locked overflow counter, want 0", n)
	}
}
