package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The account page in Chromium, in both token storages: a user with three
// sessions (this browser, a phone and a script, the last two through the
// API) sees them, ends one, sees another disappear when it logs out
// elsewhere, is asked for the password inline before ending the others,
// changes the password, and deletes the account. Each state of the page
// passes the accessibility checks.
func TestBrowserAccountPage(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			srv := StartServer(t, "--token-storage", mode, "--reauth-window", reauthWindow.String())
			accountPage(t, mode, srv)
		})
	}
}

// reauthWindow is the server's recent-login window in the account page
// test. The test moves the server's clock past it to reach the inline
// password prompt, and the clock stays put after that: the steps after a
// confirmation finish within the window however slow the machine is.
const reauthWindow = 10 * time.Minute

func accountPage(t *testing.T, mode string, srv *Server) {
	if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	phone := tokenAs(t, srv, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36")
	script := tokenAs(t, srv, "curl/8.5.0")

	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(srv.URL + "/login")
	tab.Accessible("the login page")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/")
	tab.Click("#account-link")
	tab.WaitPath("/account")
	rows := func(n int) {
		t.Helper()
		tab.WaitJS(fmt.Sprintf(`document.querySelectorAll("#sessions tr").length === %d`, n), fmt.Sprintf("%d sessions listed", n))
	}
	rows(3)
	tab.WaitText("#member-since", time.Now().UTC().Format("2006"))
	table := Eval[string](tab, `document.querySelector("table.sessions").innerText`)
	for _, want := range []string{"Chrome on Android", "curl", "This device", "127.0.0.1"} {
		if !strings.Contains(table, want) {
			t.Fatalf("the sessions table lacks %q:\n%s", want, table)
		}
	}
	if n := Eval[int](tab, `document.querySelectorAll("#sessions button.end-session:not([hidden])").length`); n != 2 {
		t.Fatalf("%d End buttons, want one on each other session", n)
	}
	tab.Accessible("the account page")
	tab.Screenshot(shot(mode, "account"))

	// Once the login is no longer recent, ending another session asks for
	// the password inline, then goes on with it.
	srv.Clock.Advance(reauthWindow + time.Second)
	tab.Click(`#sessions button.end-session:not([hidden])`)
	tab.WaitJS(`!document.getElementById("reauth-form").hidden`, "the password prompt")
	tab.WaitJS(`document.activeElement && document.activeElement.id === "reauth_password"`, "focus on the password prompt")
	tab.Accessible("the password prompt")
	tab.Screenshot(shot(mode, "account-reauth"))
	tab.Fill("reauth_password", "not my password")
	tab.Submit("reauth_password")
	tab.WaitText("#account-error", "That is not your current password")
	tab.Fill("reauth_password", alicePW)
	tab.Submit("reauth_password")
	tab.WaitText("#account-message", "Session ended")
	rows(2)
	ended := 0
	for _, tok := range []string{phone, script} {
		if api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+tok).status == 401 {
			ended++
		}
	}
	if ended != 1 {
		t.Fatalf("%d of the two other sessions ended, want 1", ended)
	}

	// A session that logs out elsewhere disappears without a reload.
	for _, tok := range []string{phone, script} {
		api(t, "POST", srv.URL+"/api/auth/logout", "", "Authorization", "Bearer "+tok)
	}
	rows(1)

	// Within the window of that confirmation, ending the others goes
	// straight through.
	other := tokenAs(t, srv, "curl/8.5.0")
	tab.Click("#end-others")
	tab.WaitText("#account-message", "Every other session has ended")
	if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+other); r.status != 401 {
		t.Fatalf("another session after ending the others: %d", r.status)
	}
	rows(1)

	// Change the password: a mismatched confirmation first.
	tab.Fill("current_password", alicePW, "new_password", "a brand new passphrase", "confirm_new_password", "something else")
	tab.Submit("confirm_new_password")
	tab.WaitText("#account-error", "The new passwords do not match")
	tab.Fill("confirm_new_password", "a brand new passphrase")
	tab.Submit("confirm_new_password")
	tab.WaitText("#account-message", "Password changed")
	if v := tab.Value("current_password") + tab.Value("new_password"); v != "" {
		t.Fatal("the password fields were not cleared")
	}
	if r := api(t, "POST", srv.URL+"/api/auth/token", `{"username":"alice","password":"a brand new passphrase"}`); r.status != 200 {
		t.Fatalf("login with the new password: %d", r.status)
	}

	// Delete the account, behind a confirmation (the password change just
	// confirmed the password).
	tab.Click("#delete-account")
	tab.WaitJS(`document.getElementById("delete-confirm").offsetParent !== null`, "the confirmation")
	tab.Accessible("the delete confirmation")
	tab.Click("#delete-confirm")
	tab.WaitPath("/")
	tab.WaitJS(`document.getElementById("account-link").hidden`, "signed out")
	if r := api(t, "POST", srv.URL+"/api/auth/token", `{"username":"alice","password":"a brand new passphrase"}`); r.status != 401 {
		t.Fatalf("login to the deleted account: %d", r.status)
	}
}

// tokenAs logs alice in through the API as a client with a User-Agent.
func tokenAs(t *testing.T, srv *Server, ua string) string {
	t.Helper()
	r := api(t, "POST", srv.URL+"/api/auth/token", `{"username":"alice","password":"`+alicePW+`"}`, "User-Agent", ua)
	var out struct{ Token string }
	json.Unmarshal([]byte(r.body), &out)
	if r.status != 200 || out.Token == "" {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return out.Token
}
