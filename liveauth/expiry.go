package liveauth

import (
	"container/heap"
	"context"
	"errors"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// Expiry is a revocation. A session ends at its absolute lifetime or its
// idle timeout without anyone telling the tabs that show it: no logout, no
// store write, nothing for OnRevoke to hear. So each tab's check of its
// session (CheckSession) also says until when the session is live, and the
// Auth keeps that time per session. A loop looks every
// Options.ExpiryCheckInterval at the Service's clock; a session whose time
// came has its tabs check again, and a session that ended turns them
// anonymous exactly as a logout does: the private values clear, the token
// leaves the browser, a RequireLogin page goes to /login. Each instance
// runs its own loop for its own tabs, by the same clock and the same
// session rows, so every instance signs its tabs out.
//
// The check a tab makes of itself is not use of the session, and neither
// is its keepalive ping: an open tab nobody touches idles out. An event the
// page sends, or a navigation, is use (see activity).

// expiry is one session's time to check again, in the Auth's heap.
type expiry struct {
	at   time.Time
	hash localauth.TokenHash
}

// expiryHeap orders times to check, soonest first.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// checkTab checks the tab's token and files the tab under its session for
// revocations and expiry. A revocation that lands between the check and the
// filing would find no tab to tell; so the revocation count is read before
// the check, and when it moved by the time the tab is filed the check runs
// again (the revocation emptied the Service's cache first, so the second
// check sees it).
//
// Under a storm of revocations the check could chase the count for ever: after
// a few tries the tab is filed as it is and checks once more after this
// computation, from a push.
func (a *Auth) checkTab(ctx context.Context, t *live.Tab, token *string) PublicUser {
	for try := 0; ; try++ {
		a.mu.Lock()
		gen := a.revocations
		a.mu.Unlock()
		u, id, until := a.checkOnce(ctx, t, token)
		if a.file(t, id, until, gen) || ctx.Err() != nil {
			return u
		}
		if try == 3 {
			t.Push(func(t *live.Tab) { t.Invalidate("auth.authenticated_user") })
			return u
		}
	}
}

// checkOnce checks the tab's token once, without counting it as use.
func (a *Auth) checkOnce(ctx context.Context, t *live.Tab, token *string) (PublicUser, identity, time.Time) {
	if *token == "" {
		a.unwait(t)
		return anonymous, identity{}, time.Time{}
	}
	tok := localauth.Token(*token)
	user, until, err := a.svc.CheckSession(ctx, tok)
	switch {
	case err == nil:
		a.unwait(t)
		return PublicUser{ID: user.ID, Username: user.Username, DisplayName: user.DisplayName},
			identity{hash: localauth.HashToken(tok), userID: user.ID}, until
	case errors.Is(err, localauth.ErrInvalidSession):
		// A token that names no session, or one that ended, is
		// forgotten, in the tab and in LocalStorage.
		*token = ""
		a.unwait(t)
	default:
		// The store failed: the tab is anonymous until it answers
		// again (fail closed), and keeps its token to check again
		// (see recover.go).
		a.log.Warn("liveauth: authenticating a tab failed", "err", err)
		a.wait(t, tok)
	}
	return anonymous, identity{}, time.Time{}
}

// scheduleLocked records that the session with hash h is live until until,
// and starts the loop that checks it then. The caller holds a.mu.
func (a *Auth) scheduleLocked(h localauth.TokenHash, until time.Time) {
	if until.IsZero() || a.until[h].Equal(until) {
		return
	}
	a.until[h] = until
	heap.Push(&a.expiries, expiry{at: until, hash: h})
	if !a.expiring {
		a.expiring = true
		go a.expiryLoop()
	}
}

// unscheduleLocked forgets the time of a session no tab shows any more. The
// caller holds a.mu.
func (a *Auth) unscheduleLocked(h localauth.TokenHash) {
	delete(a.until, h)
	// Entries of forgotten sessions stay in the heap until their time;
	// when they outnumber the live ones, the heap is rebuilt.
	if len(a.expiries) > 2*len(a.until)+64 {
		a.expiries = a.expiries[:0]
		for h, at := range a.until {
			a.expiries = append(a.expiries, expiry{at: at, hash: h})
		}
		heap.Init(&a.expiries)
	}
}

// expiryLoop has the tabs of every session whose time came check it again.
// It ends when no session is scheduled.
func (a *Auth) expiryLoop() {
	tick := time.NewTicker(a.opts.ExpiryCheckInterval)
	defer tick.Stop()
	for range tick.C {
		now := a.svc.Now()
		var tabs []*live.Tab
		a.mu.Lock()
		for len(a.expiries) > 0 && !a.expiries[0].at.After(now) {
			e := heap.Pop(&a.expiries).(expiry)
			if at, ok := a.until[e.hash]; !ok || !at.Equal(e.at) {
				continue // rescheduled or forgotten
			}
			delete(a.until, e.hash)
			for t := range a.byHash[e.hash] {
				tabs = append(tabs, t)
			}
		}
		if len(a.until) == 0 {
			a.expiries = a.expiries[:0]
			a.expiring = false
			a.mu.Unlock()
			a.recheckTabs(tabs)
			return
		}
		a.mu.Unlock()
		a.recheckTabs(tabs)
	}
}

// recheckTabs has each tab check its session again: one that ended turns
// the tab anonymous, one that was used meanwhile is scheduled anew.
func (a *Auth) recheckTabs(tabs []*live.Tab) {
	for _, t := range tabs {
		t.Push(func(t *live.Tab) { t.Invalidate("auth.authenticated_user") })
	}
}

// activity runs before each event and navigation of a tab: something the
// person did, so it counts as use of the tab's session (Authenticate), and
// a session that ended since the tab last looked turns the tab anonymous
// before the event runs.
func (a *Auth) activity(t *live.Tab) {
	v, _ := t.Load(tabKey)
	if _, ok := v.(identity); !ok {
		return
	}
	token := a.token(t)
	if *token == "" {
		return
	}
	_, err := a.svc.Authenticate(a.withIP(t.Context(), t), localauth.Token(*token))
	if errors.Is(err, localauth.ErrInvalidSession) {
		t.Invalidate("auth.authenticated_user")
		t.Flush()
	}
}
