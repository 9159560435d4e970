package localauth

import (
	"context"
	"fmt"
	"time"
)

// Alerts by mail to the verified address, beside the change notices of
// notices.go: a sign-in from a device the account had not trusted before,
// and an account locked by failed attempts. Each is sent once for what it
// tells of (one per new device, one per lock), so that an attacker who
// keeps failing cannot turn them into a flood of mail.

// alertNewDevice mails the owner of a sign-in from a device the account
// did not trust before, unless the owner turned sign-in alerts off or this
// is the account's first sign-in (the device the user just registered
// from is no news to the user).
func (s *Service) alertNewDevice(ctx context.Context, userID int64, sessionID string) {
	as := s.activityStore()
	if s.mail == nil || as == nil {
		return
	}
	// Whether there is a verified address to tell is asked first: it is
	// one read, and most accounts have none.
	to, ok := s.verifiedAddress(ctx, userID)
	if !ok {
		return
	}
	if on, err := as.SignInAlerts(ctx, userID); err != nil || !on {
		return
	}
	earlier, err := as.Activity(ctx, userID, 0, MaxActivityPage)
	if err != nil {
		return
	}
	first := true
	for _, e := range earlier {
		if e.Type == ActivityLogin && e.SessionID != sessionID {
			first = false
			break
		}
	}
	if first {
		return
	}
	device := DeviceLabel(userAgentFrom(ctx))
	ip, at := ClientIP(ctx), s.now().UTC()
	s.notifyAt(ctx, userID, to, func(to string, u User) Mail {
		return s.mail.text.newSignIn(to, u, device, ip, at, s.mail.public+"/account")
	})
}

// alertLocked mails the owner when failed attempts lock the account: once
// per lock, that is when no lock was recorded since the last sign-in. It
// runs before the refusal is recorded.
func (s *Service) alertLocked(ctx context.Context, userID int64) {
	as := s.activityStore()
	if s.mail == nil || as == nil {
		return
	}
	recent, err := as.Activity(ctx, userID, 0, MaxActivityPage)
	if err != nil {
		return
	}
	for _, e := range recent { // newest first
		if e.Type == ActivityAccountLocked {
			return // told already
		}
		if e.Type == ActivityLogin {
			break // the last sign-in: a lock before it is over
		}
	}
	s.notify(ctx, userID, func(to string, u User) Mail {
		return s.mail.text.accountLocked(to, u, s.mail.public+"/forgot-password")
	})
}

func (t mailText) newSignIn(to string, u User, device, ip string, at time.Time, activity string) Mail {
	if device == "" {
		device = "an unknown browser"
	}
	if ip == "" {
		ip = "an unknown address"
	}
	return Mail{Kind: "new_sign_in", To: to,
		Subject: fmt.Sprintf("New sign-in to your account on %s", t.site),
		Text: fmt.Sprintf(`Hello %s,

the account %q on %s was just signed in to from a device it had not
seen before:

  Device:  %s
  Address: %s
  Time:    %s

If this was you, there is nothing to do. If it was not, open your
account's recent security activity, press "This wasn't me" and change
your password:

%s

You can turn these alerts off on the account page.
`, u.DisplayName, u.Username, t.site, device, ip, at.Format("2 January 2006 15:04 MST"), activity)}
}

func (t mailText) accountLocked(to string, u User, forgot string) Mail {
	return Mail{Kind: "account_locked", To: to,
		Subject: fmt.Sprintf("Your account on %s was locked after failed sign-ins", t.site),
		Text: fmt.Sprintf(`Hello %s,

too many wrong passwords or codes were tried for the account %q on %s,
so it refuses new sign-ins for a while. Browsers you signed in with
before still get in with your password and second factor.

If these attempts were not yours, someone may be guessing your password:
choose a new, unrelated one once you are signed in, or reset it here:

%s
`, u.DisplayName, u.Username, t.site, forgot)}
}
