package localauth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrBusy is returned by Login, Register and the password methods when every
// hashing slot stayed taken for Config.HashQueueWait: the server is over its
// capacity and answers at once rather than queueing work for seconds.
var ErrBusy = errors.New("the server is busy, please try again shortly")

// LoginResult is what a successful Login hands back.
type LoginResult struct {
	User    User
	Session Session
	// Token is the new session's bearer secret, to give to the client
	// (string(Token)). It is never stored; only its hash is.
	Token Token
}

// CheckUsername canonicalizes username and reports whether it could be
// registered: a *PolicyError wrapping ErrInvalidUsername when it is not
// valid, ErrUserExists when it is taken. Registration pages call it to
// answer about the username before the password, as the seed's page does.
func (s *Service) CheckUsername(ctx context.Context, username string) (string, error) {
	canonical, err := CanonicalUsername(username)
	if err != nil {
		return "", err
	}
	switch _, err := s.store.UserByName(ctx, canonical); {
	case err == nil:
		return canonical, ErrUserExists
	case errors.Is(err, ErrUserNotFound):
		return canonical, nil
	default:
		return canonical, storeErr(err)
	}
}

// Register creates an enabled user. The username is kept in canonical form
// for uniqueness and as typed for display.
//
// Errors: a *PolicyError (ErrInvalidUsername or ErrWeakPassword) saying what
// to change; ErrUserExists; a *RateLimitError when the client registered too
// often; ErrBusy; ErrUnavailable.
func (s *Service) Register(ctx context.Context, username, password string) (User, error) {
	regKey := s.throttle.registrationKey(ClientIP(ctx))
	if err := s.throttle.check(ctx, regKey); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, auditName("", username), "register_refused")
		return User{}, err
	}
	canonical, err := s.CheckUsername(ctx, username)
	if err != nil {
		s.countRegistration(ctx, regKey, canonical, err)
		return User{}, err
	}
	hash, err := s.newHash(ctx, password, canonical)
	if err != nil {
		return User{}, err
	}
	u := User{
		Username:    canonical,
		DisplayName: displayUsername(username),
		Enabled:     true,
		CreatedAt:   s.now().UTC().Truncate(time.Millisecond),
	}
	if err := s.store.CreateUser(ctx, &u, hash); err != nil {
		err = storeErr(err)
		s.countRegistration(ctx, regKey, canonical, err)
		return User{}, err
	}
	s.countRegistration(ctx, regKey, canonical, nil)
	s.audit(ctx, slog.LevelInfo, EventRegister, canonical, "success", slog.Int64("user_id", u.ID))
	return u, nil
}

// newHash checks password against the policy for the user and hashes it in
// a hashing slot.
func (s *Service) newHash(ctx context.Context, password, canonicalUsername string) ([]byte, error) {
	normalized, err := s.policy.Check(password, canonicalUsername)
	if err != nil {
		return nil, err
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.hasher.Hash(normalized)
}

// countRegistration counts an attempt that revealed something about the
// username space (created, or found taken) against the client.
func (s *Service) countRegistration(ctx context.Context, key throttleKey, canonical string, err error) {
	if err == nil || errors.Is(err, ErrUserExists) {
		if ferr := s.throttle.fail(ctx, key); ferr != nil {
			s.log.Warn("localauth: counting a registration failed", "err", ferr)
		}
	}
	if errors.Is(err, ErrUserExists) {
		s.audit(ctx, slog.LevelInfo, EventRegister, canonical, "username_taken")
	}
}

// Login checks a username and password and starts a session.
//
// Exactly one password comparison runs per attempt, whether or not the user
// exists (a dummy hash at the configured cost stands in for a missing one),
// so the time taken does not reveal accounts. A disabled account is reported
// only once its password has verified. A hash made at a lower cost than
// configured is replaced. The session token is new, from Config.Rand.
//
// Errors: ErrInvalidCredentials for an unknown user or a wrong password
// alike; ErrAccountDisabled; a *RateLimitError while the account or the
// client is throttled; ErrBusy; ErrUnavailable.
func (s *Service) Login(ctx context.Context, username, password string) (LoginResult, error) {
	canonical, nameErr := CanonicalUsername(username)
	acct := s.throttle.accountKey(canonical)
	if nameErr != nil {
		acct.key = fallbackAccount(username)
	}
	client := s.throttle.clientKey(ClientIP(ctx))
	who := auditName(canonical, username)
	if err := s.throttle.check(ctx, acct, client); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, who, "login_refused")
		return LoginResult{}, err
	}
	// A password longer than any the policy lets be set cannot match: it
	// is refused before it costs any hashing.
	if len(password) > 4*s.policy.MaxLength {
		return LoginResult{}, s.loginFailed(ctx, who, "password_too_long", acct, client)
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return LoginResult{}, err
	}
	// The slot is held for the comparison (and a rehash), not for the
	// session insert that follows.
	held := true
	defer func() {
		if held {
			release()
		}
	}()

	var (
		user  User
		hash  []byte
		found bool
	)
	if nameErr == nil {
		user, err = s.store.UserByName(ctx, canonical)
		if err == nil {
			hash, err = s.store.PasswordHash(ctx, user.ID)
		}
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, ErrUserNotFound):
			return LoginResult{}, s.unavailable(ctx, "login", err)
		}
	}
	normalized, pwErr := NormalizePassword(password)
	if !found || pwErr != nil {
		dummy, err := s.dummyHash()
		if err != nil {
			return LoginResult{}, s.unavailable(ctx, "login", err)
		}
		_ = s.hasher.Compare(dummy, password)
		return LoginResult{}, s.loginFailed(ctx, who, "bad_credentials", acct, client)
	}
	if err := s.hasher.Compare(hash, normalized); err != nil {
		if !isMismatch(err) {
			s.log.Error("localauth: stored password hash cannot be checked", "user_id", user.ID, "err", err)
		}
		return LoginResult{}, s.loginFailed(ctx, who, "bad_credentials", acct, client)
	}
	if !user.Enabled {
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, who, "account_disabled", slog.Int64("user_id", user.ID))
		return LoginResult{}, ErrAccountDisabled
	}
	if err := s.throttle.reset(ctx, acct); err != nil {
		s.log.Warn("localauth: resetting the login throttle failed", "err", err)
	}
	if s.hasher.NeedsRehash(hash) {
		s.rehash(ctx, user.ID, hash, normalized)
	}
	held = false
	release()
	res, err := s.startSession(ctx, user)
	if err != nil {
		return LoginResult{}, s.unavailable(ctx, "login", err)
	}
	s.audit(ctx, slog.LevelInfo, EventLogin, who, "success",
		slog.Int64("user_id", user.ID), slog.String("session", res.Session.TokenHash.String()))
	return res, nil
}

func (s *Service) loginFailed(ctx context.Context, who, reason string, keys ...throttleKey) error {
	if err := s.throttle.fail(ctx, keys...); err != nil {
		s.log.Warn("localauth: counting a failed login failed", "err", err)
	}
	s.audit(ctx, slog.LevelWarn, EventLoginFailed, who, reason)
	return ErrInvalidCredentials
}

// rehash replaces a hash made with weaker settings. A failure is logged and
// otherwise ignored: the login itself succeeded.
func (s *Service) rehash(ctx context.Context, userID int64, old []byte, password string) {
	h, err := s.hasher.Hash(password)
	if err == nil {
		_, err = s.store.ReplacePasswordHash(ctx, userID, old, h)
	}
	if err != nil {
		s.log.Warn("localauth: upgrading a password hash failed", "user_id", userID, "err", err)
	}
}

func (s *Service) startSession(ctx context.Context, u User) (LoginResult, error) {
	tok, err := newToken(s.rand)
	if err != nil {
		return LoginResult{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sess := Session{
		UserID:     u.ID,
		TokenHash:  HashToken(tok),
		CreatedAt:  now,
		ExpiresAt:  now.Add(s.lifetime),
		LastSeenAt: now,
	}
	if err := s.store.CreateSession(ctx, &sess); err != nil {
		return LoginResult{}, err
	}
	return LoginResult{User: u, Session: sess, Token: tok}, nil
}

// acquireHash takes a hashing slot, waiting at most Config.HashQueueWait.
func (s *Service) acquireHash(ctx context.Context) (release func(), err error) {
	release = func() { <-s.hashing }
	select {
	case s.hashing <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(s.hashWait)
	defer t.Stop()
	select {
	case s.hashing <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// unavailable logs a store failure and returns the error callers see.
func (s *Service) unavailable(ctx context.Context, op string, err error) error {
	err = storeErr(err)
	if errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
		s.log.Error("localauth: store failure", "op", op, "err", err)
	}
	return err
}

// Authenticate returns the user whose live session the token names. It is
// the check behind every request and every live event, so it costs a map
// lookup when the session is cached, and one indexed query when not; it never
// hashes a password.
//
// A session is live until Config.SessionLifetime after its login, and, with
// Config.IdleTimeout set, until that long after its last use. A disabled
// user's sessions are not live.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) Authenticate(ctx context.Context, token Token) (User, error) {
	if !token.wellFormed() {
		return User{}, ErrInvalidSession
	}
	h := HashToken(token)
	now := s.now()
	if e, ok := s.cache.get(h); ok {
		if !s.sessionLive(e.session, now) {
			s.cache.invalidate(Revocation{TokenHash: h})
			return User{}, ErrInvalidSession
		}
		s.touch(ctx, h, e.session, now)
		return e.user, nil
	}
	gen := s.cache.generation()
	sess, user, err := s.store.SessionByTokenHash(ctx, h)
	if err != nil {
		if errors.Is(err, ErrInvalidSession) {
			return User{}, err
		}
		return User{}, s.unavailable(ctx, "authenticate", err)
	}
	if !user.Enabled || !s.sessionLive(sess, now) {
		return User{}, ErrInvalidSession
	}
	s.cache.put(h, cachedSession{user: user, session: sess}, gen)
	s.touch(ctx, h, sess, now)
	return user, nil
}

func (s *Service) sessionLive(sess Session, now time.Time) bool {
	if !now.Before(sess.ExpiresAt) {
		return false
	}
	return s.idle <= 0 || now.Sub(sess.LastSeenAt) < s.idle
}

// touch records use of a session for the idle timeout. It writes at most
// once per tenth of the timeout per session, not on every request.
func (s *Service) touch(ctx context.Context, h TokenHash, sess Session, now time.Time) {
	if s.idle <= 0 || now.Sub(sess.LastSeenAt) < s.idle/10 {
		return
	}
	at := now.UTC().Truncate(time.Millisecond)
	if err := s.store.TouchSession(ctx, h, at); err != nil {
		if !errors.Is(err, ErrInvalidSession) {
			s.log.Warn("localauth: recording session use failed", "err", err)
		}
		return
	}
	s.cache.touch(h, at)
}

// Logout ends the session the token names, in the store, in every cache and
// on every open live page of it.
//
// Errors: ErrInvalidSession when there was no such session; ErrUnavailable.
func (s *Service) Logout(ctx context.Context, token Token) error {
	if !token.wellFormed() {
		return ErrInvalidSession
	}
	h := HashToken(token)
	userID, err := s.store.DeleteSession(ctx, h)
	if err != nil {
		if errors.Is(err, ErrInvalidSession) {
			return err
		}
		return s.unavailable(ctx, "logout", err)
	}
	s.revoked(Revocation{UserID: userID, TokenHash: h})
	s.audit(ctx, slog.LevelInfo, EventLogout, s.usernameOf(ctx, userID), "success",
		slog.Int64("user_id", userID), slog.String("session", h.String()))
	return nil
}

// ChangePassword sets a new password for the user logged in with token,
// after checking the current one (one comparison, throttled like a login).
// Every other session of the user ends; the one making the change stays.
//
// Errors: ErrInvalidSession; ErrInvalidCredentials for a wrong current
// password; a *PolicyError for an unacceptable new one; a *RateLimitError;
// ErrBusy; ErrUnavailable.
func (s *Service) ChangePassword(ctx context.Context, token Token, current, next string) error {
	user, err := s.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	acct := s.throttle.accountKey(user.Username)
	client := s.throttle.clientKey(ClientIP(ctx))
	if err := s.throttle.check(ctx, acct, client); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, user.Username, "password_change_refused")
		return err
	}
	normalized, err := s.policy.Check(next, user.Username)
	if err != nil {
		return err
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		return err
	}
	defer release()
	hash, err := s.store.PasswordHash(ctx, user.ID)
	if err != nil {
		return s.unavailable(ctx, "change password", err)
	}
	// A current password that could never have been set fails without a
	// comparison; the caller is logged in, so timing reveals nothing.
	ok := false
	if len(current) <= 4*s.policy.MaxLength {
		if cur, err := NormalizePassword(current); err == nil {
			ok = s.hasher.Compare(hash, cur) == nil
		}
	}
	if !ok {
		if ferr := s.throttle.fail(ctx, acct, client); ferr != nil {
			s.log.Warn("localauth: counting a failed password check failed", "err", ferr)
		}
		s.audit(ctx, slog.LevelWarn, EventPasswordChange, user.Username, "bad_current_password")
		return ErrInvalidCredentials
	}
	newHash, err := s.hasher.Hash(normalized)
	if err != nil {
		return err
	}
	keep := HashToken(token)
	n, err := s.store.SetPasswordHash(ctx, user.ID, newHash, &keep)
	if err != nil {
		return s.unavailable(ctx, "change password", err)
	}
	s.revoked(Revocation{UserID: user.ID, All: true})
	s.audit(ctx, slog.LevelInfo, EventPasswordChange, user.Username, "success",
		slog.Int64("user_id", user.ID), slog.Int("sessions_ended", n))
	return nil
}

// usernameOf returns the canonical username for an audit record, or "" when
// it cannot be read.
func (s *Service) usernameOf(ctx context.Context, id int64) string {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return ""
	}
	return u.Username
}
