package liveauth

import (
	"context"
	"errors"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/returnto"
	"github.com/localauth/localauth/live"
)

// A tab whose token the store could not check (ErrUnavailable: the
// database is down) is shown as anonymous, failing closed, but keeps its
// token and waits here. It checks again before its next event, and a loop
// tries the store every Options.RecheckInterval; once the store answers,
// every waiting tab recomputes its user. A tab whose session is still valid
// becomes authenticated again and, if the outage sent it to the login page,
// returns to the page it was on, without a reload.

// waiter is a tab waiting for the store: its token, and the page it showed
// when the store failed.
type waiter struct {
	token localauth.Token
	page  string
}

// wait files t as waiting for the store with tok.
func (a *Auth) wait(t *live.Tab, tok localauth.Token) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.waiting[t]; ok && w.token == tok {
		return
	}
	a.waiting[t] = waiter{token: tok, page: t.Route() + t.RawQuery()}
	if !a.retrying {
		a.retrying = true
		go a.retryLoop()
	}
}

// waiterOf returns t's entry and whether t is waiting.
func (a *Auth) waiterOf(t *live.Tab) (waiter, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.waiting[t]
	return w, ok
}

// unwait removes t from the waiting tabs.
func (a *Auth) unwait(t *live.Tab) {
	a.mu.Lock()
	delete(a.waiting, t)
	a.mu.Unlock()
}

// recheck runs on t before each of its events: a waiting tab checks its
// session again first, so the event sees the user if the store is back.
func (a *Auth) recheck(t *live.Tab) {
	w, ok := a.waiterOf(t)
	if !ok {
		return
	}
	t.Invalidate("auth.authenticated_user")
	t.Flush()
	a.returnToPage(t, w, true)
}

// returnToPage sends a tab that is authenticated again back to the page it
// showed when the store failed, if the outage moved it to the login page.
// Before an event (beforeEvent), the page stays the login state's
// destination too: the event's own handler may redirect as well (the login
// page's mount sends an authenticated tab to that destination), and the
// browser follows the redirects in turn, so both must lead to the page.
func (a *Auth) returnToPage(t *live.Tab, w waiter, beforeEvent bool) {
	if _, authed := User(t); !authed {
		return
	}
	if t.Route() == LoginRoute && w.page != "" && w.page != LoginRoute && !isLoginPage(w.page) {
		to := returnto.Safe(w.page)
		ls := live.Get[LoginState](t, "login")
		ls.RedirectTo = ""
		if beforeEvent {
			ls.RedirectTo = to
		}
		t.Redirect(to)
	}
}

func isLoginPage(page string) bool {
	return len(page) > len(LoginRoute) && page[:len(LoginRoute)] == LoginRoute && page[len(LoginRoute)] == '?'
}

// retryLoop tries the store every RecheckInterval while tabs wait; once it
// answers for one waiting token (valid or not), every waiting tab checks
// its own. It ends when no tab waits.
func (a *Auth) retryLoop() {
	timer := time.NewTimer(a.opts.RecheckInterval)
	defer timer.Stop()
	for range timer.C {
		a.mu.Lock()
		var probe localauth.Token
		tabs := make([]*live.Tab, 0, len(a.waiting))
		for t, w := range a.waiting {
			probe = w.token
			tabs = append(tabs, t)
		}
		if len(tabs) == 0 {
			a.retrying = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := a.svc.Authenticate(ctx, probe)
		cancel()
		if !errors.Is(err, localauth.ErrUnavailable) {
			for _, t := range tabs {
				t.Push(func(t *live.Tab) {
					if w, ok := a.waiterOf(t); ok {
						t.Invalidate("auth.authenticated_user")
						t.Flush()
						a.returnToPage(t, w, false)
					}
				})
			}
		}
		timer.Reset(a.opts.RecheckInterval)
	}
}
