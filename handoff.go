package localauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"
)

// HandoffLifetime is how long a handoff code can be redeemed.
const HandoffLifetime = time.Minute

// Handoff is a one-time code for a session token, as a store keeps it: the
// code's SHA-256 and the token sealed with a key derived from the code. A
// copy of the store holds neither the code nor a usable token.
type Handoff struct {
	CodeHash  TokenHash
	Sealed    []byte
	ExpiresAt time.Time
}

// IssueHandoff returns a one-time code, redeemable once within
// HandoffLifetime, that stands for token. A live page in cookie mode gets the
// code instead of the token and exchanges it over HTTPS for an HttpOnly
// cookie, so the token never reaches JavaScript. The code is kept in the
// store, so any instance can redeem it.
//
// binding ties the code to the browser that asked for it: a secret that the
// page's scripts cannot read (the web package keeps it in an HttpOnly
// cookie) and that RedeemHandoff must be given again. A code that an
// injected script sends elsewhere is then useless without the browser's
// cookie. The binding is the additional data of the sealed token, so the
// store holds nothing new. An empty binding is refused.
func (s *Service) IssueHandoff(ctx context.Context, token Token, binding string) (string, error) {
	return s.issueHandoff(ctx, []byte(token), binding)
}

// IssueLoginHandoff is IssueHandoff for a login's session token and the
// device token the login issued: RedeemHandoffWithDevice hands both to the
// browser, on an HTTP response that can set the device cookie, which a
// live page's websocket cannot.
func (s *Service) IssueLoginHandoff(ctx context.Context, res LoginResult, binding string) (string, error) {
	payload := []byte(res.Token)
	if res.DeviceToken.wellFormed() {
		payload = append(payload, res.DeviceToken...)
	}
	return s.issueHandoff(ctx, payload, binding)
}

// issueHandoff stores payload sealed under a new code bound to binding.
func (s *Service) issueHandoff(ctx context.Context, payload []byte, binding string) (string, error) {
	if binding == "" {
		return "", errors.New("localauth: a handoff code needs a binding")
	}
	code, err := newToken(s.rand)
	if err != nil {
		return "", err
	}
	aead, err := handoffCipher(code)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", fmt.Errorf("localauth: reading randomness: %w", err)
	}
	h := Handoff{
		CodeHash:  HashToken(code),
		Sealed:    aead.Seal(nonce, nonce, payload, []byte(binding)),
		ExpiresAt: s.now().Add(HandoffLifetime).UTC().Truncate(time.Millisecond),
	}
	if s.handoffs == nil {
		return "", errNoHandoffs
	}
	if err := s.handoffs.CreateHandoff(ctx, h); err != nil {
		return "", s.unavailable(ctx, "issue handoff", err)
	}
	return string(code), nil
}

// RedeemHandoff takes a code from IssueHandoff, once, and returns the token
// it stands for with its session, provided binding is the one the code was
// issued with. Errors: ErrInvalidSession for a code that is unknown, used,
// expired, whose session ended, or presented with another binding or none
// (the code is spent all the same: one try, whoever makes it);
// ErrUnavailable.
func (s *Service) RedeemHandoff(ctx context.Context, code, binding string) (Token, Session, error) {
	tok, sess, _, err := s.RedeemHandoffWithDevice(ctx, code, binding)
	return tok, sess, err
}

// RedeemHandoffWithDevice is RedeemHandoff that also returns the device
// token of a code from IssueLoginHandoff ("" for any other code), for the
// transport to keep in the browser's device cookie.
func (s *Service) RedeemHandoffWithDevice(ctx context.Context, code, binding string) (Token, Session, Token, error) {
	tok, device, err := s.openHandoff(ctx, code, binding)
	if err != nil {
		return "", Session{}, "", err
	}
	if _, err := s.Authenticate(ctx, tok); err != nil {
		return "", Session{}, "", err
	}
	sess, _, err := s.store.SessionByTokenHash(ctx, HashToken(tok))
	if err != nil {
		return "", Session{}, "", storeErr(err)
	}
	return tok, sess, device, nil
}

// openHandoff takes the code's record, once, and opens what it seals.
func (s *Service) openHandoff(ctx context.Context, code, binding string) (Token, Token, error) {
	c := Token(code)
	if !c.wellFormed() {
		return "", "", ErrInvalidSession
	}
	if s.handoffs == nil {
		return "", "", errNoHandoffs
	}
	h, err := s.handoffs.TakeHandoff(ctx, HashToken(c), s.now())
	if err != nil {
		if errors.Is(err, ErrHandoffNotFound) {
			return "", "", ErrInvalidSession
		}
		return "", "", s.unavailable(ctx, "redeem handoff", err)
	}
	aead, err := handoffCipher(c)
	if err != nil || len(h.Sealed) < aead.NonceSize() {
		return "", "", ErrInvalidSession
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, h.Sealed[:n], h.Sealed[n:], []byte(binding))
	if err != nil {
		return "", "", ErrInvalidSession
	}
	// A session token, followed by a device token when a login issued one
	// (both TokenLength characters).
	tok, device := Token(plain), Token("")
	if len(plain) == 2*TokenLength {
		tok, device = Token(plain[:TokenLength]), Token(plain[TokenLength:])
	}
	return tok, device, nil
}

func handoffCipher(code Token) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(code), nil, "localauth handoff v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
