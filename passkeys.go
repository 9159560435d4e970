package localauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/localauth/localauth/throttle"
)

// Passkeys: adding, listing and removing them (with a recent login, as for
// every credential change), and logging in with one. A passkey login is
// both factors at once: the authenticator holds the key and verifies the
// user (PIN or biometrics; user verification is required).

// CeremonyLifetime is how long the browser has to answer a WebAuthn
// ceremony's options.
const CeremonyLifetime = 3 * time.Minute

// ceremony is a WebAuthn ceremony's state as kept between begin and finish.
type ceremony struct {
	State  []byte `json:"s"`
	UserID int64  `json:"u,omitempty"`
}

func passkeyUser(u User, handle []byte) PasskeyUser {
	return PasskeyUser{Handle: handle, Name: u.Username, DisplayName: u.DisplayName}
}

// passkeysReady returns the store's PasskeyStore when passkeys can run at
// all: with Config.Passkeys.
func (s *Service) passkeysReady() (PasskeyStore, error) {
	ps, err := s.passkeyStore()
	if err != nil || s.passkeys == nil {
		return nil, ErrFactorUnavailable
	}
	return ps, nil
}

// BeginPasskeyRegistration starts adding a passkey for the token's user and
// returns the options (JSON) for navigator.credentials.create.
//
// Errors: ErrReauthRequired; ErrFactorUnavailable; ErrInvalidSession;
// ErrUnavailable.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, token Token) ([]byte, error) {
	ps, sess, user, err := factorAction(ctx, s, token, s.passkeysReady)
	if err != nil {
		return nil, err
	}
	pks, err := ps.Passkeys(ctx, user.ID)
	if err != nil {
		return nil, s.unavailable(ctx, "passkey registration", err)
	}
	handle, err := s.passkeyHandle(ctx, ps, user.ID)
	if err != nil {
		return nil, err
	}
	c, err := s.passkeys.BeginRegistration(passkeyUser(user, handle), pks)
	if err != nil {
		return nil, err
	}
	binding := "register\x00" + string(sess.TokenHash[:])
	if err := s.putOnce(ctx, onceCeremony, c.Challenge, binding, ceremony{State: c.State, UserID: user.ID}, s.now().Add(CeremonyLifetime)); err != nil {
		return nil, err
	}
	return c.Options, nil
}

// FinishPasskeyRegistration verifies the browser's answer (JSON) to
// BeginPasskeyRegistration's options and adds the passkey under name (up
// to MaxPasskeyName bytes of text; "Passkey" when empty). Every other
// session of the user ends: a new credential.
//
// Errors: ErrInvalidCode for an answer that does not verify or whose
// ceremony is unknown, spent, expired or another session's; a
// *PolicyError for a bad name; ErrPasskeyExists; ErrReauthRequired;
// ErrFactorUnavailable; ErrInvalidSession; ErrUnavailable.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, token Token, name string, response []byte) (PasskeyInfo, error) {
	ps, sess, user, err := factorAction(ctx, s, token, s.passkeysReady)
	if err != nil {
		return PasskeyInfo{}, err
	}
	name, err = passkeyName(name)
	if err != nil {
		return PasskeyInfo{}, err
	}
	challenge, _, _, err := s.passkeys.Inspect(response)
	if err != nil {
		return PasskeyInfo{}, ErrInvalidCode
	}
	var c ceremony
	binding := "register\x00" + string(sess.TokenHash[:])
	if _, err := s.takeOnce(ctx, onceCeremony, challenge, binding, &c); err != nil {
		return PasskeyInfo{}, err
	}
	if c.UserID != user.ID {
		return PasskeyInfo{}, ErrInvalidCode
	}
	handle, err := s.passkeyHandle(ctx, ps, user.ID)
	if err != nil {
		return PasskeyInfo{}, err
	}
	p, err := s.passkeys.FinishRegistration(passkeyUser(user, handle), c.State, response)
	if err != nil {
		s.audit(ctx, slog.LevelWarn, EventFactor, user.Username, "passkey_refused", slog.Int64("user_id", user.ID))
		return PasskeyInfo{}, ErrInvalidCode
	}
	if p.ID, err = newPublicID(s.rand); err != nil {
		return PasskeyInfo{}, err
	}
	p.UserID, p.Name, p.UserHandle = user.ID, name, handle
	p.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	n, err := ps.AddPasskey(ctx, p, &sess.TokenHash)
	if err != nil {
		return PasskeyInfo{}, s.unavailable(ctx, "add passkey", err)
	}
	s.credentialsChanged(ctx, user, "passkey_added", n, slog.String("passkey", p.ID))
	s.recordActivity(ctx, user.ID, ActivityFactorAdded, sess.PublicID, "passkey "+p.Name)
	return passkeyInfo(p), nil
}

// passkeyName checks and trims a passkey's name.
func passkeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "Passkey", nil
	}
	if len(name) > MaxPasskeyName || !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", ErrInvalidPasskeyName
	}
	return name, nil
}

// RemovePasskey removes the token's user's passkey with the given id. Every
// other session of the user ends, and every trusted device but the
// client's own loses its trust, as when TOTP is turned off: a passkey is
// removed because it may be in other hands.
//
// Errors: ErrFactorNotFound for an id that is not one of the user's;
// ErrReauthRequired; ErrFactorUnavailable; ErrInvalidSession;
// ErrUnavailable.
func (s *Service) RemovePasskey(ctx context.Context, token Token, id string) error {
	ps, sess, user, err := factorAction(ctx, s, token, s.passkeyStore)
	if err != nil {
		return err
	}
	if !validPublicID(id) {
		return ErrFactorNotFound
	}
	n, err := ps.RemovePasskey(ctx, user.ID, id, &sess.TokenHash)
	if errors.Is(err, ErrFactorNotFound) {
		return ErrFactorNotFound
	}
	if err != nil {
		return s.unavailable(ctx, "remove passkey", err)
	}
	s.endDeviceTrust(ctx, user, true, "passkey_removed")
	s.credentialsChanged(ctx, user, "passkey_removed", n, slog.String("passkey", id))
	s.recordActivity(ctx, user.ID, ActivityFactorRemoved, sess.PublicID, "passkey")
	return nil
}

// BeginPasskeyLogin starts a login with a passkey, or a second step with
// one, and returns the options (JSON) for navigator.credentials.get. No
// user is named: the authenticator offers its discoverable passkeys. The
// ceremony is bound to the client that asked, as second-step tokens are.
// Anyone may begin one and each is stored until it expires, so beginnings
// are charged to the client's address like successful logins
// (ThrottleConfig.ClientLoginsPerMinute): a client cannot fill the store.
//
// Errors: a *RateLimitError; ErrFactorUnavailable; ErrUnavailable.
func (s *Service) BeginPasskeyLogin(ctx context.Context) ([]byte, error) {
	if _, err := s.passkeysReady(); err != nil {
		return nil, err
	}
	ip, err := s.clientIP(ctx, "BeginPasskeyLogin")
	if err != nil {
		return nil, err
	}
	if wait := s.throttle.loginWait(ip); wait > 0 {
		return nil, &RateLimitError{RetryAfter: wait}
	}
	s.throttle.loginDone(ip)
	c, err := s.passkeys.BeginLogin()
	if err != nil {
		return nil, err
	}
	if err := s.putOnce(ctx, onceCeremony, c.Challenge, "login\x00"+clientBinding(ctx), ceremony{State: c.State}, s.now().Add(CeremonyLifetime)); err != nil {
		return nil, err
	}
	return c.Options, nil
}

// PasskeyLogin verifies the browser's answer (JSON) to BeginPasskeyLogin's
// options and starts a session for the passkey's user: both factors at
// once, no password and no second step. Attempts are counted against the
// client's address like failed passwords.
//
// Errors: ErrInvalidCode for an answer that does not verify, an unknown
// passkey, a ceremony that is unknown, spent, expired or another client's,
// and a sign count that went backwards (a possible clone, audited);
// ErrAccountDisabled; a *RateLimitError; ErrFactorUnavailable;
// ErrUnavailable.
func (s *Service) PasskeyLogin(ctx context.Context, response []byte, opt LoginOptions) (LoginResult, error) {
	if _, err := s.passkeysReady(); err != nil {
		return LoginResult{}, err
	}
	ip, err := s.clientIP(ctx, "PasskeyLogin")
	if err != nil {
		return LoginResult{}, err
	}
	client := s.throttle.clientKey(ip)
	if wait := s.throttle.loginWait(ip); wait > 0 {
		return LoginResult{}, &RateLimitError{RetryAfter: wait}
	}
	if err := s.throttle.admit(ctx, client); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, "", "passkey_login_refused")
		return LoginResult{}, err
	}
	user, err := s.verifyAssertion(ctx, response, 0)
	if err != nil {
		if !errors.Is(err, ErrInvalidCode) {
			s.throttle.giveBack(ctx, client)
		} else {
			s.audit(ctx, slog.LevelWarn, EventLoginFailed, "", "bad_credentials", slog.String("method", MethodPasskey))
		}
		return LoginResult{}, err
	}
	if !user.Enabled {
		s.throttle.giveBack(ctx, client)
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, user.Username, "account_disabled", slog.Int64("user_id", user.ID))
		return LoginResult{}, ErrAccountDisabled
	}
	s.throttle.loginDone(ip)
	_, trusted, err := s.trustedDevice(ctx, user.User, true)
	if err != nil {
		s.log.Warn("localauth: reading a device's trust failed", "user_id", user.ID, "err", err)
	}
	res, err := s.signIn(ctx, signIn{user: user.User, credVersion: user.credVersion, opt: opt,
		trusted: trusted, method: MethodPasskey, giveBack: []throttle.Key{client},
		attrs: []slog.Attr{slog.String("method", MethodPasskey)}})
	if errors.Is(err, ErrCredentialChanged) {
		return LoginResult{}, ErrInvalidCode
	}
	return res, err
}

// verifiedUser is the user a passkey answer proved, with the credential
// version read before the proof was checked.
type verifiedUser struct {
	User
	credVersion int64
}

// verifyAssertion checks a browser's answer to a login ceremony: its
// ceremony (taken, once), its passkey, and, when wantUser is not 0, that
// the passkey is that user's. It records the new sign count.
func (s *Service) verifyAssertion(ctx context.Context, response []byte, wantUser int64) (verifiedUser, error) {
	ps, err := s.passkeysReady()
	if err != nil {
		return verifiedUser{}, err
	}
	challenge, credID, handle, err := s.passkeys.Inspect(response)
	if err != nil {
		return verifiedUser{}, ErrInvalidCode
	}
	var c ceremony
	if _, err := s.takeOnce(ctx, onceCeremony, challenge, "login\x00"+clientBinding(ctx), &c); err != nil {
		return verifiedUser{}, err
	}
	p, err := ps.PasskeyByCredentialID(ctx, credID)
	if errors.Is(err, ErrFactorNotFound) {
		return verifiedUser{}, ErrInvalidCode
	}
	if err != nil {
		return verifiedUser{}, s.unavailable(ctx, "passkey login", err)
	}
	if (wantUser != 0 && p.UserID != wantUser) || len(p.UserHandle) == 0 || !bytes.Equal(handle, p.UserHandle) {
		return verifiedUser{}, ErrInvalidCode
	}
	user, err := s.store.UserByID(ctx, p.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return verifiedUser{}, ErrInvalidCode
	}
	var cred Credential
	if err == nil {
		cred, err = s.store.Credential(ctx, user.ID)
	}
	if err != nil {
		return verifiedUser{}, s.unavailable(ctx, "passkey login", err)
	}
	pks, err := ps.Passkeys(ctx, user.ID)
	if err != nil {
		return verifiedUser{}, s.unavailable(ctx, "passkey login", err)
	}
	used, clone, err := s.passkeys.FinishLogin(passkeyUser(user, p.UserHandle), pks, c.State, response)
	if err != nil {
		return verifiedUser{}, ErrInvalidCode
	}
	if err := s.passkeyUsable(ctx, ps, user, p, used, clone); err != nil {
		return verifiedUser{}, err
	}
	if err := ps.RecordPasskeyUse(ctx, p.CredentialID, used.SignCount, s.now().UTC().Truncate(time.Millisecond)); err != nil {
		s.log.Warn("localauth: recording a passkey's use failed", "err", err)
	}
	return verifiedUser{User: user, credVersion: cred.Version}, nil
}

// PasskeyInfo is a passkey as its user sees it.
type PasskeyInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is null until the passkey's first login.
	LastUsedAt *time.Time `json:"last_used_at"`
	// Suspended is true for a passkey disabled as a possible clone: it
	// logs no one in until its owner confirms it (ConfirmPasskey) or
	// removes it.
	Suspended bool `json:"suspended"`
}

func passkeyInfo(p Passkey) PasskeyInfo {
	pi := PasskeyInfo{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, Suspended: !p.SuspendedAt.IsZero()}
	if !p.LastUsedAt.IsZero() {
		t := p.LastUsedAt
		pi.LastUsedAt = &t
	}
	return pi
}
