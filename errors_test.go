package localauth_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/localauth/localauth"
)

// Sentinel texts are for programs and logs; Public is where every one of
// them becomes a code and a sentence for a person, and no sentence is a
// Go error text.
func TestPublicIsTheOneSourceOfWords(t *testing.T) {
	sentinels := []error{
		localauth.ErrInvalidCredentials, localauth.ErrAccountDisabled, localauth.ErrUserExists,
		localauth.ErrUsernameConfusable, localauth.ErrUserNotFound, localauth.ErrInvalidSession,
		localauth.ErrReauthRequired, localauth.ErrSessionNotFound, localauth.ErrSecondFactorRequired,
		localauth.ErrInvalidCode, localauth.ErrFactorUnavailable, localauth.ErrFactorExists,
		localauth.ErrFactorNotFound, localauth.ErrInvalidPasskeyName, localauth.ErrPasskeyExists,
		localauth.ErrBusy, localauth.ErrUnavailable,
		&localauth.RateLimitError{RetryAfter: 1500 * time.Millisecond}, &localauth.BusyError{RetryAfter: time.Second},
	}
	codes := map[string]bool{}
	for _, err := range sentinels {
		if !strings.HasPrefix(err.Error(), "localauth: ") {
			t.Errorf("%q: a sentinel's text names its package", err)
		}
		code, msg, _ := localauth.Public(err)
		if code == localauth.CodeInternal {
			t.Errorf("%q has no public code", err)
		}
		if msg == "" || !unicode.IsUpper([]rune(msg)[0]) || strings.Contains(msg, "localauth") || msg == err.Error() {
			t.Errorf("%q: public message %q is not a sentence for a person", err, msg)
		}
		codes[code] = true
	}
	if _, msg, wait := localauth.Public(&localauth.RateLimitError{RetryAfter: 1500 * time.Millisecond}); msg != "Too many attempts. Please wait 2 seconds and try again." || wait != 2*time.Second {
		t.Errorf("rate limit: %q, %v", msg, wait)
	}
	if !errors.Is(localauth.ErrUsernameConfusable, localauth.ErrUserExists) {
		t.Error("a look-alike name is not a taken name to errors.Is")
	}
	if code, _, _ := localauth.Public(errors.New("pq: relation does not exist")); code != localauth.CodeInternal {
		t.Errorf("an unknown error: %s", code)
	}
}
