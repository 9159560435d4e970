package localauth

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Two defences of passkeys beyond the WebAuthn checks.
//
// User handles are random. The handle an authenticator stores with a
// passkey is sent back with every assertion and shown to whoever sees the
// registration options, so it must say nothing: 32 random bytes per user,
// made at the user's first passkey (PasskeyStore.PasskeyHandle), not the
// sequential user id, which would count the accounts. Passkeys added before
// keep the handle they hold (the id, 8 bytes), stored with each passkey,
// so they keep working.
//
// A possible clone is disabled. An authenticator's signature counter only
// grows; an assertion whose counter does not (equal, lower, or zero after
// a non-zero one) means another copy of the key may be in use. The
// passkey is then suspended for good: refused whatever counter it shows
// next, since a clone that skips ahead would otherwise keep working and
// lock the genuine authenticator out, until its owner confirms it on the
// account page (ConfirmPasskey, with a recent login) or removes it. Both
// the suspension and each refusal are audited.

// passkeyHandleBytes is the size of a user's random WebAuthn user handle.
const passkeyHandleBytes = 32

// passkeyHandle returns the user's WebAuthn user handle, making it at the
// user's first passkey.
func (s *Service) passkeyHandle(ctx context.Context, ps PasskeyStore, userID int64) ([]byte, error) {
	fresh := make([]byte, passkeyHandleBytes)
	if _, err := s.rand.Read(fresh); err != nil {
		return nil, err
	}
	h, err := ps.PasskeyHandle(ctx, userID, fresh)
	if err != nil {
		return nil, s.unavailable(ctx, "passkey handle", err)
	}
	return h, nil
}

// passkeyUsable refuses a verified assertion by a suspended passkey, and
// suspends one whose counter did not grow (clone).
func (s *Service) passkeyUsable(ctx context.Context, ps PasskeyStore, user User, p, used Passkey, clone bool) error {
	attrs := []slog.Attr{slog.Int64("user_id", user.ID), slog.String("passkey", p.ID),
		slog.Uint64("stored_sign_count", uint64(p.SignCount)), slog.Uint64("presented_sign_count", uint64(used.SignCount))}
	switch {
	case !p.SuspendedAt.IsZero():
		s.audit(ctx, slog.LevelWarn, EventFactor, user.Username, "passkey_suspended_refused", attrs...)
		return ErrInvalidCode
	case clone:
		if err := ps.SuspendPasskey(ctx, p.CredentialID, s.now().UTC().Truncate(time.Millisecond)); err != nil {
			s.log.Error("localauth: suspending a possibly cloned passkey failed", "user_id", user.ID, "passkey", p.ID, "err", err)
		}
		s.audit(ctx, slog.LevelError, EventFactor, user.Username, "passkey_clone_warning",
			append(attrs, slog.Bool("suspended", true))...)
		return ErrInvalidCode
	}
	return nil
}

// ConfirmPasskey lifts the suspension of the token's user's passkey with
// the given id, which a sign count that did not grow put on it (a possible
// clone): its owner says the passkey is theirs and in their hands. The
// passkey logs in again from then on, provided its counter grows. Like
// adding one, it is a credential change: every other session of the user
// ends. Audited.
//
// Errors: ErrFactorNotFound for an id that is not one of the user's
// suspended passkeys; ErrReauthRequired; ErrFactorUnavailable;
// ErrInvalidSession; ErrUnavailable.
func (s *Service) ConfirmPasskey(ctx context.Context, token Token, id string) error {
	ps, sess, user, err := factorAction(ctx, s, token, s.passkeyStore)
	if err != nil {
		return err
	}
	if !validPublicID(id) {
		return ErrFactorNotFound
	}
	n, err := ps.ConfirmPasskey(ctx, user.ID, id, &sess.TokenHash)
	if errors.Is(err, ErrFactorNotFound) {
		return ErrFactorNotFound
	}
	if err != nil {
		return s.unavailable(ctx, "confirm passkey", err)
	}
	s.credentialsChanged(ctx, user, "passkey_confirmed", n, slog.String("passkey", id))
	return nil
}
