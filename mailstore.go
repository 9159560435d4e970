package localauth

import (
	"context"
	"time"
)

// MailStore is an optional ability of a Store: email addresses, the tokens
// mailed to them, and the outbox of mails waiting to be sent. Without it
// the mail flows return ErrMailUnavailable. sqlitestore and pgstore have
// it; storetest checks it. Errors follow the rule of Store ("not found"
// is ErrInvalidMailToken for a token).
//
// Every method that writes mails writes them in the same transaction as
// the change they tell of, so that a mail is queued if and only if its
// token or change is committed.
type MailStore interface {
	// UserEmail returns the user's addresses. ErrUserNotFound when there
	// is no such user.
	UserEmail(ctx context.Context, userID int64) (EmailState, error)
	// UserByEmailKey returns the user whose verified address has the
	// given key (see EmailKey). ErrUserNotFound when none has.
	UserByEmailKey(ctx context.Context, key string) (User, error)
	// SetEmail records addr as the user's address, not verified: as
	// the address in force when the user has no verified one, else as
	// the pending one. It stores t when not nil and queues mails at now,
	// all in one transaction. ErrUserNotFound when there is no such user.
	SetEmail(ctx context.Context, userID int64, addr string, t *MailToken, mails []Mail, now time.Time) error
	// SetVerifiedEmail records addr, with its key, as the user's verified
	// address in force, clearing any pending one. ErrEmailTaken when
	// another user has the key; ErrUserNotFound when there is no such
	// user.
	SetVerifiedEmail(ctx context.Context, userID int64, addr, key string) error
	// IssueMailToken stores t and queues mails (at t.CreatedAt) in one
	// transaction,
	// unless the limit is reached: then it stores nothing and returns
	// false. The count and the insert are one atomic step per account.
	IssueMailToken(ctx context.Context, t MailToken, mails []Mail, limit MailLimit) (bool, error)
	// PeekMailToken returns the token with the given hash and purpose if
	// it is unused, not expired at now, and made under the user's current
	// credential version; else ErrInvalidMailToken. It changes nothing.
	PeekMailToken(ctx context.Context, h TokenHash, purpose string, now time.Time) (MailToken, error)
	// VerifyEmail uses the verification token with the given hash, under
	// the conditions of PeekMailToken: the token's address becomes the
	// user's verified address in force, and the pending one is cleared.
	// It returns the user's id. ErrInvalidMailToken; ErrEmailTaken when
	// another user verified the address meanwhile (nothing changes).
	VerifyEmail(ctx context.Context, h TokenHash, now time.Time) (userID int64, err error)
	// ResetPassword uses the reset token with the given hash, under the
	// conditions of PeekMailToken, and in the same transaction sets the
	// password hash, advances the credential version, marks every reset
	// token of the user used, deletes all of the user's sessions and
	// trusted devices (logging the revocation), and queues mails. It
	// returns the user's id and the number of sessions deleted.
	// ErrInvalidMailToken.
	ResetPassword(ctx context.Context, h TokenHash, now time.Time, hash []byte, mails []Mail) (userID int64, ended int, err error)
	// EnqueueMail queues mails at now: due at once.
	EnqueueMail(ctx context.Context, mails []Mail, now time.Time) error
	// ClaimMail takes the oldest mail due at now that no one holds, holds
	// it until now+lease and counts an attempt; ok is false when there is
	// none. Two callers, in this process or another, never hold one mail
	// at once.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration) (m OutboxMail, ok bool, err error)
	// DeleteMail removes a mail from the outbox: sent, or given up.
	DeleteMail(ctx context.Context, id int64) error
	// RetryMail releases a held mail to be tried again at next.
	RetryMail(ctx context.Context, id int64, next time.Time) error
	// OutboxStats returns how many mails wait and when the oldest was
	// queued (zero when none).
	OutboxStats(ctx context.Context) (depth int, oldest time.Time, err error)
	// DeleteOldMailTokens deletes tokens made before before.
	DeleteOldMailTokens(ctx context.Context, before time.Time) (int, error)
}

// The purposes of mailed tokens.
const (
	purposeReset  = "reset"
	purposeVerify = "verify"
)

// MailToken is a token sent by mail, as a MailStore keeps it: only its hash.
type MailToken struct {
	Hash   TokenHash
	UserID int64
	// Purpose is "reset" or "verify".
	Purpose string
	// Email is the address the token was sent to, and EmailKey its key.
	Email, EmailKey string
	// CredentialVersion is the user's when the token was made: a change
	// of credentials since voids the token.
	CredentialVersion int64
	CreatedAt         time.Time
	ExpiresAt         time.Time
}

// MailLimit bounds how many tokens IssueMailToken makes: at most
// PerAccount of the token's purpose for its user since Since, and at most
// PerAddress to its address key since AddressSince.
type MailLimit struct {
	Since        time.Time
	PerAccount   int
	AddressSince time.Time
	PerAddress   int
}

// OutboxMail is a mail in the outbox.
type OutboxMail struct {
	ID int64
	Mail
	CreatedAt time.Time
	// Attempts counts tries to send it, this one included.
	Attempts int
}
