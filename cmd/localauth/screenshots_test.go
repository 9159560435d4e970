package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestScreenshots regenerates every screenshot in docs/screenshots (the
// README's) from the demo, run as "localauth serve" on a fresh database and
// driven in Chromium as a person would: anonymous pages, a refused login,
// a reset link asked for, a refused registration, then signed in, the protected and account pages and
// the inline password prompt. It is also the example of driving the pages
// from a browser test and of taking a signed-in screenshot:
//
//	LOCALAUTH_SCREENSHOTS=1 go test -run TestScreenshots ./cmd/localauth
//
// It needs Debian's chromium and skips without the variable.
func TestScreenshots(t *testing.T) {
	if os.Getenv("LOCALAUTH_SCREENSHOTS") != "1" {
		t.Skip("screenshots: set LOCALAUTH_SCREENSHOTS=1 (and install Debian's chromium) to regenerate docs/screenshots")
	}
	t.Setenv("LOCALAUTH_E2E", "1")
	const window = 10 * time.Minute // the recent-login window; the server's clock moves past it
	// localhost (not 127.0.0.1): passkeys need a domain, and the account page
	// then offers them.
	srv := StartServer(t, "--addr", "localhost:0", "--reauth-window", window.String())
	dir := filepath.Join("..", "..", "docs", "screenshots")
	save := func(tab *Tab, name string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name+".png"), tab.FullPNG(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv.CLI(t).MustRun(alicePW+"\n", "user", "create", "bob", "--password-stdin")

	tab := NewBrowser(t).Tab()
	tab.Open(srv.URL + "/")
	tab.WaitText("h1", "Welcome to my homepage!")
	save(tab, "index")

	tab.Open(srv.URL + "/login")
	tab.WaitText("h1", "Log in")
	tab.Run(blur())
	save(tab, "login")
	tab.Fill("username", "bob", "password", "not his password")
	tab.Submit("password")
	tab.WaitText(".callout.error", "There was a problem logging in, please try again.")
	tab.Run(blur())
	save(tab, "login-failed")

	tab.Open(srv.URL + "/forgot-password")
	tab.WaitText("h1", "Forgot your password")
	tab.Hydrated()
	tab.Run(blur())
	save(tab, "forgot-password")
	tab.Fill("account", "bob")
	tab.Submit("account")
	tab.WaitJS(`!document.getElementById("forgot-message").hidden`, "the answer to a reset request")
	tab.Run(blur())
	save(tab, "forgot-password-sent")

	tab.Open(srv.URL + "/register")
	tab.WaitText("h1", "Create an account")
	tab.Run(blur())
	save(tab, "register")
	tab.Fill("username", "Alice", "password", "password1", "confirm_password", "password1")
	tab.Submit("confirm_password")
	tab.WaitText(".callout.error", "This password is too common")
	tab.Run(blur())
	save(tab, "register-error")
	tab.Fill("username", "Alice", "password", alicePW, "confirm_password", alicePW)
	tab.Submit("confirm_password")
	tab.WaitPath("/login")

	// Signed in: log in on the page, then every page sees the user.
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/")
	signedIn(tab)
	tab.Open(srv.URL + "/protected")
	tab.WaitText("#private-data", "This is private data for Alice.")
	save(tab, "protected")
	// A second session, so that the account page lists another device.
	tokenAs(t, srv, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36")
	tab.Open(srv.URL + "/account")
	tab.WaitJS(`document.querySelectorAll("#sessions tr").length === 2`, "two sessions listed")
	tab.Run(blur())
	save(tab, "account")

	// Once the login is no longer recent, ending the other session asks
	// for the password inline.
	srv.Clock.Advance(window + time.Second)
	tab.Click(`#sessions button.end-session:not([hidden])`)
	tab.WaitJS(`!document.getElementById("reauth-form").hidden && document.activeElement && document.activeElement.id === "reauth_password"`, "the password prompt")
	save(tab, "account-reauth")
}

// blur takes the focus off the page's field, so that no caret blinks in a
// screenshot.
func blur() chromedp.Action {
	return chromedp.Evaluate(`document.activeElement && document.activeElement.blur(); true`, nil)
}
