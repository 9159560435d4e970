package liveauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// The account page's security activity: the user's recent events, "This
// wasn't me" beside each sign-in, the failed attempts before this sign-in,
// and the sign-in alert preference.

// Messages of the security activity.
const (
	// MsgWasntMe follows "This wasn't me": the other sessions are gone,
	// and the password is what let the stranger in.
	MsgWasntMe = "Every other session has ended. Now change your password below, so that whoever signed in cannot again."
	// MsgAlertsOn and MsgAlertsOff confirm the sign-in alert choice.
	MsgAlertsOn  = "You will be told of each sign-in from a new device"
	MsgAlertsOff = "You will no longer be told of sign-ins from new devices"
)

// activityOnPage is how many of the newest events the account page lists.
const activityOnPage = 20

// ActivityRow is one event as the account page lists it.
type ActivityRow struct {
	What   string `json:"what"`
	Device string `json:"device"`
	IP     string `json:"ip"`
	When   string `json:"when"`
	// Login marks a sign-in of another session than the page's, which
	// gets a "This wasn't me".
	Login bool `json:"login"`
	// Session is the public id of the session the event concerns (the
	// id the list of sessions ends), for "This wasn't me".
	Session string `json:"session"`
}

// AlertSettings is what the account page shows of the user's alerts.
type AlertSettings struct {
	SignIn bool `json:"sign_in"`
}

func (a *Auth) mountActivity(app *live.App) {
	deps := []string{"auth.authenticated_user", "live.route"}
	app.Computed("account.activity", deps, a.activityRows)
	app.Computed("account.failed_notice", deps, a.failedNotice)
	app.Computed("account.alerts", deps, a.alertSettings)
	app.Handle("account.wasnt_me", a.wasntMe)
	app.Handle("account.sign_in_alerts", a.setSignInAlerts)
}

// activityWords names each type of event for people.
var activityWords = map[string]string{
	localauth.ActivityLogin:           "Signed in",
	localauth.ActivityLoginFailed:     "Failed sign-in attempts",
	localauth.ActivityLogout:          "Signed out",
	localauth.ActivitySessionRevoked:  "Session ended",
	localauth.ActivityPasswordChanged: "Password changed",
	localauth.ActivityPasswordReset:   "Password reset",
	localauth.ActivityEmailChanged:    "Email address changed",
	localauth.ActivityFactorAdded:     "Second factor added",
	localauth.ActivityFactorRemoved:   "Second factor removed",
	localauth.ActivityDeviceTrusted:   "New device remembered",
	localauth.ActivityDeviceForgotten: "Device forgotten",
	localauth.ActivityAccountLocked:   "Sign-ins refused: too many failed attempts",
}

const timeFormat = "2006-01-02 15:04 UTC"

func (a *Auth) activityRows(ctx context.Context, t *live.Tab) any {
	rows := []ActivityRow{}
	if !onAccountPage(t) {
		return rows
	}
	evs, err := a.svc.Activity(ctx, localauth.Token(*a.token(t)), 0, activityOnPage)
	if err != nil {
		if !errors.Is(err, localauth.ErrInvalidSession) && !errors.Is(err, errors.ErrUnsupported) {
			a.log.Warn("liveauth: listing security activity failed", "err", err)
		}
		return rows
	}
	// The sign-in of this very session gets no "This wasn't me".
	current := ""
	if list, err := a.svc.ListSessions(ctx, localauth.Token(*a.token(t))); err == nil {
		for _, s := range list {
			if s.Current {
				current = s.ID
			}
		}
	}
	for _, e := range evs {
		what := activityWords[e.Type]
		if what == "" {
			what = e.Type
		}
		if e.Count > 1 {
			what += " (" + strconv.Itoa(e.Count) + ", from " + e.FirstAt.UTC().Format(timeFormat) + ")"
		}
		switch {
		case e.Type == localauth.ActivityLogin && e.Detail != "":
			what += " with " + e.Detail
		case e.Detail != "":
			what += ": " + e.Detail
		}
		rows = append(rows, ActivityRow{
			What: what, Device: dashIfEmpty(e.Device), IP: dashIfEmpty(e.IP),
			When:    e.At.UTC().Format(timeFormat),
			Login:   e.Type == localauth.ActivityLogin && e.SessionID != current,
			Session: e.SessionID,
		})
	}
	return rows
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// failedNotice says how many sign-ins failed between the user's previous
// sign-in and this tab's, or "" when none did.
func (a *Auth) failedNotice(ctx context.Context, t *live.Tab) any {
	if !onAccountPage(t) {
		return ""
	}
	n, _, last, err := a.svc.FailedAttempts(ctx, localauth.Token(*a.token(t)))
	if err != nil || n == 0 {
		return ""
	}
	attempts := "attempts"
	if n == 1 {
		attempts = "attempt"
	}
	return fmt.Sprintf("%d failed %s since your last sign-in, the last at %s. If that was not you, change your password.", n, attempts, last.UTC().Format(timeFormat))
}

func (a *Auth) alertSettings(ctx context.Context, t *live.Tab) any {
	if !onAccountPage(t) {
		return AlertSettings{}
	}
	on, err := a.svc.SignInAlerts(ctx, localauth.Token(*a.token(t)))
	if err != nil {
		return AlertSettings{SignIn: true}
	}
	return AlertSettings{SignIn: on}
}

// wasntMe is account.wasnt_me: a sign-in the user does not recognise. Every
// other session ends (after a password confirmation if the login is not
// recent), and the page turns to the password change, so that whoever got
// in is out and cannot come back with the same password.
func (a *Auth) wasntMe(ctx context.Context, t *live.Tab, _ live.Event) error {
	err := a.accountAction(ctx, t, "wasnt_me", func(ctx context.Context, tok localauth.Token) error {
		if _, err := a.svc.EndOtherSessions(ctx, tok); err != nil {
			return err
		}
		live.Get[AccountState](t, "account").Message = MsgWasntMe
		t.Focus("current_password")
		return nil
	})
	t.Invalidate("account.activity")
	return err
}

// setSignInAlerts is account.sign_in_alerts: field enabled "yes" turns the
// sign-in alerts on, anything else off.
func (a *Auth) setSignInAlerts(ctx context.Context, t *live.Tab, ev live.Event) error {
	on := ev.Fields["enabled"] == "yes"
	err := a.accountAction(ctx, t, "", func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.SetSignInAlerts(ctx, tok, on); err != nil {
			return err
		}
		as := live.Get[AccountState](t, "account")
		if on {
			as.Message = MsgAlertsOn
			t.Focus("alerts-off")
		} else {
			as.Message = MsgAlertsOff
			t.Focus("alerts-on")
		}
		return nil
	})
	t.Invalidate("account.alerts")
	return err
}
