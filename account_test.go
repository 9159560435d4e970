package localauth_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

const (
	firefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	chromeAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36"
)

// loginFrom logs in as a client with an address and a User-Agent.
func (e *Env) loginFrom(t *testing.T, name, ip, ua string) localauth.LoginResult {
	t.Helper()
	c := localauth.WithUserAgent(localauth.WithClientIP(ctx, ip), ua)
	r, err := e.Svc.Login(c, name, goodPW)
	if err != nil {
		t.Fatalf("Login(%q) from %s: %v", name, ip, err)
	}
	return r
}

func TestListSessions(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	e.MustRegister(t, "bob", goodPW)
	first := e.loginFrom(t, "alice", "192.0.2.1", firefoxLinux)
	e.Clock.Advance(time.Minute)
	second := e.loginFrom(t, "alice", "192.0.2.2", chromeAndroid)
	e.Clock.Advance(time.Minute)
	e.loginFrom(t, "alice", "192.0.2.3", "curl/8.5.0")
	e.loginFrom(t, "bob", "192.0.2.9", firefoxLinux)

	got, err := e.Svc.ListSessions(ctx, second.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d sessions, want alice's 3", len(got))
	}
	want := []struct {
		ip, device string
		current    bool
	}{{"192.0.2.3", "curl", false}, {"192.0.2.2", "Chrome on Android", true}, {"192.0.2.1", "Firefox on Linux", false}}
	for i, w := range want {
		if got[i].IP != w.ip || got[i].Device != w.device || got[i].Current != w.current {
			t.Errorf("session %d: got %+v, want %+v (newest first)", i, got[i], w)
		}
	}
	if got[2].ID != first.Session.PublicID || len(got[2].ID) != 22 || got[0].ID == got[1].ID {
		t.Errorf("ids: %q %q %q", got[0].ID, got[1].ID, got[2].ID)
	}
	if _, err := e.Svc.ListSessions(ctx, "not a token"); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("without a session: %v", err)
	}
}

func TestEndSessionByID(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	e.MustRegister(t, "bob", goodPW)
	me := e.loginFrom(t, "alice", "192.0.2.1", firefoxLinux)
	laptop := e.loginFrom(t, "alice", "192.0.2.2", chromeAndroid)
	bob := e.loginFrom(t, "bob", "192.0.2.9", firefoxLinux)
	var mu sync.Mutex
	var told []localauth.TokenHash
	defer e.Svc.OnRevoke(func(r localauth.Revocation) {
		mu.Lock()
		told = append(told, r.TokenHash)
		mu.Unlock()
	})()

	// Another user's session is not found, exactly as an unknown id.
	for _, id := range []string{bob.Session.PublicID, "AAAAAAAAAAAAAAAAAAAAAA", "../../etc", ""} {
		if err := e.Svc.EndSession(ctx, me.Token, id); !errors.Is(err, localauth.ErrSessionNotFound) {
			t.Fatalf("EndSession(%q): %v, want ErrSessionNotFound", id, err)
		}
	}
	if _, err := e.Svc.Authenticate(ctx, bob.Token); err != nil {
		t.Fatalf("bob's session after alice's attempt: %v", err)
	}
	// Ending another of one's own sessions needs a recent login.
	e.Clock.Advance(11 * time.Minute)
	if err := e.Svc.EndSession(ctx, me.Token, laptop.Session.PublicID); !errors.Is(err, localauth.ErrReauthRequired) {
		t.Fatalf("without a recent login: %v, want ErrReauthRequired", err)
	}
	// The user is signed in: the answer may say the password was wrong.
	err := e.Svc.Reauth(ctx, me.Token, "wrong password")
	if !errors.Is(err, localauth.ErrWrongPassword) || !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("Reauth with a wrong password: %v", err)
	}
	if code, msg, _ := localauth.Public(err); code != localauth.CodeInvalidCredentials || msg != localauth.MsgWrongPassword {
		t.Fatalf("Reauth with a wrong password is worded %s %q", code, msg)
	}
	if err := e.Svc.Reauth(ctx, me.Token, goodPW); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.EndSession(ctx, me.Token, laptop.Session.PublicID); err != nil {
		t.Fatalf("after Reauth: %v", err)
	}
	if _, err := e.Svc.Authenticate(ctx, laptop.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("the ended session still authenticates: %v", err)
	}
	// A listener may hear a revocation twice (from this process, then from
	// the store's log); it must hear of the ended session and no other.
	mu.Lock()
	for _, h := range told {
		if h != laptop.Session.TokenHash {
			t.Fatalf("listeners told of another session than the ended one")
		}
	}
	if len(told) == 0 {
		t.Fatal("listeners were not told of the ended session")
	}
	mu.Unlock()
	// Ending one's own current session is a logout: no recent login needed.
	e.Clock.Advance(11 * time.Minute)
	if err := e.Svc.EndSession(ctx, me.Token, me.Session.PublicID); err != nil {
		t.Fatalf("ending one's own session: %v", err)
	}
	if _, err := e.Svc.Authenticate(ctx, me.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("after ending it: %v", err)
	}
}

func TestEndOtherSessionsAndChangePasswordNeedRecentLogin(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "alice", goodPW)
	me := e.loginFrom(t, "alice", "192.0.2.1", firefoxLinux)
	for range 2 {
		e.loginFrom(t, "alice", "192.0.2.2", chromeAndroid)
	}
	e.Clock.Advance(10 * time.Minute)
	if _, err := e.Svc.EndOtherSessions(ctx, me.Token); !errors.Is(err, localauth.ErrReauthRequired) {
		t.Fatalf("EndOtherSessions without a recent login: %v", err)
	}
	if err := e.Svc.ChangePassword(ctx, me.Token, goodPW, "another fine passphrase"); !errors.Is(err, localauth.ErrReauthRequired) {
		t.Fatalf("ChangePassword without a recent login: %v", err)
	}
	if err := e.Svc.DeleteAccount(ctx, me.Token); !errors.Is(err, localauth.ErrReauthRequired) {
		t.Fatalf("DeleteAccount without a recent login: %v", err)
	}
	if err := e.Svc.Reauth(ctx, me.Token, goodPW); err != nil {
		t.Fatal(err)
	}
	n, err := e.Svc.EndOtherSessions(ctx, me.Token)
	if err != nil || n != 2 {
		t.Fatalf("EndOtherSessions: %d, %v; want 2", n, err)
	}
	sessions, _ := e.Svc.Sessions(ctx, u.ID)
	if len(sessions) != 1 || sessions[0].TokenHash != me.Session.TokenHash {
		t.Fatalf("after EndOtherSessions: %d sessions, want only the caller's", len(sessions))
	}
	// The weak and common passwords registration refuses are refused here.
	for _, weak := range []string{"short", "password123", "alice"} {
		if err := e.Svc.ChangePassword(ctx, me.Token, goodPW, weak); !errors.Is(err, localauth.ErrWeakPassword) {
			t.Fatalf("ChangePassword to %q: %v, want ErrWeakPassword", weak, err)
		}
	}
	if err := e.Svc.ChangePassword(ctx, me.Token, "wrong current one", "another fine passphrase"); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("a wrong current password: %v", err)
	}
	if err := e.Svc.ChangePassword(ctx, me.Token, goodPW, "another fine passphrase"); err != nil {
		t.Fatalf("ChangePassword with a recent login: %v", err)
	}
	e.MustLogin(t, "alice", "another fine passphrase")
}

func TestDeleteAccount(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "alice", goodPW)
	me := e.loginFrom(t, "alice", "192.0.2.1", firefoxLinux)
	other := e.loginFrom(t, "alice", "192.0.2.2", chromeAndroid)
	if err := e.Svc.DeleteAccount(ctx, me.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.User(ctx, u.ID); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("the user after DeleteAccount: %v", err)
	}
	for _, tok := range []localauth.Token{me.Token, other.Token} {
		if _, err := e.Svc.Authenticate(ctx, tok); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("a session after DeleteAccount: %v", err)
		}
	}
	trusted, err := e.Store.DeviceTrusted(ctx, u.ID, localauth.HashToken(me.DeviceToken), e.Clock.Now())
	if err != nil || trusted {
		t.Fatalf("the device token after DeleteAccount: trusted %v, %v", trusted, err)
	}
	// The name is free again.
	e.MustRegister(t, "alice", goodPW)
}

func TestRememberAndIdleLifetimes(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	plain := e.MustLogin(t, "alice", goodPW)
	remembered, err := e.Svc.Login(ctx, "alice", goodPW, localauth.LoginOptions{Remember: true})
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	if got := plain.Session.ExpiresAt.Sub(now); got != 7*24*time.Hour || plain.Session.Remember {
		t.Fatalf("a plain session lives %v (remember %v), want 7 days", got, plain.Session.Remember)
	}
	if got := remembered.Session.ExpiresAt.Sub(now); got != 30*24*time.Hour || !remembered.Session.Remember {
		t.Fatalf("a remembered session lives %v, want 30 days", got)
	}
	// Used every 6 days, the remembered one lives on past 7 days; unused
	// for 7 days, a session ends.
	for range 2 {
		e.Clock.Advance(6 * 24 * time.Hour)
		if _, err := e.Svc.Authenticate(ctx, remembered.Token); err != nil {
			t.Fatalf("a remembered session in use: %v", err)
		}
	}
	if _, err := e.Svc.Authenticate(ctx, plain.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("a plain session after 12 days: %v", err)
	}
	e.Clock.Advance(7 * 24 * time.Hour)
	if _, err := e.Svc.Authenticate(ctx, remembered.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("a session unused for 7 days: %v", err)
	}
}

func TestAdminRevokeSessionByID(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	a := e.MustLogin(t, "alice", goodPW)
	b := e.MustLogin(t, "alice", goodPW)
	if err := e.Svc.RevokeSession(ctx, a.Session.PublicID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Svc.Authenticate(ctx, a.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("the revoked session: %v", err)
	}
	if _, err := e.Svc.Authenticate(ctx, b.Token); err != nil {
		t.Fatalf("the other session: %v", err)
	}
	if err := e.Svc.RevokeSession(ctx, a.Session.PublicID); !errors.Is(err, localauth.ErrSessionNotFound) {
		t.Fatalf("revoking it again: %v", err)
	}
}

func TestDeviceLabel(t *testing.T) {
	for ua, want := range map[string]string{
		firefoxLinux:  "Firefox on Linux",
		chromeAndroid: "Chrome on Android",
		"curl/8.5.0":  "curl",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":                      "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0":           "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iOS",
		"":                          "Unknown device",
		"<script>alert(1)</script>": "Unknown device",
	} {
		if got := localauth.DeviceLabel(ua); got != want {
			t.Errorf("DeviceLabel(%q) = %q, want %q", ua, got, want)
		}
	}
}
