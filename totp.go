package localauth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/localauth/localauth/throttle"
)

// TOTP and recovery codes for the signed-in user. Enrolling, confirming,
// turning off and regenerating need a recent login (Config.ReauthWindow),
// as changing the password does: someone who finds an unlocked session
// must not be able to lock its owner out or make a factor of their own.

// RecoveryCodeCount is how many recovery codes a user gets at once.
const RecoveryCodeCount = 10

// Events of the audit trail about second factors.
const (
	EventFactor     = "second_factor"
	EventSecondStep = "second_step"
)

// TOTPEnrollment is what a user needs to add the account to an
// authenticator app: the secret as text, its otpauth:// URL, and a QR code
// of the URL (PNG). It is shown once, at enrolment, and never again.
type TOTPEnrollment struct {
	Secret string
	URL    string
	QRCode []byte
}

// FactorStatus is what the account page shows of a user's second factors.
type FactorStatus struct {
	// TOTP is true when an authenticator app is set up and confirmed.
	TOTP bool `json:"totp"`
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int `json:"recovery_codes_left"`
	// Passkeys lists the user's passkeys, oldest first.
	Passkeys []PasskeyInfo `json:"passkeys"`
	// TOTPAvailable and PasskeysAvailable tell whether this server offers
	// each kind at all.
	TOTPAvailable     bool `json:"totp_available"`
	PasskeysAvailable bool `json:"passkeys_available"`
}

// totpReady returns the store's TOTPStore when TOTP can run at all: with
// Config.TOTP and Config.SecretKey.
func (s *Service) totpReady() (TOTPStore, error) {
	ts, err := s.totpStore()
	if err != nil || s.totp == nil || len(s.secretKey) == 0 {
		return nil, ErrFactorUnavailable
	}
	return ts, nil
}

// confirmedTOTP reports whether the user's TOTP factor is on, and returns
// it.
func confirmedTOTP(ctx context.Context, ts TOTPStore, userID int64) (TOTPFactor, bool, error) {
	f, err := ts.TOTP(ctx, userID)
	if errors.Is(err, ErrFactorNotFound) {
		return TOTPFactor{}, false, nil
	}
	if err != nil {
		return TOTPFactor{}, false, err
	}
	return f, f.Confirmed, nil
}

// Factors returns the second factors of the token's user.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) Factors(ctx context.Context, token Token) (FactorStatus, error) {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return FactorStatus{}, err
	}
	return s.factorStatus(ctx, user.ID)
}

// factorStatus reads each kind of factor the store keeps: a factor of a
// kind this server does not offer (no verifier configured) is still
// listed, so that its owner can remove it.
func (s *Service) factorStatus(ctx context.Context, userID int64) (FactorStatus, error) {
	st := FactorStatus{Passkeys: []PasskeyInfo{}}
	if ts, err := s.totpStore(); err == nil {
		st.TOTPAvailable = s.TOTPAvailable()
		_, on, err := confirmedTOTP(ctx, ts, userID)
		if err != nil {
			return st, s.unavailable(ctx, "factors", err)
		}
		st.TOTP = on
		if on {
			if st.RecoveryCodesLeft, err = ts.RecoveryCodesLeft(ctx, userID); err != nil {
				return st, s.unavailable(ctx, "factors", err)
			}
		}
	}
	if ps, err := s.passkeyStore(); err == nil {
		st.PasskeysAvailable = s.PasskeysAvailable()
		pks, err := ps.Passkeys(ctx, userID)
		if err != nil {
			return st, s.unavailable(ctx, "factors", err)
		}
		for _, p := range pks {
			st.Passkeys = append(st.Passkeys, passkeyInfo(p))
		}
	}
	return st, nil
}

// EnrollTOTP starts setting up an authenticator app for the token's user:
// a new secret, kept sealed and unconfirmed until ConfirmTOTP sees a valid
// code from it. Enrolling again before confirming replaces the secret.
//
// Errors: ErrReauthRequired; ErrFactorExists when TOTP is already on;
// ErrFactorUnavailable; ErrInvalidSession; ErrUnavailable.
func (s *Service) EnrollTOTP(ctx context.Context, token Token) (TOTPEnrollment, error) {
	ts, _, user, err := factorAction(ctx, s, token, s.totpReady)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	secret, url, err := s.totp.NewKey(s.issuer, user.Username)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	qr, err := s.totp.QRCode(url, 256)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	sealed, err := s.sealTOTP(user.ID, secret)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	err = ts.SetPendingTOTP(ctx, user.ID, sealed, s.now().UTC().Truncate(time.Millisecond))
	if errors.Is(err, ErrFactorExists) {
		return TOTPEnrollment{}, ErrFactorExists
	}
	if err != nil {
		return TOTPEnrollment{}, s.unavailable(ctx, "enroll totp", err)
	}
	s.audit(ctx, slog.LevelInfo, EventFactor, user.Username, "totp_enrolling", slog.Int64("user_id", user.ID))
	return TOTPEnrollment{Secret: secret, URL: url, QRCode: qr}, nil
}

// ConfirmTOTP turns on the pending authenticator app of the token's user
// once code is valid for it, and returns the user's new recovery codes,
// which are shown this once and never again (only their HMACs are kept).
// Every other session of the user ends: a new credential.
//
// Errors: ErrInvalidCode for a wrong code (counted per session and client,
// like a password check); ErrFactorNotFound when nothing is pending;
// ErrReauthRequired; a *RateLimitError; ErrFactorUnavailable;
// ErrInvalidSession; ErrUnavailable.
func (s *Service) ConfirmTOTP(ctx context.Context, token Token, code string) ([]string, error) {
	ts, sess, user, err := factorAction(ctx, s, token, s.totpReady)
	if err != nil {
		return nil, err
	}
	f, err := ts.TOTP(ctx, user.ID)
	if errors.Is(err, ErrFactorNotFound) || (err == nil && f.Confirmed) {
		return nil, ErrFactorNotFound
	}
	if err != nil {
		return nil, s.unavailable(ctx, "confirm totp", err)
	}
	ip, err := s.clientIP(ctx, "ConfirmTOTP")
	if err != nil {
		return nil, err
	}
	keys := []throttle.Key{s.throttle.sessionKey(sess.TokenHash), s.throttle.clientKey(ip)}
	if err := s.throttle.admit(ctx, keys...); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, user.Username, "totp_confirm_refused")
		return nil, err
	}
	secret, err := s.openTOTP(user.ID, f.Sealed)
	if err != nil {
		return nil, err
	}
	step, valid := s.totp.Validate(secret, normalizeCode(code), s.now())
	if !valid {
		s.audit(ctx, slog.LevelWarn, EventFactor, user.Username, "totp_bad_code", slog.Int64("user_id", user.ID))
		return nil, ErrInvalidCode
	}
	s.throttle.giveBack(ctx, keys...)
	codes, hashes, err := s.newRecoveryCodes(user.ID)
	if err != nil {
		return nil, err
	}
	n, err := ts.ConfirmTOTP(ctx, user.ID, f.Sealed, step, hashes, &sess.TokenHash)
	if errors.Is(err, ErrFactorNotFound) {
		return nil, ErrFactorNotFound // replaced or removed meanwhile
	}
	if err != nil {
		return nil, s.unavailable(ctx, "confirm totp", err)
	}
	s.credentialsChanged(ctx, user, "totp_on", n)
	s.recordActivity(ctx, user.ID, ActivityFactorAdded, sess.PublicID, "authenticator app")
	return codes, nil
}

// DisableTOTP turns off the authenticator app of the token's user and
// deletes its recovery codes. Every other session of the user ends.
//
// Errors: ErrFactorNotFound when TOTP is not on; ErrReauthRequired;
// ErrFactorUnavailable; ErrInvalidSession; ErrUnavailable.
func (s *Service) DisableTOTP(ctx context.Context, token Token) error {
	ts, sess, user, err := factorAction(ctx, s, token, s.totpStore)
	if err != nil {
		return err
	}
	n, err := ts.RemoveTOTP(ctx, user.ID, &sess.TokenHash)
	if errors.Is(err, ErrFactorNotFound) {
		return ErrFactorNotFound
	}
	if err != nil {
		return s.unavailable(ctx, "disable totp", err)
	}
	s.endDeviceTrust(ctx, user, true, "totp_off")
	s.credentialsChanged(ctx, user, "totp_off", n)
	s.recordActivity(ctx, user.ID, ActivityFactorRemoved, sess.PublicID, "authenticator app")
	return nil
}

// RegenerateRecoveryCodes replaces every recovery code of the token's user
// with RecoveryCodeCount new ones, returned this once. Every other session
// of the user ends.
//
// Errors: ErrFactorNotFound when TOTP is not on; ErrReauthRequired;
// ErrFactorUnavailable; ErrInvalidSession; ErrUnavailable.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, token Token) ([]string, error) {
	ts, sess, user, err := factorAction(ctx, s, token, s.totpReady)
	if err != nil {
		return nil, err
	}
	_, on, err := confirmedTOTP(ctx, ts, user.ID)
	if err != nil {
		return nil, s.unavailable(ctx, "recovery codes", err)
	}
	if !on {
		return nil, ErrFactorNotFound
	}
	codes, hashes, err := s.newRecoveryCodes(user.ID)
	if err != nil {
		return nil, err
	}
	n, err := ts.ReplaceRecoveryCodes(ctx, user.ID, hashes, &sess.TokenHash)
	if err != nil {
		return nil, s.unavailable(ctx, "recovery codes", err)
	}
	s.credentialsChanged(ctx, user, "recovery_codes_regenerated", n)
	return codes, nil
}

// credentialsChanged tells caches and open pages that the user's other
// sessions ended with a change of second factors, and audits it.
func (s *Service) credentialsChanged(ctx context.Context, user User, outcome string, ended int, attrs ...slog.Attr) {
	s.revoked(Revocation{UserID: user.ID, All: true})
	attrs = append([]slog.Attr{slog.Int64("user_id", user.ID), slog.Int("sessions_ended", ended)}, attrs...)
	s.audit(ctx, slog.LevelInfo, EventFactor, user.Username, outcome, attrs...)
	s.notifyFactorChanged(ctx, user.ID, outcome)
}

// normalizeCode drops the spaces people type in codes.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	return strings.Join(strings.Fields(code), "")
}

// sealTOTP encrypts a TOTP secret under a key derived from
// Config.SecretKey, with the user id as additional data: a sealed secret
// copied to another user's row does not open.
func (s *Service) sealTOTP(userID int64, secret string) ([]byte, error) {
	aead, err := s.totpCipher()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("localauth: reading randomness: %w", err)
	}
	return aead.Seal(nonce, nonce, []byte(secret), userAD(userID)), nil
}

// openTOTP decrypts a sealed TOTP secret. A secret that does not open (a
// different SecretKey, a tampered row) is logged and makes the factor
// unusable: ErrFactorUnavailable.
func (s *Service) openTOTP(userID int64, sealed []byte) (string, error) {
	aead, err := s.totpCipher()
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(sealed) < n {
		return "", ErrFactorUnavailable
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], userAD(userID))
	if err != nil {
		s.log.Error("localauth: a TOTP secret does not open with the configured secret key", "user_id", userID)
		return "", ErrFactorUnavailable
	}
	return string(plain), nil
}

func (s *Service) totpCipher() (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, s.secretKey, nil, "localauth totp secret v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func userAD(userID int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(userID)) }

// recoveryEncoding writes recovery codes in lowercase base32 without
// padding: no 0/1/8/9, so no 0/O or 1/l confusion.
var recoveryEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newRecoveryCodes returns RecoveryCodeCount codes of 50 random bits each
// ("xxxxx-xxxxx") and their hashes for the store.
func (s *Service) newRecoveryCodes(userID int64) (codes []string, hashes [][]byte, err error) {
	for range RecoveryCodeCount {
		var b [7]byte // 56 bits read, 50 kept
		if _, err := io.ReadFull(s.rand, b[:]); err != nil {
			return nil, nil, fmt.Errorf("localauth: reading randomness: %w", err)
		}
		c := recoveryEncoding.EncodeToString(b[:])[:10]
		codes = append(codes, c[:5]+"-"+c[5:])
		h, err := s.recoveryHash(userID, c)
		if err != nil {
			return nil, nil, err
		}
		hashes = append(hashes, h)
	}
	return codes, hashes, nil
}

// recoveryHash is the stored form of a recovery code: an HMAC-SHA-256
// under a key derived from Config.SecretKey, over the user id and the code
// without its dash or case. 50 bits would fall to a plain hash offline; a
// copy of the database without the key gives nothing to search against.
func (s *Service) recoveryHash(userID int64, code string) ([]byte, error) {
	if len(s.secretKey) == 0 {
		return nil, ErrFactorUnavailable
	}
	key, err := hkdf.Key(sha256.New, s.secretKey, nil, "localauth recovery code v1", 32)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(userAD(userID))
	m.Write([]byte(code))
	return m.Sum(nil), nil
}

// normalizeRecoveryCode returns a typed recovery code as it was hashed: no
// dashes or spaces, lowercase; "" when it cannot be one.
func normalizeRecoveryCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch {
		case r == '-' || r == ' ':
		case 'a' <= r && r <= 'z' || '2' <= r && r <= '7':
			b.WriteRune(r)
		default:
			return ""
		}
	}
	if b.Len() != 10 {
		return ""
	}
	return b.String()
}
