package localauth

import (
	"context"
	"fmt"
	"log/slog"
)

// User returns the user with the given id, or ErrUserNotFound.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	u, err := s.store.UserByID(ctx, id)
	return u, storeErr(err)
}

// UserByName returns the user with the given username in any case or width,
// or ErrUserNotFound (also for a username that is not valid).
func (s *Service) UserByName(ctx context.Context, username string) (User, error) {
	canonical, err := CanonicalUsername(username)
	if err != nil {
		return User{}, ErrUserNotFound
	}
	u, err := s.store.UserByName(ctx, canonical)
	return u, storeErr(err)
}

// Users returns every user, ordered by id.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	us, err := s.store.Users(ctx)
	return us, storeErr(err)
}

// Sessions returns the sessions of the user, or of every user when userID is
// 0, expired ones included until they are purged.
func (s *Service) Sessions(ctx context.Context, userID int64) ([]Session, error) {
	ss, err := s.store.Sessions(ctx, userID)
	return ss, storeErr(err)
}

// RevokeSessions ends every session of the user, live pages included, and
// returns how many there were. Errors: ErrUnavailable.
func (s *Service) RevokeSessions(ctx context.Context, userID int64) (int, error) {
	n, err := s.store.DeleteUserSessions(ctx, userID, nil)
	if err != nil {
		return 0, s.unavailable(ctx, "revoke sessions", err)
	}
	s.revoked(Revocation{UserID: userID, All: true})
	s.endDeviceTrust(ctx, User{ID: userID, Username: s.usernameOf(ctx, userID)}, false, "sessions_revoked")
	s.adminAudit(ctx, "revoke_sessions", userID, slog.Int("sessions_ended", n))
	if n > 0 {
		s.recordActivity(ctx, userID, ActivitySessionRevoked, "", fmt.Sprintf("%d sessions ended by an administrator", n))
	}
	return n, nil
}

// DisableUser disables the account and ends all of its sessions. A disabled
// user cannot log in; Login says so only to someone who knows the password.
// Errors: ErrUserNotFound; ErrUnavailable.
func (s *Service) DisableUser(ctx context.Context, userID int64) error {
	if err := s.store.SetUserEnabled(ctx, userID, false); err != nil {
		return s.unavailable(ctx, "disable user", err)
	}
	s.revoked(Revocation{UserID: userID, All: true})
	s.endDeviceTrust(ctx, User{ID: userID, Username: s.usernameOf(ctx, userID)}, false, "disabled")
	s.adminAudit(ctx, "disable", userID)
	return nil
}

// EnableUser enables a disabled account. Errors: ErrUserNotFound;
// ErrUnavailable.
func (s *Service) EnableUser(ctx context.Context, userID int64) error {
	if err := s.store.SetUserEnabled(ctx, userID, true); err != nil {
		return s.unavailable(ctx, "enable user", err)
	}
	s.adminAudit(ctx, "enable", userID)
	return nil
}

// DeleteUser deletes the account and all of its sessions. Errors:
// ErrUserNotFound; ErrUnavailable.
func (s *Service) DeleteUser(ctx context.Context, userID int64) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return s.unavailable(ctx, "delete user", err)
	}
	if err := s.store.DeleteUser(ctx, userID); err != nil {
		return s.unavailable(ctx, "delete user", err)
	}
	s.revoked(Revocation{UserID: userID, All: true})
	s.audit(ctx, slog.LevelInfo, EventAdmin, u.Username, "success",
		slog.String("action", "delete"), slog.Int64("user_id", userID))
	return nil
}

// SetPassword sets the user's password without asking for the current one,
// as an administrator does, and ends all of the user's sessions.
//
// Errors: a *PolicyError for an unacceptable password; ErrUserNotFound;
// ErrBusy; ErrUnavailable.
func (s *Service) SetPassword(ctx context.Context, userID int64, password string) error {
	u, err := s.store.UserByID(ctx, userID)
	if err != nil {
		return s.unavailable(ctx, "set password", err)
	}
	hash, err := s.newHash(ctx, password, u.Username)
	if err != nil {
		return err
	}
	n, err := s.store.SetPasswordHash(ctx, userID, hash, nil)
	if err != nil {
		return s.unavailable(ctx, "set password", err)
	}
	s.revoked(Revocation{UserID: userID, All: true})
	s.endDeviceTrust(ctx, u, false, "password_reset")
	s.audit(ctx, slog.LevelInfo, EventPasswordChange, u.Username, "success",
		slog.String("by", "admin"), slog.Int64("user_id", userID), slog.Int("sessions_ended", n))
	s.notifyPasswordChanged(ctx, userID)
	s.recordActivity(ctx, userID, ActivityPasswordChanged, "", "by an administrator")
	return nil
}

// ResetFactors removes every second factor of the user (TOTP, recovery
// codes, passkeys) and ends all of the user's sessions, as an
// administrator does for a user who lost them: the password alone logs in
// again. It needs a store that is a FactorResetter.
//
// Errors: ErrUserNotFound; ErrFactorUnavailable; ErrUnavailable.
func (s *Service) ResetFactors(ctx context.Context, userID int64) error {
	fr, ok := s.store.(FactorResetter)
	if !ok {
		return ErrFactorUnavailable
	}
	n, err := fr.ResetFactors(ctx, userID)
	if err != nil {
		return s.unavailable(ctx, "reset factors", err)
	}
	s.revoked(Revocation{UserID: userID, All: true})
	s.endDeviceTrust(ctx, User{ID: userID, Username: s.usernameOf(ctx, userID)}, false, "factors_reset")
	s.adminAudit(ctx, "reset_factors", userID, slog.Int("sessions_ended", n))
	s.recordActivity(ctx, userID, ActivityFactorRemoved, "", "all second factors, by an administrator")
	return nil
}

func (s *Service) adminAudit(ctx context.Context, action string, userID int64, attrs ...slog.Attr) {
	attrs = append([]slog.Attr{slog.String("action", action), slog.Int64("user_id", userID)}, attrs...)
	s.audit(ctx, slog.LevelInfo, EventAdmin, s.usernameOf(ctx, userID), "success", attrs...)
}
