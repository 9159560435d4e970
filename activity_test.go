package localauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

// activityTypes returns the types of the token's user's events, oldest
// first, and the events themselves newest first.
func activityTypes(t *testing.T, e *Env, tok localauth.Token) ([]string, []localauth.ActivityEvent) {
	t.Helper()
	evs, err := e.Svc.Activity(ctx, tok, 0, 0)
	if err != nil {
		t.Fatalf("Activity: %v", err)
	}
	types := make([]string, len(evs))
	for i, ev := range evs {
		types[len(evs)-1-i] = ev.Type
	}
	return types, evs
}

func wantTypes(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("activity, oldest first:\n got %v\nwant %v", got, want)
	}
}

func TestActivityRecordsEachEventOnce(t *testing.T) {
	e := MustFactorEnv(t)
	u := e.MustRegister(t, "alice", goodPW)
	c := localauth.WithUserAgent(localauth.WithClientIP(ctx, "198.51.100.7"), "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")

	first, err := e.Svc.Login(c, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	types, evs := activityTypes(t, e, first.Token)
	// A browser without a device cookie is a new device.
	wantTypes(t, types, localauth.ActivityLogin, localauth.ActivityDeviceTrusted)
	login := evs[1]
	if login.IP != "198.51.100.7" || login.Device != "Firefox on Linux" || login.SessionID != first.Session.PublicID || login.Count != 1 || login.UserID != u.ID {
		t.Fatalf("login event: got %+v, want the client's address, its browser's label, the session's public id", login)
	}

	// The same browser again, with its device token: a sign-in, no new device.
	dc := localauth.WithDeviceToken(c, first.DeviceToken)
	second, err := e.Svc.Login(dc, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	types, _ = activityTypes(t, e, first.Token)
	wantTypes(t, types, "login", "device_trusted", "login")

	if err := e.Svc.ChangePassword(c, first.Token, goodPW, goodPW+" again"); err != nil {
		t.Fatal(err)
	}
	types, evs = activityTypes(t, e, first.Token)
	wantTypes(t, types, "login", "device_trusted", "login", "device_forgotten", "password_changed")
	if evs[0].Detail != "1 other session ended" || evs[0].SessionID != first.Session.PublicID {
		t.Fatalf("password change event: got %+v, want the session that changed it and one other ended", evs[0])
	}
	_ = second

	// Factors, added and removed.
	en, err := e.Svc.EnrollTOTP(ctx, first.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.ConfirmTOTP(c, first.Token, e.code(t, en.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.DisableTOTP(c, first.Token); err != nil {
		t.Fatal(err)
	}
	types, evs = activityTypes(t, e, first.Token)
	wantTypes(t, types, "login", "device_trusted", "login", "device_forgotten", "password_changed", "factor_added", "factor_removed")
	if evs[0].Detail != "authenticator app" {
		t.Fatalf("factor event detail: got %q, want %q", evs[0].Detail, "authenticator app")
	}

	// Another session, ended by the owner; then all others; then a logout.
	other, err := e.Svc.Login(dc, "alice", goodPW+" again")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.EndSession(c, first.Token, other.Session.PublicID); err != nil {
		t.Fatal(err)
	}
	third, err := e.Svc.Login(dc, "alice", goodPW+" again")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.EndOtherSessions(c, first.Token); err != nil {
		t.Fatal(err)
	}
	_ = third
	types, evs = activityTypes(t, e, first.Token)
	wantTypes(t, types, "login", "device_trusted", "login", "device_forgotten", "password_changed", "factor_added", "factor_removed",
		"login", "device_trusted", "session_revoked", "login", "device_trusted", "device_forgotten", "session_revoked")
	// The device token dc carries was forgotten at the password change, and
	// each login rotates the token it gets: each login with it is a new
	// device; ending the other sessions from c (no device) forgets them.
	if evs[4].SessionID != other.Session.PublicID {
		t.Fatalf("ended session event names %q, want %q", evs[4].SessionID, other.Session.PublicID)
	}

	// An administrator's password reset and a logout, read by the operator.
	if err := e.Svc.SetPassword(ctx, u.ID, goodPW); err != nil {
		t.Fatal(err)
	}
	last := e.MustLogin(t, "alice", goodPW)
	if err := e.Svc.Logout(ctx, last.Token); err != nil {
		t.Fatal(err)
	}
	all, err := e.Svc.UserActivity(ctx, u.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if all[0].Type != "logout" || all[2].Type != "login" || all[3].Type != "password_changed" || all[3].Detail != "by an administrator" {
		t.Fatalf("newest events: got %+v, want a logout, a login and a device after an administrator's password change", all[:4])
	}

	// Nothing in any event is a secret.
	for _, ev := range all {
		for _, secret := range []string{string(first.Token), string(first.DeviceToken), first.Session.TokenHash.String(), goodPW, en.Secret} {
			if strings.Contains(ev.IP+ev.Device+ev.SessionID+ev.Detail, secret) {
				t.Fatalf("event %+v holds a secret", ev)
			}
		}
	}
}

func TestActivityFoldsFailedLogins(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "bob", goodPW)
	e.MustLogin(t, "bob", goodPW)
	for range 3 {
		e.Clock.Advance(time.Minute)
		if _, err := e.Svc.Login(ctx, "bob", "wrong password!"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("Login with a wrong password: %v", err)
		}
	}
	firstFail := NewClock().Now().Add(time.Minute)
	// A failure for an unknown user is nobody's activity.
	if _, err := e.Svc.Login(ctx, "nobody", "wrong password!"); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	res := e.MustLogin(t, "bob", goodPW)
	types, evs := activityTypes(t, e, res.Token)
	wantTypes(t, types, "login", "device_trusted", "login_failed", "login", "device_trusted")
	agg := evs[2]
	if agg.Count != 3 || !agg.FirstAt.Equal(firstFail) || !agg.At.Equal(firstFail.Add(2*time.Minute)) {
		t.Fatalf("failures: got %+v, want one event of 3 from %v to %v", agg, firstFail, firstFail.Add(2*time.Minute))
	}
	n, first, last, err := e.Svc.FailedAttempts(ctx, res.Token)
	if err != nil || n != 3 || !first.Equal(firstFail) || !last.Equal(firstFail.Add(2*time.Minute)) {
		t.Fatalf("FailedAttempts: got %d from %v to %v (%v), want 3 from %v", n, first, last, err, firstFail)
	}
	// The next sign-in has no failures before it.
	again := e.MustLogin(t, "bob", goodPW)
	if n, _, _, err := e.Svc.FailedAttempts(ctx, again.Token); err != nil || n != 0 {
		t.Fatalf("FailedAttempts after a clean sign-in: got %d (%v), want 0", n, err)
	}
}

func TestActivityAccountLocked(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) { c.Throttle.AccountFree = 2 })
	u := e.MustRegister(t, "cleo", goodPW)
	locked := 0
	for range 6 {
		_, err := e.Svc.Login(ctx, "cleo", "wrong password!")
		if errors.Is(err, localauth.ErrRateLimited) {
			locked++
		}
	}
	if locked == 0 {
		t.Fatal("the account was never throttled")
	}
	evs, err := e.Svc.UserActivity(ctx, u.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type)
		if ev.Type == localauth.ActivityAccountLocked && ev.Count != locked {
			t.Fatalf("account_locked counts %d refusals, want %d", ev.Count, locked)
		}
	}
	if strings.Count(strings.Join(got, " "), "account_locked") != 1 || strings.Count(strings.Join(got, " "), "login_failed") != 1 {
		t.Fatalf("events %v, want one login_failed and one account_locked", got)
	}
}

func TestActivityIsTheOwnersAlone(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "dan", goodPW)
	e.MustRegister(t, "eve", goodPW)
	dan := e.MustLogin(t, "dan", goodPW)
	e.Svc.Login(ctx, "eve", "wrong password!")
	eve := e.MustLogin(t, "eve", goodPW)
	for _, tc := range []struct {
		tok  localauth.Token
		user int64
	}{{dan.Token, dan.User.ID}, {eve.Token, eve.User.ID}} {
		evs, err := e.Svc.Activity(ctx, tc.tok, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.UserID != tc.user {
				t.Fatalf("user %d sees event %+v of user %d", tc.user, ev, ev.UserID)
			}
		}
	}
	if _, err := e.Svc.Activity(ctx, "not a token", 0, 0); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("Activity without a session: got %v, want ErrInvalidSession", err)
	}
}

func TestActivityPagesNewestFirst(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "fred", goodPW)
	var tok localauth.Token
	for range 5 {
		tok = e.MustLogin(t, "fred", goodPW).Token
	}
	page1, err := e.Svc.Activity(ctx, tok, 0, 4)
	if err != nil || len(page1) != 4 {
		t.Fatalf("first page: %d events (%v), want 4", len(page1), err)
	}
	page2, err := e.Svc.Activity(ctx, tok, page1[3].ID, 100)
	if err != nil || len(page2) != 6 {
		t.Fatalf("second page: %d events (%v), want the 6 older ones", len(page2), err)
	}
	if page2[0].ID >= page1[3].ID {
		t.Fatalf("the second page starts at %d, not before %d", page2[0].ID, page1[3].ID)
	}
}

func TestActivityRetention(t *testing.T) {
	e := MustEnv(t, func(c *localauth.Config) { c.ActivityRetention = 48 * time.Hour; c.PurgeInterval = -1 })
	u := e.MustRegister(t, "gina", goodPW)
	e.MustLogin(t, "gina", goodPW)
	e.Clock.Advance(24 * time.Hour)
	e.MustLogin(t, "gina", goodPW)
	e.Clock.Advance(25 * time.Hour)
	if _, err := e.Svc.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := e.Svc.UserActivity(ctx, u.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || !evs[0].At.Equal(NewClock().Now().Add(24*time.Hour)) {
		t.Fatalf("after 49h with 48h retention: got %+v, want only the second login and its device", evs)
	}
}

func TestSignInAlertsPreference(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "hal", goodPW)
	res := e.MustLogin(t, "hal", goodPW)
	if on, err := e.Svc.SignInAlerts(ctx, res.Token); err != nil || !on {
		t.Fatalf("SignInAlerts of a new user: %v (%v), want on", on, err)
	}
	if err := e.Svc.SetSignInAlerts(ctx, res.Token, false); err != nil {
		t.Fatal(err)
	}
	if on, err := e.Svc.WantsSignInAlert(ctx, u.ID); err != nil || on {
		t.Fatalf("WantsSignInAlert after turning alerts off: %v (%v), want off", on, err)
	}
	if err := e.Svc.SetSignInAlerts(ctx, "not a token", true); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("SetSignInAlerts without a session: %v, want ErrInvalidSession", err)
	}
}
