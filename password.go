package localauth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"

	"github.com/localauth/localauth/internal/commonpw"
)

// PasswordPolicy says which passwords Register, SetPassword and
// ChangePassword accept. It follows NIST SP 800-63B: a minimum length, a
// generous maximum, a list of passwords attackers try first, and no
// composition rules (no "one digit, one symbol"), which only push people to
// predictable variations.
//
// Lengths are counted in Unicode code points after PRECIS OpaqueString
// normalization, so "é" counts once whether typed as one code point or two.
type PasswordPolicy struct {
	// MinLength is the least number of code points. Default 8, the least
	// that NIST allows and that New accepts; 15 is recommended for accounts
	// protected by a password alone.
	MinLength int

	// MaxLength is the most code points. Default 256; New refuses less than
	// 64. Every code point counts (see BcryptHasher), so this limit only
	// bounds the work one login can cause.
	MaxLength int

	// AllowCommon turns off the check against the list of common passwords.
	// Default false: common passwords are refused. Tests that need short
	// fixed passwords are the only good reason to set it.
	AllowCommon bool
}

func (p *PasswordPolicy) setDefaults() {
	if p.MinLength == 0 {
		p.MinLength = 8
	}
	if p.MaxLength == 0 {
		p.MaxLength = 256
	}
}

// NormalizePassword applies the PRECIS OpaqueString profile (RFC 8265): NFC
// normalization and non-ASCII spaces mapped to U+0020. It is applied when a
// password is set and when it is checked, so a password typed as "é" (U+00E9)
// matches the same password typed as "e" + U+0301.
//
// It refuses, with a *PolicyError wrapping ErrWeakPassword, the empty
// password and passwords with NUL or other control characters, which bcrypt
// and many terminals handle badly and no person types on purpose.
func NormalizePassword(password string) (string, error) {
	if password == "" {
		return "", passwordError("Password cannot be empty.")
	}
	if !utf8.ValidString(password) {
		return "", passwordError("Password is not valid text (UTF-8).")
	}
	for _, r := range password {
		if unicode.IsControl(r) {
			return "", passwordError("Password cannot contain control characters such as NUL, tab or newline.")
		}
	}
	n, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", passwordError("Password contains characters that cannot be used in a password.")
	}
	return n, nil
}

// Check normalizes password and reports why it may not be set for the user
// with the given canonical username, or returns the normalized password. The
// returned error is a *PolicyError wrapping ErrWeakPassword.
func (p PasswordPolicy) Check(password, canonicalUsername string) (string, error) {
	// Refuse huge input before normalization does any work on it.
	if len(password) > 4*p.MaxLength {
		return "", passwordError("Password is too long: at most %d characters.", p.MaxLength)
	}
	n, err := NormalizePassword(password)
	if err != nil {
		return "", err
	}
	count := utf8.RuneCountInString(n)
	if count < p.MinLength {
		return "", passwordError("Password is too short: at least %d characters.", p.MinLength)
	}
	if count > p.MaxLength {
		return "", passwordError("Password is too long: at most %d characters.", p.MaxLength)
	}
	if canonicalUsername != "" && sameAsUsername(n, canonicalUsername) {
		return "", passwordError("Password cannot be the same as the username.")
	}
	if !p.AllowCommon && commonpw.Contains(n) {
		return "", passwordError("This password is too common and easy to guess; please choose another.")
	}
	return n, nil
}

// sameAsUsername reports whether password is the username in another case or
// width.
func sameAsUsername(password, canonicalUsername string) bool {
	if strings.EqualFold(password, canonicalUsername) {
		return true
	}
	c, err := precis.UsernameCaseMapped.String(password)
	return err == nil && c == canonicalUsername
}
