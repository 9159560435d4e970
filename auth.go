package localauth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/localauth/localauth/throttle"
)

// LoginResult is what a successful Login hands back.
type LoginResult struct {
	User    User
	Session Session
	// Token is the new session's bearer secret, to give to the client
	// (string(Token)). It is never stored; only its hash is.
	Token Token
	// DeviceToken marks the client as a device this account has logged in
	// from (see ThrottleConfig): transports keep it in a long-lived
	// HttpOnly cookie and pass it back with WithDeviceToken. It is the
	// token the client presented when it had one, else a new one.
	DeviceToken Token
}

// CheckUsername canonicalizes username and reports whether it could be
// registered: a *PolicyError wrapping ErrInvalidUsername when it is not
// valid, ErrUserExists when it is taken, ErrUsernameConfusable (which wraps
// ErrUserExists) when it looks like an existing user's name. Registration
// pages call it to answer about the username before the password.
//
// Each answer about a valid name tells whether it is taken, so it counts
// against the client's registration allowance, as Register does: a
// *RateLimitError while the client is throttled.
func (s *Service) CheckUsername(ctx context.Context, username string) (string, error) {
	ip, err := s.clientIP(ctx, "CheckUsername")
	if err != nil {
		return "", err
	}
	canonical, err := CanonicalUsername(username)
	if err != nil {
		return "", err
	}
	regKey := s.throttle.registrationKey(ip)
	if err := s.throttle.admit(ctx, regKey); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, canonical, "register_refused")
		return canonical, err
	}
	return canonical, s.usernameFree(ctx, canonical)
}

// usernameFree reports whether the canonical name is neither taken nor
// confusable with a taken one.
func (s *Service) usernameFree(ctx context.Context, canonical string) error {
	switch _, err := s.store.UserByName(ctx, canonical); {
	case err == nil:
		return ErrUserExists
	case !errors.Is(err, ErrUserNotFound):
		return storeErr(err)
	}
	switch _, err := s.store.UserBySkeleton(ctx, UsernameSkeleton(canonical)); {
	case err == nil:
		return ErrUsernameConfusable
	case errors.Is(err, ErrUserNotFound):
		return nil
	default:
		return storeErr(err)
	}
}

// Register creates an enabled user. The username is kept in canonical form
// for uniqueness and as typed for display.
//
// Every registration with a valid username counts against the client's
// registration allowance, whatever its outcome, since each tells whether the
// name was taken.
//
// Errors: a *PolicyError (ErrInvalidUsername or ErrWeakPassword) saying what
// to change; ErrUserExists; a *RateLimitError when the client registered too
// often; a *BusyError; ErrUnavailable.
func (s *Service) Register(ctx context.Context, username, password string) (User, error) {
	ip, err := s.clientIP(ctx, "Register")
	if err != nil {
		return User{}, err
	}
	canonical, err := CanonicalUsername(username)
	if err != nil {
		return User{}, err
	}
	regKey := s.throttle.registrationKey(ip)
	if err := s.throttle.admit(ctx, regKey); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, canonical, "register_refused")
		return User{}, err
	}
	if err := s.usernameFree(ctx, canonical); err != nil {
		if errors.Is(err, ErrUserExists) {
			s.audit(ctx, slog.LevelInfo, EventRegister, canonical, "username_taken")
		}
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
		if errors.Is(err, ErrUserExists) {
			s.audit(ctx, slog.LevelInfo, EventRegister, canonical, "username_taken")
		}
		return User{}, err
	}
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
	return s.newHashNormalized(ctx, normalized)
}

// newHashNormalized hashes a normalized password that passed the policy,
// in a hashing slot.
func (s *Service) newHashNormalized(ctx context.Context, normalized string) ([]byte, error) {
	release, err := s.acquireHash(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return s.hasher.Hash(normalized)
}

// Login checks a username and password and starts a session.
//
// Exactly one password comparison runs per attempt that could succeed,
// whether or not the user exists (a dummy hash at the configured cost
// stands in for a missing one), so the time taken does not reveal accounts.
// A username that is not valid, or a password longer than any the policy
// lets be set, cannot match: it is refused without hashing and counted
// against the client only. A disabled account is reported only once its
// password has verified. A hash made at a lower cost than configured is
// replaced. The session token is new, from Config.Rand.
//
// The attempt is counted (see ThrottleConfig) under the account, or under
// the client's device when it presents a device token (WithDeviceToken)
// trusted for the account, and under the client's address, before the
// comparison's result is acted on; a correct password gives the attempt
// back. A key whose count says it must wait is refused without hashing.
// The comparison waits for a hashing slot in a fair queue at most
// Config.HashQueueWait. When the user already has Config.MaxSessionsPerUser
// sessions, the oldest ends.
//
// An account with a second factor gets no session from a right password:
// Login returns a *SecondFactorRequiredError (errors.Is
// ErrSecondFactorRequired) whose token CompleteLogin takes with the second
// factor. Callers that do not know of second factors thus fail closed.
//
// Errors: ErrInvalidCredentials for an unknown user or a wrong password
// alike; ErrAccountDisabled; a *SecondFactorRequiredError; a
// *RateLimitError while the account, the device or the client is
// throttled; a *BusyError; ErrUnavailable.
func (s *Service) Login(ctx context.Context, username, password string, opts ...LoginOptions) (LoginResult, error) {
	var opt LoginOptions
	if len(opts) > 0 {
		opt = opts[0]
	}
	ip, err := s.clientIP(ctx, "Login")
	if err != nil {
		return LoginResult{}, err
	}
	client := s.throttle.clientKey(ip)
	canonical, nameErr := CanonicalUsername(username)
	who := auditName(canonical, username)
	if nameErr != nil || len(password) > 4*s.policy.MaxLength {
		if err := s.throttle.admit(ctx, client); err != nil {
			s.audit(ctx, slog.LevelWarn, EventThrottled, who, "login_refused")
			return LoginResult{}, err
		}
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, who, "bad_credentials", slog.String("why", "cannot match"))
		return LoginResult{}, ErrInvalidCredentials
	}
	if wait := s.throttle.loginWait(ip); wait > 0 {
		s.audit(ctx, slog.LevelWarn, EventThrottled, who, "login_refused", slog.String("why", "login rate"))
		return LoginResult{}, &RateLimitError{RetryAfter: wait}
	}

	var (
		user  User
		cred  Credential
		found bool
	)
	user, err = s.store.UserByName(ctx, canonical)
	if err == nil {
		cred, err = s.store.Credential(ctx, user.ID)
	}
	switch {
	case err == nil:
		found = true
	case !errors.Is(err, ErrUserNotFound):
		return LoginResult{}, s.unavailable(ctx, "login", err)
	}
	device, trusted, err := s.trustedDevice(ctx, user, found)
	if err != nil {
		return LoginResult{}, s.unavailable(ctx, "login", err)
	}
	acct := s.throttle.accountKey(canonical)
	if trusted {
		acct = s.throttle.deviceKey(user.ID, HashToken(device))
	}
	// Both counts are decided before any bcrypt work, so that a throttled
	// key costs none. The client's is counted at once (in memory); the
	// account's is claimed, then committed to the store beside the
	// comparison, and the comparison's result is acted on only once that
	// commit has admitted it: every guess is counted before it is judged,
	// and the commit's latency hides behind the hash.
	if err := s.throttle.admit(ctx, client); err != nil {
		return s.loginRefused(ctx, who, user, false, trusted, err)
	}
	claim, err := s.throttle.claim(ctx, acct)
	if err != nil {
		s.throttle.giveBack(ctx, client)
		return s.loginRefused(ctx, who, user, found, trusted, err)
	}
	release, err := s.acquireHash(ctx)
	if err != nil {
		// Never tried: the attempt does not count.
		claim.Drop(ctx)
		s.throttle.giveBack(ctx, client)
		return LoginResult{}, err
	}
	counted := make(chan error, 1)
	go func() { counted <- s.throttle.count(ctx, claim) }()
	// The slot is held for the comparison (and a rehash), not for the
	// store writes that follow.
	held := true
	defer func() {
		if held {
			release()
		}
	}()
	normalized, pwErr := NormalizePassword(password)
	matched := false
	if !found || pwErr != nil {
		dummy, err := s.dummyHash()
		if err != nil {
			return LoginResult{}, s.unavailable(ctx, "login", err)
		}
		_ = s.hasher.Compare(dummy, password)
	} else if err := s.hasher.Compare(cred.Hash, normalized); err == nil {
		matched = true
	} else if !isMismatch(err) {
		s.log.Error("localauth: stored password hash cannot be checked", "user_id", user.ID, "err", err)
	}
	// The slot is needed for a rehash at most: the writes that follow run
	// beside the next hashes, not in their way.
	if !matched || !user.Enabled || !s.hasher.NeedsRehash(cred.Hash) {
		held = false
		release()
	}
	if err := <-counted; err != nil {
		if !errors.Is(err, ErrRateLimited) {
			s.throttle.giveBack(ctx, client)
			return LoginResult{}, s.unavailable(ctx, "login", err)
		}
		// Other guesses filled the account's count while this one was
		// compared: its result is dropped unseen. The client keeps the
		// attempt: it cost a hash.
		return s.loginRefused(ctx, who, user, found, trusted, err)
	}
	if !matched {
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, who, "bad_credentials", slog.Bool("trusted_device", trusted))
		if found {
			s.foldActivity(ctx, user.ID, ActivityLoginFailed, "wrong password")
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	// The password was right, and a hash made with weaker settings is
	// replaced, under the slot still held for it.
	if held {
		s.rehash(ctx, user.ID, cred.Hash, normalized)
		held = false
		release()
	}
	// The attempt is given back; a trusted device, having proved itself,
	// starts over. A login that goes on to its session settles the
	// account's count in the session's transaction.
	settle := signIn{user: user, credVersion: cred.Version, opt: opt, trusted: trusted, method: "password",
		giveBack: []throttle.Key{acct, client}, attrs: []slog.Attr{slog.Bool("trusted_device", trusted)}}
	if trusted {
		settle.giveBack, settle.reset = []throttle.Key{client}, []throttle.Key{acct}
	}
	if !user.Enabled {
		s.throttle.giveBack(ctx, settle.giveBack...)
		s.resetAll(ctx, settle.reset)
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, who, "account_disabled", slog.Int64("user_id", user.ID))
		return LoginResult{}, ErrAccountDisabled
	}
	methods, err := s.secondFactors(ctx, user.ID)
	if err != nil {
		s.throttle.giveBack(ctx, settle.giveBack...)
		s.resetAll(ctx, settle.reset)
		return LoginResult{}, s.unavailable(ctx, "login", err)
	}
	if len(methods) > 0 {
		s.throttle.giveBack(ctx, settle.giveBack...)
		s.resetAll(ctx, settle.reset)
		// The password was right; the session waits for the second
		// factor, with the credential version checked here.
		tok, err := s.beginSecondStep(ctx, user, cred.Version, opt, trusted)
		if err != nil {
			return LoginResult{}, err
		}
		s.audit(ctx, slog.LevelInfo, EventSecondStep, who, "required", slog.Int64("user_id", user.ID))
		return LoginResult{}, &SecondFactorRequiredError{Token: tok, Methods: methods}
	}
	s.throttle.loginDone(ip)
	res, err := s.signIn(ctx, settle)
	if errors.Is(err, ErrCredentialChanged) {
		// The password changed while this login compared it: the password
		// it verified no longer opens the account.
		return LoginResult{}, ErrInvalidCredentials
	}
	return res, err
}

// loginRefused audits a login refused by a guess count. When the refusing
// count is the account's or its trusted device's (accountCount) and the
// account exists, the owner is told once per lock and the lock joins the
// account's activity; a client address that reached its limit locks no
// account.
func (s *Service) loginRefused(ctx context.Context, who string, user User, accountCount, trusted bool, err error) (LoginResult, error) {
	if !errors.Is(err, ErrRateLimited) {
		return LoginResult{}, s.unavailable(ctx, "login", err)
	}
	s.audit(ctx, slog.LevelWarn, EventThrottled, who, "login_refused", slog.Bool("trusted_device", trusted))
	if accountCount {
		s.alertLocked(ctx, user.ID)
		s.foldActivity(ctx, user.ID, ActivityAccountLocked, "too many failed attempts")
	}
	return LoginResult{}, err
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

// capSessions ends the user's oldest sessions beyond
// Config.MaxSessionsPerUser, so that a client looping logins cannot pile up
// sessions. Their open live pages are told as for any revocation. A failure
// is logged: the login stands, and the next one trims again.
func (s *Service) capSessions(ctx context.Context, u User) {
	if s.maxSessions <= 0 {
		return
	}
	trimmed, err := s.store.TrimSessions(ctx, u.ID, s.maxSessions)
	if err != nil {
		s.log.Warn("localauth: ending sessions beyond the cap failed", "user_id", u.ID, "err", err)
	}
	for _, h := range trimmed {
		s.revoked(Revocation{UserID: u.ID, TokenHash: h})
		s.recordActivity(ctx, u.ID, ActivitySessionRevoked, "", "too many sessions: the oldest ended")
		s.audit(ctx, slog.LevelInfo, EventLogout, u.Username, "session_cap",
			slog.Int64("user_id", u.ID), slog.String("session_hash", h.String()))
	}
}

// acquireHash takes a hashing slot in the fair queue (see
// throttle.Admission): a *BusyError when the queue has no room in time.
func (s *Service) acquireHash(ctx context.Context) (release func(), err error) {
	defer s.meterHashAdmission(time.Now(), &release, &err)
	release, wait, err := s.admission.Acquire(ctx, throttle.ClientBucket(ClientIP(ctx)))
	if release == nil && err == nil {
		err = &BusyError{RetryAfter: wait}
	}
	return release, err
}

// unavailable logs a store failure and returns the error callers see.
func (s *Service) unavailable(ctx context.Context, op string, err error) error {
	err = storeErr(err)
	if errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
		s.metrics.StoreError(op)
		s.log.Error("localauth: store failure", "op", op, "err", err)
	}
	return err
}

// Authenticate returns the user whose live session the token names, and
// counts as use of the session for the idle timeout. It is the check behind
// every request and every live event, so it costs a map lookup when the
// session is cached, and one indexed query when not (or when the cached
// entry is older than Config.CacheMaxAge); it never hashes a password.
//
// A session is live until Config.SessionLifetime after its login, and, with
// Config.IdleTimeout set, until that long after its last use. A disabled
// user's sessions are not live.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) Authenticate(ctx context.Context, token Token) (User, error) {
	u, _, err := s.authenticate(ctx, token, true)
	return u, err
}

// authenticate checks the token's session and returns its user and the
// time it stops being live unless used again (see LiveUntil). With use set
// the check counts as use of the session.
func (s *Service) authenticate(ctx context.Context, token Token, use bool) (User, time.Time, error) {
	if !token.wellFormed() {
		return User{}, time.Time{}, ErrInvalidSession
	}
	h := HashToken(token)
	now := s.now()
	if e, ok := s.cache.get(h); ok && now.Sub(e.readAt) < s.cacheMaxAge {
		switch {
		case !now.Before(e.expiresAt):
			s.cache.invalidate(Revocation{TokenHash: h})
			return User{}, time.Time{}, ErrInvalidSession
		case s.live(e.expiresAt, e.lastSeenAt, now):
			return e.user, s.used(ctx, h, e, now, use), nil
		}
		// Idle by this cache's account: another instance may have seen
		// the session used since, so the store decides.
	}
	// Concurrent misses for one token share one query: the open tabs of
	// one browser all ask at once after a revocation dropped their entry.
	v, err, _ := s.lookups.Do(string(h[:]), func() (any, error) {
		gen := s.cache.generation()
		sess, user, err := s.store.SessionByTokenHash(ctx, h)
		e := cachedSession{user: user, expiresAt: sess.ExpiresAt, lastSeenAt: sess.LastSeenAt, readAt: now}
		if err == nil && user.Enabled && s.sessionLive(sess, now) {
			s.cache.put(h, e, gen)
		}
		return e, err
	})
	if err != nil {
		if errors.Is(err, ErrInvalidSession) {
			return User{}, time.Time{}, err
		}
		return User{}, time.Time{}, s.unavailable(ctx, "authenticate", err)
	}
	e := v.(cachedSession)
	if !e.user.Enabled || !s.live(e.expiresAt, e.lastSeenAt, now) {
		s.cache.invalidate(Revocation{TokenHash: h})
		return User{}, time.Time{}, ErrInvalidSession
	}
	return e.user, s.used(ctx, h, e, now, use), nil
}

// used records use of a live session when use is set, and returns when
// the session stops being live unless used again.
func (s *Service) used(ctx context.Context, h TokenHash, e cachedSession, now time.Time, use bool) time.Time {
	if use {
		if at, ok := s.touch(ctx, h, e.lastSeenAt, now); ok {
			e.lastSeenAt = at
		}
	}
	return s.liveUntil(e.expiresAt, e.lastSeenAt)
}

// liveUntil is when a session that expires at expiresAt and was last used
// at lastSeenAt stops being live.
func (s *Service) liveUntil(expiresAt, lastSeenAt time.Time) time.Time {
	if s.idle > 0 && lastSeenAt.Add(s.idle).Before(expiresAt) {
		return lastSeenAt.Add(s.idle)
	}
	return expiresAt
}

func (s *Service) sessionLive(sess Session, now time.Time) bool {
	return s.live(sess.ExpiresAt, sess.LastSeenAt, now)
}

// live reports whether a session that expires at expiresAt and was last
// used at lastSeenAt is live at now.
func (s *Service) live(expiresAt, lastSeenAt, now time.Time) bool {
	if !now.Before(expiresAt) {
		return false
	}
	return s.idle <= 0 || now.Sub(lastSeenAt) < s.idle
}

// touch records use of a session for the idle timeout. It writes at most
// once per tenth of the timeout per session, not on every request, and
// reports the new last-use time when it wrote one.
func (s *Service) touch(ctx context.Context, h TokenHash, lastSeenAt, now time.Time) (time.Time, bool) {
	if s.idle <= 0 || now.Sub(lastSeenAt) < s.idle/10 {
		return time.Time{}, false
	}
	at := now.UTC().Truncate(time.Millisecond)
	if err := s.store.TouchSession(ctx, h, at); err != nil {
		if !errors.Is(err, ErrInvalidSession) {
			s.log.Warn("localauth: recording session use failed", "err", err)
		}
		return time.Time{}, false
	}
	s.cache.touch(h, at)
	return at, true
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
	s.recordActivity(ctx, userID, ActivityLogout, "", "")
	s.audit(ctx, slog.LevelInfo, EventLogout, s.usernameOf(ctx, userID), "success",
		slog.Int64("user_id", userID), slog.String("session_hash", h.String()))
	return nil
}

// ChangePassword sets a new password for the user logged in with token,
// after checking the current one (one comparison, throttled per session and
// client), provided the session's password was confirmed within
// Config.ReauthWindow. Every other session of the user ends, and logins
// still in flight with the old password get no session; the one making the
// change stays.
//
// Errors: ErrInvalidSession; ErrReauthRequired; ErrInvalidCredentials for a
// wrong current password; a *PolicyError for an unacceptable new one; a
// *RateLimitError; a *BusyError; ErrUnavailable.
func (s *Service) ChangePassword(ctx context.Context, token Token, current, next string) error {
	sess, user, err := s.recentLogin(ctx, token)
	if err != nil {
		return err
	}
	normalized, err := s.policy.Check(next, user.Username)
	if err != nil {
		return err
	}
	if err := s.checkCurrentPassword(ctx, sess, user, current, "password_change"); err != nil {
		return err
	}
	newHash, err := s.newHashNormalized(ctx, normalized)
	if err != nil {
		return err
	}
	n, err := s.store.SetPasswordHash(ctx, user.ID, newHash, &sess.TokenHash)
	if err != nil {
		return s.unavailable(ctx, "change password", err)
	}
	// The change verified the current password: a recent login.
	if err := s.store.SetReauth(ctx, sess.TokenHash, s.now().UTC().Truncate(time.Millisecond)); err != nil {
		s.log.Warn("localauth: recording the password confirmation failed", "err", err)
	}
	s.revoked(Revocation{UserID: user.ID, All: true})
	s.endDeviceTrust(ctx, user, true, "password_change")
	s.recordActivity(ctx, user.ID, ActivityPasswordChanged, sess.PublicID, sessionsEnded(n))
	s.audit(ctx, slog.LevelInfo, EventPasswordChange, user.Username, "success",
		slog.Int64("user_id", user.ID), slog.Int("sessions_ended", n))
	s.notifyPasswordChanged(ctx, user.ID)
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
