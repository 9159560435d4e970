package liveauth_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/liveauth"
	"github.com/localauth/localauth/web"
)

// postTo returns the reply's one post action to path.
func (r reply) postTo(tb testing.TB, path string) liveAction {
	tb.Helper()
	posts := r.actions("post")
	if len(posts) != 1 || posts[0].To != path {
		tb.Fatalf("posts %+v, want one to %s", posts, path)
	}
	var body struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(posts[0].Value), &body); err != nil || body.Code == "" {
		tb.Fatalf("post body %q holds no code", posts[0].Value)
	}
	return posts[0]
}

// In cookie mode a login hands the page a one-time code, never the token;
// the code buys the session cookie from the browser it was issued to only,
// and the cookie then signs in the browser's new tabs.
func TestCookieModeLoginHandsACodeForTheCookie(t *testing.T) {
	s := mustSite(t, siteConfig{web: webCookie})
	s.mustRegister(t, "alice")
	b := s.newBrowser(t)
	if b.cookie(web.HandoffCookieName) == "" {
		t.Fatal("the page gave the browser no handoff binding")
	}
	p := b.open(t, liveauth.LoginRoute)
	r := p.login("alice")
	post := r.postTo(t, "/api/auth/session")
	if len(r.actions("local_set")) != 0 || len(p.local) != 0 {
		t.Fatalf("the token reached the page's storage: %v", p.local)
	}
	if _, ok := p.state["auth.auth_token"]; ok {
		t.Fatal("the token is part of the page's state")
	}
	if r.redirect() != "/" || !p.flag("auth.is_authenticated") {
		t.Fatalf("the tab is not signed in and sent on; got:\n%s", p.log.String())
	}

	if st := b.post(t, post); st != http.StatusNoContent {
		t.Fatalf("redeeming the code: status %d, want 204", st)
	}
	if b.cookie(web.CookieName) == "" {
		t.Fatal("the browser holds no session cookie after redeeming the code")
	}
	q := b.open(t, liveauth.AccountRoute)
	if q.user().Username != "alice" {
		t.Fatalf("a new tab of the browser is not signed in by its cookie; got:\n%s", q.log.String())
	}

	// A code sent to another browser buys nothing there.
	r = b.open(t, liveauth.LoginRoute).login("alice")
	stolen := r.postTo(t, "/api/auth/session")
	thief := s.newBrowser(t)
	if st := thief.post(t, stolen); st == http.StatusNoContent {
		t.Fatal("another browser redeemed the code")
	}
	if thief.cookie(web.CookieName) != "" {
		t.Fatal("another browser got a session cookie")
	}
}

// A code is good once: sent again, it is refused, and the refusal leaves
// alone the session cookie the browser already holds, whose session is
// still live.
func TestCookieModeRefusedCodeKeepsTheSessionCookie(t *testing.T) {
	s := mustSite(t, siteConfig{web: webCookie})
	s.mustRegister(t, "alice")
	b := s.newBrowser(t)
	post := b.open(t, liveauth.LoginRoute).login("alice").postTo(t, "/api/auth/session")
	if st := b.post(t, post); st != http.StatusNoContent {
		t.Fatalf("redeeming the code: status %d, want 204", st)
	}
	cookie := b.cookie(web.CookieName)
	if st := b.post(t, post); st != http.StatusUnauthorized {
		t.Fatalf("the code sent again: status %d, want 401", st)
	}
	if _, err := s.svc.Authenticate(clientCtx, localauth.Token(cookie)); err != nil {
		t.Fatalf("the session ended: %v", err)
	}
	if got := b.cookie(web.CookieName); got != cookie {
		t.Fatalf("the refused code changed the browser's live session cookie from %.8s… to %q", cookie, got)
	}
	if q := b.open(t, liveauth.AccountRoute); q.user().Username != "alice" {
		t.Fatal("the browser is signed out although its session is live")
	}
}

// In cookie mode logging out ends the session and has the page post to
// the logout endpoint, which clears the cookie; so does deleting the
// account.
func TestCookieModeSignOutClearsTheCookie(t *testing.T) {
	for _, c := range []struct {
		name  string
		leave func(p *page) reply
	}{
		{"logout", func(p *page) reply { return p.event("auth.do_logout", nil) }},
		{"account deleted", func(p *page) reply {
			return p.event("account.delete", map[string]string{"confirm": "yes"})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustSite(t, siteConfig{web: webCookie})
			s.mustRegister(t, "alice")
			b := s.newBrowser(t)
			b.post(t, b.open(t, liveauth.LoginRoute).login("alice").postTo(t, "/api/auth/session"))
			p := b.open(t, liveauth.AccountRoute)
			if p.user().Username != "alice" {
				t.Fatal("the cookie does not sign the tab in")
			}
			r := c.leave(p)
			posts := r.actions("post")
			if len(posts) != 1 || posts[0].To != "/api/auth/logout" {
				t.Fatalf("posts %+v, want one to the logout endpoint", posts)
			}
			p.signedOut()
			if st := b.post(t, posts[0]); st != http.StatusNoContent {
				t.Fatalf("logout endpoint: status %d", st)
			}
			if b.cookie(web.CookieName) != "" {
				t.Fatal("the session cookie outlived the sign-out")
			}
			if q := b.open(t, liveauth.AccountRoute); q.flag("auth.is_authenticated") {
				t.Fatal("a new tab of the browser is still signed in")
			}
		})
	}
}

// A tab in cookie mode without a handoff binding (a browser that keeps no
// cookies) is signed in over its socket only: no code is issued that no
// cookie could ever be bound to.
func TestCookieModeWithoutBindingStaysOnTheSocket(t *testing.T) {
	s := mustSite(t, siteConfig{web: webCookie, unbound: true})
	s.mustRegister(t, "alice")
	p := s.newBrowser(t).open(t, liveauth.LoginRoute+"?next="+privateRoute)
	r := p.login("alice")
	if len(r.actions("post")) != 0 {
		t.Fatalf("a code was posted with no binding to hold it: %+v", r.actions("post"))
	}
	p.follow(r)
	if p.str("private.secret") != "secret of alice" {
		t.Fatalf("the tab is not signed in; got:\n%s", p.log.String())
	}
}

// openWith opens a tab of the browser whose LocalStorage holds local.
func (b *browser) openWith(tb testing.TB, route string, local map[string]string) *page {
	tb.Helper()
	return b.s.dial(tb, b.client, route, local)
}

// In LocalStorage mode a login keeps the token in LocalStorage and has the
// page trade a one-time code for the device cookie, so that the browser
// becomes a trusted device of the account; the account page lists it as
// this device and forgets it.
func TestLocalStorageLoginMakesTheBrowserATrustedDevice(t *testing.T) {
	s := mustSite(t, siteConfig{web: webLocalStorage})
	s.mustRegister(t, "alice")
	b := s.newBrowser(t)
	p := b.open(t, liveauth.LoginRoute)
	r := p.login("alice")
	if p.token() == "" {
		t.Fatal("the token is not in LocalStorage")
	}
	post := r.postTo(t, "/api/auth/device")
	if st := b.post(t, post); st != http.StatusNoContent {
		t.Fatalf("redeeming the device code: status %d, want 204", st)
	}
	if b.cookie(web.DeviceCookieName) == "" {
		t.Fatal("the browser holds no device cookie")
	}
	if b.cookie(web.CookieName) != "" {
		t.Fatal("the device endpoint set a session cookie in LocalStorage mode")
	}

	q := b.openWith(t, liveauth.AccountRoute, p.local)
	var devices []liveauth.DeviceRow
	q.decode("account.devices", &devices)
	if len(devices) != 1 || !devices[0].Current || devices[0].ID == "" || devices[0].Since == "" {
		t.Fatalf("devices %+v, want this one device", devices)
	}
	q.event("account.forget_device", map[string]string{"id": "no-such-device"})
	if got, want := q.str("account.error_message"), publicMessage(localauth.ErrDeviceNotFound); got != want {
		t.Fatalf("an unknown device got %q, want %q", got, want)
	}
	q.event("account.forget_device", map[string]string{"id": devices[0].ID})
	if got := q.str("account.message"); got != liveauth.MsgDeviceForgotten {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgDeviceForgotten, q.str("account.error_message"))
	}
	q.decode("account.devices", &devices)
	if len(devices) != 0 {
		t.Fatalf("devices %+v after forgetting the only one", devices)
	}
	list, err := s.svc.ListDevices(clientCtx, q.token())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("the store still trusts %d devices", len(list))
	}
}

// Where no HTTP answer could ever give the browser a device cookie (no
// handoff binding), a login trusts no device and posts nothing.
func TestLoginWithoutBindingTrustsNoDevice(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.open(t, liveauth.LoginRoute, nil)
	r := p.login("alice")
	if len(r.actions("post")) != 0 {
		t.Fatalf("posts %+v, want none", r.actions("post"))
	}
	list, err := s.svc.ListDevices(clientCtx, p.token())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("%d devices trusted by a login that could not deliver a device cookie", len(list))
	}
}
