package localauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/localauth/localauth"
)

// mailsAbout counts the mails to the address whose subject holds subject.
func (e *mailEnv) mailsAbout(to, subject string) int {
	n := 0
	for _, m := range e.SMTP.Messages() {
		if s, _ := m.Text(); contains(m.To, to) && strings.Contains(s, subject) {
			n++
		}
	}
	return n
}

// A sign-in from a device the account has not trusted before mails the
// owner once, naming the browser; the account's first sign-in, a device it
// knows and an owner who turned the alert off get none.
func TestNewDeviceSignInAlert(t *testing.T) {
	mailStores(t, func(t *testing.T, open func(t *testing.T) localauth.Store) {
		e := newMailEnv(t, open(t), nil, nil)
		e.register(t, "alice", "alice@example.com", true)
		const subject = "New sign-in"
		firefox := localauth.WithUserAgent(ctx, "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
		android := localauth.WithUserAgent(localauth.WithClientIP(ctx, "203.0.113.9"),
			"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")

		first, err := e.Svc.Login(firefox, "alice", goodPW)
		if err != nil {
			t.Fatal(err)
		}
		e.deliver(t)
		if n := e.mailsAbout("alice@example.com", subject); n != 0 {
			t.Fatalf("%d alerts for the account's first sign-in, want none", n)
		}

		phone, err := e.Svc.Login(android, "alice", goodPW)
		if err != nil {
			t.Fatal(err)
		}
		m := e.SMTP.WaitFor(t, "alice@example.com", subject)
		_, body := m.Text()
		if !strings.Contains(body, "Chrome on Android") || !strings.Contains(body, "https://auth.example.com/account") {
			t.Fatalf("the alert names neither the browser nor the activity page:\n%s", body)
		}
		for _, secret := range []string{string(phone.Token), string(phone.DeviceToken), goodPW} {
			if strings.Contains(body, secret) {
				t.Fatal("the alert holds a secret")
			}
		}

		// The same phone again, with the token it was given: known.
		if _, err := e.Svc.Login(localauth.WithDeviceToken(android, phone.DeviceToken), "alice", goodPW); err != nil {
			t.Fatal(err)
		}
		e.deliver(t)
		if n := e.mailsAbout("alice@example.com", subject); n != 1 {
			t.Fatalf("%d alerts after a known device signed in again, want the one", n)
		}

		// Turned off: a third browser signs in unannounced.
		if err := e.Svc.SetSignInAlerts(ctx, first.Token, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Svc.Login(ctx, "alice", goodPW); err != nil {
			t.Fatal(err)
		}
		e.deliver(t)
		if n := e.mailsAbout("alice@example.com", subject); n != 1 {
			t.Fatalf("%d alerts with sign-in alerts off, want still the one", n)
		}
	})
}

// An account locked by failed attempts mails its owner once per lock, not
// once per refused attempt.
func TestAccountLockedAlertOncePerLock(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	e.MustLoginMail(t)
	const subject = "was locked"
	locked := 0
	for range 12 {
		_, err := e.Svc.Login(ctx, "alice", "wrong password")
		if errors.Is(err, localauth.ErrRateLimited) {
			locked++
		} else if !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("a wrong password: %v", err)
		}
	}
	if locked < 2 {
		t.Fatalf("%d of 12 wrong passwords refused by the lock, want several", locked)
	}
	e.deliver(t)
	if n := e.mailsAbout("alice@example.com", subject); n != 1 {
		t.Fatalf("%d lock alerts for one lock, want 1", n)
	}
	evs, err := e.Svc.UserActivity(ctx, mustUserID(t, e, "alice"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Type != localauth.ActivityAccountLocked || evs[0].Count != locked {
		t.Fatalf("newest event %+v, want one account_locked counting %d refusals", evs[0], locked)
	}
}

// MustLoginMail signs alice in once, so that her later failures count
// since a sign-in.
func (e *mailEnv) MustLoginMail(t *testing.T) {
	t.Helper()
	if _, err := e.Svc.Login(ctx, "alice", goodPW); err != nil {
		t.Fatal(err)
	}
}

func mustUserID(t *testing.T, e *mailEnv, name string) int64 {
	t.Helper()
	u, err := e.Store.UserByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// A reset by the mailed link and a confirmed address change show in the
// owner's activity, and the reset forgets every trusted device.
func TestResetAndEmailChangeInActivity(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	res, err := e.Svc.Login(ctx, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.ResetPassword(ctx, e.token(t, "alice@example.com", "Reset", "/reset-password"), "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if ds, err := e.Svc.Devices(ctx, mustUserID(t, e, "alice")); err != nil || len(ds) != 0 {
		t.Fatalf("trusted devices after a reset: %v %v, want none", ds, err)
	}
	// The old device token is a stranger's now.
	if _, err := e.Svc.Login(localauth.WithDeviceToken(ctx, res.DeviceToken), "alice", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	evs, err := e.Svc.UserActivity(ctx, mustUserID(t, e, "alice"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	got := strings.Join(types, " ")
	if !strings.Contains(got, "login device_trusted password_reset") && !strings.Contains(got, "device_trusted login password_reset") {
		t.Fatalf("activity newest first: %s, want a password_reset before the new sign-in", got)
	}
	if err := e.Svc.SetUserEmail(ctx, "alice", "alice@example.org", true); err != nil {
		t.Fatal(err)
	}
	evs, err = e.Svc.UserActivity(ctx, mustUserID(t, e, "alice"), 0, 1)
	if err != nil || len(evs) != 1 || evs[0].Type != localauth.ActivityEmailChanged {
		t.Fatalf("newest event after an address change: %+v %v", evs, err)
	}
}
