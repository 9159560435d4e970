package storetest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/throttle"
)

// testCommitLogin checks LoginCommitter: the session, the device, the
// events and the counters of a sign-in are written together, each as its
// own method writes it, and nothing at all when the session is refused.
func testCommitLogin(t *testing.T, h *harness) {
	s := h.newStore(t)
	lc, ok := s.(localauth.LoginCommitter)
	if !ok {
		t.Skip("the store does not commit a login at once")
	}
	ds, _ := s.(localauth.DeviceStore)
	as, _ := s.(localauth.ActivityStore)
	tp, _ := s.(localauth.ThrottleStoreProvider)
	if ds == nil || as == nil || tp == nil {
		// Service puts a part in the commit only when the store keeps it;
		// this test writes every part.
		t.Skip("the store commits logins but keeps no devices, activity or throttle counters of its own")
	}
	th := tp.Throttle()
	u := h.user(t, s, "committer")
	cred, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	rule := throttle.Rule{Free: 10, BaseDelay: time.Minute, MaxDelay: time.Hour, ForgetAfter: time.Hour}
	for _, key := range []string{"account:committer", "account:committer", "device:reset-me"} {
		if wait, err := th.Admit(ctx, key, t0, rule); err != nil || wait != 0 {
			t.Fatalf("Admit(%s): wait %v, err %v", key, wait, err)
		}
	}
	commit := func(version int64, token string) (*localauth.LoginCommit, error) {
		sess := &localauth.Session{
			UserID: u.ID, CredentialVersion: version, PublicID: "commit-session-" + token,
			TokenHash: sha256.Sum256([]byte("session-" + token)),
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeenAt: t0, ReauthAt: t0,
			IP: "192.0.2.9", UserAgent: "Mozilla/5.0 Firefox/140.0",
		}
		ev := event(u.ID, localauth.ActivityLogin, t0)
		ev.SessionID = sess.PublicID
		c := &localauth.LoginCommit{
			Session:  sess,
			Device:   newDevice(u.ID, "device-"+token, "device-public-id-"+token, t0, t0.Add(24*time.Hour)),
			Activity: []localauth.ActivityEvent{ev, event(u.ID, localauth.ActivityDeviceTrusted, t0)},
			GiveBack: []string{"account:committer"},
			Reset:    []string{"device:reset-me"},
		}
		return c, lc.CommitLogin(ctx, c)
	}

	// A stale credential version refuses the whole commit.
	c, err := commit(cred.Version-1, "stale")
	wantErr(t, "CommitLogin with an old credential version", err, localauth.ErrCredentialChanged)
	if _, _, err := s.SessionByTokenHash(ctx, c.Session.TokenHash); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("the refused commit left its session: %v", err)
	}
	if ok, err := ds.DeviceTrusted(ctx, u.ID, c.Device.TokenHash, t0); err != nil || ok {
		t.Fatalf("the refused commit trusted its device: %v, %v", ok, err)
	}
	if evs, err := as.Activity(ctx, u.ID, 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("the refused commit recorded %d events (%v)", len(evs), err)
	}
	if n, _ := th.Count(ctx, "account:committer"); n.Count != 2 {
		t.Fatalf("the refused commit gave back an attempt: %d left, want 2", n.Count)
	}
	if n, _ := th.Count(ctx, "device:reset-me"); n.Count != 1 {
		t.Fatalf("the refused commit reset a count: %d left, want 1", n.Count)
	}

	// The current version writes every part.
	c, err = commit(cred.Version, "good")
	noErr(t, "CommitLogin", err)
	if c.Session.ID == 0 {
		t.Fatal("CommitLogin did not set the session's ID")
	}
	got, owner, err := s.SessionByTokenHash(ctx, c.Session.TokenHash)
	noErr(t, "SessionByTokenHash", err)
	if owner.ID != u.ID || got.PublicID != "commit-session-good" || got.ID != c.Session.ID {
		t.Fatalf("the committed session reads back as %+v of user %d", got, owner.ID)
	}
	if ok, err := ds.DeviceTrusted(ctx, u.ID, c.Device.TokenHash, t0); err != nil || !ok {
		t.Fatalf("the committed device is not trusted: %v, %v", ok, err)
	}
	evs, err := as.Activity(ctx, u.ID, 0, 10)
	noErr(t, "Activity", err)
	if len(evs) != 2 || evs[1].Type != localauth.ActivityLogin || evs[1].SessionID != "commit-session-good" || evs[0].Type != localauth.ActivityDeviceTrusted {
		t.Fatalf("the committed events read back as %+v", evs)
	}
	if n, _ := th.Count(ctx, "account:committer"); n.Count != 1 {
		t.Fatalf("after the commit the account holds %d attempts, want 1", n.Count)
	}
	if n, _ := th.Count(ctx, "device:reset-me"); n.Count != 0 {
		t.Fatalf("after the commit the reset count holds %d, want 0", n.Count)
	}

	// A rotation: the commit's device takes over the presented one's
	// record.
	old := c.Device.TokenHash
	c3 := &localauth.LoginCommit{
		Session: &localauth.Session{UserID: u.ID, CredentialVersion: cred.Version, PublicID: "commit-session-rot",
			TokenHash: sha256.Sum256([]byte("session-rot")), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeenAt: t0, ReauthAt: t0},
		Device:   newDevice(u.ID, "device-rot", "device-public-id-rot", t0, t0.Add(24*time.Hour)),
		Replaces: &old,
	}
	noErr(t, "CommitLogin with a rotation", lc.CommitLogin(ctx, c3))
	if ok, _ := ds.DeviceTrusted(ctx, u.ID, old, t0); ok {
		t.Fatal("the replaced device token is still trusted")
	}
	if c3.Device.PublicID != "device-public-id-good" {
		t.Fatalf("the rotated device has id %q, want the record's own %q", c3.Device.PublicID, "device-public-id-good")
	}

	// A user that does not exist: ErrUserNotFound, nothing written.
	c4 := &localauth.LoginCommit{
		Session: &localauth.Session{UserID: u.ID + 1000, PublicID: "commit-session-nobody",
			TokenHash: sha256.Sum256([]byte("session-nobody")), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeenAt: t0, ReauthAt: t0},
		GiveBack: []string{"account:committer"},
	}
	wantErr(t, "CommitLogin for no user", lc.CommitLogin(ctx, c4), localauth.ErrUserNotFound)
	if n, _ := th.Count(ctx, "account:committer"); n.Count != 1 {
		t.Fatalf("the refused commit gave back an attempt: %d left, want 1", n.Count)
	}
}
