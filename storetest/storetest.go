// Package storetest is the conformance suite for localauth.Store
// implementations, in the manner of testing/fstest: every store runs the
// same tests, so they behave alike wherever the Service depends on it.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) localauth.Store { return openFreshStore(t) })
//	}
//
// RunMigrations is the same for the store's schema migrations: a database
// as an older binary left it migrates, and its users go on working.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
