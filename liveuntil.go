package localauth

import (
	"context"
	"time"
)

// CheckSession returns the user whose live session the token names, as
// Authenticate does, and the time the session stops being live unless it
// is used again: its absolute end (Config.SessionLifetime or
// RememberLifetime after the login) or Config.IdleTimeout after its last
// use, whichever comes first. Unlike Authenticate, the check does not count
// as use: a page that only holds a session open (a live tab re-checking
// itself, a keepalive) must not keep it from idling out. Callers that keep
// a signed-in view open, such as package liveauth, check again at that
// time, so that expiry ends the view as a revocation does.
//
// Errors: ErrInvalidSession; ErrUnavailable.
func (s *Service) CheckSession(ctx context.Context, token Token) (User, time.Time, error) {
	return s.authenticate(ctx, token, false)
}

// Now returns the time on the Service's clock (Config.Now), by which
// sessions expire: what CheckSession's times are to be compared with.
func (s *Service) Now() time.Time { return s.now() }
