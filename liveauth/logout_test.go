package liveauth_test

import (
	"errors"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/liveauth"
)

// signedIn opens a tab on route holding a new session of username, and
// checks that it is signed in.
func (s *site) signedIn(tb testing.TB, username, route string) *page {
	tb.Helper()
	tok := s.mustLogin(tb, username)
	p := s.open(tb, route, map[string]string{liveauth.LocalStorageKey: string(tok)})
	if u := p.user(); u.Username != username {
		tb.Fatalf("the tab is signed in as %+v, want %s; got:\n%s", u, username, p.log.String())
	}
	return p
}

// signedOut waits until the page shows no user, no private data and keeps
// no token.
func (p *page) signedOut() {
	p.tb.Helper()
	p.until("the tab to be signed out", func() bool {
		_, kept := p.local[liveauth.LocalStorageKey]
		return p.user().ID == -1 && !p.flag("auth.is_authenticated") && p.str("private.secret") == "" && !kept
	})
}

// Logging out ends the session in the store, takes the token out of the
// page and clears the private data, in this tab and in every other tab of
// the same session; another user's tab stays signed in.
func TestLogoutEndsTheSessionEverywhereItShows(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	s.mustRegister(t, "bob")
	p := s.open(t, liveauth.LoginRoute+"?next="+privateRoute, nil)
	p.follow(p.login("alice"))
	tok := p.token()
	if p.str("private.secret") != "secret of alice" {
		t.Fatalf("private value %q before the logout", p.str("private.secret"))
	}
	twin := s.open(t, privateRoute, map[string]string{liveauth.LocalStorageKey: string(tok)})
	bob := s.signedIn(t, "bob", privateRoute)

	r := p.event("auth.do_logout", nil)
	if len(r.actions("local_remove")) != 1 {
		t.Fatalf("the logout did not remove the token from LocalStorage; got:\n%s", p.log.String())
	}
	if len(r.actions("post")) != 0 {
		t.Fatal("a LocalStorage page was asked to post to the cookie logout endpoint")
	}
	p.signedOut()
	if _, err := s.svc.Authenticate(clientCtx, tok); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("the session outlived the logout: %v", err)
	}
	twin.signedOut()
	bob.event("login.redir", nil)
	if bob.str("private.secret") != "secret of bob" {
		t.Fatalf("another user's tab lost its session; got:\n%s", bob.log.String())
	}

	// A second logout, with nothing left to end, is quiet.
	p.event("auth.do_logout", nil)
}

// Sessions ended from elsewhere (every session of the user, or all
// sessions of everyone) sign their open tabs out at once.
func TestSessionsEndedElsewhereSignTabsOut(t *testing.T) {
	s := mustSite(t, siteConfig{})
	alice := s.mustRegister(t, "alice")
	s.mustRegister(t, "bob")

	p := s.signedIn(t, "alice", privateRoute)
	if _, err := s.svc.RevokeSessions(clientCtx, alice.ID); err != nil {
		t.Fatal(err)
	}
	p.signedOut()
	// The spinner of the private page then sends it to log in.
	if got := p.event("login.redir", nil).redirect(); got != liveauth.LoginRoute {
		t.Fatalf("redirect %q, want %q", got, liveauth.LoginRoute)
	}

	q := s.signedIn(t, "alice", privateRoute)
	other := s.mustLogin(t, "alice")
	if _, err := s.svc.EndOtherSessions(clientCtx, other); err != nil {
		t.Fatal(err)
	}
	q.signedOut()

	r := s.signedIn(t, "bob", privateRoute)
	if err := s.svc.DisableUser(clientCtx, mustUser(t, s, "bob").ID); err != nil {
		t.Fatal(err)
	}
	r.signedOut()
}

func mustUser(tb testing.TB, s *site, name string) localauth.User {
	tb.Helper()
	u, err := s.svc.UserByName(clientCtx, name)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
