package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	alicePW = "correct horse battery staple"
)

// modes are the token storages the browser tests run under.
var modes = []string{"localstorage", "cookie"}

// inModes runs a browser test once per token storage, each on its own
// server.
func inModes(t *testing.T, fn func(t *testing.T, mode string, srv *Server)) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			fn(t, mode, StartServer(t, "--token-storage", mode))
		})
	}
}

// shot names a screenshot after the mode; the localstorage ones are the
// README's.
func shot(mode, name string) string {
	if mode == "localstorage" {
		return name
	}
	return mode + "-" + name
}

// The whole journey in a real browser.
func TestBrowserJourney(t *testing.T) {
	inModes(t, journey)
}

func journey(t *testing.T, mode string, srv *Server) {
	b := NewBrowser(t)
	tab := b.Tab()

	// Logged out, the protected page shows a spinner, then goes to /login.
	tab.Run(chromedp.Navigate(srv.URL + "/protected"))
	tab.WaitPath("/login")
	tab.Hydrated()
	tab.WaitText("h1", "Log in")
	tab.Screenshot(shot(mode, "login"))

	// Register, from the link on the login page.
	tab.Click(`a[href="/register"]`)
	tab.WaitPath("/register")
	tab.WaitText("h1", "Create an account")
	tab.Screenshot(shot(mode, "register"))
	tab.Accessible("register" + " page")
	tab.Fill("username", "Alice", "password", alicePW, "confirm_password", alicePW)
	tab.Submit("confirm_password")
	tab.WaitText(".callout.success", "Registration successful!")
	tab.Screenshot(shot(mode, "register-success"))
	tab.Accessible("register-success" + " page")
	tab.WaitPath("/login")

	// Log in (by default remembered, so the token is in LocalStorage,
	// shared by the browser's tabs): back on the protected page that asked
	// for it.
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/protected")
	tab.WaitText("#protected-title", "Protected Page for Alice")
	tab.WaitText("#private-data", "This is private data for Alice.")
	tok := Eval[string](tab, `localStorage.getItem("_auth_token") || ""`)
	switch mode {
	case "localstorage":
		if len(tok) != 43 {
			t.Fatalf("LocalStorage _auth_token has %d characters, want a 43-character token", len(tok))
		}
	case "cookie":
		// C24: the token is in an HttpOnly cookie, out of every script's
		// reach.
		if tok != "" || len(Eval[string](tab, "JSON.stringify(localStorage)")) > 2 {
			t.Fatal("cookie mode left something in LocalStorage")
		}
		if c := Eval[string](tab, "document.cookie"); strings.Contains(c, "localauth_session") {
			t.Fatalf("the session cookie is readable by scripts: %q", c)
		}
	}
	tab.Screenshot(shot(mode, "protected"))
	tab.Accessible("protected" + " page")

	// A reload stays logged in, and is never bounced to /login.
	tab.Run(chromedp.Navigate(srv.URL + "/protected"))
	tab.Run(chromedp.Evaluate(`window.__paths = []; (function watch(){ window.__paths.push(location.pathname); setTimeout(watch, 5); })()`, nil))
	tab.Hydrated()
	tab.WaitText("#protected-title", "Protected Page for Alice")
	time.Sleep(300 * time.Millisecond)
	if paths := Eval[[]string](tab, "window.__paths"); strings.Contains(strings.Join(paths, ","), "/login") {
		t.Fatalf("a logged-in reload passed through /login: %v", paths)
	}

	// A second tab of the same browser is logged in too.
	tab2 := b.Tab()
	tab2.Open(srv.URL + "/protected")
	tab2.WaitText("#protected-title", "Protected Page for Alice")

	// The home page, and its link to the protected page.
	tab.Click("#home")
	tab.WaitPath("/")
	tab.WaitText("h1", "Welcome to my homepage!")
	tab.Screenshot(shot(mode, "index"))
	tab.Accessible("index" + " page")
	tab.Click("#protected-link")
	tab.WaitPath("/protected")
	tab.WaitText("#protected-title", "Protected Page for Alice")

	// Logout: to /, token gone, the other tab logged out at once.
	tab.Click("#logout")
	tab.WaitPath("/")
	tab.WaitJS(`localStorage.getItem("_auth_token") === null`, "token removed from LocalStorage")
	if mode == "cookie" {
		// The cookie is gone too: a fresh load of /protected is refused
		// by the server itself.
		tab.Run(chromedp.Navigate(srv.URL + "/protected"))
		tab.WaitPath("/login")
		if q := Eval[string](tab, "location.search"); q != "?next=%2Fprotected" {
			t.Fatalf("guard sent the browser to /login%s, want ?next=%%2Fprotected", q)
		}
	}
	tab2.WaitPath("/login")
	if txt := Eval[string](tab2, "document.body.innerText"); strings.Contains(txt, "private data") {
		t.Fatalf("the other tab still shows private data after logout: %q", txt)
	}
	tab.Run(chromedp.Navigate(srv.URL + "/protected"))
	tab.WaitPath("/login")
}

// C10: one message for unknown user and wrong password, password
// field cleared; a disabled account is told so only with its password.
func TestBrowserLoginFailures(t *testing.T) {
	inModes(t, loginFailures)
}

func loginFailures(t *testing.T, mode string, srv *Server) {
	srv.CLI(t).MustRun(alicePW+"\n", "user", "create", "bob", "--password-stdin")
	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(srv.URL + "/login")
	const generic = "There was a problem logging in, please try again."
	for _, c := range []struct{ user, pw string }{{"nobody", alicePW}, {"bob", "wrong password"}} {
		tab.Fill("username", c.user, "password", c.pw)
		tab.Submit("password")
		tab.WaitText(".callout.error", generic)
		if v := tab.Value("password"); v != "" {
			t.Fatalf("password field holds %q after a failed login", v)
		}
		if got := Eval[string](tab, `document.querySelector(".callout.error").textContent`); got != generic {
			t.Fatalf("message %q, want %q", got, generic)
		}
		tab.Run(chromedp.Evaluate(`document.querySelector(".callout.error").textContent = ""`, nil))
	}
	tab.Screenshot(shot(mode, "login-failed"))
	tab.Accessible("login-failed" + " page")
	srv.CLI(t).MustRun("", "user", "disable", "bob")
	tab.Fill("username", "bob", "password", "wrong password")
	tab.Submit("password")
	tab.WaitText(".callout.error", generic)
	tab.Fill("username", "bob", "password", alicePW)
	tab.Submit("password")
	tab.WaitText(".callout.error", "This account is disabled.")
	if tab.Path() != "/login" {
		t.Fatalf("a disabled account left the login page for %s", tab.Path())
	}
}

// Every validation message, with the focus on the field to correct.
func TestBrowserRegistrationValidation(t *testing.T) {
	inModes(t, registrationValidation)
}

func registrationValidation(t *testing.T, mode string, srv *Server) {
	srv.CLI(t).MustRun(alicePW+"\n", "user", "create", "carol", "--password-stdin")
	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(srv.URL + "/register")
	cases := []struct {
		name                   string
		user, pw, confirm      string
		message, focus, clears string
	}{
		{"empty username", "", alicePW, alicePW, "Username cannot be empty", "username", ""},
		{"taken username", "Carol", alicePW, alicePW, "Username Carol is already registered. Try a different name.", "username", "username"},
		{"empty password", "dave", "", "", "Password cannot be empty", "password", ""},
		{"passwords differ", "dave", alicePW, alicePW + "!", "Passwords do not match", "confirm_password", "confirm_password"},
		{"too short", "dave", "short", "short", "Password is too short: at least 8 characters.", "password", "password"},
		{"too common", "dave", "password1", "password1", "This password is too common", "password", "password"},
		{"look-alike username", "\u0430lice", alicePW, alicePW, "mixes letters of different alphabets", "username", ""},
		{"markup in username", "<img src=x onerror=alert(1)>", alicePW, alicePW, "Username cannot contain spaces.", "username", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab.TB = t
			tab.Run(chromedp.Evaluate(`document.querySelectorAll(".callout.error").forEach(e => e.textContent = "")`, nil))
			tab.Fill("username", c.user, "password", c.pw, "confirm_password", c.confirm)
			tab.Submit("confirm_password")
			tab.WaitText(".callout.error", c.message)
			if f := tab.Focused(); f != c.focus {
				t.Errorf("focus on %q, want %q", f, c.focus)
			}
			if c.clears != "" && tab.Value(c.clears) != "" {
				t.Errorf("field %s not cleared", c.clears)
			}
			if n := Eval[int](tab, `document.querySelectorAll(".callout.error img").length`); n != 0 {
				t.Errorf("user text was rendered as markup")
			}
		})
	}
	tab.TB = t
	tab.Screenshot(shot(mode, "register-error"))
	tab.Accessible("register-error" + " page")
	if out := srv.CLI(t).MustRun("", "user", "list"); strings.Contains(out, "dave") {
		t.Fatalf("a refused registration created a user:\n%s", out)
	}
}
