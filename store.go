package localauth

import (
	"context"
	"time"
)

// Store keeps users and sessions. Service is its only caller; applications
// use Service. Implementations must be safe for concurrent use, and every
// method that writes more than one row must do so in one transaction.
//
// Errors, one rule for Store and every optional ability:
//   - A method that looks up one thing, or changes one thing the caller
//     names, returns that kind's sentinel error when it is not there (or
//     not in the state the method needs): ErrUserNotFound for a user,
//     ErrInvalidSession for a session, ErrFactorNotFound for a second
//     factor, ErrDeviceNotFound for a trusted device, ErrHandoffNotFound
//     for a handoff, ErrInvalidMailToken for a mailed token.
//   - A method that spends something, or changes it only if it is still
//     as the caller saw it (a compare-and-set), reports with a bool whether
//     it did, and a predicate answers with a bool: false is no error
//     (ReplacePasswordHash, UseTOTPStep, UseRecoveryCode, DeviceTrusted,
//     IssueMailToken, ClaimMail).
//   - A method that lists or deletes many things returns an empty list or
//     a zero count when there are none, never a not-found error.
//     Bookkeeping writes whose doc says so (SuspendPasskey,
//     RecordPasskeyUse) ignore a missing thing.
//
// Refusals (ErrUserExists, ErrCredentialChanged, ErrPasskeyExists,
// ErrFactorExists...) are named where they are declared. Any other error
// is a failure of the store itself, which Service reports as
// ErrUnavailable.
//
// A credential change, as the methods that change a password or a second
// factor call it, does three things in one transaction: it advances the
// user's credential version (so that a login that verified the old
// credentials gets no session, see CreateSession), deletes every session
// of the user except the one whose token hash is keep (nil: all of them),
// returning how many it deleted, and logs them as RevocationWatcher says.
// It returns ErrUserNotFound for a user that does not exist.
//
// storetest.Run checks an implementation against this contract.
type Store interface {
	// CreateUser inserts u with its password hash and sets u.ID. Username
	// is already canonical. It stores UsernameSkeleton(u.Username) beside
	// it, unique. It returns ErrUserExists when the username is taken and
	// ErrUsernameConfusable when another user has the same skeleton,
	// whatever the case of the race.
	CreateUser(ctx context.Context, u *User, passwordHash []byte) error
	// UserByID returns the user with the given id.
	UserByID(ctx context.Context, id int64) (User, error)
	// UserByName returns the user with the given canonical username.
	UserByName(ctx context.Context, username string) (User, error)
	// UserBySkeleton returns a user whose stored skeleton (see
	// UsernameSkeleton) is the given one.
	UserBySkeleton(ctx context.Context, skeleton string) (User, error)
	// Users returns every user, ordered by id.
	Users(ctx context.Context) ([]User, error)
	// Credential returns the user's password hash and credential version,
	// read together.
	Credential(ctx context.Context, userID int64) (Credential, error)
	// SetPasswordHash replaces the user's password hash: a credential
	// change (advancing the credential version and deleting every session
	// of the user except the one whose token hash is keep, nil: all). It
	// returns the number of sessions deleted.
	SetPasswordHash(ctx context.Context, userID int64, hash []byte, keep *TokenHash) (int, error)
	// ReplacePasswordHash sets the hash to newHash only if it is still
	// oldHash, so that upgrading a hash at login never overwrites a password
	// changed meanwhile. It reports whether it replaced the hash. It does
	// not change the credential version: the password is the same.
	ReplacePasswordHash(ctx context.Context, userID int64, oldHash, newHash []byte) (bool, error)
	// SetUserEnabled enables or disables the user. Disabling deletes all of
	// the user's sessions in the same transaction.
	SetUserEnabled(ctx context.Context, userID int64, enabled bool) error
	// DeleteUser deletes the user and all of its sessions, and with them
	// everything the store's optional abilities keep for the user (second
	// factors, passkey handle, devices, email, mail tokens, activity).
	DeleteUser(ctx context.Context, userID int64) error

	// CreateSession inserts s (PublicID, IP, UserAgent, Remember and
	// ReauthAt included) and sets s.ID. A session for a user that does
	// not exist is refused with ErrUserNotFound. A session whose
	// CredentialVersion is no longer the user's is refused with
	// ErrCredentialChanged: the check and the insert are one atomic step,
	// so that a credential change that commits first always wins, and one
	// that commits after it ends the new session with the others.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByTokenHash returns the session with the given token hash and
	// its user, expired or not: Service decides on expiry.
	SessionByTokenHash(ctx context.Context, h TokenHash) (Session, User, error)
	// TouchSession sets the session's LastSeenAt.
	TouchSession(ctx context.Context, h TokenHash, at time.Time) error
	// DeleteSession deletes the session with the given token hash and
	// returns the id of its user.
	DeleteSession(ctx context.Context, h TokenHash) (userID int64, err error)
	// DeleteUserSessions deletes every session of the user except the one
	// whose token hash is keep (nil: all of them) and returns how many it
	// deleted.
	DeleteUserSessions(ctx context.Context, userID int64, keep *TokenHash) (int, error)
	// DeleteSessionByPublicID deletes the session with the given public id
	// and returns it, provided it belongs to userID (0: to anyone). Else
	// ErrInvalidSession, the same for a session of another user as for an
	// unknown id.
	DeleteSessionByPublicID(ctx context.Context, userID int64, publicID string) (Session, error)
	// TrimSessions deletes the user's oldest sessions beyond the newest
	// keep, logging each as a revocation (see RevocationWatcher), and
	// returns their token hashes (none, cheaply, when the user has no more
	// than keep).
	TrimSessions(ctx context.Context, userID int64, keep int) ([]TokenHash, error)
	// SetReauth records a password confirmation in the session at at.
	// ErrInvalidSession when there is no such session.
	SetReauth(ctx context.Context, h TokenHash, at time.Time) error
	// Sessions returns the sessions of the user, or of every user when
	// userID is 0, ordered by id.
	Sessions(ctx context.Context, userID int64) ([]Session, error)
	// DeleteExpiredSessions deletes sessions that expired at or before now,
	// and, when idleBefore is not zero, those last seen before it. It
	// returns how many sessions it deleted. It logs no revocation: every
	// instance refuses an expired session on its own. Sessions only: each
	// other ability sweeps its own records (HandoffStore, DeviceStore,
	// throttle.Sweeper).
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}

// The optional abilities of a Store. Service, and the programs that run
// it, find them with a type assertion; sqlitestore and pgstore have all of
// them. A store for passwords and sessions alone needs none.

// HandoffStore is an optional ability of a Store: single-use records that
// any instance sharing the database can take once. Service keeps three
// kinds there, each sealed under a secret only the client holds: the
// one-time codes that carry a live page's login into a cookie
// (IssueHandoff, RedeemHandoff), logins waiting for their second factor,
// and WebAuthn ceremonies; TOTPStore and PasskeyStore embed it for the
// last two. Without it those methods return an error that wraps
// errors.ErrUnsupported, and second factors are unavailable. Errors follow
// the rule of Store.
type HandoffStore interface {
	// CreateHandoff stores a single-use record: Sealed holds up to 16 KiB.
	CreateHandoff(ctx context.Context, h Handoff) error
	// TakeHandoff deletes and returns the handoff with the given code hash,
	// if it has not expired by now; else ErrHandoffNotFound (an expired
	// one is deleted all the same). Two concurrent calls for one code
	// never both succeed.
	TakeHandoff(ctx context.Context, codeHash TokenHash, now time.Time) (Handoff, error)
	// DeleteExpiredHandoffs deletes the handoffs that expired at or before
	// now and returns how many. Service.PurgeExpired calls it.
	DeleteExpiredHandoffs(ctx context.Context, now time.Time) (int, error)
}

// LoginCommitter is an optional ability of a Store: writing what a
// successful sign-in leaves behind in one transaction. A sign-in starts a
// session, usually trusts the browser it came from, records two activity
// events and takes back the guess it was counted as; written one by one,
// each waits for a durable commit of its own, and those commits are most
// of what a login costs beyond the password hash. Service uses it when the
// store has it.
type LoginCommitter interface {
	// CommitLogin writes c in one transaction: every part or none. Each
	// part is written as the method it stands for writes it, with that
	// method's errors (ErrCredentialChanged, ErrUserNotFound from the
	// session), which refuse the whole commit.
	CommitLogin(ctx context.Context, c *LoginCommit) error
}

// LoginCommit is what LoginCommitter.CommitLogin writes. Service sets a
// part only when the store has the ability it belongs to: Device for a
// DeviceStore, Activity for an ActivityStore, GiveBack and Reset for a
// ThrottleStoreProvider whose counters the Service uses.
type LoginCommit struct {
	// Session is created as Store.CreateSession creates it (its ID set).
	Session *Session
	// Device, when not nil, is trusted as DeviceStore.TrustDevice trusts
	// it, taking over the record whose token hash is Replaces (nil: a new
	// record).
	Device   *Device
	Replaces *TokenHash
	// Activity is appended as ActivityStore.AddActivity appends each
	// event.
	Activity []ActivityEvent
	// GiveBack and Reset name counters of the store's own throttle store
	// (ThrottleStoreProvider): one attempt is taken back under each
	// GiveBack name, as throttle.Store.GiveBack does, and each Reset
	// name's count is dropped.
	GiveBack, Reset []string
}

// Pinger is an optional ability of a Store: a cheap round trip to the
// database, for health checks (localauth serve's /healthz).
type Pinger interface {
	Ping(ctx context.Context) error
}

// SchemaVersioner is an optional ability of a Store whose schema is
// migrated: the version the database is at and the newest one the store
// knows (localauth migrate reports both).
type SchemaVersioner interface {
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
}

// Credential is what a login verifies: the password hash, and the version
// of the user's credentials it belongs to. The version advances whenever a
// credential changes, so that a login that verified an older one cannot
// start a session after the change (see Store.CreateSession).
type Credential struct {
	Hash    []byte
	Version int64
}

// Revocation tells that sessions ended: one session when All is false, every
// session of the user (or all but one) when All is true.
type Revocation struct {
	UserID    int64
	TokenHash TokenHash
	All       bool
}

// RevocationWatcher is an optional ability of a Store: telling the Service of
// sessions that ended through other processes sharing the database (an admin
// CLI, other server instances), so that their cached authentications end at
// once too. Service detects it with a type assertion and runs it for its
// whole life.
//
// A store that is a RevocationWatcher must log, in the transaction that
// deletes them, the sessions every method deletes, whichever ability
// declares it: DeleteSession, DeleteSessionByPublicID and TrimSessions one
// by one; DeleteUserSessions, SetPasswordHash, SetUserEnabled (disabling),
// DeleteUser, every credential change of TOTPStore, RecoveryCodeStore and
// PasskeyStore, FactorResetter.ResetFactors and MailStore.ResetPassword as
// all of the user's. A deletion left out of the log lets another instance
// that cached the session trust it for up to Config.CacheMaxAge more.
// Only DeleteExpiredSessions logs nothing: every instance refuses an
// expired session without being told.
type RevocationWatcher interface {
	// WatchRevocations calls fn for every revocation committed after it
	// started, from any process, until ctx is done. It returns ctx.Err()
	// then. Between a failure of the database and its recovery it retries;
	// when it cannot tell what it missed, it calls fn with a Revocation
	// whose UserID is 0 and All set, meaning "drop every cached session".
	// It does so first of all, once it has taken its starting point: New
	// starts the watch in the background, and a session cached before that
	// point may have been revoked unheard.
	WatchRevocations(ctx context.Context, fn func(Revocation)) error
}
