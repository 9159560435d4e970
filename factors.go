package localauth

import (
	"context"
	"time"
)

// Second factors: a time-based one-time code (TOTP, RFC 6238) with
// recovery codes, and passkeys (WebAuthn).
//
// The Service holds the rules (who may enrol, when a login needs a second
// step, replay and guessing limits, what is stored and how it is sealed);
// the cryptography of the two protocols lives behind two small interfaces,
// TOTPVerifier and PasskeyVerifier, because their implementations need
// libraries this package does not import (it imports only the standard
// library and golang.org/x). Package mfa implements both; cmd/localauth
// wires them. A Service without them refuses to enrol a factor, and an
// account that has one cannot complete a login on it: the missing verifier
// fails closed.

// TOTPVerifier generates and checks TOTP secrets and codes: 6 digits, 30
// second steps, SHA-1, as authenticator apps expect.
type TOTPVerifier interface {
	// NewKey returns a new random secret (base32) and its otpauth:// URL,
	// naming issuer and account.
	NewKey(issuer, account string) (secret, url string, err error)
	// Validate reports at which 30-second time step code is the code of
	// secret, looking at the step of t and one step either side. ok is
	// false when it is none of them.
	Validate(secret, code string, t time.Time) (step int64, ok bool)
	// QRCode returns a PNG image, size pixels square, of a QR code of url.
	QRCode(url string, size int) ([]byte, error)
}

// PasskeyVerifier runs the WebAuthn ceremonies: it writes the options a
// browser passes to navigator.credentials.create and .get, and verifies
// what the browser answers. It keeps nothing: the Service stores each
// ceremony's state, single-use and short-lived, so that any instance can
// finish a ceremony another began.
type PasskeyVerifier interface {
	// BeginRegistration starts adding a passkey for user, one that is
	// discoverable (resident) and verifies the user. exclude are the
	// user's passkeys, which the authenticator must not register again.
	BeginRegistration(user PasskeyUser, exclude []Passkey) (Ceremony, error)
	// FinishRegistration verifies the browser's answer (JSON) to a
	// registration and returns the new passkey: CredentialID, Credential
	// and SignCount set.
	FinishRegistration(user PasskeyUser, state, response []byte) (Passkey, error)
	// BeginLogin starts a login with a discoverable passkey: no user is
	// named, the authenticator offers its passkeys for the relying party.
	BeginLogin() (Ceremony, error)
	// Inspect reads, without verifying anything, the challenge an
	// assertion (JSON) answers, the id of the credential that signed it
	// and the user handle it names, so that the caller can find the
	// ceremony and the passkey.
	Inspect(response []byte) (challenge string, credentialID, userHandle []byte, err error)
	// FinishLogin verifies an assertion against the ceremony's state and
	// the user's passkeys and returns the passkey that signed it with its
	// new sign count. cloneWarning is true when the sign count did not
	// grow as it must: the authenticator may have been cloned.
	FinishLogin(user PasskeyUser, passkeys []Passkey, state, response []byte) (used Passkey, cloneWarning bool, err error)
}

// Ceremony is the start of a WebAuthn ceremony: Options for the browser
// (JSON, {"publicKey": ...}), State for the verifier to finish it, and the
// Challenge the browser's answer will carry.
type Ceremony struct {
	Options   []byte
	State     []byte
	Challenge string
}

// PasskeyUser is a user as WebAuthn sees it. Handle is the user handle
// stored in the authenticator: random bytes kept per user (see
// PasskeyStore.PasskeyHandle), never a name or a number.
type PasskeyUser struct {
	Handle      []byte
	Name        string
	DisplayName string
}

// Passkey is a registered WebAuthn credential as a PasskeyStore keeps it.
type Passkey struct {
	// ID is the passkey's public id: 128 random bits, base64url, naming it
	// to its user (DELETE /api/auth/passkeys/{id}).
	ID     string
	UserID int64
	// CredentialID is the authenticator's id of the credential, unique.
	CredentialID []byte
	// Name is what the user called it ("Laptop"), up to MaxPasskeyName
	// bytes.
	Name string
	// Credential is the verifier's record of it (public key, flags), as
	// FinishRegistration returned it.
	Credential []byte
	SignCount  uint32
	CreatedAt  time.Time
	// LastUsedAt is zero until its first login.
	LastUsedAt time.Time
	// UserHandle is the WebAuthn user handle the authenticator keeps with
	// this passkey and returns with every assertion: the user's handle
	// when it was added (a passkey added before handles were random holds
	// the user id, 8 bytes big-endian).
	UserHandle []byte
	// SuspendedAt is when the passkey was disabled as a possible clone
	// (its signature counter failed to grow); zero for one in use. A
	// suspended passkey logs no one in until its owner confirms it
	// (ConfirmPasskey) or removes it.
	SuspendedAt time.Time
}

// MaxPasskeyName bounds a passkey's name, in bytes.
const MaxPasskeyName = 64

// TOTPFactor is a user's TOTP factor as a TOTPStore keeps it.
type TOTPFactor struct {
	// Sealed is the secret, encrypted under Config.SecretKey.
	Sealed []byte
	// Confirmed is false from enrolment until a valid code confirmed it;
	// only a confirmed factor counts at login.
	Confirmed bool
	// LastStep is the time step of the last code accepted: a code of that
	// step or an earlier one is refused, so no code is accepted twice.
	LastStep int64
}

// A store keeps second factors through three small optional abilities,
// each found by the Service with its own type assertion: TOTPStore (an
// authenticator app, with its RecoveryCodeStore), PasskeyStore, and
// FactorResetter, which both embed. Whatever one needs of another ability
// is embedded in its type: the second step of a login and the passkey
// ceremonies wait in a HandoffStore. sqlitestore and pgstore have all of
// them.

// FactorResetter is an optional ability of a Store: the administrator's
// reset of a user's second factors (localauth user reset-factors).
// TOTPStore and PasskeyStore embed it: a store that keeps any second
// factor can delete them all. Without it ResetFactors returns
// ErrFactorUnavailable. Errors follow the rule of Store.
type FactorResetter interface {
	// ResetFactors deletes every second factor the store keeps for the
	// user (TOTP, recovery codes, passkeys: each kind it keeps) and every
	// session of the user, as an administrator does for a user who lost
	// them. A credential change, keeping no session.
	ResetFactors(ctx context.Context, userID int64) (ended int, err error)
}

// RecoveryCodeStore keeps a user's recovery codes, the way back in when
// the authenticator app is lost. It is part of TOTPStore, which hands the
// codes out when it confirms a factor; the Service does not look for it
// alone. Errors follow the rule of Store; "a credential change" is one as
// Store defines it.
type RecoveryCodeStore interface {
	// ReplaceRecoveryCodes replaces the user's recovery codes. A
	// credential change.
	ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes [][]byte, keep *TokenHash) (ended int, err error)
	// UseRecoveryCode deletes the user's recovery code with the given
	// hash and reports whether there was one: of two concurrent calls
	// with one code, exactly one succeeds. A spend: false is no error.
	UseRecoveryCode(ctx context.Context, userID int64, hash []byte) (bool, error)
	// RecoveryCodesLeft counts the user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, userID int64) (int, error)
}

// TOTPStore is an optional ability of a Store: keeping each user's TOTP
// factor (an authenticator app) and recovery codes. With it, Config.TOTP
// and Config.SecretKey, the Service offers TOTP; a user with a confirmed
// factor logs in in two steps. It embeds RecoveryCodeStore, since
// ConfirmTOTP replaces the recovery codes, HandoffStore, since the second
// step of a login waits there, and FactorResetter.
//
// Errors follow the rule of Store ("not found" is ErrFactorNotFound here);
// "a credential change" is one as Store defines it. A user's factor and
// recovery codes are deleted with the user (Store.DeleteUser).
type TOTPStore interface {
	RecoveryCodeStore
	HandoffStore
	FactorResetter

	// TOTP returns the user's TOTP factor, pending or confirmed;
	// ErrFactorNotFound when the user has none.
	TOTP(ctx context.Context, userID int64) (TOTPFactor, error)
	// SetPendingTOTP stores an unconfirmed TOTP secret for the user,
	// replacing an unconfirmed one. When the user has a confirmed one it
	// stores nothing and returns ErrFactorExists. It is not a credential
	// change.
	SetPendingTOTP(ctx context.Context, userID int64, sealed []byte, at time.Time) error
	// ConfirmTOTP confirms the user's pending TOTP factor if its secret
	// is still sealed (the one the code was checked against), records
	// step as its last step and replaces the user's recovery codes with
	// recoveryHashes. It returns ErrFactorNotFound and changes nothing
	// when there is no such pending factor. A credential change.
	ConfirmTOTP(ctx context.Context, userID int64, sealed []byte, step int64, recoveryHashes [][]byte, keep *TokenHash) (ended int, err error)
	// UseTOTPStep records step as the user's last TOTP step if it is
	// later than the last one of a confirmed factor, and reports whether
	// it was: of two concurrent calls with one step, exactly one
	// succeeds. A spend: false is no error.
	UseTOTPStep(ctx context.Context, userID int64, step int64) (bool, error)
	// RemoveTOTP deletes the user's TOTP factor and recovery codes. It
	// returns ErrFactorNotFound when there was no confirmed factor (a
	// pending one goes all the same, and nothing else changes). A
	// credential change otherwise.
	RemoveTOTP(ctx context.Context, userID int64, keep *TokenHash) (ended int, err error)
}

// PasskeyStore is an optional ability of a Store: keeping passkeys
// (WebAuthn credentials) and each user's WebAuthn user handle. With it
// and Config.Passkeys, the Service offers passkeys. It embeds
// HandoffStore, since the WebAuthn ceremonies wait there between their
// beginning and the browser's answer, and FactorResetter.
//
// Errors follow the rule of Store ("not found" is ErrFactorNotFound here);
// "a credential change" is one as Store defines it. A user's passkeys and
// handle are deleted with the user (Store.DeleteUser).
type PasskeyStore interface {
	HandoffStore
	FactorResetter

	// AddPasskey stores p (ID, UserID, CredentialID, Name, Credential,
	// SignCount, CreatedAt, UserHandle). A credential id that is already
	// registered is refused with ErrPasskeyExists. A credential change.
	AddPasskey(ctx context.Context, p Passkey, keep *TokenHash) (ended int, err error)
	// Passkeys returns the user's passkeys, oldest first.
	Passkeys(ctx context.Context, userID int64) ([]Passkey, error)
	// PasskeyByCredentialID returns the passkey with the given credential
	// id, whoever's it is; ErrFactorNotFound when there is none.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// RecordPasskeyUse sets the passkey's sign count and last use. An
	// unknown credential id is no error: it is bookkeeping after a login
	// that verified the passkey.
	RecordPasskeyUse(ctx context.Context, credentialID []byte, signCount uint32, at time.Time) error
	// SuspendPasskey disables the passkey with the given credential id
	// from at, as a possible clone, keeping an earlier suspension's time.
	// An unknown credential id is no error.
	SuspendPasskey(ctx context.Context, credentialID []byte, at time.Time) error
	// ConfirmPasskey lifts the suspension of the user's passkey with the
	// given public id. It returns ErrFactorNotFound when the user has no
	// suspended passkey by that id. A credential change otherwise.
	ConfirmPasskey(ctx context.Context, userID int64, id string, keep *TokenHash) (ended int, err error)
	// PasskeyHandle returns the user's WebAuthn user handle for new
	// passkeys, first storing fresh as it when the user has none. Of two
	// concurrent calls, both return the one stored. ErrUserNotFound for a
	// user that does not exist.
	PasskeyHandle(ctx context.Context, userID int64, fresh []byte) ([]byte, error)
	// RemovePasskey deletes the user's passkey with the given public id.
	// It returns ErrFactorNotFound when the user has none by that id
	// (another user's passkey included). A credential change otherwise.
	RemovePasskey(ctx context.Context, userID int64, id string, keep *TokenHash) (ended int, err error)
}

// Second-step methods, as SecondFactorRequiredError.Methods and the API
// name them.
const (
	MethodTOTP     = "totp"
	MethodRecovery = "recovery"
	MethodPasskey  = "passkey"
)

// totpStore returns the store's TOTPStore, or ErrFactorUnavailable.
func (s *Service) totpStore() (TOTPStore, error) {
	ts, ok := s.store.(TOTPStore)
	if !ok {
		return nil, ErrFactorUnavailable
	}
	return ts, nil
}

// passkeyStore returns the store's PasskeyStore, or ErrFactorUnavailable.
func (s *Service) passkeyStore() (PasskeyStore, error) {
	ps, ok := s.store.(PasskeyStore)
	if !ok {
		return nil, ErrFactorUnavailable
	}
	return ps, nil
}

// TOTPAvailable reports whether the Service can enrol and check TOTP: a
// TOTPStore, Config.TOTP and Config.SecretKey.
func (s *Service) TOTPAvailable() bool {
	_, err := s.totpReady()
	return err == nil
}

// PasskeysAvailable reports whether the Service offers passkeys: a
// PasskeyStore and Config.Passkeys.
func (s *Service) PasskeysAvailable() bool {
	_, err := s.passkeysReady()
	return err == nil
}
