package localauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Hasher turns passwords into stored hashes and checks them. Service calls it
// with passwords already normalized by NormalizePassword. Implementations
// must be safe for concurrent use.
//
// The interface is small so that tests can wrap BcryptHasher to count
// comparisons; the stores accept only bcrypt hashes.
type Hasher interface {
	// Hash returns a new salted hash of password.
	Hash(password string) ([]byte, error)
	// Compare returns nil when password matches hash, and
	// bcrypt.ErrMismatchedHashAndPassword (or another error) when not.
	Compare(hash []byte, password string) error
	// NeedsRehash reports whether hash was made with weaker settings than
	// the hasher's own and should be replaced at the next successful login.
	NeedsRehash(hash []byte) bool
}

// DefaultBcryptCost is the bcrypt cost used when none is configured: about a
// quarter of a second per hash on a current server core.
const DefaultBcryptCost = 12

// MinBcryptCost is the lowest cost New accepts outside tests (OWASP: at
// least 10).
const MinBcryptCost = 10

// BcryptHasher hashes with bcrypt at Cost after a keyed SHA-256 pre-hash.
//
// Why the pre-hash: bcrypt reads at most 72 bytes and stops at a NUL byte, so
// on its own it would accept "72 bytes + anything" for a 72-byte password,
// and it would refuse 64 non-Latin characters (128 bytes or more) that NIST
// says must be allowed. The password is therefore first reduced to
// base64(HMAC-SHA256(key, password)): 44 bytes, no NUL, every input byte
// counted. The HMAC key is a fixed label, not a secret; it only makes the
// pre-hash specific to localauth, so that plain SHA-256 digests of passwords
// leaked from elsewhere cannot be tried against the bcrypt hashes directly
// ("password shucking").
//
// The stored hash is a standard bcrypt string ("$2a$12$…"). Hashes made by
// other systems from the raw password do not verify against it.
type BcryptHasher struct {
	// Cost is the bcrypt work factor, from 4 to 31. Default
	// DefaultBcryptCost; New refuses less than MinBcryptCost unless
	// Config.AllowWeakCost is set.
	Cost int
}

var prehashKey = []byte("localauth/bcrypt-prehash/v1")

func prehash(password string) []byte {
	m := hmac.New(sha256.New, prehashKey)
	m.Write([]byte(password))
	out := make([]byte, base64.StdEncoding.EncodedLen(sha256.Size))
	base64.StdEncoding.Encode(out, m.Sum(nil))
	return out
}

func (h BcryptHasher) cost() int {
	if h.Cost == 0 {
		return DefaultBcryptCost
	}
	return h.Cost
}

// Hash implements Hasher.
func (h BcryptHasher) Hash(password string) ([]byte, error) {
	return bcrypt.GenerateFromPassword(prehash(password), h.cost())
}

// Compare implements Hasher.
func (h BcryptHasher) Compare(hash []byte, password string) error {
	return bcrypt.CompareHashAndPassword(hash, prehash(password))
}

// NeedsRehash implements Hasher: a hash of a lower cost than h.Cost, or one
// that is not bcrypt at all, needs replacing.
func (h BcryptHasher) NeedsRehash(hash []byte) bool {
	c, err := bcrypt.Cost(hash)
	return err != nil || c < h.cost()
}

func (h BcryptHasher) validate(allowWeak bool) error {
	c := h.cost()
	if c < bcrypt.MinCost || c > bcrypt.MaxCost {
		return fmt.Errorf("localauth: bcrypt cost %d is outside %d..%d", c, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if c < MinBcryptCost && !allowWeak {
		return fmt.Errorf("localauth: bcrypt cost %d is below the minimum of %d (Config.AllowWeakCost lowers it, for tests only)", c, MinBcryptCost)
	}
	return nil
}

// isMismatch reports whether a Compare error means "wrong password" rather
// than a broken hash.
func isMismatch(err error) bool { return errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) }
