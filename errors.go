package localauth

import (
	"errors"
	"fmt"
	"time"
)

// Errors that callers branch on. Methods wrap them, so compare with
// errors.Is. Their texts are fit to show to the person at the keyboard.
var (
	// ErrInvalidCredentials is the one answer Login gives for an unknown
	// username and for a wrong password alike, so that a failed login never
	// tells which of the two was wrong.
	ErrInvalidCredentials = errors.New("there was a problem logging in, please try again")

	// ErrAccountDisabled is returned by Login for a disabled account, and only
	// after the password was verified.
	ErrAccountDisabled = errors.New("this account is disabled")

	// ErrUserExists is returned by Register when the canonical form of the
	// username is already taken.
	ErrUserExists = errors.New("username is already registered")

	// ErrUserNotFound is returned by lookups and administrative methods when no
	// user has the given id or username.
	ErrUserNotFound = errors.New("user not found")

	// ErrInvalidSession is returned by Authenticate, Logout and
	// ChangePassword when the token names no live session: malformed, never
	// issued, expired, logged out or revoked. The cases are not told apart.
	ErrInvalidSession = errors.New("not logged in or session expired")

	// ErrInvalidUsername is wrapped by every *PolicyError about a username.
	ErrInvalidUsername = errors.New("invalid username")

	// ErrWeakPassword is wrapped by every *PolicyError about a password.
	ErrWeakPassword = errors.New("password does not meet the policy")

	// ErrRateLimited is wrapped by *RateLimitError when too many attempts
	// came from one client or against one account.
	ErrRateLimited = errors.New("too many attempts")

	// ErrUnavailable is returned when the store cannot be reached or
	// answered with an internal error. Its text says nothing of the cause;
	// the cause is wrapped for logging.
	ErrUnavailable = errors.New("the service is temporarily unavailable")
)

// Field names that a *PolicyError points at: the ids of the form fields of the
// registration and login pages.
const (
	FieldUsername        = "username"
	FieldPassword        = "password"
	FieldConfirmPassword = "confirm_password"
)

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
	return fmt.Sprintf("too many attempts, please wait %s and try again", roundUpSeconds(e.RetryAfter))
}

// Unwrap returns ErrRateLimited.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

func roundUpSeconds(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}

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
		errors.Is(err, ErrInvalidSession), errors.Is(err, ErrUnavailable):
		return err
	default:
		return &unavailableError{cause: err}
	}
}
