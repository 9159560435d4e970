package localauth_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// gatedHasher holds the first comparison made after arm, once it has
// compared, until release is closed: the moment a login has verified a
// password and not yet started its session.
type gatedHasher struct {
	*CountingHasher
	mu       sync.Mutex
	armed    bool
	verified chan struct{}
	release  chan struct{}
}

func (g *gatedHasher) arm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed = true
	g.verified = make(chan struct{})
	g.release = make(chan struct{})
}

func (g *gatedHasher) Compare(hash []byte, pw string) error {
	err := g.CountingHasher.Compare(hash, pw)
	g.mu.Lock()
	hold := g.armed
	g.armed = false
	g.mu.Unlock()
	if hold {
		close(g.verified)
		<-g.release
	}
	return err
}

// A login that verified the old password and is held before creating its
// session while the owner changes the password gets no session: the change
// wins whichever order the two finish in.
func TestLoginRacingPasswordChange(t *testing.T) {
	var gate *gatedHasher
	e := MustEnv(t, func(c *localauth.Config) {
		gate = &gatedHasher{CountingHasher: c.Hasher.(*CountingHasher)}
		c.Hasher = gate
		c.MaxConcurrentHashes = 2
	})
	u := e.MustRegister(t, "alice", goodPW)
	owner := e.MustLogin(t, "alice", goodPW)

	gate.arm()
	type result struct {
		res localauth.LoginResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := e.Svc.Login(ctx, "alice", goodPW)
		done <- result{r, err}
	}()
	select {
	case <-gate.verified:
	case <-time.After(30 * time.Second):
		t.Fatal("the intruder's login never compared its password")
	}
	if err := e.Svc.ChangePassword(ctx, owner.Token, goodPW, "a brand new passphrase"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	close(gate.release)
	got := <-done
	if !errors.Is(got.err, localauth.ErrInvalidCredentials) {
		t.Fatalf("login that verified the old password: got %v, want ErrInvalidCredentials", got.err)
	}
	sessions, err := e.Svc.Sessions(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].TokenHash != localauth.HashToken(owner.Token) {
		t.Fatalf("after the change: %d sessions, want only the owner's", len(sessions))
	}
	if !strings.Contains(e.Log.String(), `"outcome":"credentials_changed"`) {
		t.Fatalf("no audit record of the refused login:\n%s", e.Log)
	}
	// The new password works; the old one does not.
	e.MustLogin(t, "alice", "a brand new passphrase")
	if _, err := e.Svc.Login(ctx, "alice", goodPW); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("old password after the change: %v", err)
	}
}

// deafStore hides the store's RevocationWatcher, as an instance that lost
// every notification would be.
type deafStore struct{ localauth.Store }

// A cached session is read from the store again once it is CacheMaxAge old,
// so a revocation this instance never heard of ends it within that bound.
func TestCachedSessionRevalidatedAfterMaxAge(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	r := e.MustLogin(t, "alice", goodPW)
	deaf, err := localauth.New(deafStore{e.Store}, localauth.Config{
		Hasher: e.Hasher, AllowWeakCost: true, NoClientAddress: true, Now: e.Clock.Now, PurgeInterval: -1,
		CacheMaxAge: time.Minute, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	if _, err := deaf.Authenticate(ctx, r.Token); err != nil {
		t.Fatalf("first Authenticate: %v", err)
	}
	// Revoked through the other Service: the deaf one is not told.
	if err := e.Svc.Logout(ctx, r.Token); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute - time.Second)
	if _, err := deaf.Authenticate(ctx, r.Token); err != nil {
		t.Fatalf("within CacheMaxAge the cached entry should still answer (no query): %v", err)
	}
	e.Clock.Advance(time.Second)
	if _, err := deaf.Authenticate(ctx, r.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("a revoked session outlived CacheMaxAge in the cache: %v", err)
	}
}

func TestCacheMaxAgeMustNotBeNegative(t *testing.T) {
	e := MustEnv(t)
	if _, err := localauth.New(e.Store, localauth.Config{CacheMaxAge: -time.Second}); err == nil {
		t.Fatal("New accepted a negative CacheMaxAge")
	}
}
