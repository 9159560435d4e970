package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/localauth/localauth"
)

// Session lifetimes as serve's flags set them, each defaulting to its
// environment variable, else to the Service's default.
type lifetimeFlags struct {
	session, idle, remember *time.Duration
	envErr                  error
}

// Defaults of the lifetime flags: the Service's own.
const (
	defaultSessionLifetime  = 7 * 24 * time.Hour
	defaultIdleTimeout      = 7 * 24 * time.Hour
	defaultRememberLifetime = 30 * 24 * time.Hour
)

func (m *Main) lifetimeFlags(fs *flag.FlagSet) *lifetimeFlags {
	l := &lifetimeFlags{}
	l.session = l.duration(fs, m, "session-lifetime", "LOCALAUTH_SESSION_LIFETIME", defaultSessionLifetime,
		"absolute life of a session from its login (env LOCALAUTH_SESSION_LIFETIME); open live pages are signed out when it ends")
	l.idle = l.duration(fs, m, "idle-timeout", "LOCALAUTH_IDLE_TIMEOUT", defaultIdleTimeout,
		"a session not used for this long ends; 0 turns it off (env LOCALAUTH_IDLE_TIMEOUT). An open page's keepalive is not use; what the person does is")
	l.remember = l.duration(fs, m, "remember-lifetime", "LOCALAUTH_REMEMBER_LIFETIME", defaultRememberLifetime,
		`absolute life of a "keep me signed in" session (env LOCALAUTH_REMEMBER_LIFETIME)`)
	return l
}

func (l *lifetimeFlags) duration(fs *flag.FlagSet, m *Main, name, env string, def time.Duration, usage string) *time.Duration {
	if v := m.Getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil && l.envErr == nil {
			l.envErr = fmt.Errorf("%s=%q is not a duration such as 8h or 30m", env, v)
		}
		if err == nil {
			def = d
		}
	}
	return fs.Duration(name, def, usage)
}

// check refuses lifetimes the flags or the environment got wrong.
func (l *lifetimeFlags) check() error {
	if l.envErr != nil {
		return usagef("serve: %v", l.envErr)
	}
	if *l.session <= 0 || *l.remember <= 0 || *l.idle < 0 {
		return usagef("serve: --session-lifetime and --remember-lifetime must be positive, --idle-timeout positive or 0 (off)")
	}
	return nil
}

// apply sets the checked lifetimes in cfg.
func (l *lifetimeFlags) apply(cfg *localauth.Config) {
	cfg.SessionLifetime = *l.session
	cfg.RememberLifetime = *l.remember
	cfg.IdleTimeout = *l.idle
	if *l.idle == 0 {
		cfg.IdleTimeout = -1 // off
	}
}
