package localauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Single-use records: a half-done login waiting for its second step, and a
// WebAuthn ceremony waiting for the browser's answer. They are kept as
// handoffs are (HandoffStore), so that any instance can
// finish what another began, and so that taking one is atomic: two
// concurrent finishes never both succeed.
//
// As with handoffs, the store holds only a hash of the record's secret (the
// second-step token, the challenge) and the record sealed under a key
// derived from that secret, with the client's binding as additional data.
// The kind goes into both, so a record of one kind can never be read as
// another (nor as a handoff).

const (
	onceSecondStep = "second step"
	onceCeremony   = "webauthn ceremony"
)

// maxOnceSecret bounds a record's secret before it is hashed.
const maxOnceSecret = 128

func onceHash(kind, secret string) TokenHash {
	return sha256.Sum256([]byte("localauth " + kind + "\x00" + secret))
}

func onceCipher(kind, secret string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "localauth "+kind+" v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// putOnce stores v (JSON) under secret until expires, bound to binding.
func (s *Service) putOnce(ctx context.Context, kind, secret, binding string, v any, expires time.Time) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	aead, err := onceCipher(kind, secret)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return fmt.Errorf("localauth: reading randomness: %w", err)
	}
	h := Handoff{
		CodeHash:  onceHash(kind, secret),
		Sealed:    aead.Seal(nonce, nonce, plain, []byte(kind+"\x00"+binding)),
		ExpiresAt: expires.UTC().Truncate(time.Millisecond),
	}
	if s.handoffs == nil {
		return errNoHandoffs
	}
	if err := s.handoffs.CreateHandoff(ctx, h); err != nil {
		return s.unavailable(ctx, "store "+kind, err)
	}
	return nil
}

// takeOnce takes the record stored under secret, once, into v, and returns
// its expiry. Errors: ErrInvalidCode for a record that is unknown, taken,
// expired or bound to another client (it is spent all the same);
// ErrUnavailable.
func (s *Service) takeOnce(ctx context.Context, kind, secret, binding string, v any) (time.Time, error) {
	if secret == "" || len(secret) > maxOnceSecret {
		return time.Time{}, ErrInvalidCode
	}
	if s.handoffs == nil {
		return time.Time{}, errNoHandoffs
	}
	h, err := s.handoffs.TakeHandoff(ctx, onceHash(kind, secret), s.now())
	if err != nil {
		if errors.Is(err, ErrHandoffNotFound) {
			return time.Time{}, ErrInvalidCode
		}
		return time.Time{}, s.unavailable(ctx, "take "+kind, err)
	}
	aead, err := onceCipher(kind, secret)
	if err != nil || len(h.Sealed) < aead.NonceSize() {
		return time.Time{}, ErrInvalidCode
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, h.Sealed[:n], h.Sealed[n:], []byte(kind+"\x00"+binding))
	if err != nil || json.Unmarshal(plain, v) != nil {
		return time.Time{}, ErrInvalidCode
	}
	return h.ExpiresAt, nil
}
