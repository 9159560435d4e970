package liveauth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/sqlitestore"
)

// flakyStore is the SQLite store whose session lookups fail while down, as
// a database that went away: the fault injection these tests need.
type flakyStore struct {
	*sqlitestore.Store
	down atomic.Bool
}

func (f *flakyStore) SessionByTokenHash(ctx context.Context, th localauth.TokenHash) (localauth.Session, localauth.User, error) {
	if f.down.Load() {
		return localauth.Session{}, localauth.User{}, errors.New("connection refused")
	}
	return f.Store.SessionByTokenHash(ctx, th)
}

// outageSite is a site whose store can go down, with no session cache, so
// that every check of a tab reaches the store.
func outageSite(t *testing.T, recheck time.Duration) (*site, *flakyStore) {
	t.Helper()
	var fs *flakyStore
	s := mustSite(t, siteConfig{
		service: func(c *localauth.Config) { c.CacheSize = -1 },
		opts:    liveauth.Options{RecheckInterval: recheck},
		wrap: func(st *sqlitestore.Store) localauth.Store {
			fs = &flakyStore{Store: st}
			return fs
		},
	})
	s.mustRegister(t, "alice")
	return s, fs
}

// strandedOnLogin opens a tab of a live session while the store is down:
// it fails closed (anonymous), keeps its token, and is sent to /login.
func strandedOnLogin(t *testing.T, s *site, fs *flakyStore) *page {
	t.Helper()
	tok := s.mustLogin(t, "alice")
	fs.down.Store(true)
	p := s.open(t, privateRoute+"?x=1", map[string]string{liveauth.LocalStorageKey: string(tok)})
	if p.flag("auth.is_authenticated") || p.str("private.secret") != "" {
		t.Fatal("a tab whose session could not be checked is signed in")
	}
	if p.token() != tok {
		t.Fatal("the outage made the page forget its token")
	}
	p.follow(p.event("login.redir", nil))
	if p.token() != tok {
		t.Fatal("the page forgot its token on the way to /login")
	}
	return p
}

// Once the store answers again, a tab the outage left anonymous on the
// login page finds its session by itself, and goes back to the page it was
// on.
func TestTabReturnsByItselfAfterOutage(t *testing.T) {
	s, fs := outageSite(t, 10*time.Millisecond)
	p := strandedOnLogin(t, s, fs)
	fs.down.Store(false)
	p.until("the tab to return to its page", func() bool {
		for _, a := range p.actions {
			if a.Do == "redirect" && a.To == privateRoute+"?x=1" {
				return p.flag("auth.is_authenticated")
			}
		}
		return false
	})
	p.nav(privateRoute + "?x=1")
	if got := p.str("private.secret"); got != "secret of alice" {
		t.Fatalf("private value %q after the outage", got)
	}
}

// With the periodic check far off, the tab's next event checks its session
// first, the event sees the user again, and the tab ends up back on the page
// it was on. The page follows every redirect of an answer in turn, so the
// last one is where it ends up.
func TestTabRechecksBeforeItsNextEvent(t *testing.T) {
	s, fs := outageSite(t, time.Hour)
	p := strandedOnLogin(t, s, fs)
	fs.down.Store(false)
	r := p.event("login.redir", nil) // the login page's mount, after a reload
	var all []string
	for _, a := range r.actions("redirect") {
		all = append(all, a.To)
	}
	if got, want := r.redirect(), privateRoute+"?x=1"; got != want {
		t.Fatalf("the tab ends up on %q, want %q (redirects in order: %q)", got, want, all)
	}
	if !p.flag("auth.is_authenticated") {
		t.Fatal("the tab is not signed in again")
	}
}

// A session that ended during the outage is found ended once the store is
// back: the tab forgets its token instead of coming back.
func TestSessionEndedDuringOutageStaysEnded(t *testing.T) {
	s, fs := outageSite(t, time.Hour)
	p := strandedOnLogin(t, s, fs)
	fs.down.Store(false)
	if err := s.svc.Logout(clientCtx, p.token()); err != nil {
		t.Fatal(err)
	}
	r := p.event("login.redir", nil)
	if r.redirect() != "" || p.flag("auth.is_authenticated") {
		t.Fatalf("a tab of an ended session came back; got:\n%s", p.log.String())
	}
	if p.token() != "" {
		t.Fatal("the page keeps the token of an ended session")
	}
}
