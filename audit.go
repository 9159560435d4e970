package localauth

import (
	"context"
	"log/slog"
	"runtime"
)

// clientIP returns the client address of a call that is throttled per
// address. A server that passes a context without one (r.Context() where
// web.Auth.Context(r) was meant) would silently throttle no one by address,
// so the call is refused with ErrNoClientAddress and logged at error
// level, unless Config.NoClientAddress says this Service serves no
// network clients.
func (s *Service) clientIP(ctx context.Context, method string) (string, error) {
	ip := ClientIP(ctx)
	if ip == "" && !s.noClient {
		s.log.LogAttrs(ctx, slog.LevelError, "localauth: "+method+" called without a client address; pass web.Auth.Context(r) or localauth.WithClientIP (or set Config.NoClientAddress in a program that serves no network clients)")
		return "", ErrNoClientAddress
	}
	return ip, nil
}

// Audit event names, the "event" attribute of every audit record.
const (
	EventLogin          = "login"
	EventLoginFailed    = "login_failed"
	EventThrottled      = "throttled"
	EventRegister       = "register"
	EventLogout         = "logout"
	EventPasswordChange = "password_change"
	EventPasswordCheck  = "password_check"
	EventReauth         = "reauth"
	EventAccountDeleted = "account_deleted"
	EventAdmin          = "admin"
)

// audit writes one structured record: what happened, to which account, from
// where, with what outcome, at what time (UTC). Values go through slog's
// handlers, which quote or escape newlines, so a username cannot forge a
// line. Callers never pass a password or a token. A session is named by
// "session", its public id (what the user's list of sessions, `session
// list` and `session revoke --id` show), where the record knows it, and by
// "session_hash", the first 8 bytes of its token's SHA-256, in every record
// about it: a logout knows only the latter, so the two tie a logout to its
// login.
func (s *Service) audit(ctx context.Context, level slog.Level, event, user, outcome string, attrs ...slog.Attr) {
	s.count(event, outcome, attrs)
	if !s.log.Enabled(ctx, level) {
		return
	}
	base := []slog.Attr{
		slog.String("event", event),
		slog.String("user", user),
		slog.String("ip", ClientIP(ctx)),
		slog.String("outcome", outcome),
		slog.Time("at", s.now().UTC()),
	}
	s.log.LogAttrs(ctx, level, "audit", append(base, attrs...)...)
}

// auditName is the form of an attempted username fit for the log: the
// canonical form when there is one, else the input cut to a bounded length.
func auditName(canonical, typed string) string {
	if canonical != "" {
		return canonical
	}
	if len(typed) > 4*MaxUsernameLength {
		return typed[:4*MaxUsernameLength] + "…"
	}
	return typed
}

func runtimeCPUs() int { return runtime.GOMAXPROCS(0) }
