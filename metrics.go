package localauth

import (
	"log/slog"
	"strings"
	"time"
)

// Metrics receives what a Service counts and times, for an app to export to
// its monitoring (package prommetrics implements it for Prometheus). Every
// label value passed is one of the fixed words listed on the method, never
// a username, address or token, so that a series per value stays bounded.
//
// A Service calls the methods from many goroutines, some on the login path:
// they must be safe for concurrent use and must not block. Embed NopMetrics
// to implement only some of them.
type Metrics interface {
	// Login counts a login attempt by outcome: "success",
	// "bad_credentials", "account_disabled", "credentials_changed",
	// "throttled". Attempts refused as busy are counted by HashAdmission,
	// those failed by the store by StoreError.
	Login(outcome string)
	// Registration counts a registration attempt by outcome: "success",
	// "username_taken", "throttled".
	Registration(outcome string)
	// ThrottleRefusal counts a request refused by the throttle, by kind:
	// "login", "registration", "password_change", "reauth".
	ThrottleRefusal(kind string)
	// HashAdmission reports how long a login, registration or password
	// change waited for a hashing slot, and whether it got one (else it
	// was refused as busy, or its context ended).
	HashAdmission(wait time.Duration, admitted bool)
	// HashesInFlight adds delta (+1 or -1) to the number of password
	// hashes running.
	HashesInFlight(delta int)
	// SessionCreated counts a session started by a login.
	SessionCreated()
	// SessionsEnded counts sessions that ended, by reason: "logout",
	// "expired", "password_change", "revoked", "disabled", "deleted", "session_cap" (the oldest
	// session ended by Config.MaxSessionsPerUser). n is
	// how many ended, or -1 when the store does not say (disabling and
	// deleting an account end all of its sessions, uncounted).
	SessionsEnded(reason string, n int)
	// StoreError counts a store failure (the store unreachable or
	// failing), by operation: "login", "authenticate", "logout", "purge",
	// "change password" and the like, a fixed phrase per call site.
	StoreError(op string)
	// RevocationDelay reports how long a revocation made by another
	// process took to reach this one (stores that share revocations
	// between processes report it; see pgstore).
	RevocationDelay(d time.Duration)
}

// NopMetrics is a Metrics that records nothing: the default of
// Config.Metrics, and a base to embed.
type NopMetrics struct{}

func (NopMetrics) Login(string)                      {}
func (NopMetrics) Registration(string)               {}
func (NopMetrics) ThrottleRefusal(string)            {}
func (NopMetrics) HashAdmission(time.Duration, bool) {}
func (NopMetrics) HashesInFlight(int)                {}
func (NopMetrics) SessionCreated()                   {}
func (NopMetrics) SessionsEnded(string, int)         {}
func (NopMetrics) StoreError(string)                 {}
func (NopMetrics) RevocationDelay(time.Duration)     {}

var _ Metrics = NopMetrics{}

// count feeds Metrics from an audit record. Every outcome of a login, a
// registration, a throttle refusal and a session's end is audited, so
// counting here, in one place, keeps the metrics and the audit trail from
// drifting apart.
func (s *Service) count(event, outcome string, attrs []slog.Attr) {
	m := s.metrics
	switch event {
	case EventLogin:
		m.Login(outcome)
		if outcome == "success" {
			m.SessionCreated()
		}
	case EventLoginFailed:
		m.Login(outcome)
	case EventRegister:
		m.Registration(outcome)
	case EventThrottled:
		switch outcome {
		case "login_refused":
			m.Login("throttled")
			m.ThrottleRefusal("login")
		case "register_refused":
			m.Registration("throttled")
			m.ThrottleRefusal("registration")
		default: // a check of the current password: "<what>_refused"
			m.ThrottleRefusal(strings.TrimSuffix(outcome, "_refused"))
		}
	case EventLogout:
		if outcome == "session_cap" {
			m.SessionsEnded("session_cap", 1)
		} else {
			m.SessionsEnded("logout", 1)
		}
	case EventPasswordChange:
		if outcome == "success" {
			m.SessionsEnded("password_change", attrInt(attrs, "sessions_ended"))
		}
	case EventAdmin:
		switch attrString(attrs, "action") {
		case "revoke_sessions":
			m.SessionsEnded("revoked", attrInt(attrs, "sessions_ended"))
		case "disable":
			m.SessionsEnded("disabled", -1)
		case "delete":
			m.SessionsEnded("deleted", -1)
		}
	case EventAccountDeleted:
		m.SessionsEnded("deleted", -1)
	}
}

// meterHashAdmission is deferred by acquireHash with the time it started
// and its results: it reports the wait and, for an admitted hash, counts
// it in flight until its release.
func (s *Service) meterHashAdmission(start time.Time, release *func(), err *error) {
	admitted := *err == nil && *release != nil
	s.metrics.HashAdmission(time.Since(start), admitted)
	if !admitted {
		return
	}
	s.metrics.HashesInFlight(1)
	inner := *release
	*release = func() {
		s.metrics.HashesInFlight(-1)
		inner()
	}
}

func attrInt(attrs []slog.Attr, key string) int {
	for _, a := range attrs {
		if a.Key == key && a.Value.Kind() == slog.KindInt64 {
			return int(a.Value.Int64())
		}
	}
	return -1
}

func attrString(attrs []slog.Attr, key string) string {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}
