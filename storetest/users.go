package storetest

import (
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func testCreateUser(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := localauth.User{Username: "alice", DisplayName: "Alice", Enabled: true, CreatedAt: t0}
	noErr(t, "CreateUser", s.CreateUser(ctx, &u, h.hash))
	if u.ID <= 0 {
		t.Fatalf("CreateUser set ID %d, want > 0", u.ID)
	}
	for _, lookup := range []struct {
		name string
		fn   func() (localauth.User, error)
	}{
		{"UserByID", func() (localauth.User, error) { return s.UserByID(ctx, u.ID) }},
		{"UserByName", func() (localauth.User, error) { return s.UserByName(ctx, "alice") }},
	} {
		got, err := lookup.fn()
		noErr(t, lookup.name, err)
		if got.ID != u.ID || got.Username != "alice" || got.DisplayName != "Alice" || !got.Enabled || !got.CreatedAt.Equal(t0.Truncate(time.Millisecond)) {
			t.Errorf("%s: got %+v, want %+v", lookup.name, got, u)
		}
	}
	cred, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	if string(cred.Hash) != string(h.hash) || cred.Version <= 0 {
		t.Errorf("Credential: got %q version %d, want %q and a positive version", cred.Hash, cred.Version, h.hash)
	}
}

// A password change advances the credential version; a session carrying an
// older version is refused and nothing is stored; a rehash of the same
// password keeps the version.
func testCredentialVersion(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "ivan")
	before, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	ok, err := s.ReplacePasswordHash(ctx, u.ID, h.hash, h.hash2)
	noErr(t, "ReplacePasswordHash", err)
	after, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	if !ok || after.Version != before.Version {
		t.Fatalf("a rehash changed the credential version: %d → %d (replaced %v)", before.Version, after.Version, ok)
	}
	_, err = s.SetPasswordHash(ctx, u.ID, h.hash, nil)
	noErr(t, "SetPasswordHash", err)
	changed, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	if changed.Version <= before.Version {
		t.Fatalf("SetPasswordHash: version %d → %d, want it to advance", before.Version, changed.Version)
	}
	stale := localauth.Session{
		UserID: u.ID, PublicID: "public-id-stale-login", TokenHash: sha256.Sum256([]byte("stale login")),
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeenAt: t0,
		CredentialVersion: before.Version,
	}
	wantErr(t, "CreateSession with the old credential version", s.CreateSession(ctx, &stale), localauth.ErrCredentialChanged)
	if _, _, err := s.SessionByTokenHash(ctx, stale.TokenHash); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("the refused session was stored: %v", err)
	}
	stale.CredentialVersion = changed.Version
	noErr(t, "CreateSession with the current version", s.CreateSession(ctx, &stale))
}

func testDuplicateUser(t *testing.T, h *harness) {
	s := h.newStore(t)
	h.user(t, s, "bob")
	u := localauth.User{Username: "bob", DisplayName: "BOB", Enabled: true, CreatedAt: t0}
	wantErr(t, "second CreateUser", s.CreateUser(ctx, &u, h.hash), localauth.ErrUserExists)
	us, err := s.Users(ctx)
	noErr(t, "Users", err)
	if len(us) != 1 {
		t.Fatalf("got %d users after a duplicate, want 1", len(us))
	}
}

func testConcurrentDuplicate(t *testing.T, h *harness) {
	s := h.newStore(t)
	const n = 16
	var ok, exists atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			u := localauth.User{Username: "carol", DisplayName: "carol", Enabled: true, CreatedAt: t0}
			switch err := s.CreateUser(ctx, &u, h.hash); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, localauth.ErrUserExists):
				exists.Add(1)
			default:
				t.Errorf("CreateUser: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || exists.Load() != n-1 {
		t.Fatalf("got %d created and %d ErrUserExists, want 1 and %d", ok.Load(), exists.Load(), n-1)
	}
}

func testInvalidHash(t *testing.T, h *harness) {
	s := h.newStore(t)
	for _, bad := range [][]byte{nil, []byte(""), []byte("plaintext password"), h.hash[:59], []byte("$1$abcdefgh$" + string(h.hash[12:]))} {
		u := localauth.User{Username: "dave", DisplayName: "dave", Enabled: true, CreatedAt: t0}
		if err := s.CreateUser(ctx, &u, bad); err == nil {
			t.Errorf("CreateUser with hash %q succeeded, want an error", bad)
		}
	}
	if _, err := s.UserByName(ctx, "dave"); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("after refused creates, UserByName: got %v, want ErrUserNotFound", err)
	}
	u := h.user(t, s, "erin")
	if _, err := s.SetPasswordHash(ctx, u.ID, []byte("not a hash"), nil); err == nil {
		t.Error("SetPasswordHash with an invalid hash succeeded, want an error")
	}
	cred, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	if string(cred.Hash) != string(h.hash) {
		t.Errorf("hash changed by a refused update: got %q", cred.Hash)
	}
}

func testMissingUser(t *testing.T, h *harness) {
	s := h.newStore(t)
	_, err := s.UserByID(ctx, 12345)
	wantErr(t, "UserByID", err, localauth.ErrUserNotFound)
	_, err = s.UserByName(ctx, "nobody")
	wantErr(t, "UserByName", err, localauth.ErrUserNotFound)
	_, err = s.Credential(ctx, 12345)
	wantErr(t, "Credential", err, localauth.ErrUserNotFound)
	_, err = s.SetPasswordHash(ctx, 12345, h.hash, nil)
	wantErr(t, "SetPasswordHash", err, localauth.ErrUserNotFound)
	wantErr(t, "SetUserEnabled", s.SetUserEnabled(ctx, 12345, false), localauth.ErrUserNotFound)
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, 12345), localauth.ErrUserNotFound)
	us, err := s.Users(ctx)
	noErr(t, "Users", err)
	if len(us) != 0 {
		t.Fatalf("Users on an empty store: got %d, want 0", len(us))
	}
}

func testUsersOrdered(t *testing.T, h *harness) {
	s := h.newStore(t)
	for _, n := range []string{"zed", "amy", "mia"} {
		h.user(t, s, n)
	}
	us, err := s.Users(ctx)
	noErr(t, "Users", err)
	if len(us) != 3 || us[0].Username != "zed" || us[1].Username != "amy" || us[2].Username != "mia" ||
		!(us[0].ID < us[1].ID && us[1].ID < us[2].ID) {
		t.Fatalf("Users: got %+v, want zed, amy, mia in id order", us)
	}
}

func testHostileNames(t *testing.T, h *harness) {
	s := h.newStore(t)
	for _, n := range []string{"' or '1'='1", `x"); drop table users; --`, "<img src=x onerror=alert(1)>", "ünïcødé", "名前"} {
		u := h.user(t, s, n)
		got, err := s.UserByName(ctx, n)
		noErr(t, "UserByName", err)
		if got.ID != u.ID || got.Username != n {
			t.Errorf("UserByName(%q): got %+v", n, got)
		}
	}
	if _, err := s.UserByName(ctx, "' or '1'='1' --"); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Errorf("an injection-shaped lookup found a user: %v", err)
	}
	us, err := s.Users(ctx)
	noErr(t, "Users", err)
	if len(us) != 5 {
		t.Fatalf("got %d users, want 5", len(us))
	}
}

func testSetPasswordHash(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "frank")
	other := h.user(t, s, "grace")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	b := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	c := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	o := h.session(t, s, other.ID, t0, t0.Add(time.Hour))
	n, err := s.SetPasswordHash(ctx, u.ID, h.hash2, &b.TokenHash)
	noErr(t, "SetPasswordHash", err)
	if n != 2 {
		t.Errorf("SetPasswordHash deleted %d sessions, want 2", n)
	}
	for _, gone := range []localauth.Session{a, c} {
		_, _, err := s.SessionByTokenHash(ctx, gone.TokenHash)
		wantErr(t, "other session after password change", err, localauth.ErrInvalidSession)
	}
	for _, kept := range []localauth.Session{b, o} {
		_, _, err := s.SessionByTokenHash(ctx, kept.TokenHash)
		noErr(t, "kept session", err)
	}
	cred, err := s.Credential(ctx, u.ID)
	noErr(t, "Credential", err)
	if string(cred.Hash) != string(h.hash2) {
		t.Errorf("hash not replaced")
	}
	n, err = s.SetPasswordHash(ctx, u.ID, h.hash, nil)
	noErr(t, "SetPasswordHash(nil)", err)
	if n != 1 {
		t.Errorf("SetPasswordHash(keep nil) deleted %d sessions, want 1", n)
	}
}

func testReplacePasswordHash(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "heidi")
	ok, err := s.ReplacePasswordHash(ctx, u.ID, h.hash2, h.hash2)
	noErr(t, "ReplacePasswordHash(stale)", err)
	if ok {
		t.Fatal("ReplacePasswordHash replaced a hash that did not match the old one")
	}
	ok, err = s.ReplacePasswordHash(ctx, u.ID, h.hash, h.hash2)
	noErr(t, "ReplacePasswordHash", err)
	if !ok {
		t.Fatal("ReplacePasswordHash did not replace the matching hash")
	}
	cred, _ := s.Credential(ctx, u.ID)
	if string(cred.Hash) != string(h.hash2) {
		t.Fatal("hash not replaced")
	}
}

func testDisable(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "ivan")
	sess := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	noErr(t, "disable", s.SetUserEnabled(ctx, u.ID, false))
	got, err := s.UserByID(ctx, u.ID)
	noErr(t, "UserByID", err)
	if got.Enabled {
		t.Fatal("user still enabled after SetUserEnabled(false)")
	}
	_, _, err = s.SessionByTokenHash(ctx, sess.TokenHash)
	wantErr(t, "session of a disabled user", err, localauth.ErrInvalidSession)
	noErr(t, "enable", s.SetUserEnabled(ctx, u.ID, true))
	got, _ = s.UserByID(ctx, u.ID)
	if !got.Enabled {
		t.Fatal("user still disabled after SetUserEnabled(true)")
	}
}

func testDeleteUser(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "judy")
	sess := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	noErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	_, err := s.UserByID(ctx, u.ID)
	wantErr(t, "UserByID after delete", err, localauth.ErrUserNotFound)
	_, _, err = s.SessionByTokenHash(ctx, sess.TokenHash)
	wantErr(t, "session after delete", err, localauth.ErrInvalidSession)
	all, err := s.Sessions(ctx, 0)
	noErr(t, "Sessions", err)
	if len(all) != 0 {
		t.Fatalf("%d orphan sessions after DeleteUser", len(all))
	}
	// The name is free again.
	h.user(t, s, "judy")
}
