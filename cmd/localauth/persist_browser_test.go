package main

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/localauth/localauth/internal/testkit/browser"
)

// Where a login is kept, in both token storages: by default it persists
// across the browser's tabs and restarts; "Public or shared computer" keeps
// it for the browser session, yet it reaches every open tab of the site.

// liveLogin logs alice in on the login page of a fresh tab, ticking
// "Public or shared computer" when shared, and waits until she is signed in.
func liveLogin(t *testing.T, b *Browser, srv *Server, shared bool) *Tab {
	t.Helper()
	tab := b.Tab()
	tab.Open(srv.URL + "/login")
	tab.Fill("username", "alice", "password", alicePW)
	if shared {
		tab.Click("#shared")
	}
	tab.Submit("password")
	tab.WaitPath("/")
	signedIn(tab)
	return tab
}

// signedOut waits until the page shows the anonymous state.
func signedOut(tab *Tab) {
	tab.TB.Helper()
	tab.WaitJS(`document.documentElement.classList.contains("live-hydrated") && document.getElementById("account-link").hidden`, "signed out")
}

// openProtected opens /protected in a new tab of b and says whether it was
// let in (the private data shown) or sent to /login.
func openProtected(t *testing.T, b *Browser, srv *Server) (*Tab, bool) {
	t.Helper()
	tab := b.Tab()
	tab.Open(srv.URL + "/protected")
	tab.WaitJS(`location.pathname === "/login" || document.getElementById("private-data") && document.getElementById("private-data").textContent.includes("private data for alice")`,
		"the private data or the login page")
	return tab, tab.Path() == "/protected"
}

// sessionCookie returns the browser's session cookie, if it has one.
func sessionCookie(t *testing.T, tab *Tab) *network.Cookie {
	t.Helper()
	var cookies []*network.Cookie
	tab.Run(chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == "localauth_session" {
			return c
		}
	}
	return nil
}

// storedTokens returns the lengths of the token in the tab's LocalStorage
// and sessionStorage.
func storedTokens(tab *Tab) (local, session int) {
	return Eval[int](tab, `(localStorage.getItem("_auth_token") || "").length`),
		Eval[int](tab, `(sessionStorage.getItem("_auth_token") || "").length`)
}

// A default login (the box unticked) is remembered: a new tab is signed in,
// and so is the browser restarted on the same profile.
func TestBrowserLoginPersists(t *testing.T) {
	inModes(t, func(t *testing.T, mode string, srv *Server) {
		api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`)
		profile := browser.NewProfile(t)
		b := browser.NewBrowserWithProfile(t, profile)
		tab := b.Tab()
		tab.Open(srv.URL + "/login")
		if Eval[bool](tab, `document.getElementById("shared").checked`) {
			t.Fatal(`"Public or shared computer" is ticked by default`)
		}
		tab.Accessible("the login page")
		tab.Close()
		tab = liveLogin(t, b, srv, false)
		local, session := storedTokens(tab)
		switch mode {
		case "localstorage":
			if local != 43 || session != 0 {
				t.Fatalf("token in LocalStorage %d chars, in sessionStorage %d; want it in LocalStorage only", local, session)
			}
		case "cookie":
			if local != 0 || session != 0 {
				t.Fatal("cookie mode left the token where scripts can read it")
			}
			c := sessionCookie(t, tab)
			if c == nil || c.Session {
				t.Fatalf("the session cookie ends with the browser (%+v), want a Max-Age", c)
			}
		}
		if _, in := openProtected(t, b, srv); !in {
			t.Fatal("a new tab is not signed in after a default login")
		}

		// Quit the browser and start it again on the same profile.
		b.Close()
		b = browser.NewBrowserWithProfile(t, profile)
		tab, in := openProtected(t, b, srv)
		if !in {
			t.Fatal("the browser restarted is not signed in after a default login")
		}
		// The browser is the account's trusted device, its device cookie
		// kept across the restart: in LocalStorage mode too, where the
		// login's websocket could not set it (the page traded a one-time
		// code for it).
		acct := b.Tab()
		acct.Open(srv.URL + "/account")
		acct.WaitJS(`document.querySelectorAll("#devices tr").length === 1 && document.querySelector("#devices .tag").offsetParent !== null`,
			"this browser listed as the account's trusted device")
		acct.Close()
		tab2, _ := openProtected(t, b, srv)
		tab.Click("#topbar-logout")
		signedOut(tab)
		tab2.WaitPath("/login")
		if _, in := openProtected(t, b, srv); in {
			t.Fatal("a new tab is signed in after the logout")
		}
	})
}

// A login on a public or shared computer ends with the browser, but while
// it lasts every tab of the site has it: a tab opened while another is
// signed in is signed in too (the token handed over between tabs, not by
// the server); a logout in any tab ends all of them; once every tab is
// closed, or the browser quit, a new tab is signed out.
func TestBrowserSessionEndsWithBrowser(t *testing.T) {
	inModes(t, func(t *testing.T, mode string, srv *Server) {
		api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`)
		profile := browser.NewProfile(t)
		b := browser.NewBrowserWithProfile(t, profile)
		first := liveLogin(t, b, srv, true)
		local, session := storedTokens(first)
		switch mode {
		case "localstorage":
			if local != 0 || session != 43 {
				t.Fatalf("token in LocalStorage %d chars, in sessionStorage %d; want it in sessionStorage only", local, session)
			}
		case "cookie":
			if local != 0 || session != 0 {
				t.Fatal("cookie mode left the token where scripts can read it")
			}
			c := sessionCookie(t, first)
			if c == nil || !c.Session {
				t.Fatalf("the session cookie outlives the browser (%+v)", c)
			}
		}

		// New tabs while the first is open: signed in, the token in their
		// own sessionStorage only.
		second, in := openProtected(t, b, srv)
		if !in {
			t.Fatal("a tab opened beside a signed-in one is not signed in")
		}
		if l, s := storedTokens(second); l != 0 || (mode == "localstorage") != (s == 43) {
			t.Fatalf("the new tab holds the token in LocalStorage %d chars, in sessionStorage %d", l, s)
		}
		third := b.Tab()
		third.Open(srv.URL + "/account")
		signedIn(third)
		third.Accessible("the account page of a shared-computer login")

		// A logout in one tab ends every tab.
		second.Click("#logout")
		second.WaitPath("/")
		signedOut(second)
		signedOut(first)
		third.WaitPath("/login")
		for _, tab := range []*Tab{first, second, third} {
			if l, s := storedTokens(tab); l+s != 0 {
				t.Fatal("a token is left in a tab after the logout")
			}
		}
		if _, in := openProtected(t, b, srv); in {
			t.Fatal("a new tab is signed in after the logout")
		}

		// Signed in again, in two tabs; then every tab of the site closed.
		for _, tab := range []*Tab{first, second, third} {
			tab.Close()
		}
		first = liveLogin(t, b, srv, true)
		second, in = openProtected(t, b, srv)
		if !in {
			t.Fatal("a tab opened beside a signed-in one is not signed in")
		}
		first.Close()
		second.Close()
		if mode == "localstorage" {
			// The tabs held the token in their sessionStorage: with them
			// all closed it is gone, though the browser still runs. (A
			// cookie without Max-Age lasts as long as the browser.)
			if _, in := openProtected(t, b, srv); in {
				t.Fatal("signed in after every tab was closed, with a shared-computer login")
			}
		}
		b.Close()
		b = browser.NewBrowserWithProfile(t, profile)
		if _, in := openProtected(t, b, srv); in {
			t.Fatal("signed in after the browser was quit, with a shared-computer login")
		}
	})
}
