package localauth

import (
	"errors"
	"fmt"
	"time"
)

// Stable error codes, as Public returns them. Transports send them to
// programs (the JSON API's "error" field) and map them to their own status
// codes; they never change meaning.
const (
	CodeInvalidCredentials = "invalid_credentials"
	CodeAccountDisabled    = "account_disabled"
	CodeUserExists         = "user_exists"
	CodeInvalidUsername    = "invalid_username"
	CodeWeakPassword       = "weak_password"
	CodeRateLimited        = "rate_limited"
	CodeBusy               = "busy"
	CodeUnavailable        = "unavailable"
	CodeUnauthenticated    = "unauthenticated"
	CodeUserNotFound       = "user_not_found"
	CodeReauthRequired     = "reauth_required"
	CodeSessionNotFound    = "not_found"
	CodeInternal           = "internal"
	CodeMFARequired        = "mfa_required"
	CodeInvalidCode        = "invalid_code"
	CodeFactorUnavailable  = "factor_unavailable"
	CodeFactorExists       = "factor_exists"
	CodeFactorNotFound     = "factor_not_found"
	CodeInvalidName        = "invalid_name"

	CodeSecondFactorRequired = "second_factor_required"
	CodeInvalidEmail         = "invalid_email"
	CodeInvalidMailToken     = "invalid_token"
	CodeMailUnavailable      = "mail_unavailable"
)

// Messages shown to people, the same on every pathway (live pages, JSON
// API): unknown user and wrong password share one.
const (
	MsgInvalidCredentials = "There was a problem logging in, please try again."
	MsgWrongPassword      = "That is not your current password. Please try again."
	MsgAccountDisabled    = "This account is disabled."
	MsgUnavailable        = "The service is unavailable right now. Please try again in a moment."
	MsgBusy               = "The server is busy. Please try again in a moment."
	MsgUnauthenticated    = "You are not logged in, or your session has ended."
	MsgInternal           = "Something went wrong. Please try again."
	MsgReauthRequired     = "Please confirm your password to continue."
	MsgInvalidCode        = "That code did not work. Check it and try again."
	MsgMFARequired        = "Enter the code from your authenticator app to finish logging in."

	MsgSecondFactorReauth = "Please confirm your password and a code from your authenticator app (or a recovery code, or a passkey) to continue."
)

// Public describes an error returned by a Service method in the terms a
// transport shows: a stable code, a message safe for anyone to read (it
// never carries internal detail), and for a *RateLimitError how long to
// wait. It is the one place where errors become words.
func Public(err error) (code, message string, retryAfter time.Duration) {
	var pe *PolicyError
	var rl *RateLimitError
	var busy *BusyError
	switch {
	case err == nil:
		return "", "", 0
	case errors.Is(err, ErrWrongPassword):
		return CodeInvalidCredentials, MsgWrongPassword, 0
	case errors.Is(err, ErrInvalidCredentials):
		return CodeInvalidCredentials, MsgInvalidCredentials, 0
	case errors.Is(err, ErrAccountDisabled):
		return CodeAccountDisabled, MsgAccountDisabled, 0
	case errors.As(err, &rl):
		return CodeRateLimited, fmt.Sprintf("Too many attempts. Please wait %s and try again.", waitText(rl.RetryAfter)), roundUpSeconds(rl.RetryAfter)
	case errors.As(err, &pe) && errors.Is(pe.Kind, ErrInvalidUsername):
		return CodeInvalidUsername, pe.Message, 0
	case errors.As(err, &pe):
		return CodeWeakPassword, pe.Message, 0
	case errors.Is(err, ErrUsernameConfusable):
		return CodeUserExists, "This username is too similar to one already registered. Try a different name.", 0
	case errors.Is(err, ErrUserExists):
		return CodeUserExists, "This username is already registered. Try a different name.", 0
	case errors.As(err, &busy):
		return CodeBusy, MsgBusy, roundUpSeconds(busy.RetryAfter)
	case errors.Is(err, ErrBusy):
		return CodeBusy, MsgBusy, time.Second
	case errors.Is(err, ErrUnavailable):
		return CodeUnavailable, MsgUnavailable, 0
	case errors.Is(err, ErrInvalidSession):
		return CodeUnauthenticated, MsgUnauthenticated, 0
	case errors.Is(err, ErrSecondFactorReauthRequired):
		return CodeSecondFactorRequired, MsgSecondFactorReauth, 0
	case errors.Is(err, ErrDeviceNotFound):
		return CodeSessionNotFound, "No such device.", 0
	case errors.Is(err, ErrReauthRequired):
		return CodeReauthRequired, MsgReauthRequired, 0
	case errors.Is(err, ErrSessionNotFound):
		return CodeSessionNotFound, "No such session.", 0
	case errors.Is(err, ErrUserNotFound):
		return CodeUserNotFound, "No such user.", 0
	case errors.Is(err, ErrSecondFactorRequired):
		return CodeMFARequired, MsgMFARequired, 0
	case errors.Is(err, ErrInvalidCode):
		return CodeInvalidCode, MsgInvalidCode, 0
	case errors.Is(err, ErrFactorUnavailable):
		return CodeFactorUnavailable, "This kind of second factor is not available here.", 0
	case errors.Is(err, ErrFactorExists):
		return CodeFactorExists, "The authenticator app is already set up. Turn it off first to set up another.", 0
	case errors.Is(err, ErrPasskeyExists):
		return CodeFactorExists, "This passkey is already registered.", 0
	case errors.Is(err, ErrInvalidPasskeyName):
		return CodeInvalidName, "Give the passkey a name of at most 64 characters.", 0
	case errors.Is(err, ErrFactorNotFound):
		return CodeFactorNotFound, "No such second factor.", 0
	case errors.Is(err, ErrInvalidEmail):
		return CodeInvalidEmail, "Enter one email address, such as name@example.com.", 0
	case errors.Is(err, ErrInvalidMailToken):
		return CodeInvalidMailToken, "This link is not valid: it was used, it expired, or the password changed since it was sent. Ask for a new one.", 0
	case errors.Is(err, ErrMailUnavailable):
		return CodeMailUnavailable, "Email is not available here.", 0
	default:
		return CodeInternal, MsgInternal, 0
	}
}

// PublicUsernameTaken describes a registration refused because the name
// is taken (ErrUserExists) or looks like a taken one
// (ErrUsernameConfusable), naming the name as it was typed, for a form or a
// terminal where the person sees what they typed; ok is false for any other
// error. The words are Public's, with the name.
func PublicUsernameTaken(err error, username string) (message string, ok bool) {
	switch {
	case errors.Is(err, ErrUsernameConfusable):
		return fmt.Sprintf("Username %s is too similar to one already registered. Try a different name.", username), true
	case errors.Is(err, ErrUserExists):
		return fmt.Sprintf("Username %s is already registered. Try a different name.", username), true
	}
	return "", false
}

// waitText says a wait in whole seconds or minutes.
func waitText(d time.Duration) string {
	s := int(roundUpSeconds(d) / time.Second)
	switch {
	case s <= 1:
		return "1 second"
	case s < 120:
		return fmt.Sprintf("%d seconds", s)
	default:
		return fmt.Sprintf("%d minutes", (s+59)/60)
	}
}
