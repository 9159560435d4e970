package localauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Activity types: what a user's security activity (Service.Activity) says
// happened to the account. They are the words of the API and the CLI.
const (
	ActivityLogin           = "login"
	ActivityLoginFailed     = "login_failed" // aggregated: Count and FirstAt
	ActivityLogout          = "logout"
	ActivitySessionRevoked  = "session_revoked"
	ActivityPasswordChanged = "password_changed"
	ActivityPasswordReset   = "password_reset"
	ActivityEmailChanged    = "email_changed"
	ActivityFactorAdded     = "factor_added"
	ActivityFactorRemoved   = "factor_removed"
	ActivityDeviceTrusted   = "device_trusted"
	ActivityDeviceForgotten = "device_forgotten"
	ActivityAccountLocked   = "account_locked" // aggregated: Count and FirstAt
)

// ActivityEvent is one entry of a user's security activity. It names where
// and what, never a secret: no password, token, code or hash is ever put in
// one, so that showing the list to its owner (or to an operator) can leak
// nothing that opens the account.
type ActivityEvent struct {
	// ID orders a user's events: a larger one is newer. It is the cursor
	// of Service.Activity's before.
	ID     int64
	UserID int64
	Type   string
	// At is when the event happened; for an aggregated event, the latest
	// occurrence, and FirstAt the earliest.
	At      time.Time
	FirstAt time.Time
	// Count is how many occurrences an aggregated event holds; 1 for
	// every other.
	Count int
	// IP is the client address, as the list of sessions shows it; Device
	// the label of its browser (DeviceLabel), never the full User-Agent.
	IP     string
	Device string
	// SessionID is the public id of the session concerned, when there is
	// one (the id the list of sessions shows, not its token).
	SessionID string
	// Detail says more in a few words: the kind of factor, who acted
	// ("administrator"), how many sessions ended.
	Detail string
}

// ActivityStore is an optional ability of a Store: each user's security
// activity and sign-in alert preference. Without it Service records no
// activity, Activity returns an error that wraps errors.ErrUnsupported, and
// sign-in alerts are on. Both stores implement it; a user's events are
// deleted with the user. Errors follow the rule of Store.
type ActivityStore interface {
	// AddActivity appends e (its ID is assigned). ErrUserNotFound when
	// the user does not exist.
	AddActivity(ctx context.Context, e ActivityEvent) error
	// FoldActivity records one more occurrence of e.Type for the user:
	// when the user's newest event of e.Type is newer than the user's
	// newest event of type since (or there is none of since), that event
	// is replaced, in one transaction, by one that becomes the user's
	// newest, keeps its FirstAt and adds e.Count to its Count, with e's
	// At, IP, Device and Detail; otherwise e is appended. Concurrent folds
	// for one user never lose an occurrence nor make two events.
	// ErrUserNotFound when the user does not exist.
	FoldActivity(ctx context.Context, e ActivityEvent, since string) error
	// Activity returns the user's events with an ID below before (0: no
	// bound), newest first, at most limit of them. No events is not an
	// error.
	Activity(ctx context.Context, userID, before int64, limit int) ([]ActivityEvent, error)
	// DeleteActivityBefore deletes every user's events whose At is before
	// t, and returns how many it deleted.
	DeleteActivityBefore(ctx context.Context, t time.Time) (int, error)
	// SignInAlerts reports whether the user wants a message at each
	// sign-in from a new device; true for a user who never said.
	// ErrUserNotFound when there is no such user.
	SignInAlerts(ctx context.Context, userID int64) (bool, error)
	// SetSignInAlerts records that preference. ErrUserNotFound when there
	// is no such user.
	SetSignInAlerts(ctx context.Context, userID int64, on bool) error
}

// MaxActivityPage is the most events one call of Service.Activity returns.
const MaxActivityPage = 100

// activityStore returns the store's ActivityStore, or nil.
func (s *Service) activityStore() ActivityStore {
	as, _ := s.store.(ActivityStore)
	return as
}

// recordActivity adds an event of type typ for the user, with the client's
// address and device label from ctx. A failure is logged and otherwise
// ignored: the action it records has happened, and refusing it now would
// not undo it.
func (s *Service) recordActivity(ctx context.Context, userID int64, typ string, sessionID, detail string) {
	s.addActivity(ctx, userID, typ, sessionID, detail, 1, "")
}

// foldActivity records one more occurrence of an aggregated event (see
// ActivityStore.FoldActivity): failures since the last sign-in make one
// event, however many guesses there were.
func (s *Service) foldActivity(ctx context.Context, userID int64, typ, detail string) {
	s.addActivity(ctx, userID, typ, "", detail, 1, ActivityLogin)
}

func (s *Service) addActivity(ctx context.Context, userID int64, typ, sessionID, detail string, count int, foldSince string) {
	as := s.activityStore()
	if as == nil || userID == 0 {
		return
	}
	e := s.activityEvent(ctx, userID, typ, sessionID, detail)
	e.Count = count
	var err error
	if foldSince != "" {
		err = as.FoldActivity(ctx, e, foldSince)
	} else {
		err = as.AddActivity(ctx, e)
	}
	if err != nil && !errors.Is(err, ErrUserNotFound) {
		s.log.Warn("localauth: recording security activity failed", "type", typ, "user_id", userID, "err", err)
	}
}

// activityEvent is one event of type typ for the user, now, with the
// client's address and device label from ctx.
func (s *Service) activityEvent(ctx context.Context, userID int64, typ, sessionID, detail string) ActivityEvent {
	now := s.now().UTC().Truncate(time.Millisecond)
	e := ActivityEvent{
		UserID: userID, Type: typ, At: now, FirstAt: now, Count: 1,
		IP: truncate(ClientIP(ctx), 64), SessionID: sessionID, Detail: truncate(detail, 200),
	}
	if ua := userAgentFrom(ctx); ua != "" {
		e.Device = DeviceLabel(ua)
	}
	return e
}

// Activity returns the security activity of the token's user, newest first:
// at most limit events (1 to MaxActivityPage; other values mean
// MaxActivityPage) with an ID below before (0: the newest). The next page
// is the one before the last event's ID. Only the token's own user's events
// are ever returned. Events older than Config.ActivityRetention are gone.
//
// Errors: ErrInvalidSession; ErrUnavailable; an error wrapping
// errors.ErrUnsupported when the store keeps no activity.
func (s *Service) Activity(ctx context.Context, token Token, before int64, limit int) ([]ActivityEvent, error) {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return nil, err
	}
	return s.UserActivity(ctx, user.ID, before, limit)
}

// UserActivity returns the security activity of any user, as Activity does
// for one's own: for operators (localauth activity). Errors as Activity's.
func (s *Service) UserActivity(ctx context.Context, userID, before int64, limit int) ([]ActivityEvent, error) {
	as := s.activityStore()
	if as == nil {
		return nil, fmt.Errorf("localauth: the store keeps no security activity: %w", errors.ErrUnsupported)
	}
	if limit <= 0 || limit > MaxActivityPage {
		limit = MaxActivityPage
	}
	if before < 0 {
		before = 0
	}
	evs, err := as.Activity(ctx, userID, before, limit)
	if err != nil {
		return nil, s.unavailable(ctx, "activity", err)
	}
	return evs, nil
}

// FailedAttempts returns how many sign-ins to the token's user failed
// between the sign-in before the token's session and the one that made it,
// with the time of the first and last of them: what a page shows right
// after a login ("3 failed attempts since your last sign-in"), so that an
// owner learns at once that someone was guessing. 0 when none failed, when
// the session's sign-in is no longer among the newest events, or when the
// store keeps no activity.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) FailedAttempts(ctx context.Context, token Token) (n int, first, last time.Time, err error) {
	cur, user, err := s.currentSession(ctx, token)
	if err != nil {
		return 0, time.Time{}, time.Time{}, err
	}
	as := s.activityStore()
	if as == nil {
		return 0, time.Time{}, time.Time{}, nil
	}
	evs, err := as.Activity(ctx, user.ID, 0, MaxActivityPage)
	if err != nil {
		return 0, time.Time{}, time.Time{}, s.unavailable(ctx, "activity", err)
	}
	found := false
	for _, e := range evs {
		if !found {
			found = e.Type == ActivityLogin && e.SessionID == cur.PublicID
			continue
		}
		if e.Type == ActivityLogin {
			break
		}
		if e.Type == ActivityLoginFailed {
			n += e.Count
			if first.IsZero() || e.FirstAt.Before(first) {
				first = e.FirstAt
			}
			if e.At.After(last) {
				last = e.At
			}
		}
	}
	return n, first, last, nil
}

// SignInAlerts reports whether the token's user wants a message at each
// sign-in from a device not trusted before. It is on until the user turns
// it off, and on for a store that keeps no preference. Alerts of changes
// to the account (password, email, factors) cannot be turned off and do
// not consult it.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) SignInAlerts(ctx context.Context, token Token) (bool, error) {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return false, err
	}
	return s.WantsSignInAlert(ctx, user.ID)
}

// SetSignInAlerts turns the token's user's sign-in alerts on or off.
//
// Errors: ErrInvalidSession; ErrUnavailable; an error wrapping
// errors.ErrUnsupported when the store keeps no preference.
func (s *Service) SetSignInAlerts(ctx context.Context, token Token, on bool) error {
	_, user, err := s.currentSession(ctx, token)
	if err != nil {
		return err
	}
	as := s.activityStore()
	if as == nil {
		return fmt.Errorf("localauth: the store keeps no alert preference: %w", errors.ErrUnsupported)
	}
	if err := as.SetSignInAlerts(ctx, user.ID, on); err != nil {
		if errors.Is(err, ErrUserNotFound) {
			return ErrInvalidSession
		}
		return s.unavailable(ctx, "set sign-in alerts", err)
	}
	return nil
}

// WantsSignInAlert reports whether a sign-in from a new device should be
// told to the user: the question the sign-in alert mail asks before it is
// sent. True when the store keeps no preference.
//
// Errors: ErrUserNotFound; ErrUnavailable.
func (s *Service) WantsSignInAlert(ctx context.Context, userID int64) (bool, error) {
	as := s.activityStore()
	if as == nil {
		return true, nil
	}
	on, err := as.SignInAlerts(ctx, userID)
	if err != nil {
		if errors.Is(err, ErrUserNotFound) {
			return false, err
		}
		return false, s.unavailable(ctx, "sign-in alerts", err)
	}
	return on, nil
}

// pruneActivity deletes events older than Config.ActivityRetention, with
// the purge of expired sessions.
func (s *Service) pruneActivity(ctx context.Context) error {
	as := s.activityStore()
	if as == nil || s.activityRetention <= 0 {
		return nil
	}
	_, err := as.DeleteActivityBefore(ctx, s.now().Add(-s.activityRetention))
	return err
}

// loginDetails words each way of signing in for the activity list.
var loginDetails = map[string]string{
	"password":     "password",
	MethodTOTP:     "password and authenticator app",
	MethodRecovery: "password and recovery code",
	MethodPasskey:  "passkey",
}

// sessionsEnded words how many other sessions an action ended.
func sessionsEnded(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "1 other session ended"
	default:
		return fmt.Sprintf("%d other sessions ended", n)
	}
}

// devicesForgotten words how many devices lost their trust at once.
func devicesForgotten(n int) string {
	if n == 1 {
		return "1 trusted device forgotten"
	}
	return fmt.Sprintf("%d trusted devices forgotten", n)
}
