package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/localauth/localauth"
)

// The security activity endpoints: the signed-in user's own events
// (activity, newest first, paged with ?before=), and the sign-in alert
// preference (alerts). Nobody reads another user's activity here; an
// operator does with `localauth activity`.

func (a *Auth) activityRoutes(routes map[string]apiRoute) {
	routes["activity"] = apiRoute{http.MethodGet, a.apiActivity}
	routes["alerts"] = apiRoute{http.MethodGet, a.apiAlerts}
	routes["alerts/sign-in"] = apiRoute{http.MethodPost, a.apiSetSignInAlerts}
}

// activityJSON is one event as the API shows it. FirstAt and Count are
// there for the events that stand for several (failed sign-ins, refusals
// of a locked account).
type activityJSON struct {
	ID        int64     `json:"id"`
	Type      string    `json:"type"`
	At        time.Time `json:"at"`
	FirstAt   time.Time `json:"first_at,omitzero"`
	Count     int       `json:"count,omitempty"`
	IP        string    `json:"ip"`
	Device    string    `json:"device"`
	SessionID string    `json:"session_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// ActivityJSON is how the API and the CLI's --json show an event.
func ActivityJSON(e localauth.ActivityEvent) any {
	j := activityJSON{ID: e.ID, Type: e.Type, At: e.At, IP: e.IP, Device: e.Device, SessionID: e.SessionID, Detail: e.Detail}
	if e.Type == localauth.ActivityLoginFailed || e.Type == localauth.ActivityAccountLocked {
		j.FirstAt, j.Count = e.FirstAt, e.Count
	}
	return j
}

// apiActivity lists the caller's events, newest first: ?before= an id
// from the previous page (its next_before), ?limit= 1 to 100 (default
// 50). 400 for either not a positive whole number.
func (a *Auth) apiActivity(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	before, ok := positiveParam(q.Get("before"), 0)
	limit, ok2 := positiveParam(q.Get("limit"), 50)
	if !ok || !ok2 || limit > localauth.MaxActivityPage {
		writeError(w, http.StatusBadRequest, "bad_request", "before and limit must be positive whole numbers, limit at most 100.", 0)
		return
	}
	evs, err := a.svc.Activity(a.Context(r), a.Token(r), before, int(limit))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]any, len(evs))
	for i, e := range evs {
		out[i] = ActivityJSON(e)
	}
	body := map[string]any{"events": out}
	if len(evs) == int(limit) {
		body["next_before"] = evs[len(evs)-1].ID
	}
	writeJSON(w, http.StatusOK, body)
}

// positiveParam parses a query parameter that must be a positive integer
// when present; def when absent.
func positiveParam(s string, def int64) (int64, bool) {
	if s == "" {
		return def, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// apiAlerts tells which alerts the caller receives: {"sign_in": bool}.
// Alerts of changes to the account are always sent and not listed.
func (a *Auth) apiAlerts(w http.ResponseWriter, r *http.Request) {
	on, err := a.svc.SignInAlerts(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"sign_in": on})
}

// apiSetSignInAlerts turns the caller's sign-in alerts on or off:
// {"enabled": bool}, answered as GET alerts.
func (a *Auth) apiSetSignInAlerts(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	if in.Enabled == nil {
		writeError(w, http.StatusBadRequest, "bad_request", "Say enabled: true or false.", 0)
		return
	}
	if err := a.svc.SetSignInAlerts(a.Context(r), a.Token(r), *in.Enabled); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"sign_in": *in.Enabled})
}
