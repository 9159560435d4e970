package localauth

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/localauth/localauth/throttle"
)

// LoginOptions are a login's choices besides the credentials.
type LoginOptions struct {
	// Remember asks for a "keep me signed in" session: it lives
	// Config.RememberLifetime, and transports give it a cookie that
	// outlives the browser. Otherwise it lives Config.SessionLifetime and
	// its cookie ends with the browser.
	Remember bool
}

// signIn is what every way of signing in (a password, a password and a
// second factor, a passkey) does once the user has proved who they are.
type signIn struct {
	user        User
	credVersion int64 // the credential version the proof was checked against
	opt         LoginOptions
	// trusted is whether the client presented a device token trusted for
	// the user: a sign-in from a device not trusted before is what the
	// owner is told of.
	trusted bool
	// method is "password", MethodTOTP, MethodRecovery or MethodPasskey.
	method string
	// giveBack and reset are the guess counters the sign-in settles: the
	// attempt it was counted as is taken back, and the counts that a
	// completed sign-in starts over are dropped.
	giveBack, reset []throttle.Key
	// attrs are added to the audit record of the success.
	attrs []slog.Attr
}

// signIn starts the session, trusts the browser it came from (a new device
// token, see rememberDevice), records the sign-in in the activity list and
// settles the guess counters; then it audits, alerts the owner of a new
// device and caps the user's sessions.
//
// When the store is a LoginCommitter, the session, the device, the events
// and the counters kept in the store are written in one transaction: one
// durable commit after the password check rather than four, which is most
// of what a login costs beyond the hash. Otherwise they are written one
// after the other, and only the session's failure fails the sign-in.
//
// The attempt the sign-in was counted as is given back whether or not the
// store manages to write the session, except when a credential changed
// since the proof was checked: that proof no longer opens the account, and
// counts as a wrong one.
//
// Errors: ErrCredentialChanged when a credential changed since the proof
// was checked (audited; the caller words it); ErrUnavailable.
func (s *Service) signIn(ctx context.Context, in signIn) (LoginResult, error) {
	res, err := s.newSession(ctx, in.user, in.credVersion, in.opt)
	if err != nil {
		return LoginResult{}, err
	}
	tok, dev, replaces, err := s.newDevice(ctx, in.user.ID, DeviceTokenFrom(ctx))
	if err != nil {
		return LoginResult{}, err
	}
	events := []ActivityEvent{s.activityEvent(ctx, in.user.ID, ActivityLogin, res.Session.PublicID, loginDetails[in.method])}
	if !in.trusted && dev != nil {
		events = append(events, s.activityEvent(ctx, in.user.ID, ActivityDeviceTrusted, res.Session.PublicID, ""))
	}
	if lc, ok := s.store.(LoginCommitter); ok {
		c := LoginCommit{Session: &res.Session, Device: dev, Replaces: replaces}
		if s.activityStore() != nil {
			c.Activity = events
		}
		// Counters the store keeps go in the commit; the others (client
		// addresses, in memory) are settled at once.
		giveBack, names, otherGiveBack := s.throttle.inStore(in.giveBack)
		c.GiveBack = names
		reset, names, otherReset := s.throttle.inStore(in.reset)
		c.Reset = names
		s.throttle.giveBack(ctx, otherGiveBack...)
		s.resetAll(ctx, otherReset)
		err = lc.CommitLogin(ctx, &c)
		if err != nil && !errors.Is(err, ErrCredentialChanged) {
			// The proof was right and the store failed: the attempt must
			// not count as a wrong guess, or owners who retry through an
			// outage lock themselves out. Settle the store's counters on
			// their own (they fail too if the store is still down, and
			// then only delay the key).
			s.throttle.giveBack(ctx, giveBack...)
			s.resetAll(ctx, reset)
		}
	} else {
		err = s.store.CreateSession(ctx, &res.Session)
		if err == nil || !errors.Is(err, ErrCredentialChanged) {
			s.throttle.giveBack(ctx, in.giveBack...)
			s.resetAll(ctx, in.reset)
		}
		if err == nil {
			if dev != nil {
				if err := s.store.(DeviceStore).TrustDevice(ctx, dev, replaces); err != nil {
					// The login stands; the browser is just not remembered
					// this time.
					s.log.Warn("localauth: remembering a device failed", "user_id", in.user.ID, "err", err)
					dev, events = nil, events[:1]
				}
			}
			for _, e := range events {
				s.addActivity(ctx, e.UserID, e.Type, e.SessionID, e.Detail, 1, "")
			}
		}
	}
	if errors.Is(err, ErrCredentialChanged) {
		// A credential changed while the proof was checked: the proof no
		// longer opens the account.
		s.audit(ctx, slog.LevelWarn, EventLoginFailed, in.user.Username, "credentials_changed", slog.Int64("user_id", in.user.ID))
		return LoginResult{}, err
	}
	if err != nil {
		return LoginResult{}, s.unavailable(ctx, "login", err)
	}
	if dev != nil {
		res.DeviceToken = tok
	}
	attrs := append([]slog.Attr{slog.Int64("user_id", in.user.ID), slog.String("session", res.Session.PublicID),
		slog.String("session_hash", res.Session.TokenHash.String())}, in.attrs...)
	s.audit(ctx, slog.LevelInfo, EventLogin, in.user.Username, "success", attrs...)
	if !in.trusted && dev != nil {
		s.alertNewDevice(ctx, in.user.ID, res.Session.PublicID)
	}
	s.capSessions(ctx, in.user)
	return res, nil
}

// resetAll drops the counts of keys; a failure is logged: the sign-in
// stands, and the count only delays its key.
func (s *Service) resetAll(ctx context.Context, keys []throttle.Key) {
	for _, k := range keys {
		if err := s.throttle.reset(ctx, k); err != nil {
			s.log.Warn("localauth: resetting a guess count failed", "err", err)
		}
	}
}

// newSession makes the session of a sign-in of u, not yet stored, with
// its token. CredentialVersion is credVersion, the version the caller
// verified: the store refuses the session if it is no longer the user's.
// The sign-in is a password confirmation: the session starts with a
// recent login.
func (s *Service) newSession(ctx context.Context, u User, credVersion int64, opt LoginOptions) (LoginResult, error) {
	tok, err := newToken(s.rand)
	if err != nil {
		return LoginResult{}, err
	}
	id, err := newPublicID(s.rand)
	if err != nil {
		return LoginResult{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	life := s.lifetime
	if opt.Remember {
		life = s.remember
	}
	sess := Session{
		UserID:     u.ID,
		PublicID:   id,
		TokenHash:  HashToken(tok),
		CreatedAt:  now,
		ExpiresAt:  now.Add(life),
		LastSeenAt: now,
		IP:         truncate(ClientIP(ctx), 64),
		UserAgent:  userAgentFrom(ctx),
		Remember:   opt.Remember,
		ReauthAt:   now,

		CredentialVersion: credVersion,
	}
	return LoginResult{User: u, Session: sess, Token: tok}, nil
}
