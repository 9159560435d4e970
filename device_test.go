package localauth_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/sqlitestore"
	"github.com/localauth/localauth/throttle"
)

// The attacks on trusted devices and recent logins, replayed against the
// Service over a real SQLite file: each client is its own address, each
// browser its own device cookie.

// from returns a context of a client at ip presenting device (none for "").
func from(ip string, device localauth.Token) context.Context {
	c := localauth.WithUserAgent(localauth.WithClientIP(ctx, ip), "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
	if device != "" {
		c = localauth.WithDeviceToken(c, device)
	}
	return c
}

// lockAccount sends wrong passwords for name from strangers' addresses
// until the account is throttled, and fails the test if it never is.
func lockAccount(t *testing.T, e *Env, name string) {
	t.Helper()
	for i := range 50 {
		_, err := e.Svc.Login(from(fmt.Sprintf("198.51.100.%d", i+1), ""), name, "not the password at all")
		if errors.Is(err, localauth.ErrRateLimited) {
			return
		}
		if !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	t.Fatal("50 wrong passwords never locked the account")
}

// trustedLogin logs name in with the password (and the code of secret,
// when given) from ip presenting device, and returns the result.
func trustedLogin(t *testing.T, e *Env, ip string, device localauth.Token, name, pw, secret string) localauth.LoginResult {
	t.Helper()
	res, err := e.Svc.Login(from(ip, device), name, pw)
	var sf *localauth.SecondFactorRequiredError
	if secret != "" && errors.As(err, &sf) {
		// A step of its own: a code is taken once.
		e.Clock.Advance(30 * time.Second)
		res, err = e.Svc.CompleteLogin(from(ip, device), sf.Token, localauth.SecondFactor{Code: e.code(t, secret, 0)})
	}
	if err != nil {
		t.Fatalf("login of %s from %s: %v", name, ip, err)
	}
	if res.DeviceToken == "" {
		t.Fatal("a completed login issued no device token")
	}
	return res
}

func TestTrustedDeviceDoesNotWidenCodeGuesses(t *testing.T) {
	e := MustFactorEnv(t)
	e.MustRegister(t, "gina", goodPW)
	secret, _ := e.MustEnableTOTP(t, "gina")
	// A browser that once completed a login: its cookie is what an
	// attacker copied.
	device := trustedLogin(t, e, "192.0.2.10", "", "gina", goodPW, secret).DeviceToken

	// 6 addresses, 3 password logins each, 5 wrong codes per second step.
	judged, limited := 0, 0
	for a := range 6 {
		ip := fmt.Sprintf("203.0.113.%d", a+1)
		for range 3 {
			_, err := e.Svc.Login(from(ip, device), "gina", goodPW)
			var sf *localauth.SecondFactorRequiredError
			if !errors.As(err, &sf) {
				t.Fatalf("the right password from a trusted device: %v, want the second step", err)
			}
			for range 5 {
				_, err := e.Svc.CompleteLogin(from(ip, device), sf.Token, localauth.SecondFactor{Code: e.wrongCode(t, secret)})
				switch {
				case errors.Is(err, localauth.ErrInvalidCode):
					judged++
				case errors.Is(err, localauth.ErrRateLimited):
					limited++
				default:
					t.Fatalf("a wrong code: %v", err)
				}
			}
		}
	}
	if judged > 10 || limited == 0 {
		t.Fatalf("behind a trusted device %d of 90 wrong codes were judged and %d refused; want at most 10 judged", judged, limited)
	}
	// Without the device, no more.
	_, err := e.Svc.Login(from("203.0.113.99", ""), "gina", goodPW)
	var sf *localauth.SecondFactorRequiredError
	if errors.As(err, &sf) {
		if _, err := e.Svc.CompleteLogin(from("203.0.113.99", ""), sf.Token, localauth.SecondFactor{Code: e.wrongCode(t, secret)}); !errors.Is(err, localauth.ErrRateLimited) {
			t.Fatalf("a wrong code from a stranger after the guesses: %v, want ErrRateLimited", err)
		}
	}
	// The count is forgotten in time, and a right code then resets it.
	e.Clock.Advance(25 * time.Hour)
	trustedLogin(t, e, "192.0.2.10", device, "gina", goodPW, secret)
	_, err = e.Svc.Login(from("203.0.113.7", ""), "gina", goodPW)
	if !errors.As(err, &sf) {
		t.Fatalf("password after a completed login: %v", err)
	}
	if _, err := e.Svc.CompleteLogin(from("203.0.113.7", ""), sf.Token, localauth.SecondFactor{Code: e.wrongCode(t, secret)}); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("a wrong code after a completed login reset the count: %v, want ErrInvalidCode", err)
	}
}

func TestPasswordOnlyReauthUnlocksNothingOnATOTPAccount(t *testing.T) {
	e := MustFactorEnv(t)
	e.MustRegister(t, "hugo", goodPW)
	secret, _ := e.MustEnableTOTP(t, "hugo")
	c := from("192.0.2.20", "")
	res := trustedLogin(t, e, "192.0.2.20", "", "hugo", goodPW, secret)
	e.Clock.Advance(11 * time.Minute)
	if err := e.Svc.Reauth(c, res.Token, goodPW); !errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
		t.Fatalf("password-only reauth: %v, want ErrSecondFactorReauthRequired", err)
	}
	if code, _, _ := localauth.Public(localauth.ErrSecondFactorReauthRequired); code != localauth.CodeSecondFactorRequired {
		t.Fatalf("Public code %q, want %q", code, localauth.CodeSecondFactorRequired)
	}
	refused := map[string]func() error{
		"recovery codes": func() error { _, err := e.Svc.RegenerateRecoveryCodes(c, res.Token); return err },
		"totp off":       func() error { return e.Svc.DisableTOTP(c, res.Token) },
		"password":       func() error { return e.Svc.ChangePassword(c, res.Token, goodPW, "a brand new long passphrase") },
		"others":         func() error { _, err := e.Svc.EndOtherSessions(c, res.Token); return err },
		"delete":         func() error { return e.Svc.DeleteAccount(c, res.Token) },
	}
	for what, f := range refused {
		if err := f(); !errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
			t.Fatalf("%s after a password-only reauth: %v, want ErrSecondFactorReauthRequired", what, err)
		}
	}
	// A wrong code confirms nothing; a wrong password with a right code
	// neither.
	if err := e.Svc.ReauthWith(c, res.Token, goodPW, localauth.SecondFactor{Code: e.wrongCode(t, secret)}); !errors.Is(err, localauth.ErrInvalidCode) {
		t.Fatalf("reauth with a wrong code: %v, want ErrInvalidCode", err)
	}
	if err := e.Svc.ReauthWith(c, res.Token, "not the password", localauth.SecondFactor{Code: e.code(t, secret, 0)}); !errors.Is(err, localauth.ErrInvalidCredentials) {
		t.Fatalf("reauth with a wrong password: %v, want ErrInvalidCredentials", err)
	}
	if err := refused["totp off"](); !errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
		t.Fatalf("totp off after failed reauths: %v", err)
	}
	if err := e.Svc.ReauthWith(c, res.Token, goodPW, localauth.SecondFactor{Code: e.code(t, secret, 0)}); err != nil {
		t.Fatalf("reauth with password and code: %v", err)
	}
	if _, err := e.Svc.RegenerateRecoveryCodes(c, res.Token); err != nil {
		t.Fatalf("recovery codes after a full reauth: %v", err)
	}
	if err := e.Svc.DisableTOTP(c, res.Token); err != nil {
		t.Fatalf("totp off after a full reauth: %v", err)
	}
}

func TestOldDeviceCookiePassesNoLockAfterPasswordChange(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "iris", goodPW)
	// The owner's laptop, whose cookie the attacker copied, and her phone.
	laptop := trustedLogin(t, e, "192.0.2.30", "", "iris", goodPW, "")
	phone := trustedLogin(t, e, "192.0.2.31", "", "iris", goodPW, "").DeviceToken
	copied := laptop.DeviceToken

	// The owner changes the password on the laptop; her browser receives
	// its renewed token.
	var renewed localauth.Token
	c := localauth.WithDeviceRenewal(from("192.0.2.30", laptop.DeviceToken), func(t localauth.Token) { renewed = t })
	const next = "an entirely new long passphrase"
	if err := e.Svc.ChangePassword(c, laptop.Token, goodPW, next); err != nil {
		t.Fatal(err)
	}
	if renewed == "" || renewed == copied {
		t.Fatalf("the acting device got token %q after the change, want a new one", renewed)
	}
	lockAccount(t, e, "iris")
	for name, dev := range map[string]localauth.Token{"copied cookie": copied, "phone's old cookie": phone, "stranger": ""} {
		if _, err := e.Svc.Login(from("203.0.113.30", dev), "iris", next); !errors.Is(err, localauth.ErrRateLimited) {
			t.Fatalf("%s with the new password on a locked account: %v, want ErrRateLimited", name, err)
		}
	}
	if _, err := e.Svc.Login(from("192.0.2.30", renewed), "iris", next); err != nil {
		t.Fatalf("the owner's renewed device on a locked account: %v, want a login", err)
	}
}

func TestMadeUpDeviceCookieIsNeitherAdoptedNorTrusted(t *testing.T) {
	e := MustEnv(t)
	e.MustRegister(t, "jack", goodPW)
	planted, err := e.Svc.NewDeviceToken()
	if err != nil {
		t.Fatal(err)
	}
	res := trustedLogin(t, e, "192.0.2.40", planted, "jack", goodPW, "")
	if res.DeviceToken == planted {
		t.Fatal("the login adopted the device token the client presented")
	}
	lockAccount(t, e, "jack")
	if _, err := e.Svc.Login(from("203.0.113.40", planted), "jack", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("the planted token on a locked account: %v, want ErrRateLimited", err)
	}
	// The token the server issued is trusted, once: the login rotates it.
	next := trustedLogin(t, e, "192.0.2.40", res.DeviceToken, "jack", goodPW, "").DeviceToken
	if next == res.DeviceToken {
		t.Fatal("a completed login kept the device's token instead of rotating it")
	}
	if _, err := e.Svc.Login(from("192.0.2.40", res.DeviceToken), "jack", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("the rotated-away token on a locked account: %v, want ErrRateLimited", err)
	}
	// A token issued to another user is no token of this one.
	e.MustRegister(t, "kate", goodPW)
	kates := trustedLogin(t, e, "192.0.2.41", "", "kate", goodPW, "").DeviceToken
	if _, err := e.Svc.Login(from("192.0.2.41", kates), "jack", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("another user's device token on a locked account: %v, want ErrRateLimited", err)
	}
}

func TestDevicesListedAndForgotten(t *testing.T) {
	e := MustEnv(t)
	u := e.MustRegister(t, "lena", goodPW)
	a := trustedLogin(t, e, "192.0.2.50", "", "lena", goodPW, "")
	b := trustedLogin(t, e, "192.0.2.51", "", "lena", goodPW, "")
	list, err := e.Svc.ListDevices(from("192.0.2.50", a.DeviceToken), a.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Label != "Firefox on Linux" {
		t.Fatalf("devices: %+v, want two labelled", list)
	}
	var mine, other string
	for _, d := range list {
		if d.Current {
			mine = d.ID
		} else {
			other = d.ID
		}
	}
	if mine == "" || other == "" {
		t.Fatalf("devices: %+v, want exactly one current", list)
	}
	// Another user cannot forget it, nor learn that it exists.
	e.MustRegister(t, "mona", goodPW)
	m := trustedLogin(t, e, "192.0.2.52", "", "mona", goodPW, "")
	if err := e.Svc.ForgetDevice(from("192.0.2.52", ""), m.Token, other); !errors.Is(err, localauth.ErrDeviceNotFound) {
		t.Fatalf("forgetting another user's device: %v, want ErrDeviceNotFound", err)
	}
	if err := e.Svc.ForgetDevice(from("192.0.2.50", a.DeviceToken), a.Token, "not-a-device-id-at-all"); !errors.Is(err, localauth.ErrDeviceNotFound) {
		t.Fatalf("forgetting an unknown id: %v, want ErrDeviceNotFound", err)
	}
	if err := e.Svc.ForgetDevice(from("192.0.2.50", a.DeviceToken), a.Token, other); err != nil {
		t.Fatal(err)
	}
	lockAccount(t, e, "lena")
	if _, err := e.Svc.Login(from("192.0.2.51", b.DeviceToken), "lena", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("a forgotten device on a locked account: %v, want ErrRateLimited", err)
	}
	if _, err := e.Svc.Login(from("192.0.2.50", a.DeviceToken), "lena", goodPW); err != nil {
		t.Fatalf("the remaining device on a locked account: %v", err)
	}
	// An administrator's revocation of sessions ends every device.
	if _, err := e.Svc.RevokeSessions(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if left, err := e.Svc.Devices(ctx, u.ID); err != nil || len(left) != 0 {
		t.Fatalf("devices after the sessions were revoked: %d, %v", len(left), err)
	}
}

// Removing a passkey ends the trust of every device but the acting one, as
// turning TOTP off does: a device cookie copied before the removal passes
// no lock after it.
func TestPasskeyRemovalEndsOtherDevicesTrust(t *testing.T) {
	fake := &fakePasskeys{}
	e := MustFactorEnv(t, func(c *localauth.Config) { c.Passkeys = fake; c.NoClientAddress = false })
	if _, err := e.Svc.Register(from("192.0.2.40", ""), "quinn", goodPW); err != nil {
		t.Fatal(err)
	}
	laptop := trustedLogin(t, e, "192.0.2.40", "", "quinn", goodPW, "")
	phone := trustedLogin(t, e, "192.0.2.41", "", "quinn", goodPW, "").DeviceToken
	c := from("192.0.2.40", laptop.DeviceToken)
	if _, err := e.Svc.BeginPasskeyRegistration(c, laptop.Token); err != nil {
		t.Fatal(err)
	}
	pk, err := e.Svc.FinishPasskeyRegistration(c, laptop.Token, "Key", answer(fake.challenge(), "cred-q", fake.userHandle(), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.RemovePasskey(c, laptop.Token, pk.ID); err != nil {
		t.Fatal(err)
	}
	lockAccount(t, e, "quinn")
	if _, err := e.Svc.Login(from("203.0.113.40", phone), "quinn", goodPW); !errors.Is(err, localauth.ErrRateLimited) {
		t.Fatalf("the phone's cookie after the passkey was removed, on a locked account: %v, want ErrRateLimited", err)
	}
	if _, err := e.Svc.Login(from("192.0.2.40", laptop.DeviceToken), "quinn", goodPW); err != nil {
		t.Fatalf("the acting device on a locked account: %v, want a login", err)
	}
}

// The background purge sweeps each ability's own records: trusted devices
// past their expiry and guess counters idle past the forget window go,
// those still in force stay. Counters in the store are kept at least a
// week (instances sharing it may forget later than this one); in memory,
// ForgetAfter.
func TestPurgeExpiredSweepsDevicesAndIdleCounters(t *testing.T) {
	day := 24 * time.Hour
	e := MustEnv(t)
	e.MustRegister(t, "alice", goodPW)
	e.MustLogin(t, "alice", goodPW) // trusts this browser for 180 days
	e.Svc.Login(ctx, "old", "a wrong guess")
	e.Clock.Advance(173 * day)
	e.Svc.Login(ctx, "eightdays", "a wrong guess")
	e.Clock.Advance(6 * day)
	e.Svc.Login(ctx, "twodays", "a wrong guess")
	e.Clock.Advance(2 * day)
	e.MustLogin(t, "alice", goodPW) // a second browser, trusted from now
	e.Svc.Login(ctx, "carol", "a wrong guess")
	if _, err := e.Svc.PurgeExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, e.Path, "devices"); n != 1 {
		t.Fatalf("devices after the purge: %d, want the one trusted since", n)
	}
	if keys := throttleKeys(t, e.Path); fmt.Sprint(keys) != "[account:carol account:twodays]" {
		t.Fatalf("counters after the purge: %v, want those idle for less than a week", keys)
	}

	// A ForgetAfter past a week keeps counters in the store that long.
	e = MustEnv(t, func(c *localauth.Config) { c.Throttle.ForgetAfter = 10 * day })
	e.Svc.Login(ctx, "bob", "a wrong guess")
	e.Clock.Advance(8 * day)
	e.Svc.PurgeExpired(ctx)
	if keys := throttleKeys(t, e.Path); len(keys) != 1 {
		t.Fatalf("counters 8 days idle with a 10-day ForgetAfter: %v, want bob's kept", keys)
	}
	e.Clock.Advance(3 * day)
	e.Svc.PurgeExpired(ctx)
	if keys := throttleKeys(t, e.Path); len(keys) != 0 {
		t.Fatalf("counters 11 days idle with a 10-day ForgetAfter: %v, want none", keys)
	}

	// In memory, ForgetAfter is the window: nothing else shares it.
	mem := throttle.NewMemory(100)
	e = MustEnv(t, func(c *localauth.Config) { c.Throttle.Store = mem })
	e.Svc.Login(ctx, "dave", "a wrong guess")
	e.Clock.Advance(23 * time.Hour)
	e.Svc.PurgeExpired(ctx)
	if mem.Len() != 1 {
		t.Fatal("a counter in memory 23 hours idle was swept")
	}
	e.Clock.Advance(2 * time.Hour)
	e.Svc.PurgeExpired(ctx)
	if mem.Len() != 0 {
		t.Fatal("a counter in memory 25 hours idle survived the sweep")
	}
}

// rowCount returns the rows in table of the SQLite file at path.
func rowCount(t *testing.T, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// throttleKeys returns the counters' keys in the SQLite file at path.
func throttleKeys(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key FROM throttle ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// sessionsDown is a SQLite store whose session purge fails, as a store
// that times out on a large delete would.
type sessionsDown struct{ *sqlitestore.Store }

func (sessionsDown) DeleteExpiredSessions(context.Context, time.Time, time.Time) (int, error) {
	return 0, errors.New("statement timeout")
}

// One failing step of the purge keeps none of the others from running,
// and is reported.
func TestPurgeExpiredRunsEveryStep(t *testing.T) {
	st, path := openSQLite(t)
	clock := NewClock()
	svc := serviceOver(t, sessionsDown{st}, func(c *localauth.Config) { c.Now = clock.Now })
	if _, err := svc.Register(ctx, "alice", goodPW); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, "alice", goodPW); err != nil {
		t.Fatal(err)
	}
	svc.Login(ctx, "bob", "a wrong guess")
	clock.Advance(181 * 24 * time.Hour)
	if _, err := svc.PurgeExpired(ctx); !errors.Is(err, localauth.ErrUnavailable) {
		t.Fatalf("PurgeExpired with the session step failing: %v, want ErrUnavailable", err)
	}
	if n := rowCount(t, path, "devices"); n != 0 {
		t.Fatalf("devices after a purge whose session step failed: %d, want the expired one swept", n)
	}
	if keys := throttleKeys(t, path); len(keys) != 0 {
		t.Fatalf("counters after a purge whose session step failed: %v, want the idle one swept", keys)
	}
}
