// Package storetest is the conformance suite for localauth.Store
// implementations, in the manner of testing/fstest: every store runs the
// same tests, so they behave alike wherever the Service depends on it.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) localauth.Store { return openFreshStore(t) })
//	}
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/localauth/localauth"
)

// Run runs the suite. newStore must return an empty store, private to the
// calling test, and arrange its cleanup.
func Run(t *testing.T, newStore func(t *testing.T) localauth.Store) {
	h := &harness{newStore: newStore}
	h.hash = mustHash(t, "first password")
	h.hash2 = mustHash(t, "second password")
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"CreateUserAssignsIDAndRoundTrips", testCreateUser},
		{"DuplicateUsernameIsErrUserExists", testDuplicateUser},
		{"ConcurrentDuplicateCreatesExactlyOne", testConcurrentDuplicate},
		{"LookAlikeUsernamesAreErrUsernameConfusable", testLookAlikes},
		{"ConcurrentLookAlikesCreateExactlyOne", testConcurrentLookAlikes},
		{"InvalidHashIsRefusedAndNothingStored", testInvalidHash},
		{"LookupsOfMissingUsersAreErrUserNotFound", testMissingUser},
		{"UsersAreOrderedByID", testUsersOrdered},
		{"HostileUsernamesAreStoredLiterally", testHostileNames},
		{"SetPasswordHashKeepsOnlyTheNamedSession", testSetPasswordHash},
		{"ReplacePasswordHashIsCompareAndSwap", testReplacePasswordHash},
		{"CredentialVersionGuardsNewSessions", testCredentialVersion},
		{"DisablingDeletesSessions", testDisable},
		{"DeleteUserCascadesToSessions", testDeleteUser},
		{"SessionRoundTripsAtMillisecondPrecision", testSessionRoundTrip},
		{"SessionForMissingUserIsRefused", testSessionMissingUser},
		{"DuplicateTokenHashIsRefused", testDuplicateTokenHash},
		{"TouchSession", testTouch},
		{"DeleteSessionReturnsItsUser", testDeleteSession},
		{"DeleteUserSessionsCountsAndKeeps", testDeleteUserSessions},
		{"DeleteSessionByPublicIDOnlyTheOwners", testDeleteByPublicID},
		{"SetReauthRecordsConfirmation", testSetReauth},
		{"TrimSessionsEndsTheOldest", testTrimSessions},
		{"SessionsListsPerUserAndAll", testSessionsList},
		{"DeleteExpiredSessionsByExpiryAndIdle", testDeleteExpired},
		{"HandoffIsTakenOnceAndExpires", testHandoff},
		{"RevocationsReachWatchers", testWatch},
		{"ThrottleCountersAreAtomic", testThrottleStore},
		{"DevicesTrustedPerUserUntilExpiry", testDevices},
		{"DevicesRotateListAndForget", testDeviceRotation},
		{"TOTPFromEnrolmentToRemoval", testTOTPLifecycle},
		{"TOTPStepsAndRecoveryCodesSpentOnce", testFactorsSpentOnce},
		{"PasskeysAddListUseRemove", testPasskeys},
		{"PasskeySuspensionAndUserHandles", testPasskeySuspension},
		{"ResetFactorsRemovesAllAndEndsSessions", testResetFactors},
		{"HandoffHoldsCeremonyState", testHandoffHoldsCeremonies},
		{"MailTokensVerifyResetAndLimit", testMailTokens},
		{"OutboxClaimsEachMailOnce", testOutboxClaims},
		{"ActivityPerUserNewestFirstPagedAndPruned", testActivity},
		{"FoldedActivityCountsEveryOccurrenceOnce", testFoldActivity},
		{"SignInAlertsOnUntilTurnedOff", testSignInAlerts},
		{"CommitLoginWritesEveryPartOrNone", testCommitLogin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, h) })
	}
}

type harness struct {
	newStore    func(t *testing.T) localauth.Store
	hash, hash2 []byte
}

var ctx = context.Background()

func mustHash(t *testing.T, pw string) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

func (h *harness) user(t *testing.T, s localauth.Store, name string) localauth.User {
	t.Helper()
	u := localauth.User{Username: name, DisplayName: name, Enabled: true, CreatedAt: t0}
	if err := s.CreateUser(ctx, &u, h.hash); err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

var tokenSeq atomic.Int64

func (h *harness) session(t *testing.T, s localauth.Store, userID int64, created, expires time.Time) localauth.Session {
	t.Helper()
	// A login carries the credential version it verified.
	cred, err := s.Credential(ctx, userID)
	noErr(t, "Credential", err)
	n := tokenSeq.Add(1)
	sess := localauth.Session{
		CredentialVersion: cred.Version,
		PublicID:          fmt.Sprintf("public-id-%06d-%s", n, t.Name()[:min(len(t.Name()), 8)]),
		IP:                "192.0.2.1",
		UserAgent:         "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
		ReauthAt:          created,
		UserID:            userID,
		TokenHash:         sha256.Sum256(fmt.Appendf(nil, "token-%d", n)),
		CreatedAt:         created,
		ExpiresAt:         expires,
		LastSeenAt:        created,
	}
	if err := s.CreateSession(ctx, &sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: got error %v, want %v", what, got, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

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
	got := make(chan localauth.Revocation, 16)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.WatchRevocations(wctx, func(r localauth.Revocation) { got <- r }) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchRevocations returned %v after cancel, want context.Canceled", err)
		}
	}()
	// The watch reports only what is committed after it started; give it
	// time to take its starting point.
	time.Sleep(300 * time.Millisecond)
	_, err := s.DeleteSession(ctx, a.TokenHash)
	noErr(t, "DeleteSession", err)
	_, err = s.DeleteUserSessions(ctx, u.ID, nil)
	noErr(t, "DeleteUserSessions", err)
	want := []localauth.Revocation{{UserID: u.ID, TokenHash: a.TokenHash}, {UserID: u.ID, All: true}}
	for i, w := range want {
		select {
		case r := <-got:
			if r != w {
				t.Fatalf("revocation %d: got %+v, want %+v", i, r, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("revocation %d not reported within 5s", i)
		}
	}
}

func handoffStore(t *testing.T, s localauth.Store) localauth.HandoffStore {
	t.Helper()
	hs, ok := s.(localauth.HandoffStore)
	if !ok {
		t.Skip("the store keeps no handoffs")
	}
	return hs
}

func testHandoff(t *testing.T, h *harness) {
	store := h.newStore(t)
	s := handoffStore(t, store)
	code := sha256.Sum256([]byte("code"))
	in := localauth.Handoff{CodeHash: code, Sealed: []byte("sealed token bytes"), ExpiresAt: t0.Add(time.Minute)}
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, in))
	if err := s.CreateHandoff(ctx, in); err == nil {
		t.Error("a second handoff with the same code was stored")
	}
	var wg sync.WaitGroup
	var wins atomic.Int32
	for range 8 {
		wg.Go(func() {
			out, err := s.TakeHandoff(ctx, code, t0)
			if err == nil {
				wins.Add(1)
				if string(out.Sealed) != "sealed token bytes" || !out.ExpiresAt.Equal(in.ExpiresAt) {
					t.Errorf("TakeHandoff: got %+v", out)
				}
			} else if !errors.Is(err, localauth.ErrHandoffNotFound) {
				t.Errorf("TakeHandoff: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent TakeHandoff calls succeeded, want exactly 1", wins.Load())
	}
	late := sha256.Sum256([]byte("late"))
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, localauth.Handoff{CodeHash: late, Sealed: []byte("x"), ExpiresAt: t0.Add(time.Minute)}))
	_, err := s.TakeHandoff(ctx, late, t0.Add(time.Minute))
	wantErr(t, "expired handoff", err, localauth.ErrHandoffNotFound)
	gone := sha256.Sum256([]byte("gone"))
	noErr(t, "CreateHandoff", s.CreateHandoff(ctx, localauth.Handoff{CodeHash: gone, Sealed: []byte("x"), ExpiresAt: t0.Add(time.Minute)}))
	if n, err := s.DeleteExpiredHandoffs(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredHandoffs: deleted %d, %v; want 1", n, err)
	}
	_, err = s.TakeHandoff(ctx, gone, t0)
	wantErr(t, "purged handoff", err, localauth.ErrHandoffNotFound)
}
