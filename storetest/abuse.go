package storetest

import (
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/throttle"
)

// testThrottleStore checks a store's own counters (ThrottleStoreProvider):
// concurrent admissions on a key that is free for k more attempts admit
// exactly k; give-backs, the forget window and Reset.
func testThrottleStore(t *testing.T, h *harness) {
	p, ok := h.newStore(t).(localauth.ThrottleStoreProvider)
	if !ok {
		t.Skip("the store keeps no throttle counters")
	}
	th := p.Throttle()
	now := t0.Truncate(time.Millisecond)
	rule := throttle.Rule{Free: 49, BaseDelay: time.Minute, MaxDelay: time.Hour, ForgetAfter: time.Hour}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			wait, err := th.Admit(ctx, "account:target", now, rule)
			if err != nil {
				t.Error(err)
			}
			if wait == 0 {
				admitted.Add(1)
			} else if wait != time.Minute {
				t.Errorf("wait %v, want 1m", wait)
			}
		})
	}
	wg.Wait()
	if n := admitted.Load(); n != 50 {
		t.Fatalf("200 concurrent attempts on a key free for 50: %d admitted", n)
	}
	c, err := th.Count(ctx, "account:target")
	noErr(t, "Count", err)
	if c.Count != 50 || !c.Last.Equal(now) {
		t.Fatalf("Count after 50 admitted: %+v", c)
	}
	noErr(t, "GiveBack", th.GiveBack(ctx, "account:target"))
	if c, _ := th.Count(ctx, "account:target"); c.Count != 49 {
		t.Fatalf("after GiveBack: %d, want 49", c.Count)
	}
	// One more fits now; then the key waits again.
	if wait, _ := th.Admit(ctx, "account:target", now, rule); wait != 0 {
		t.Fatalf("after a give-back: wait %v, want admitted", wait)
	}
	if wait, _ := th.Admit(ctx, "account:target", now.Add(30*time.Second), rule); wait != 30*time.Second {
		t.Fatalf("wait %v, want 30s", wait)
	}
	// After the forget window the count starts from one.
	later := now.Add(2 * time.Hour)
	if wait, _ := th.Admit(ctx, "account:target", later, rule); wait != 0 {
		t.Fatalf("after the forget window: wait %v", wait)
	}
	if c, _ := th.Count(ctx, "account:target"); c.Count != 1 {
		t.Fatalf("after the forget window: count %d, want 1", c.Count)
	}
	noErr(t, "GiveBack to zero", th.GiveBack(ctx, "account:target"))
	noErr(t, "GiveBack of nothing", th.GiveBack(ctx, "account:target"))
	if c, _ := th.Count(ctx, "account:target"); c.Count != 0 {
		t.Fatalf("after giving everything back: %+v", c)
	}
	th.Admit(ctx, "account:other", now, rule)
	noErr(t, "Reset", th.Reset(ctx, "account:other"))
	if c, _ := th.Count(ctx, "account:other"); c.Count != 0 {
		t.Fatalf("after Reset: %+v", c)
	}
	// Idle counters are swept, and only those: the key counted at later
	// stays, the one last counted two hours before goes.
	sw, ok := th.(throttle.Sweeper)
	if !ok {
		t.Skip("the store's counters are not a throttle.Sweeper: idle counters stay until their keys are counted again")
	}
	th.Admit(ctx, "account:idle", now, rule)
	// The last attempt's time never moves back: an attempt counted late
	// (by a slower instance, or one whose clock is behind) cannot
	// shorten the key's delay.
	th.Admit(ctx, "account:recent", later, rule)
	if wait, err := th.Admit(ctx, "account:recent", later.Add(-time.Second), rule); err != nil || wait != 0 {
		t.Fatalf("an attempt counted out of order: wait %v, %v; want admitted", wait, err)
	}
	if c, _ := th.Count(ctx, "account:recent"); c.Count != 2 || !c.Last.Equal(later) {
		t.Fatalf("after an attempt counted out of order: %+v, want 2 attempts, the last at %v", c, later)
	}
	th.GiveBack(ctx, "account:recent")
	n, err := sw.DeleteIdle(ctx, later)
	noErr(t, "DeleteIdle", err)
	if n != 1 {
		t.Fatalf("DeleteIdle: %d deleted, want the 1 idle counter", n)
	}
	if c, _ := th.Count(ctx, "account:recent"); c.Count != 1 {
		t.Fatalf("a counter used at the sweep's time was deleted: %+v", c)
	}
	if c, _ := th.Count(ctx, "account:idle"); c.Count != 0 {
		t.Fatalf("an idle counter survived the sweep: %+v", c)
	}
}

// testDevices checks DeviceStore: a device is trusted for the user it was
// recorded for, until it expires, and goes with its user.
func testDevices(t *testing.T, h *harness) {
	s := h.newStore(t)
	ds, ok := s.(localauth.DeviceStore)
	if !ok {
		t.Skip("the store keeps no devices")
	}
	u := h.user(t, s, "dora")
	other := h.user(t, s, "otto")
	dev := sha256.Sum256([]byte("device"))
	noErr(t, "TrustDevice", ds.TrustDevice(ctx, newDevice(u.ID, "device", "dora-device-0001", t0, t0.Add(time.Hour)), nil))
	trusted := func(userID int64, at time.Time) bool {
		t.Helper()
		ok, err := ds.DeviceTrusted(ctx, userID, dev, at)
		noErr(t, "DeviceTrusted", err)
		return ok
	}
	if !trusted(u.ID, t0) || trusted(other.ID, t0) || trusted(u.ID, t0.Add(time.Hour)) {
		t.Fatal("a device is trusted only for its user and until it expires")
	}
	if err := ds.TrustDevice(ctx, newDevice(12345, "device", "nobody-device-01", t0, t0.Add(time.Hour)), nil); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("TrustDevice for a missing user: %v, want ErrUserNotFound", err)
	}
	noErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	if trusted(u.ID, t0) {
		t.Fatal("a deleted user's device is still trusted")
	}
	// Expired devices are deleted by their own sweep, and only those.
	noErr(t, "TrustDevice", ds.TrustDevice(ctx, newDevice(other.ID, "device", "otto-device-0001", t0, t0.Add(time.Hour)), nil))
	noErr(t, "TrustDevice", ds.TrustDevice(ctx, newDevice(other.ID, "new", "otto-device-0002", t0, t0.Add(3*time.Hour)), nil))
	n, err := ds.DeleteExpiredDevices(ctx, t0.Add(2*time.Hour))
	noErr(t, "DeleteExpiredDevices", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredDevices: %d deleted, want otto's expired device alone", n)
	}
	if trusted(other.ID, t0) {
		t.Fatal("an expired device survived the sweep")
	}
	if ok, err := ds.DeviceTrusted(ctx, other.ID, sha256.Sum256([]byte("new")), t0.Add(2*time.Hour)); err != nil || !ok {
		t.Fatalf("a device still trusted was swept: %v, %v", ok, err)
	}
}

// testDeleteByPublicID checks that a session is ended by its public id only
// for its owner (or for anyone, userID 0), and that the revocation is
// logged as for any other ending.
func testDeleteByPublicID(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "quinn")
	other := h.user(t, s, "rita")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	b := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	_, err := s.DeleteSessionByPublicID(ctx, other.ID, a.PublicID)
	wantErr(t, "another user's session by id", err, localauth.ErrInvalidSession)
	if _, _, err := s.SessionByTokenHash(ctx, a.TokenHash); err != nil {
		t.Fatalf("a refused delete ended the session: %v", err)
	}
	_, err = s.DeleteSessionByPublicID(ctx, u.ID, "no-such-public-id-at-all")
	wantErr(t, "unknown id", err, localauth.ErrInvalidSession)
	got, err := s.DeleteSessionByPublicID(ctx, u.ID, a.PublicID)
	noErr(t, "DeleteSessionByPublicID", err)
	if got.TokenHash != a.TokenHash || got.UserID != u.ID {
		t.Fatalf("deleted %+v, want session a", got)
	}
	_, _, err = s.SessionByTokenHash(ctx, a.TokenHash)
	wantErr(t, "the deleted session", err, localauth.ErrInvalidSession)
	// An administrator names any session.
	got, err = s.DeleteSessionByPublicID(ctx, 0, b.PublicID)
	noErr(t, "DeleteSessionByPublicID(0)", err)
	if got.TokenHash != b.TokenHash {
		t.Fatalf("deleted %+v, want session b", got)
	}
	ids := map[string]bool{}
	for range 3 {
		ids[h.session(t, s, other.ID, t0, t0.Add(time.Hour)).PublicID] = true
	}
	if len(ids) != 3 {
		t.Fatal("public ids repeat")
	}
}

// testSetReauth checks that a password confirmation is recorded on the one
// session.
func testSetReauth(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "sam")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	b := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	at := t0.Add(20 * time.Minute).Truncate(time.Millisecond)
	noErr(t, "SetReauth", s.SetReauth(ctx, a.TokenHash, at))
	got, _, err := s.SessionByTokenHash(ctx, a.TokenHash)
	noErr(t, "SessionByTokenHash", err)
	other, _, _ := s.SessionByTokenHash(ctx, b.TokenHash)
	if !got.ReauthAt.Equal(at) || !other.ReauthAt.Equal(t0.Truncate(time.Millisecond)) {
		t.Fatalf("ReauthAt: %v and %v, want %v on a only", got.ReauthAt, other.ReauthAt, at)
	}
	wantErr(t, "SetReauth of no session", s.SetReauth(ctx, sha256.Sum256([]byte("none")), at), localauth.ErrInvalidSession)
}

// testTrimSessions checks that the oldest sessions beyond the cap go, with
// revocations, and that a user under the cap loses nothing.
func testTrimSessions(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "tina")
	other := h.user(t, s, "uma")
	var mine []localauth.Session
	for range 5 {
		mine = append(mine, h.session(t, s, u.ID, t0, t0.Add(time.Hour)))
	}
	theirs := h.session(t, s, other.ID, t0, t0.Add(time.Hour))
	trimmed, err := s.TrimSessions(ctx, u.ID, 5)
	noErr(t, "TrimSessions at the cap", err)
	if len(trimmed) != 0 {
		t.Fatalf("TrimSessions at the cap trimmed %d", len(trimmed))
	}
	trimmed, err = s.TrimSessions(ctx, u.ID, 3)
	noErr(t, "TrimSessions", err)
	if len(trimmed) != 2 || !slices.Contains(trimmed, mine[0].TokenHash) || !slices.Contains(trimmed, mine[1].TokenHash) {
		t.Fatalf("trimmed %d sessions, want the two oldest", len(trimmed))
	}
	for i, sess := range mine {
		_, _, err := s.SessionByTokenHash(ctx, sess.TokenHash)
		if gone := errors.Is(err, localauth.ErrInvalidSession); gone != (i < 2) {
			t.Fatalf("session %d: gone %v (%v)", i, gone, err)
		}
	}
	if _, _, err := s.SessionByTokenHash(ctx, theirs.TokenHash); err != nil {
		t.Fatalf("another user's session: %v", err)
	}
}
