package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
)

func activityStore(t *testing.T, s localauth.Store) localauth.ActivityStore {
	t.Helper()
	as, ok := s.(localauth.ActivityStore)
	if !ok {
		t.Skip("the store keeps no security activity")
	}
	return as
}

func event(userID int64, typ string, at time.Time) localauth.ActivityEvent {
	return localauth.ActivityEvent{
		UserID: userID, Type: typ, At: at, FirstAt: at, Count: 1,
		IP: "192.0.2.7", Device: "Firefox on Linux", SessionID: "public-id", Detail: "password",
	}
}

// testActivity checks that each user's events come back as written, newest
// first, paged, to that user alone, and go with the user or with age.
func testActivity(t *testing.T, h *harness) {
	s := h.newStore(t)
	as := activityStore(t, s)
	u := h.user(t, s, "ada")
	other := h.user(t, s, "olga")
	for i, typ := range []string{localauth.ActivityLogin, localauth.ActivityPasswordChanged, localauth.ActivityLogout} {
		noErr(t, "AddActivity", as.AddActivity(ctx, event(u.ID, typ, t0.Add(time.Duration(i)*time.Minute))))
	}
	noErr(t, "AddActivity", as.AddActivity(ctx, event(other.ID, localauth.ActivityLogin, t0)))
	if err := as.AddActivity(ctx, event(12345, localauth.ActivityLogin, t0)); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("AddActivity for a missing user: got %v, want ErrUserNotFound", err)
	}

	evs, err := as.Activity(ctx, u.ID, 0, 10)
	noErr(t, "Activity", err)
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3", len(evs))
	}
	want := event(u.ID, localauth.ActivityLogout, t0.Add(2*time.Minute))
	want.ID = evs[0].ID
	if evs[0] != want {
		t.Fatalf("newest event: got %+v, want %+v", evs[0], want)
	}
	if evs[1].Type != localauth.ActivityPasswordChanged || evs[2].Type != localauth.ActivityLogin || !(evs[0].ID > evs[1].ID && evs[1].ID > evs[2].ID) {
		t.Fatalf("events not newest first: %+v", evs)
	}
	page, err := as.Activity(ctx, u.ID, evs[1].ID, 10)
	noErr(t, "Activity before", err)
	if len(page) != 1 || page[0].ID != evs[2].ID {
		t.Fatalf("the page before %d: got %+v, want only event %d", evs[1].ID, page, evs[2].ID)
	}
	if first, _ := as.Activity(ctx, u.ID, 0, 1); len(first) != 1 || first[0].ID != evs[0].ID {
		t.Fatalf("limit 1: got %+v, want the newest alone", first)
	}
	theirs, err := as.Activity(ctx, other.ID, 0, 10)
	noErr(t, "Activity of the other user", err)
	if len(theirs) != 1 || theirs[0].UserID != other.ID {
		t.Fatalf("the other user's events: got %+v, want their one login", theirs)
	}

	// Age: events before the cut go, for every user.
	n, err := as.DeleteActivityBefore(ctx, t0.Add(90*time.Second))
	noErr(t, "DeleteActivityBefore", err)
	if n != 3 {
		t.Fatalf("DeleteActivityBefore deleted %d, want 3 (two of ada's, one of olga's)", n)
	}
	if left, _ := as.Activity(ctx, u.ID, 0, 10); len(left) != 1 || left[0].Type != localauth.ActivityLogout {
		t.Fatalf("after the prune: got %+v, want the logout alone", left)
	}
	noErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID))
	if left, _ := as.Activity(ctx, u.ID, 0, 10); len(left) != 0 {
		t.Fatalf("a deleted user's events survived: %+v", left)
	}
}

// testFoldActivity checks that failures since the last login make one event
// that counts them, that a login starts a new one, and that concurrent
// folds lose no occurrence.
func testFoldActivity(t *testing.T, h *harness) {
	s := h.newStore(t)
	as := activityStore(t, s)
	u := h.user(t, s, "fay")
	fail := func(at time.Time) {
		t.Helper()
		e := event(u.ID, localauth.ActivityLoginFailed, at)
		e.SessionID, e.Detail = "", "wrong password"
		noErr(t, "FoldActivity", as.FoldActivity(ctx, e, localauth.ActivityLogin))
	}
	fail(t0)
	noErr(t, "AddActivity", as.AddActivity(ctx, event(u.ID, localauth.ActivityLogout, t0.Add(time.Second))))
	fail(t0.Add(time.Minute))
	fail(t0.Add(2 * time.Minute))
	evs, err := as.Activity(ctx, u.ID, 0, 10)
	noErr(t, "Activity", err)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want the logout and one aggregate: %+v", len(evs), evs)
	}
	agg := evs[0]
	if agg.Type != localauth.ActivityLoginFailed || agg.Count != 3 || !agg.FirstAt.Equal(t0) || !agg.At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("aggregate: got %+v, want 3 failures from %v to %v, newest", agg, t0, t0.Add(2*time.Minute))
	}

	noErr(t, "AddActivity", as.AddActivity(ctx, event(u.ID, localauth.ActivityLogin, t0.Add(3*time.Minute))))
	fail(t0.Add(4 * time.Minute))
	evs, _ = as.Activity(ctx, u.ID, 0, 10)
	if len(evs) != 4 || evs[0].Type != localauth.ActivityLoginFailed || evs[0].Count != 1 || evs[2].Count != 3 {
		t.Fatalf("after a login a failure must start a new aggregate: %+v", evs)
	}

	// Concurrent folds: one event, every occurrence counted.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			e := event(u.ID, localauth.ActivityAccountLocked, t0.Add(time.Duration(5*60+i)*time.Second))
			if err := as.FoldActivity(ctx, e, localauth.ActivityLogin); err != nil {
				errs <- fmt.Errorf("fold %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	evs, _ = as.Activity(ctx, u.ID, 0, 10)
	locked := 0
	for _, e := range evs {
		if e.Type == localauth.ActivityAccountLocked {
			locked++
			if e.Count != 16 {
				t.Fatalf("concurrent folds: count %d, want 16", e.Count)
			}
		}
	}
	if locked != 1 {
		t.Fatalf("concurrent folds made %d events, want 1", locked)
	}
	if err := as.FoldActivity(ctx, event(12345, localauth.ActivityLoginFailed, t0), localauth.ActivityLogin); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("FoldActivity for a missing user: got %v, want ErrUserNotFound", err)
	}
}

// testSignInAlerts checks the alert preference: on until turned off, per
// user.
func testSignInAlerts(t *testing.T, h *harness) {
	s := h.newStore(t)
	as := activityStore(t, s)
	u := h.user(t, s, "gus")
	other := h.user(t, s, "gwen")
	on, err := as.SignInAlerts(ctx, u.ID)
	noErr(t, "SignInAlerts", err)
	if !on {
		t.Fatal("sign-in alerts are off for a new user, want on")
	}
	noErr(t, "SetSignInAlerts", as.SetSignInAlerts(ctx, u.ID, false))
	if on, _ := as.SignInAlerts(ctx, u.ID); on {
		t.Fatal("sign-in alerts still on after turning them off")
	}
	if on, _ := as.SignInAlerts(ctx, other.ID); !on {
		t.Fatal("turning one user's alerts off turned another's off")
	}
	noErr(t, "SetSignInAlerts", as.SetSignInAlerts(ctx, u.ID, true))
	if on, _ := as.SignInAlerts(ctx, u.ID); !on {
		t.Fatal("sign-in alerts still off after turning them on")
	}
	if _, err := as.SignInAlerts(ctx, 12345); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("SignInAlerts of a missing user: got %v, want ErrUserNotFound", err)
	}
	if err := as.SetSignInAlerts(ctx, 12345, false); !errors.Is(err, localauth.ErrUserNotFound) {
		t.Fatalf("SetSignInAlerts of a missing user: got %v, want ErrUserNotFound", err)
	}
}
