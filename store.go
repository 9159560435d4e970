package localauth

import (
	"context"
	"time"
)

// Store keeps users and sessions. Service is its only caller; applications
// use Service. Implementations must be safe for concurrent use, and every
// method that writes more than one row must do so in one transaction.
//
// Errors: a method that looks up one user returns ErrUserNotFound when there
// is none; one that looks up a session returns ErrInvalidSession when there
// is none. CreateUser returns ErrUserExists when the canonical username is
// taken. Any other error is a failure of the store itself, which Service
// reports as ErrUnavailable.
//
// storetest.Run checks an implementation against this contract.
type Store interface {
	// CreateUser inserts u with its password hash and sets u.ID. Username
	// is already canonical. It returns ErrUserExists when the username is
	// taken, whatever the case of the race.
	CreateUser(ctx context.Context, u *User, passwordHash []byte) error
	// UserByID returns the user with the given id.
	UserByID(ctx context.Context, id int64) (User, error)
	// UserByName returns the user with the given canonical username.
	UserByName(ctx context.Context, username string) (User, error)
	// Users returns every user, ordered by id.
	Users(ctx context.Context) ([]User, error)
	// PasswordHash returns the user's password hash.
	PasswordHash(ctx context.Context, userID int64) ([]byte, error)
	// SetPasswordHash replaces the user's password hash and, in the same
	// transaction, deletes every session of the user except the one whose
	// token hash is keep (nil: delete them all). It returns the number of
	// sessions deleted.
	SetPasswordHash(ctx context.Context, userID int64, hash []byte, keep *TokenHash) (int, error)
	// ReplacePasswordHash sets the hash to newHash only if it is still
	// oldHash, so that upgrading a hash at login never overwrites a password
	// changed meanwhile. It reports whether it replaced the hash.
	ReplacePasswordHash(ctx context.Context, userID int64, oldHash, newHash []byte) (bool, error)
	// SetUserEnabled enables or disables the user. Disabling deletes all of
	// the user's sessions in the same transaction.
	SetUserEnabled(ctx context.Context, userID int64, enabled bool) error
	// DeleteUser deletes the user and all of its sessions.
	DeleteUser(ctx context.Context, userID int64) error

	// CreateSession inserts s and sets s.ID. A session for a user that does
	// not exist is refused with ErrUserNotFound.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByTokenHash returns the session with the given token hash and
	// its user, expired or not: Service decides on expiry.
	SessionByTokenHash(ctx context.Context, h TokenHash) (Session, User, error)
	// TouchSession sets the session's LastSeenAt.
	TouchSession(ctx context.Context, h TokenHash, at time.Time) error
	// DeleteSession deletes the session with the given token hash and
	// returns the id of its user.
	DeleteSession(ctx context.Context, h TokenHash) (userID int64, err error)
	// DeleteUserSessions deletes every session of the user and returns how
	// many there were.
	DeleteUserSessions(ctx context.Context, userID int64) (int, error)
	// Sessions returns the sessions of the user, or of every user when
	// userID is 0, ordered by id.
	Sessions(ctx context.Context, userID int64) ([]Session, error)
	// DeleteExpiredSessions deletes sessions that expired at or before now,
	// and, when idleBefore is not zero, those last seen before it. It
	// returns how many sessions it deleted. It also deletes expired
	// handoffs.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)

	// CreateHandoff stores a one-time code (see Service.IssueHandoff).
	CreateHandoff(ctx context.Context, h Handoff) error
	// TakeHandoff deletes and returns the handoff with the given code hash,
	// if it has not expired by now; else ErrInvalidSession. Two concurrent
	// calls for one code never both succeed.
	TakeHandoff(ctx context.Context, codeHash TokenHash, now time.Time) (Handoff, error)
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
type RevocationWatcher interface {
	// WatchRevocations calls fn for every revocation committed after it
	// started, from any process, until ctx is done. It returns ctx.Err()
	// then. Between a failure of the database and its recovery it retries;
	// when it cannot tell what it missed, it calls fn with a Revocation
	// whose UserID is 0, meaning "drop every cached session".
	WatchRevocations(ctx context.Context, fn func(Revocation)) error
}
