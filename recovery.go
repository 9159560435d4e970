package localauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Password reset by email. A reset link goes only to a verified address. It
// works once, for ResetLifetime, and not at all once the account's
// credentials changed another way. It sets a new password and ends every
// session, open page and trusted device of the account; it never skips a
// second factor: the next login asks for it as before.

// ForgotRequest names the account whose password is forgotten: by Username,
// by Email, or by Account, exactly one.
type ForgotRequest struct {
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
	// Account is what a person types into one field that takes either: it
	// names the account whose username it is, or else the account whose
	// verified address it is. One request, counted once (pages use it; the
	// JSON API takes username or email).
	Account string `json:"-"`
}

// ForgotPassword mails a reset link to the account's verified address, if
// the account exists, has one, and has not received
// MailConfig.ResetsPerHour of them in the last hour. It answers alike in
// every one of those cases, so that the answer tells nothing of the
// account; the mail is queued, not sent, so the time taken tells nothing
// either.
//
// Every request counts against the client's allowance
// (ThrottleConfig.ResetRequestsFree), before anything is looked up, so a
// refusal says nothing of the account either.
//
// Errors: ErrInvalidEmail or a *PolicyError (ErrInvalidUsername) for a
// request that names no account in a valid form; a *RateLimitError while
// the client is throttled; ErrMailUnavailable; ErrUnavailable.
func (s *Service) ForgotPassword(ctx context.Context, req ForgotRequest) error {
	ms, err := s.mailStore()
	if err != nil {
		return err
	}
	ip, err := s.clientIP(ctx, "ForgotPassword")
	if err != nil {
		return err
	}
	if err := s.throttle.admit(ctx, s.throttle.resetRequestKey(ip)); err != nil {
		s.audit(ctx, slog.LevelWarn, EventThrottled, "", "forgot_refused")
		return err
	}
	user, found, err := s.forgotUser(ctx, ms, req)
	if err != nil {
		return err
	}
	if !found {
		return nil
	}
	st, err := ms.UserEmail(ctx, user.ID)
	if err != nil {
		return s.unavailable(ctx, "forgot password", err)
	}
	if !st.Verified || st.Email == "" || !user.Enabled {
		s.audit(ctx, slog.LevelInfo, EventPasswordReset, user.Username, "no_verified_address", slog.Int64("user_id", user.ID))
		return nil
	}
	key, _ := EmailKey(st.Email)
	now := s.now().UTC().Truncate(time.Millisecond)
	tok, t, err := s.newMailToken(ctx, ms, user.ID, purposeReset, st.Email, key, now, s.mail.resetTTL)
	if err != nil {
		return err
	}
	m := s.mail.text.reset(st.Email, user, s.link("/reset-password", tok), s.mail.resetTTL)
	ok, err := ms.IssueMailToken(ctx, t, []Mail{m}, MailLimit{
		Since: now.Add(-time.Hour), PerAccount: s.mail.perHour,
		AddressSince: now.Add(-24 * time.Hour), PerAddress: s.mail.perAddr,
	})
	if err != nil {
		return s.unavailable(ctx, "forgot password", err)
	}
	if !ok {
		s.mailMetric(m.Kind, "limited")
		s.audit(ctx, slog.LevelWarn, EventPasswordReset, user.Username, "limited", slog.Int64("user_id", user.ID))
		return nil
	}
	s.mailMetric(m.Kind, "queued")
	s.audit(ctx, slog.LevelInfo, EventPasswordReset, user.Username, "link_sent", slog.Int64("user_id", user.ID))
	s.wakeOutbox()
	return nil
}

// forgotUser finds the account a ForgotRequest names; found is false, with
// no error, when there is none (audited).
func (s *Service) forgotUser(ctx context.Context, ms MailStore, req ForgotRequest) (User, bool, error) {
	set := 0
	for _, v := range []string{req.Username, req.Email, req.Account} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return User{}, false, usernameError("Give either a username or an email address.")
	}
	byName := req.Username
	byEmail := req.Email
	if req.Account != "" {
		// As a username if it is one, then as an address if it is one.
		if _, err := CanonicalUsername(req.Account); err == nil {
			byName = req.Account
		}
		if _, err := NormalizeEmail(req.Account); err == nil {
			byEmail = req.Account
		}
		if byName == "" && byEmail == "" {
			_, err := NormalizeEmail(req.Account)
			return User{}, false, err
		}
	}
	if byName != "" {
		name, err := CanonicalUsername(byName)
		if err != nil {
			return User{}, false, err
		}
		user, err := s.store.UserByName(ctx, name)
		if err == nil {
			return user, true, nil
		}
		if !errors.Is(err, ErrUserNotFound) {
			return User{}, false, s.unavailable(ctx, "forgot password", err)
		}
		if byEmail == "" {
			s.audit(ctx, slog.LevelInfo, EventPasswordReset, name, "unknown_user")
			return User{}, false, nil
		}
	}
	key, err := EmailKey(byEmail)
	if err != nil {
		return User{}, false, err
	}
	user, err := ms.UserByEmailKey(ctx, key)
	if errors.Is(err, ErrUserNotFound) {
		s.audit(ctx, slog.LevelInfo, EventPasswordReset, "", "unknown_address")
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, s.unavailable(ctx, "forgot password", err)
	}
	return user, true, nil
}

// ResetPassword sets a new password with the token a reset link carries,
// once. The password policy applies. Every session, open page and trusted
// device of the account ends, other reset links of the account stop
// working, and a notice goes to the verified address. No session starts:
// the user logs in with the new password, and a second factor if the
// account has one.
//
// Errors: ErrInvalidMailToken; a *PolicyError; a *BusyError;
// ErrMailUnavailable; ErrUnavailable.
func (s *Service) ResetPassword(ctx context.Context, token, newPassword string) error {
	ms, err := s.mailStore()
	if err != nil {
		return err
	}
	h, ok := mailTokenHash(token)
	if !ok {
		return ErrInvalidMailToken
	}
	t, err := ms.PeekMailToken(ctx, h, purposeReset, s.now().UTC())
	if errors.Is(err, ErrInvalidMailToken) {
		return err
	}
	if err != nil {
		return s.unavailable(ctx, "reset password", err)
	}
	user, err := s.store.UserByID(ctx, t.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return ErrInvalidMailToken
	}
	if err != nil {
		return s.unavailable(ctx, "reset password", err)
	}
	hash, err := s.newHash(ctx, newPassword, user.Username)
	if err != nil {
		return err
	}
	notice := s.mail.text.passwordChanged(t.Email, user)
	userID, ended, err := ms.ResetPassword(ctx, h, s.now().UTC(), hash, []Mail{notice})
	if errors.Is(err, ErrInvalidMailToken) {
		return err
	}
	if err != nil {
		return s.unavailable(ctx, "reset password", err)
	}
	s.revoked(Revocation{UserID: userID, All: true})
	s.metrics.SessionsEnded("password_change", ended)
	s.mailMetric(notice.Kind, "queued")
	s.audit(ctx, slog.LevelInfo, EventPasswordReset, user.Username, "success",
		slog.Int64("user_id", userID), slog.Int("sessions_ended", ended))
	detail := "by a mailed link"
	if ended > 0 {
		detail = fmt.Sprintf("by a mailed link; %d sessions ended", ended)
	}
	s.recordActivity(ctx, userID, ActivityPasswordReset, "", detail)
	s.wakeOutbox()
	return nil
}

// newMailToken makes a token for a mail, and what the store keeps of it.
func (s *Service) newMailToken(ctx context.Context, ms MailStore, userID int64, purpose, addr, key string, now time.Time, ttl time.Duration) (Token, MailToken, error) {
	tok, err := newToken(s.rand)
	if err != nil {
		return "", MailToken{}, err
	}
	cred, err := s.store.Credential(ctx, userID)
	if err != nil {
		return "", MailToken{}, s.unavailable(ctx, "mail token", err)
	}
	return tok, MailToken{
		Hash: HashToken(tok), UserID: userID, Purpose: purpose,
		Email: addr, EmailKey: key, CredentialVersion: cred.Version,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	}, nil
}

// mailTokenHash hashes a token from a link, refusing anything that is not
// a token's shape before it reaches the store.
func mailTokenHash(token string) (TokenHash, bool) {
	if len(token) != TokenLength {
		return TokenHash{}, false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return TokenHash{}, false
		}
	}
	return HashToken(Token(token)), true
}
