package localauth_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// CheckSession says until when a session is live and is not use of it:
// a session only checked idles out, one authenticated does not.
func TestCheckSessionIsNotUse(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) { c.IdleTimeout = 10 * time.Minute; c.SessionLifetime = time.Hour })
	e.MustRegister(t, "alice", goodPW)
	login := e.Clock.Now()
	tok := e.MustLogin(t, "alice", goodPW).Token
	_, until, err := e.Svc.CheckSession(ctx, tok)
	if err != nil || !until.Equal(login.Add(10*time.Minute)) {
		t.Fatalf("CheckSession: live until %v, %v; want %v", until, err, login.Add(10*time.Minute))
	}
	e.Clock.Advance(6 * time.Minute)
	if _, until, _ = e.Svc.CheckSession(ctx, tok); !until.Equal(login.Add(10 * time.Minute)) {
		t.Fatalf("a check moved the idle deadline to %v", until)
	}
	if _, err := e.Svc.Authenticate(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, until, _ = e.Svc.CheckSession(ctx, tok); !until.Equal(login.Add(16 * time.Minute)) {
		t.Fatalf("after use at minute 6: live until %v, want %v", until, login.Add(16*time.Minute))
	}
	e.Clock.Advance(10 * time.Minute)
	if _, _, err := e.Svc.CheckSession(ctx, tok); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("after 10 idle minutes: %v, want ErrInvalidSession", err)
	}
}

// A session used on one instance is not idle on another whose cache saw
// it before: the cache's idle verdict is checked against the store.
func TestUseOnOneInstanceKeepsSessionLiveOnAnother(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) { c.IdleTimeout = 10 * time.Minute })
	other, err := localauth.New(MustOpenStore(t, e.Path), localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		IdleTimeout: 10 * time.Minute, CacheMaxAge: time.Hour, Now: e.Clock.Now, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	e.MustRegister(t, "alice", goodPW)
	tok := e.MustLogin(t, "alice", goodPW).Token
	if _, err := other.Authenticate(ctx, tok); err != nil { // cached on the other
		t.Fatal(err)
	}
	e.Clock.Advance(8 * time.Minute)
	if _, err := e.Svc.Authenticate(ctx, tok); err != nil { // used on this one
		t.Fatal(err)
	}
	e.Clock.Advance(4 * time.Minute)
	if _, _, err := other.CheckSession(ctx, tok); err != nil {
		t.Fatalf("used 4 minutes ago on another instance: %v", err)
	}
}
