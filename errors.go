package localauth

import (
	"errors"
	"fmt"
	"time"
)

// Errors that callers branch on. Methods wrap them, so compare with
// errors.Is. Their texts are for programmers and logs; Public turns any of
// them into a code and a sentence for the person at the keyboard.
var (
	// ErrInvalidCredentials is the one answer Login gives for an unknown
	// username and for a wrong password alike, so that a failed login never
	// tells which of the two was wrong.
	ErrInvalidCredentials = errors.New("localauth: invalid credentials")

	// ErrWrongPassword is what a signed-in user gets for a wrong current
	// password (Reauth, ChangePassword): the user is known, so the answer
	// may say the password was wrong. It wraps ErrInvalidCredentials, so
	// callers that branch on that need no change.
	ErrWrongPassword = fmt.Errorf("%w: wrong current password", ErrInvalidCredentials)

	// ErrAccountDisabled is returned by Login for a disabled account, and only
	// after the password was verified.
	ErrAccountDisabled = errors.New("localauth: account disabled")

	// ErrUserExists is returned by Register when the canonical form of the
	// username is already taken.
	ErrUserExists = errors.New("localauth: username already registered")

	// ErrUsernameConfusable is returned by Register for a username that
	// looks like an existing user's (the same UsernameSkeleton): "асе" in
	// Cyrillic beside "ace", "bòb" beside "bob". It wraps ErrUserExists, so
	// callers that treat it as a taken name need no change.
	ErrUsernameConfusable = error(confusableError{})

	// ErrUserNotFound is returned by lookups and administrative methods when no
	// user has the given id or username.
	ErrUserNotFound = errors.New("localauth: user not found")

	// ErrInvalidSession is returned by Authenticate, Logout and
	// ChangePassword when the token names no live session: malformed, never
	// issued, expired, logged out or revoked. The cases are not told apart.
	ErrInvalidSession = errors.New("localauth: invalid or expired session")

	// ErrCredentialChanged is returned by Store.CreateSession when the
	// user's credentials changed after the login verified them. Service
	// turns it into ErrInvalidCredentials: the password that was checked
	// is no longer the password.
	ErrCredentialChanged = errors.New("localauth: credentials changed during the login")

	// ErrHandoffNotFound is returned by HandoffStore.TakeHandoff for a code
	// hash that names no handoff, or an expired one. Service turns it into
	// ErrInvalidSession (RedeemHandoff) or ErrInvalidCode (a second step,
	// a passkey ceremony): it never returns it.
	ErrHandoffNotFound = errors.New("localauth: no such handoff")

	// ErrReauthRequired is returned by the actions that need a recent
	// login (changing the password, ending other sessions, deleting the
	// account) when the session's password was last confirmed longer ago
	// than Config.ReauthWindow: confirm it with Reauth, then try again.
	ErrReauthRequired = errors.New("localauth: a recent password confirmation is required")

	// ErrSecondFactorReauthRequired is returned instead of
	// ErrReauthRequired on an account with a second factor: a password
	// alone no longer unlocks what a recent login guards there, so confirm
	// with the password and a second factor (ReauthWith), or a passkey.
	// It wraps ErrReauthRequired, so callers that ask for the password on
	// that error still ask.
	ErrSecondFactorReauthRequired = error(secondFactorReauthError{})

	// ErrDeviceNotFound is returned by ForgetDevice for an id that names
	// no trusted device (of the caller's, when one is given).
	ErrDeviceNotFound = errors.New("localauth: no such device")

	// ErrSessionNotFound is returned by EndSession and RevokeSession for an
	// id that names no session (of the caller's, for EndSession).
	ErrSessionNotFound = errors.New("localauth: no such session")

	// ErrSecondFactorRequired is wrapped by *SecondFactorRequiredError:
	// the password was right, and the account asks for a second factor
	// before a session starts.
	ErrSecondFactorRequired = errors.New("localauth: a second factor is required")

	// ErrInvalidCode is returned for a TOTP code, recovery code or passkey
	// answer that does not verify, and for a second-step token that is
	// unknown, used up, expired or presented by another client: the cases
	// are not told apart.
	ErrInvalidCode = errors.New("localauth: the code is not valid")

	// ErrFactorUnavailable is returned by the second-factor methods when
	// the Service has no way to run them: a Store without TOTPStore or
	// PasskeyStore (FactorResetter for ResetFactors), or no
	// Config.SecretKey, Config.TOTP or Config.Passkeys.
	ErrFactorUnavailable = errors.New("localauth: this second factor is not available")

	// ErrFactorExists is returned by EnrollTOTP when TOTP is already on:
	// turn it off first. TOTPStore.SetPendingTOTP returns it then too.
	ErrFactorExists = errors.New("localauth: the second factor is already set up")

	// ErrFactorNotFound is returned when the factor to confirm or remove
	// does not exist (a passkey of another user included). It is also the
	// "not found" of TOTPStore and PasskeyStore (see Store).
	ErrFactorNotFound = errors.New("localauth: no such second factor")

	// ErrInvalidPasskeyName is returned for a passkey name longer than
	// MaxPasskeyName bytes or holding control characters.
	ErrInvalidPasskeyName = errors.New("localauth: invalid passkey name")

	// ErrPasskeyExists is returned by PasskeyStore.AddPasskey for a
	// credential id that is already registered.
	ErrPasskeyExists = errors.New("localauth: the passkey is already registered")

	// ErrInvalidUsername is wrapped by every *PolicyError about a username.
	ErrInvalidUsername = errors.New("localauth: invalid username")

	// ErrWeakPassword is wrapped by every *PolicyError about a password.
	ErrWeakPassword = errors.New("localauth: password does not meet the policy")

	// ErrBusy is wrapped by *BusyError: the server has more password
	// hashing queued than it can start within Config.HashQueueWait.
	ErrBusy = errors.New("localauth: server busy")

	// ErrRateLimited is wrapped by *RateLimitError when too many attempts
	// came from one client or against one account.
	ErrRateLimited = errors.New("localauth: too many attempts")

	// ErrNoClientAddress is returned by the methods that throttle per
	// client address (Login, Register, CheckUsername, CompleteLogin,
	// Reauth and the other password checks, passkey logins) when their
	// context carries no address: web.Auth.Context(r), liveauth and
	// WithClientIP provide one. A program that serves no network clients
	// sets Config.NoClientAddress instead.
	ErrNoClientAddress = errors.New("localauth: no client address in the context")

	// ErrUnavailable is returned when the store cannot be reached or
	// answered with an internal error. Its text says nothing of the cause;
	// the cause is wrapped for logging.
	ErrUnavailable = errors.New("localauth: store unavailable")
)

// Field names that a *PolicyError points at: the ids of the form fields of the
// registration and login pages.
const (
	FieldUsername = "username"
	FieldPassword = "password"
)

// confusableError is ErrUsernameConfusable: its own text, and a taken
// name to errors.Is.
type confusableError struct{}

func (confusableError) Error() string { return "localauth: username looks like one already registered" }

func (confusableError) Unwrap() error { return ErrUserExists }

// secondFactorReauthError is ErrSecondFactorReauthRequired: its own text,
// and a required re-authentication to errors.Is.
type secondFactorReauthError struct{}

func (secondFactorReauthError) Error() string {
	return "localauth: a recent confirmation with the second factor is required"
}

func (secondFactorReauthError) Unwrap() error { return ErrReauthRequired }

// PolicyError explains why a username or password was refused. Kind is
// ErrInvalidUsername or ErrWeakPassword; Field names the form field to
// correct; Message is a complete sentence fit for the page.
type PolicyError struct {
	Kind    error
	Field   string
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// Unwrap returns Kind, so errors.Is(err, ErrWeakPassword) holds for every
// password refusal.
func (e *PolicyError) Unwrap() error { return e.Kind }

func usernameError(format string, args ...any) error {
	return &PolicyError{Kind: ErrInvalidUsername, Field: FieldUsername, Message: fmt.Sprintf(format, args...)}
}

func passwordError(format string, args ...any) error {
	return &PolicyError{Kind: ErrWeakPassword, Field: FieldPassword, Message: fmt.Sprintf(format, args...)}
}

// RateLimitError is returned instead of trying a login or registration while
// the client or the account is throttled. RetryAfter is how long to wait
// before the next attempt can be tried.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("localauth: too many attempts, retry after %s", roundUpSeconds(e.RetryAfter))
}

// Unwrap returns ErrRateLimited.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

func roundUpSeconds(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

// BusyError is returned instead of queueing a login, registration or
// password change whose wait for a hashing slot would exceed
// Config.HashQueueWait. RetryAfter is when the queue should have room.
type BusyError struct {
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("localauth: server busy, retry after %s", e.RetryAfter.Round(time.Millisecond))
}

// Unwrap returns ErrBusy.
func (e *BusyError) Unwrap() error { return ErrBusy }

// errNoHandoffs is returned by the methods that need a HandoffStore when
// the store is not one.
var errNoHandoffs = fmt.Errorf("localauth: the store keeps no handoffs (see HandoffStore): %w", errors.ErrUnsupported)

// unavailable wraps a store failure so that callers see ErrUnavailable while
// logs keep the cause.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string { return ErrUnavailable.Error() }

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

// storeErr passes sentinel errors through and turns anything else into
// ErrUnavailable with the cause attached.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUserNotFound), errors.Is(err, ErrUserExists),
		errors.Is(err, ErrInvalidSession), errors.Is(err, ErrUnavailable),
		errors.Is(err, ErrCredentialChanged), errors.Is(err, ErrPasskeyExists),
		errors.Is(err, ErrDeviceNotFound):
		return err
	default:
		return &unavailableError{cause: err}
	}
}

// SecondFactorRequiredError is returned by Login for an account with a
// second factor, after its password verified: no session has started yet.
// Token names the half-done login for CompleteLogin: single-use for a
// success, valid for SecondStepLifetime, bound to the client that logged
// in, and a bearer secret like a session token. Methods lists what
// CompleteLogin will accept (MethodTOTP, MethodRecovery, MethodPasskey).
type SecondFactorRequiredError struct {
	Token   Token
	Methods []string
}

func (e *SecondFactorRequiredError) Error() string { return ErrSecondFactorRequired.Error() }

// Unwrap returns ErrSecondFactorRequired.
func (e *SecondFactorRequiredError) Unwrap() error { return ErrSecondFactorRequired }
