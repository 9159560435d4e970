package localauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// What a signed-in user does with their own account: list and end their
// sessions, confirm their password for a sensitive action, delete the
// account.

// truncate returns s as valid UTF-8 of at most n bytes, cut at a character
// boundary.
func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] // a character cut in two is invalid UTF-8, dropped below
	}
	return strings.ToValidUTF8(s, "")
}

// newPublicID returns a session's public id: 128 random bits, base64url.
func newPublicID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("localauth: reading randomness for a session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validPublicID reports whether id has the shape of a session's public id,
// so that anything else is refused before a query.
func validPublicID(id string) bool {
	if len(id) < 16 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SessionInfo is one of a user's sessions as the user sees it.
type SessionInfo struct {
	// ID names the session for EndSession.
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// IP is the address that logged in.
	IP string `json:"ip"`
	// Device is a short label from the User-Agent (see DeviceLabel).
	Device string `json:"device"`
	// Current is true for the session asking.
	Current bool `json:"current"`
}

// currentSession returns the live session the token names, with its user,
// read from the store (not the cache): the account actions are rare and
// must see the latest reauth time.
func (s *Service) currentSession(ctx context.Context, token Token) (Session, User, error) {
	if _, err := s.Authenticate(ctx, token); err != nil {
		return Session{}, User{}, err
	}
	sess, user, err := s.store.SessionByTokenHash(ctx, HashToken(token))
	if err != nil {
		if errors.Is(err, ErrInvalidSession) {
			return Session{}, User{}, err
		}
		return Session{}, User{}, s.unavailable(ctx, "session", err)
	}
	return sess, user, nil
}

// recentLogin returns the token's session and user if its password was
// confirmed within Config.ReauthWindow, else ErrReauthRequired.
func (s *Service) recentLogin(ctx context.Context, token Token) (Session, User, error) {
	sess, user, err := s.currentSession(ctx, token)
	if err != nil {
		return Session{}, User{}, err
	}
	if err := s.requireRecent(ctx, sess, user); err != nil {
		return Session{}, User{}, err
	}
	return sess, user, nil
}

// requireRecent returns nil when the session confirmed its user within
// Config.ReauthWindow. Otherwise it says what confirmation is wanted:
// ErrSecondFactorReauthRequired on an account with a second factor, since
// only a confirmation as strong as its login (Reauth records no other
// there) may unlock what the recent login guards; else ErrReauthRequired.
func (s *Service) requireRecent(ctx context.Context, sess Session, user User) error {
	if s.now().Sub(sess.ReauthAt) < s.reauth {
		return nil
	}
	methods, err := s.secondFactors(ctx, user.ID)
	if err != nil {
		return s.unavailable(ctx, "recent login", err)
	}
	if len(methods) > 0 {
		return ErrSecondFactorReauthRequired
	}
	return ErrReauthRequired
}

// factorAction opens a change of second factors: it authenticates the
// token, finds the store's ability for the kind of factor (ready: the
// ability alone, or with the verifier the change needs), then checks that
// the login is recent, in that order, so that a caller without a session
// hears so (ErrInvalidSession) before anything about the server's
// configuration (ErrFactorUnavailable), and a recent login is asked for
// only of a change that can be made. It is a function, not a method,
// because F (TOTPStore or PasskeyStore) is a type parameter.
func factorAction[F any](ctx context.Context, s *Service, token Token, ready func() (F, error)) (F, Session, User, error) {
	var none F
	sess, user, err := s.currentSession(ctx, token)
	if err != nil {
		return none, Session{}, User{}, err
	}
	fs, err := ready()
	if err != nil {
		return none, Session{}, User{}, err
	}
	if err := s.requireRecent(ctx, sess, user); err != nil {
		return none, Session{}, User{}, err
	}
	return fs, sess, user, nil
}

// ListSessions returns the sessions of the user the token belongs to,
// newest first, marking the token's own.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) ListSessions(ctx context.Context, token Token) ([]SessionInfo, error) {
	cur, user, err := s.currentSession(ctx, token)
	if err != nil {
		return nil, err
	}
	all, err := s.store.Sessions(ctx, user.ID)
	if err != nil {
		return nil, s.unavailable(ctx, "list sessions", err)
	}
	now := s.now()
	out := make([]SessionInfo, 0, len(all))
	for _, x := range slices.Backward(all) {
		if !s.sessionLive(x, now) {
			continue
		}
		out = append(out, SessionInfo{
			ID: x.PublicID, CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt,
			IP: x.IP, Device: DeviceLabel(x.UserAgent), Current: x.TokenHash == cur.TokenHash,
		})
	}
	return out, nil
}

// EndSession ends one session of the user the token belongs to, by its id.
// Ending the token's own session is a logout; ending another needs a recent
// login. A session of another user is not found, exactly as an unknown id.
//
// Errors: ErrSessionNotFound; ErrReauthRequired; ErrInvalidSession;
// ErrUnavailable.
func (s *Service) EndSession(ctx context.Context, token Token, id string) error {
	cur, user, err := s.currentSession(ctx, token)
	if err != nil {
		return err
	}
	if !validPublicID(id) {
		return ErrSessionNotFound
	}
	if id != cur.PublicID {
		if err := s.requireRecent(ctx, cur, user); err != nil {
			return err
		}
	}
	ended, err := s.store.DeleteSessionByPublicID(ctx, user.ID, id)
	if errors.Is(err, ErrInvalidSession) {
		return ErrSessionNotFound
	}
	if err != nil {
		return s.unavailable(ctx, "end session", err)
	}
	s.revoked(Revocation{UserID: user.ID, TokenHash: ended.TokenHash})
	if ended.PublicID == cur.PublicID {
		s.recordActivity(ctx, user.ID, ActivityLogout, ended.PublicID, "")
	} else {
		s.recordActivity(ctx, user.ID, ActivitySessionRevoked, ended.PublicID, "")
	}
	s.audit(ctx, slog.LevelInfo, EventLogout, user.Username, "success",
		slog.Int64("user_id", user.ID), slog.String("session", ended.PublicID), slog.String("session_hash", ended.TokenHash.String()), slog.String("by", "owner"))
	return nil
}

// EndOtherSessions ends every session of the token's user but the token's
// own, and returns how many ended. It needs a recent login.
//
// Errors: ErrReauthRequired; ErrInvalidSession; ErrUnavailable.
func (s *Service) EndOtherSessions(ctx context.Context, token Token) (int, error) {
	cur, user, err := s.recentLogin(ctx, token)
	if err != nil {
		return 0, err
	}
	n, err := s.store.DeleteUserSessions(ctx, user.ID, &cur.TokenHash)
	if err != nil {
		return 0, s.unavailable(ctx, "end other sessions", err)
	}
	s.revoked(Revocation{UserID: user.ID, All: true})
	s.endDeviceTrust(ctx, user, true, "sessions_ended")
	if n > 0 {
		s.recordActivity(ctx, user.ID, ActivitySessionRevoked, "", sessionsEnded(n))
	}
	s.audit(ctx, slog.LevelInfo, EventAdmin, user.Username, "success",
		slog.String("action", "revoke_sessions"), slog.Int64("user_id", user.ID), slog.Int("sessions_ended", n), slog.String("by", "owner"))
	return n, nil
}

// Reauth confirms the password of the token's user: for Config.ReauthWindow
// the session may change the password, end other sessions and delete the
// account. It is throttled as a password change is (per session and per
// client address) and takes a hashing slot. On an account with a second
// factor the password alone confirms nothing: after a right password it
// answers ErrSecondFactorReauthRequired, and ReauthWith takes the factor.
//
// Errors: ErrWrongPassword (which is ErrInvalidCredentials too);
// ErrSecondFactorReauthRequired; a *RateLimitError; a *BusyError;
// ErrInvalidSession; ErrUnavailable.
func (s *Service) Reauth(ctx context.Context, token Token, password string) error {
	return s.ReauthWith(ctx, token, password, SecondFactor{})
}

// ReauthWith confirms the token's user as a login would: the password and,
// on an account with a second factor, one second-factor answer (a TOTP
// code, a recovery code, which it spends, or a passkey's answer to the
// options of BeginPasskeyLogin). A passkey's answer alone suffices, as it
// does for a login; password may then be "". The answers are counted as at
// a login's second step, per account whatever the device, and per client
// address.
//
// Errors: as Reauth, and ErrInvalidCode for a wrong second-factor answer.
func (s *Service) ReauthWith(ctx context.Context, token Token, password string, answer SecondFactor) error {
	cur, user, err := s.currentSession(ctx, token)
	if err != nil {
		return err
	}
	method := answer.method()
	if method == "" && (answer.Code != "" || answer.RecoveryCode != "" || len(answer.Passkey) > 0) {
		// More than one answer: which one to judge is not the caller's
		// to leave open.
		return ErrInvalidCode
	}
	if method != MethodPasskey || password != "" {
		if err := s.checkCurrentPassword(ctx, cur, user, password, "reauth"); err != nil {
			return err
		}
	}
	methods, err := s.secondFactors(ctx, user.ID)
	if err != nil {
		return s.unavailable(ctx, "reauth", err)
	}
	switch {
	case method == MethodPasskey:
		// A passkey is both factors, with or without the password.
	case len(methods) == 0:
		// The password is the whole login; a code has nothing to prove.
	case method == "":
		return ErrSecondFactorReauthRequired
	}
	if method == MethodPasskey || (method != "" && len(methods) > 0) {
		if err := s.reauthFactor(ctx, user, answer, method); err != nil {
			return err
		}
	}
	if err := s.store.SetReauth(ctx, cur.TokenHash, s.now().UTC().Truncate(time.Millisecond)); err != nil {
		if errors.Is(err, ErrInvalidSession) {
			return err
		}
		return s.unavailable(ctx, "reauth", err)
	}
	attrs := []slog.Attr{slog.Int64("user_id", user.ID)}
	if method != "" {
		attrs = append(attrs, slog.String("second_factor", method))
	}
	s.audit(ctx, slog.LevelInfo, EventReauth, user.Username, "success", attrs...)
	return nil
}

// reauthFactor judges a re-authentication's second-factor answer, counted
// per account and per client exactly as at a login's second step, and
// resets the account's count when it is right.
func (s *Service) reauthFactor(ctx context.Context, user User, answer SecondFactor, method string) error {
	ip, err := s.clientIP(ctx, "ReauthWith")
	if err != nil {
		return err
	}
	acct, client := s.throttle.factorKey(user.ID), s.throttle.clientKey(ip)
	if err := s.throttle.admit(ctx, acct, client); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, user.Username, "reauth_refused")
		return err
	}
	ok, err := s.checkSecondFactor(ctx, user, answer)
	if err != nil {
		s.throttle.giveBack(ctx, acct, client)
		return err
	}
	if !ok {
		s.audit(ctx, slog.LevelWarn, EventReauth, user.Username, "bad_"+method, slog.Int64("user_id", user.ID))
		return ErrInvalidCode
	}
	s.throttle.giveBack(ctx, client)
	if err := s.throttle.reset(ctx, acct); err != nil {
		s.log.Warn("localauth: resetting an account's second-factor count failed", "err", err)
	}
	return nil
}

// checkCurrentPassword compares password with the user's, counted per
// session and per client like a login (strangers guessing at the account
// never block its owner here). what names the action in the audit trail.
func (s *Service) checkCurrentPassword(ctx context.Context, sess Session, user User, password, what string) error {
	sessKey := s.throttle.sessionKey(sess.TokenHash)
	ip, err := s.clientIP(ctx, what)
	if err != nil {
		return err
	}
	client := s.throttle.clientKey(ip)
	if err := s.throttle.admit(ctx, sessKey, client); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, user.Username, what+"_refused")
		return err
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		s.throttle.giveBack(ctx, sessKey, client)
		return err
	}
	defer release()
	cred, err := s.store.Credential(ctx, user.ID)
	if err != nil {
		return s.unavailable(ctx, what, err)
	}
	// A password that could never have been set fails without a
	// comparison; the caller is logged in, so timing reveals nothing.
	ok := false
	if len(password) <= 4*s.policy.MaxLength {
		if cur, err := NormalizePassword(password); err == nil {
			ok = s.hasher.Compare(cred.Hash, cur) == nil
		}
	}
	if !ok {
		s.audit(ctx, slog.LevelWarn, EventPasswordCheck, user.Username, "bad_password", slog.String("for", what))
		return ErrWrongPassword
	}
	s.throttle.giveBack(ctx, sessKey, client)
	return nil
}

// DeleteAccount deletes the token's user with every session and device
// token, ending its open pages. It needs a recent login.
//
// Errors: ErrReauthRequired; ErrInvalidSession; ErrUnavailable.
func (s *Service) DeleteAccount(ctx context.Context, token Token) error {
	_, user, err := s.recentLogin(ctx, token)
	if err != nil {
		return err
	}
	if err := s.store.DeleteUser(ctx, user.ID); err != nil {
		return s.unavailable(ctx, "delete account", err)
	}
	s.revoked(Revocation{UserID: user.ID, All: true})
	s.audit(ctx, slog.LevelInfo, EventAccountDeleted, user.Username, "success", slog.Int64("user_id", user.ID))
	return nil
}

// RevokeSession ends the session with the given public id, whoever it
// belongs to, as an administrator does. Errors: ErrSessionNotFound;
// ErrUnavailable.
func (s *Service) RevokeSession(ctx context.Context, id string) error {
	if !validPublicID(id) {
		return ErrSessionNotFound
	}
	ended, err := s.store.DeleteSessionByPublicID(ctx, 0, id)
	if errors.Is(err, ErrInvalidSession) {
		return ErrSessionNotFound
	}
	if err != nil {
		return s.unavailable(ctx, "revoke session", err)
	}
	s.revoked(Revocation{UserID: ended.UserID, TokenHash: ended.TokenHash})
	s.recordActivity(ctx, ended.UserID, ActivitySessionRevoked, ended.PublicID, "by an administrator")
	s.adminAudit(ctx, "revoke_session", ended.UserID, slog.String("session", ended.PublicID), slog.String("session_hash", ended.TokenHash.String()), slog.Int("sessions_ended", 1))
	return nil
}
