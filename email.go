package localauth

import (
	"context"
	"errors"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// An account may have an email address. The username stays the identity;
// the address only receives mail: a link to verify it, and, once verified,
// password reset links and notices of changes to the account.

var (
	// ErrInvalidEmail is returned for text that is not one plain email
	// address (user@domain, at most 254 bytes, no display name).
	ErrInvalidEmail = errors.New("localauth: invalid email address")

	// ErrInvalidMailToken is returned for a mailed token that is unknown,
	// used, expired, or void because the account's credentials changed
	// since it was sent. The four are not told apart.
	ErrInvalidMailToken = errors.New("localauth: the link is not valid")

	// ErrMailUnavailable is returned by the mail flows when the Service has
	// no Mailer or its Store is not a MailStore.
	ErrMailUnavailable = errors.New("localauth: email is not available")
)

// The audit events of the mail flows.
const (
	EventEmail         = "email"
	EventPasswordReset = "password_reset"
)

// maxEmail is the longest address accepted: RFC 5321's path limit.
const maxEmail = 254

// NormalizeEmail trims addr and checks that it is one plain address. It
// returns the address as the user typed it, trimmed.
//
// Errors: ErrInvalidEmail.
func NormalizeEmail(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" || len(addr) > maxEmail || !utf8.ValidString(addr) {
		return "", ErrInvalidEmail
	}
	for _, r := range addr {
		if r < 0x21 || r == 0x7f || r == '<' || r == '>' || r == ',' || r == ';' || r == '"' || r == '(' || r == ')' || r == '\\' {
			// A display name, a list, quoting or a comment is not an
			// address a person means to give here; refusing them keeps
			// header injection out of every mail.
			return "", ErrInvalidEmail
		}
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || a.Name != "" {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || !strings.Contains(addr[at+1:], ".") && addr[at+1:] != "localhost" {
		return "", ErrInvalidEmail
	}
	return addr, nil
}

// EmailKey returns the key under which a verified address is unique: the
// local part exactly as typed (RFC 5321 lets servers tell its case apart)
// and the domain in lower case (domains are case-insensitive).
//
// Errors: ErrInvalidEmail.
func EmailKey(addr string) (string, error) {
	addr, err := NormalizeEmail(addr)
	if err != nil {
		return "", err
	}
	at := strings.LastIndexByte(addr, '@')
	return addr[:at] + "@" + strings.ToLower(addr[at+1:]), nil
}

// EmailState is an account's email addresses as its owner sees them.
type EmailState struct {
	// Email is the address in force, "" for none.
	Email string `json:"email"`
	// Verified is true once the owner proved Email by its mailed link.
	// Only a verified address receives reset links.
	Verified bool `json:"email_verified"`
	// Pending is a new address waiting for verification while the
	// verified Email stays in force, "" for none.
	Pending string `json:"email_pending,omitempty"`
}

// Email returns the email addresses of the token's user.
//
// Errors: ErrInvalidSession; ErrMailUnavailable; ErrUnavailable.
func (s *Service) Email(ctx context.Context, token Token) (EmailState, error) {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return EmailState{}, err
	}
	ms, err := s.anyMailStore()
	if err != nil {
		return EmailState{}, err
	}
	st, err := ms.UserEmail(ctx, user.ID)
	if err != nil {
		return EmailState{}, s.unavailable(ctx, "email", err)
	}
	return st, nil
}

// SetEmail sets or changes the email address of the token's user, which
// needs a recent login. A verification link goes to the new address; a
// verified address already in force stays so until the new one is verified,
// and receives a notice of the change. An address verified by another
// account is answered alike, but its owner gets a notice instead of the
// new address getting a link.
//
// Errors: ErrInvalidEmail; ErrReauthRequired; ErrInvalidSession;
// ErrMailUnavailable; ErrUnavailable.
func (s *Service) SetEmail(ctx context.Context, token Token, addr string) error {
	_, user, err := s.recentLogin(ctx, token)
	if err != nil {
		return err
	}
	return s.setEmail(ctx, user, addr, false)
}

// SetUserEmail sets the email address of the user with the given canonical
// username, as registration and an administrator do: verified true records
// it as verified at once (an administrator vouching for it), else a
// verification link is mailed as SetEmail does.
//
// Errors: ErrInvalidEmail; ErrUserNotFound; ErrMailUnavailable;
// ErrUnavailable; ErrEmailTaken when verified is true and another account
// has the address verified.
func (s *Service) SetUserEmail(ctx context.Context, username, addr string, verified bool) error {
	user, err := s.store.UserByName(ctx, username)
	if errors.Is(err, ErrUserNotFound) {
		return err
	}
	if err != nil {
		return s.unavailable(ctx, "set email", err)
	}
	return s.setEmail(ctx, user, addr, verified)
}

// ErrEmailTaken is returned to an administrator who marks an address
// verified that another account has verified. Users never see it: for
// them a taken address is answered as a free one.
var ErrEmailTaken = errors.New("localauth: the email address belongs to another account")

func (s *Service) setEmail(ctx context.Context, user User, addr string, verified bool) error {
	addr, err := NormalizeEmail(addr)
	if err != nil {
		return err
	}
	key, _ := EmailKey(addr)
	ms, err := s.anyMailStore()
	if err != nil {
		return err
	}
	if !verified && s.mail == nil {
		return ErrMailUnavailable
	}
	before, err := ms.UserEmail(ctx, user.ID)
	if err != nil {
		return s.unavailable(ctx, "set email", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	if verified {
		err := ms.SetVerifiedEmail(ctx, user.ID, addr, key)
		if errors.Is(err, ErrEmailTaken) {
			return err
		}
		if err != nil {
			return s.unavailable(ctx, "set email", err)
		}
		s.audit(ctx, slog.LevelInfo, EventEmail, user.Username, "verified_by_admin", slog.Int64("user_id", user.ID))
		s.recordActivity(ctx, user.ID, ActivityEmailChanged, "", "set by an administrator")
		if s.mail != nil && before.Verified && before.Email != "" && before.Email != addr {
			// The address that was in force hears of its replacement: the
			// owner may not be the one who asked the administrator.
			if err := ms.EnqueueMail(ctx, []Mail{s.mail.text.emailReplaced(before.Email, user, addr)}, now); err != nil {
				s.log.Warn("localauth: queueing the notice to the replaced address failed", "user_id", user.ID, "err", err)
			} else {
				s.mailMetric("email_replaced", "queued")
			}
		}
		s.wakeOutbox()
		return nil
	}
	var mails []Mail
	if before.Verified && before.Email != "" {
		mails = append(mails, s.mail.text.emailChanged(before.Email, user, addr))
	}
	owner, err := ms.UserByEmailKey(ctx, key)
	switch {
	case err == nil && owner.ID != user.ID:
		// Taken: the caller hears the usual answer, the owner learns of
		// the attempt, and no link is made that could never succeed.
		mails = append(mails, s.mail.text.addressTaken(addr))
		if err := ms.SetEmail(ctx, user.ID, addr, nil, mails, now); err != nil {
			return s.unavailable(ctx, "set email", err)
		}
		s.audit(ctx, slog.LevelInfo, EventEmail, user.Username, "address_taken", slog.Int64("user_id", user.ID))
		s.wakeOutbox()
		return nil
	case err == nil && before.Verified && before.Email == addr:
		return nil // already verified: nothing to do
	case err != nil && !errors.Is(err, ErrUserNotFound):
		return s.unavailable(ctx, "set email", err)
	}
	tok, t, err := s.newMailToken(ctx, ms, user.ID, purposeVerify, addr, key, now, s.mail.verifyTTL)
	if err != nil {
		return err
	}
	mails = append(mails, s.mail.text.verify(addr, user, s.link("/verify-email", tok), s.mail.verifyTTL))
	if err := ms.SetEmail(ctx, user.ID, addr, &t, mails, now); err != nil {
		return s.unavailable(ctx, "set email", err)
	}
	s.audit(ctx, slog.LevelInfo, EventEmail, user.Username, "verification_sent", slog.Int64("user_id", user.ID))
	s.wakeOutbox()
	return nil
}

// VerifyEmail verifies an address by the token its mailed link carries,
// once. The address then replaces any verified one in force.
//
// Errors: ErrInvalidMailToken; ErrMailUnavailable; ErrUnavailable.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	ms, err := s.mailStore()
	if err != nil {
		return err
	}
	h, ok := mailTokenHash(token)
	if !ok {
		return ErrInvalidMailToken
	}
	userID, err := ms.VerifyEmail(ctx, h, s.now().UTC())
	if errors.Is(err, ErrInvalidMailToken) || errors.Is(err, ErrEmailTaken) {
		return ErrInvalidMailToken
	}
	if err != nil {
		return s.unavailable(ctx, "verify email", err)
	}
	s.audit(ctx, slog.LevelInfo, EventEmail, s.usernameOf(ctx, userID), "verified", slog.Int64("user_id", userID))
	s.recordActivity(ctx, userID, ActivityEmailChanged, "", "a new address, confirmed by its mailed link")
	return nil
}

// UserEmail returns the email addresses of the user with the given id, for
// a transport that already authenticated the user (GET /api/auth/me).
//
// Errors: ErrMailUnavailable; ErrUserNotFound; ErrUnavailable.
func (s *Service) UserEmail(ctx context.Context, userID int64) (EmailState, error) {
	ms, err := s.anyMailStore()
	if err != nil {
		return EmailState{}, err
	}
	st, err := ms.UserEmail(ctx, userID)
	if errors.Is(err, ErrUserNotFound) {
		return EmailState{}, err
	}
	if err != nil {
		return EmailState{}, s.unavailable(ctx, "email", err)
	}
	return st, nil
}
