package localauth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// tokenBytes is the entropy of a session token: 256 bits.
const tokenBytes = 32

// TokenLength is the length of a token's text: 32 random bytes in unpadded
// base64url.
const TokenLength = 43

// Token is a session token as handed to a client. It is a bearer secret:
// whoever holds it is logged in. Its String and LogValue methods hide it, so
// that printing or logging one by mistake does not leak it; convert it with
// string(t) where the real value is meant to go (a cookie, LocalStorage, an
// API response).
type Token string

// String returns a fixed placeholder, never the token.
func (Token) String() string { return "[token]" }

// GoString returns a fixed placeholder, never the token.
func (Token) GoString() string { return "[token]" }

// LogValue returns a fixed placeholder, never the token.
func (Token) LogValue() slog.Value { return slog.StringValue("[token]") }

// TokenHash is the SHA-256 of a token: what stores keep and look sessions up
// by. A value read from a store cannot be used as a token.
type TokenHash [sha256.Size]byte

// HashToken returns the hash under which a token's session is stored.
func HashToken(t Token) TokenHash {
	// Copying into a stack buffer keeps the hot path free of allocation;
	// []byte(t) would escape to the heap.
	var buf [64]byte
	if len(t) <= len(buf) {
		n := copy(buf[:], t)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(t))
}

// String returns the first 8 bytes in hex: enough to tell sessions apart in
// an admin listing, and not the token, so safe to show.
func (h TokenHash) String() string { return hex.EncodeToString(h[:8]) }

// newToken reads 256 bits from r.
func newToken(r io.Reader) (Token, error) {
	var b [tokenBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("localauth: reading randomness for a token: %w", err)
	}
	return Token(base64.RawURLEncoding.EncodeToString(b[:])), nil
}

// wellFormed reports whether t has the shape of a token this package issues.
// Anything else is refused before it costs a hash or a store lookup.
func (t Token) wellFormed() bool {
	if len(t) != TokenLength {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Session is a login: a token's hash tied to a user until it expires.
type Session struct {
	// ID is the store's row id, internal: it is sequential, so it is never
	// shown. PublicID names the session instead.
	ID int64 `json:"-"`
	// PublicID names the session to its user (the account page, the API)
	// and to administrators (the CLI): 128 random bits, unrelated to the
	// token and to every other session's id.
	PublicID string `json:"id"`
	// UserID is the user the session authenticates.
	UserID int64 `json:"user_id"`
	// TokenHash is the SHA-256 of the token. It is not serialized.
	TokenHash TokenHash `json:"-"`
	// CreatedAt is the login time.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the absolute end of the session, whatever its use.
	ExpiresAt time.Time `json:"expires_at"`
	// LastSeenAt is when the session was last used, to within
	// Config.IdleTimeout/10 (it is not written on every request).
	LastSeenAt time.Time `json:"last_seen_at"`
	// IP is the client address that logged in, and UserAgent its
	// User-Agent header (at most 512 bytes), for the user's list of
	// sessions. Either may be empty.
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	// Remember is set for a "keep me signed in" login: it lives
	// Config.RememberLifetime, and its cookie outlives the browser.
	Remember bool `json:"remember"`
	// ReauthAt is when the session's user last confirmed the password in
	// it (the login, or a later Reauth), for the actions that need a
	// recent login (Config.ReauthWindow).
	ReauthAt time.Time `json:"reauth_at"`
	// CredentialVersion is the version of the user's credentials that the
	// login verified (see Credential). Store.CreateSession refuses the
	// session when the user's version has moved on since. It is not
	// stored with the session and not serialized.
	CredentialVersion int64 `json:"-"`
}

// User is an account. The password hash is not part of it: it never leaves
// the store except through Store.PasswordHash, for comparison.
type User struct {
	// ID is assigned by the store.
	ID int64 `json:"id"`
	// Username is the canonical form (see CanonicalUsername), unique.
	Username string `json:"username"`
	// DisplayName is the username as typed at registration.
	DisplayName string `json:"display_name"`
	// Enabled is false for an account an administrator disabled.
	Enabled bool `json:"enabled"`
	// CreatedAt is the registration time.
	CreatedAt time.Time `json:"created_at"`
}
