package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func testSessionRoundTrip(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "ken")
	want := h.session(t, s, u.ID, t0, t0.Add(7*24*time.Hour))
	if want.ID <= 0 {
		t.Fatalf("CreateSession set ID %d, want > 0", want.ID)
	}
	got, gotUser, err := s.SessionByTokenHash(ctx, want.TokenHash)
	noErr(t, "SessionByTokenHash", err)
	if got.ID != want.ID || got.UserID != u.ID || got.TokenHash != want.TokenHash ||
		!got.CreatedAt.Equal(t0.Truncate(time.Millisecond)) || !got.ExpiresAt.Equal(t0.Add(7*24*time.Hour).Truncate(time.Millisecond)) ||
		!got.LastSeenAt.Equal(t0.Truncate(time.Millisecond)) || got.PublicID != want.PublicID ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || got.Remember != want.Remember ||
		!got.ReauthAt.Equal(t0.Truncate(time.Millisecond)) {
		t.Errorf("SessionByTokenHash: got %+v, want %+v", got, want)
	}
	if gotUser.ID != u.ID || gotUser.Username != "ken" || !gotUser.Enabled {
		t.Errorf("SessionByTokenHash user: got %+v, want %+v", gotUser, u)
	}
	_, _, err = s.SessionByTokenHash(ctx, sha256.Sum256([]byte("never issued")))
	wantErr(t, "unknown token hash", err, localauth.ErrInvalidSession)
}

func testSessionMissingUser(t *testing.T, h *harness) {
	s := h.newStore(t)
	sess := localauth.Session{UserID: 999, PublicID: "public-id-of-nobody", TokenHash: sha256.Sum256([]byte("x")), CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastSeenAt: t0}
	wantErr(t, "CreateSession for a missing user", s.CreateSession(ctx, &sess), localauth.ErrUserNotFound)
}

func testDuplicateTokenHash(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "lena")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	dup := a
	dup.ID = 0
	if err := s.CreateSession(ctx, &dup); err == nil {
		t.Fatal("a second session with the same token hash was stored")
	}
}

func testTouch(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "mallory")
	sess := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	at := t0.Add(10 * time.Minute)
	noErr(t, "TouchSession", s.TouchSession(ctx, sess.TokenHash, at))
	got, _, err := s.SessionByTokenHash(ctx, sess.TokenHash)
	noErr(t, "SessionByTokenHash", err)
	if !got.LastSeenAt.Equal(at) {
		t.Errorf("LastSeenAt: got %v, want %v", got.LastSeenAt, at)
	}
	wantErr(t, "TouchSession of an unknown session", s.TouchSession(ctx, sha256.Sum256([]byte("nope")), at), localauth.ErrInvalidSession)
}

func testDeleteSession(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "niaj")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	b := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	uid, err := s.DeleteSession(ctx, a.TokenHash)
	noErr(t, "DeleteSession", err)
	if uid != u.ID {
		t.Errorf("DeleteSession returned user %d, want %d", uid, u.ID)
	}
	_, err = s.DeleteSession(ctx, a.TokenHash)
	wantErr(t, "second DeleteSession", err, localauth.ErrInvalidSession)
	_, _, err = s.SessionByTokenHash(ctx, b.TokenHash)
	noErr(t, "the other session", err)
}

func testDeleteUserSessions(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "olivia")
	other := h.user(t, s, "peggy")
	var mine []localauth.Session
	for range 4 {
		mine = append(mine, h.session(t, s, u.ID, t0, t0.Add(time.Hour)))
	}
	o := h.session(t, s, other.ID, t0, t0.Add(time.Hour))
	n, err := s.DeleteUserSessions(ctx, u.ID, &mine[2].TokenHash)
	noErr(t, "DeleteUserSessions(keep)", err)
	if n != 3 {
		t.Errorf("DeleteUserSessions(keep): got %d, want 3", n)
	}
	_, _, err = s.SessionByTokenHash(ctx, mine[2].TokenHash)
	noErr(t, "the kept session", err)
	_, _, err = s.SessionByTokenHash(ctx, o.TokenHash)
	noErr(t, "another user's session", err)
	n, err = s.DeleteUserSessions(ctx, u.ID, nil)
	noErr(t, "DeleteUserSessions", err)
	if n != 1 {
		t.Errorf("DeleteUserSessions(nil): got %d, want 1", n)
	}
	n, err = s.DeleteUserSessions(ctx, u.ID, nil)
	noErr(t, "DeleteUserSessions again", err)
	if n != 0 {
		t.Errorf("second DeleteUserSessions: got %d, want 0", n)
	}
}

func testSessionsList(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "quinn")
	v := h.user(t, s, "rupert")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	b := h.session(t, s, v.ID, t0, t0.Add(time.Hour))
	c := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	mine, err := s.Sessions(ctx, u.ID)
	noErr(t, "Sessions(user)", err)
	if len(mine) != 2 || mine[0].ID != a.ID || mine[1].ID != c.ID || mine[0].TokenHash != a.TokenHash {
		t.Errorf("Sessions(user): got %+v", mine)
	}
	all, err := s.Sessions(ctx, 0)
	noErr(t, "Sessions(0)", err)
	if len(all) != 3 || all[1].ID != b.ID {
		t.Errorf("Sessions(0): got %+v", all)
	}
}

func testDeleteExpired(t *testing.T, h *harness) {
	s := h.newStore(t)
	u := h.user(t, s, "sybil")
	expired := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	live := h.session(t, s, u.ID, t0, t0.Add(48*time.Hour))
	idle := h.session(t, s, u.ID, t0, t0.Add(48*time.Hour))
	noErr(t, "TouchSession", s.TouchSession(ctx, live.TokenHash, t0.Add(3*time.Hour)))
	now := t0.Add(4 * time.Hour)

	n, err := s.DeleteExpiredSessions(ctx, now, time.Time{})
	noErr(t, "DeleteExpiredSessions", err)
	if n != 1 {
		t.Fatalf("without idle: deleted %d, want 1", n)
	}
	_, _, err = s.SessionByTokenHash(ctx, expired.TokenHash)
	wantErr(t, "expired session", err, localauth.ErrInvalidSession)

	n, err = s.DeleteExpiredSessions(ctx, now, now.Add(-2*time.Hour))
	noErr(t, "DeleteExpiredSessions(idle)", err)
	if n != 1 {
		t.Fatalf("with idle: deleted %d, want 1", n)
	}
	_, _, err = s.SessionByTokenHash(ctx, idle.TokenHash)
	wantErr(t, "idle session", err, localauth.ErrInvalidSession)
	_, _, err = s.SessionByTokenHash(ctx, live.TokenHash)
	noErr(t, "live session", err)
}

func testWatch(t *testing.T, h *harness) {
	s := h.newStore(t)
	w, ok := s.(localauth.RevocationWatcher)
	if !ok {
		t.Skip("store does not implement localauth.RevocationWatcher")
	}
	u := h.user(t, s, "trent")
	a := h.session(t, s, u.ID, t0, t0.Add(time.Hour))
	got := make(chan localauth.Revocation, 64)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.WatchRevocations(wctx, func(r localauth.Revocation) { got <- r }) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchRevocations returned %v after cancel, want context.Canceled", err)
		}
	}()
	// The watch reports only what is committed after it started. It says
	// when that is with a flush of everything: a caller may have cached
	// sessions before.
	select {
	case r := <-got:
		if r != (localauth.Revocation{All: true}) {
			t.Fatalf("the watch's first report: %+v, want a flush of everything (UserID 0, All)", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the watch reported no starting point within 30s")
	}
	_, err := s.DeleteSession(ctx, a.TokenHash)
	noErr(t, "DeleteSession", err)
	_, err = s.DeleteUserSessions(ctx, u.ID, nil)
	noErr(t, "DeleteUserSessions", err)
	want := []localauth.Revocation{{UserID: u.ID, TokenHash: a.TokenHash}, {UserID: u.ID, All: true}}
	for i := range want {
		select {
		case r := <-got:
			if r != want[i] {
				t.Fatalf("revocation %d: got %+v, want %+v", i, r, want[i])
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("revocation %d not reported within 30s", i)
		}
	}
}
