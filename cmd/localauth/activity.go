package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/localauth/localauth"
)

// activityCmd is "activity [--user NAME] [--json]": the security activity
// users see on their account page, for an operator looking into an account
// (a takeover reported, a lock). It shows what the users see, no more.
type activityCmd struct{ m *Main }

// activityRow is one event as the command prints it.
type activityRow struct {
	Username  string    `json:"username"`
	Type      string    `json:"type"`
	At        time.Time `json:"at"`
	FirstAt   time.Time `json:"first_at,omitzero"`
	Count     int       `json:"count,omitempty"`
	IP        string    `json:"ip"`
	Device    string    `json:"device"`
	SessionID string    `json:"session_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

func (c *activityCmd) Run(ctx context.Context, args []string) error {
	l := c.m.listFlags("activity", "show only the activity of the user with this `name` (or give the name as an argument)")
	limit := l.fs.Int("limit", 50, "show at most this many events, newest first (1 to 100)")
	if err := l.parse(args); err != nil {
		return err
	}
	if *limit < 1 || *limit > localauth.MaxActivityPage {
		return usagef("activity: --limit must be between 1 and %d", localauth.MaxActivityPage)
	}
	e, u, err := l.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	users := []localauth.User{u}
	if u.ID == 0 {
		if users, err = e.svc.Users(ctx); err != nil {
			return explain(err, "")
		}
	}
	rows := []activityRow{}
	for _, u := range users {
		evs, err := e.svc.UserActivity(ctx, u.ID, 0, *limit)
		if err != nil {
			return explain(err, "")
		}
		for _, ev := range evs {
			r := activityRow{Username: u.Username, Type: ev.Type, At: ev.At, IP: ev.IP, Device: ev.Device, SessionID: ev.SessionID, Detail: ev.Detail}
			if ev.Type == localauth.ActivityLoginFailed || ev.Type == localauth.ActivityAccountLocked {
				r.FirstAt, r.Count = ev.FirstAt, ev.Count
			}
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b activityRow) int { return b.At.Compare(a.At) })
	rows = rows[:min(len(rows), *limit)]
	if *l.asJSON {
		return c.m.printJSON(rows)
	}
	w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "AT\tUSER\tEVENT\tCOUNT\tDEVICE\tIP\tSESSION\tDETAIL")
	for _, r := range rows {
		count := ""
		if r.Count > 0 {
			count = strconv.Itoa(r.Count)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.Format(time.RFC3339), r.Username, r.Type, dash(count),
			dash(r.Device), dash(r.IP), dash(r.SessionID), dash(r.Detail))
	}
	return w.Flush()
}
