package liveauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/liveauth"
)

// sessions is the account page's list of sessions.
func (p *page) sessions() []liveauth.SessionRow {
	p.tb.Helper()
	var rows []liveauth.SessionRow
	p.decode("account.sessions", &rows)
	return rows
}

// otherSession returns the id of the one listed session that is not the
// tab's own.
func (p *page) otherSession() string {
	p.tb.Helper()
	for _, r := range p.sessions() {
		if !r.Current {
			return r.ID
		}
	}
	p.tb.Fatalf("no other session listed: %+v", p.sessions())
	return ""
}

// oldLogin moves the clock past the reauthentication window, so that the
// tabs' logins are no longer recent.
func (s *site) oldLogin() { s.clock.Advance(11 * time.Minute) }

// The account page lists the user's sessions, marks its own, ends another
// one (whose tab signs out at once), and the user's other account pages
// drop the ended session from their lists.
func TestAccountPageEndsAnotherSession(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	victim := s.signedIn(t, "alice", privateRoute)
	watcher := s.signedIn(t, "alice", liveauth.AccountRoute)
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	rows := p.sessions()
	if len(rows) != 3 {
		t.Fatalf("%d sessions listed, want 3: %+v", len(rows), rows)
	}
	current := 0
	for _, r := range rows {
		if r.Current {
			current++
		}
		if r.ID == "" || r.LastSeen == "" {
			t.Fatalf("a row lacks its id or last use: %+v", r)
		}
	}
	if current != 1 {
		t.Fatalf("%d sessions marked current, want 1", current)
	}
	var victimID string
	for _, r := range rows {
		if r.ID != sessionIDOf(t, p) && r.ID != sessionIDOf(t, watcher) {
			victimID = r.ID
		}
	}
	p.event("account.end_session", map[string]string{"id": victimID})
	if got := p.str("account.message"); got != liveauth.MsgSessionEnded {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgSessionEnded, p.str("account.error_message"))
	}
	if n := len(p.sessions()); n != 2 {
		t.Fatalf("%d sessions listed after ending one, want 2", n)
	}
	victim.signedOut()
	watcher.until("the watcher's list to drop the ended session", func() bool {
		for _, r := range watcher.sessions() {
			if r.ID == victimID {
				return false
			}
		}
		return true
	})

	// An unknown id is refused in words.
	p.event("account.end_session", map[string]string{"id": "no-such-session"})
	if got, want := p.str("account.error_message"), publicMessage(localauth.ErrSessionNotFound); got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
}

// sessionIDOf returns the id of the tab's own session.
func sessionIDOf(tb testing.TB, p *page) string {
	tb.Helper()
	for _, r := range p.sessions() {
		if r.Current {
			return r.ID
		}
	}
	tb.Fatal("no current session listed")
	return ""
}

// The account page's lists and values are computed on the account page
// only: elsewhere they are empty, and cost no query.
func TestAccountValuesOnlyOnTheAccountPage(t *testing.T) {
	s := mustSite(t, siteConfig{})
	alice := s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", privateRoute)
	if rows := p.sessions(); len(rows) != 0 {
		t.Fatalf("sessions listed off the account page: %+v", rows)
	}
	p.nav(liveauth.AccountRoute)
	if len(p.sessions()) != 1 {
		t.Fatalf("sessions %+v on the account page, want 1", p.sessions())
	}
	var info liveauth.AccountInfo
	p.decode("account.info", &info)
	if want := alice.CreatedAt.UTC().Format("2 January 2006"); info.MemberSince != want {
		t.Fatalf("member since %q, want %q", info.MemberSince, want)
	}
	p.nav(privateRoute)
	p.decode("account.info", &info)
	if info.MemberSince != "" {
		t.Fatalf("member since %q shown off the account page", info.MemberSince)
	}
}

// An action that needs a recent login asks for the password inline and
// waits; a wrong password says so and keeps waiting; the right one carries
// the action out.
func TestAccountActionWaitsForThePassword(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	other := s.signedIn(t, "alice", privateRoute)
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	s.oldLogin()

	r := p.event("account.end_others", nil)
	if !p.flag("account.reauth_needed") || p.flag("account.code_needed") || p.str("account.message") != liveauth.MsgConfirmPassword {
		t.Fatalf("no password prompt; got:\n%s", p.log.String())
	}
	if !r.focused("reauth_password") {
		t.Fatalf("focus %v, want the password prompt", r.actions("focus"))
	}
	if _, err := s.svc.Authenticate(clientCtx, other.token()); err != nil {
		t.Fatalf("the other session ended before the password was confirmed: %v", err)
	}

	r = p.event("account.reauth", map[string]string{"password": "not it"})
	if got := p.str("account.error_message"); got != localauth.MsgWrongPassword {
		t.Fatalf("error %q, want %q", got, localauth.MsgWrongPassword)
	}
	if !p.flag("account.reauth_needed") || !r.has("set_value", "reauth_password", "") {
		t.Fatal("a wrong password closed the prompt or left the field filled")
	}

	p.event("account.reauth", map[string]string{"password": pw})
	if got := p.str("account.message"); got != liveauth.MsgOtherSessionsEnded {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgOtherSessionsEnded, p.str("account.error_message"))
	}
	if p.flag("account.reauth_needed") {
		t.Fatal("the prompt still shows after the action")
	}
	other.signedOut()
	if n := len(p.sessions()); n != 1 {
		t.Fatalf("%d sessions listed, want 1", n)
	}
}

// Each action that waited for the password resumes once it is confirmed.
func TestEveryPendingActionResumes(t *testing.T) {
	for _, c := range []struct {
		name  string
		event string
		check func(t *testing.T, s *site, p, other *page)
	}{
		{"end one session", "account.end_session", func(t *testing.T, s *site, p, other *page) {
			if p.str("account.message") != liveauth.MsgSessionEnded {
				t.Fatalf("message %q", p.str("account.message"))
			}
			other.signedOut()
		}},
		{"this wasn't me", "account.wasnt_me", func(t *testing.T, s *site, p, other *page) {
			if p.str("account.message") != liveauth.MsgWasntMe {
				t.Fatalf("message %q", p.str("account.message"))
			}
			other.signedOut()
		}},
		{"delete the account", "account.delete", func(t *testing.T, s *site, p, other *page) {
			if _, err := s.svc.UserByName(clientCtx, "alice"); !errors.Is(err, localauth.ErrUserNotFound) {
				t.Fatalf("the account outlived its deletion: %v", err)
			}
			p.signedOut()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustSite(t, siteConfig{})
			s.mustRegister(t, "alice")
			other := s.signedIn(t, "alice", privateRoute)
			p := s.signedIn(t, "alice", liveauth.AccountRoute)
			s.oldLogin()
			fields := map[string]string{"id": p.otherSession(), "confirm": "yes"}
			p.event(c.event, fields)
			if !p.flag("account.reauth_needed") {
				t.Fatalf("no password prompt; got:\n%s", p.log.String())
			}
			p.event("account.reauth", map[string]string{"password": pw})
			c.check(t, s, p, other)
		})
	}
}

// Cancel drops the waiting action: a later confirmation does nothing.
func TestCancelDropsThePendingAction(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	other := s.signedIn(t, "alice", privateRoute)
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	s.oldLogin()
	p.event("account.end_others", nil)
	p.event("account.cancel", nil)
	if p.flag("account.reauth_needed") || p.str("account.message") != "" {
		t.Fatalf("cancel left the prompt; got:\n%s", p.log.String())
	}
	p.event("account.reauth", map[string]string{"password": pw})
	if _, err := s.svc.Authenticate(clientCtx, other.token()); err != nil {
		t.Fatalf("a cancelled action ran: %v", err)
	}
	if p.str("account.message") != "" || p.str("account.error_message") != "" {
		t.Fatalf("a confirmation with nothing pending said %q / %q", p.str("account.message"), p.str("account.error_message"))
	}
}

// The password change checks that the new password was typed twice alike
// and that the current one is right, ends the user's other sessions and
// keeps this one, even when the login is no longer recent: the current
// password is the confirmation.
func TestChangePassword(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	other := s.signedIn(t, "alice", privateRoute)
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	const next = "a new and longer passphrase"

	r := p.event("account.change_password", map[string]string{
		"current_password": pw, "new_password": next, "confirm_new_password": next + "x"})
	if got := p.str("account.error_message"); got != liveauth.MsgNewPasswordMismatch {
		t.Fatalf("error %q, want %q", got, liveauth.MsgNewPasswordMismatch)
	}
	if !r.focused("confirm_new_password") || !r.has("set_value", "confirm_new_password", "") {
		t.Fatal("the confirmation field was not cleared and focused")
	}

	for _, old := range []bool{false, true} {
		if old {
			s.oldLogin()
		}
		r = p.event("account.change_password", map[string]string{
			"current_password": "not it", "new_password": next, "confirm_new_password": next})
		if got := p.str("account.error_message"); got != localauth.MsgWrongPassword {
			t.Errorf("old login %v: a wrong current password got %q, want %q", old, got, localauth.MsgWrongPassword)
		}
		if !r.focused("current_password") || !r.has("set_value", "current_password", "") {
			t.Errorf("old login %v: the current password field was not cleared and focused", old)
		}
	}

	r = p.event("account.change_password", map[string]string{
		"current_password": pw, "new_password": next, "confirm_new_password": next})
	if got := p.str("account.message"); got != liveauth.MsgPasswordChanged {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgPasswordChanged, p.str("account.error_message"))
	}
	for _, id := range []string{"current_password", "new_password", "confirm_new_password"} {
		if !r.has("set_value", id, "") {
			t.Errorf("field %s not cleared after the change", id)
		}
	}
	if _, err := s.svc.Login(clientCtx, "alice", next); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}
	if _, err := s.svc.Login(clientCtx, "alice", pw); err == nil {
		t.Fatal("the old password still logs in")
	}
	other.signedOut()
	if _, err := s.svc.Authenticate(clientCtx, p.token()); err != nil {
		t.Fatalf("the session that changed the password ended: %v", err)
	}
}

// Deleting the account asks first; on "yes" the account and its sessions
// are gone and the tab is signed out on the home page.
func TestDeleteAccount(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	r := p.event("account.delete", nil)
	if !p.flag("account.confirm_delete") || !r.focused("delete-confirm") {
		t.Fatalf("no confirmation asked; got:\n%s", p.log.String())
	}
	if _, err := s.svc.UserByName(clientCtx, "alice"); err != nil {
		t.Fatalf("the question alone deleted the account: %v", err)
	}
	p.event("account.cancel", nil)
	if p.flag("account.confirm_delete") {
		t.Fatal("cancel left the question")
	}
	p.event("account.delete", nil)
	r = p.event("account.delete", map[string]string{"confirm": "yes"})
	if got := r.redirect(); got != "/" {
		t.Fatalf("redirect %q, want /", got)
	}
	if p.flag("account.confirm_delete") {
		t.Fatal("the question still shows")
	}
	if _, err := s.svc.UserByName(clientCtx, "alice"); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("the account outlived its deletion: %v", err)
	}
	p.signedOut()
}

// "This wasn't me" ends every other session and turns the page to the
// password change.
func TestWasntMeEndsOtherSessions(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	other := s.signedIn(t, "alice", privateRoute)
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	r := p.event("account.wasnt_me", nil)
	if got := p.str("account.message"); got != liveauth.MsgWasntMe {
		t.Fatalf("message %q, want %q", got, liveauth.MsgWasntMe)
	}
	if !r.focused("current_password") {
		t.Fatalf("focus %v, want the password change", r.actions("focus"))
	}
	other.signedOut()
}

// The account page lists the user's recent security activity, offers
// "This wasn't me" beside other sessions' sign-ins only, and says how many
// sign-ins failed since the previous one.
func TestSecurityActivityOnTheAccountPage(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	s.mustLogin(t, "alice")
	if _, err := s.svc.Login(clientCtx, "alice", "wrong guess"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	var rows []liveauth.ActivityRow
	p.decode("account.activity", &rows)
	logins, mine, failed := 0, 0, 0
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.What, "Signed in"):
			logins++
			if !r.Login {
				mine++
			}
			if r.IP != "192.0.2.1" || r.When == "" || r.Session == "" {
				t.Errorf("sign-in row lacks its address, time or session: %+v", r)
			}
		case strings.HasPrefix(r.What, "Failed sign-in attempts"):
			failed++
		}
	}
	if logins != 2 || mine != 1 || failed != 1 {
		t.Fatalf("activity %+v: %d sign-ins (%d of this session), %d failures; want 2 (1), 1", rows, logins, mine, failed)
	}
	if got := p.str("account.failed_notice"); !strings.HasPrefix(got, "1 failed attempt since your last sign-in") {
		t.Fatalf("failed notice %q", got)
	}
}

// The sign-in alert choice is saved and shown.
func TestSignInAlertChoice(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	var a liveauth.AlertSettings
	p.decode("account.alerts", &a)
	if !a.SignIn {
		t.Fatal("sign-in alerts are off by default")
	}
	for _, c := range []struct {
		enabled string
		on      bool
		message string
		focus   string
	}{
		{"no", false, liveauth.MsgAlertsOff, "alerts-on"},
		{"yes", true, liveauth.MsgAlertsOn, "alerts-off"},
	} {
		r := p.event("account.sign_in_alerts", map[string]string{"enabled": c.enabled})
		if got := p.str("account.message"); got != c.message {
			t.Fatalf("message %q, want %q", got, c.message)
		}
		p.decode("account.alerts", &a)
		on, err := s.svc.SignInAlerts(clientCtx, p.token())
		if err != nil {
			t.Fatal(err)
		}
		if a.SignIn != c.on || on != c.on {
			t.Fatalf("enabled=%s: page shows %v, store holds %v, want %v", c.enabled, a.SignIn, on, c.on)
		}
		if !r.focused(c.focus) {
			t.Fatalf("focus %v, want %s", r.actions("focus"), c.focus)
		}
	}
}

// An account action from a tab whose session ended meanwhile says the user
// is signed out, in words.
func TestAccountActionAfterTheSessionEnded(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	tok := p.token()
	if err := s.svc.Logout(clientCtx, tok); err != nil {
		t.Fatal(err)
	}
	p.signedOut()
	p.event("account.end_others", nil)
	if got, want := p.str("account.error_message"), publicMessage(localauth.ErrInvalidSession); got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
}
