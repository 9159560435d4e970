package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The security activity on the account page in Chromium: a user whose
// password a stranger used from a phone, and who then mistyped twice, signs
// in and is told of the two failures; the list shows the phone's sign-in
// and one line for the failures; "This wasn't me" ends the phone's session
// and takes the user to the password change; the sign-in alerts are turned
// off and on again from the keyboard. Each state passes the accessibility
// checks.
func TestBrowserSecurityActivity(t *testing.T) {
	inModes(t, securityActivity)
}

func securityActivity(t *testing.T, mode string, srv *Server) {
	if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	phone := tokenAs(t, srv, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36")
	for range 2 {
		if r := api(t, "POST", srv.URL+"/api/auth/token", `{"username":"alice","password":"not the password"}`); r.status != 401 {
			t.Fatalf("a wrong password: %d, want 401", r.status)
		}
	}

	b := NewBrowser(t)
	tab := b.Tab()
	tab.Open(srv.URL + "/login")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/")
	tab.Click("#account-link")
	tab.WaitPath("/account")
	tab.WaitText("#failed-notice", "2 failed attempts since your last sign-in")
	tab.WaitJS(`document.querySelectorAll("#activity tr").length >= 4`, "the activity listed")
	list := Eval[string](tab, `document.querySelector("table.activity").innerText`)
	for _, want := range []string{"Signed in", "Chrome on Android", "Failed sign-in attempts (2", "127.0.0.1"} {
		if !strings.Contains(list, want) {
			t.Fatalf("the activity lacks %q:\n%s", want, list)
		}
	}
	// One "This wasn't me", beside the phone's sign-in: none beside this
	// browser's own.
	if n := Eval[int](tab, `document.querySelectorAll("#activity button.wasnt-me:not([hidden])").length`); n != 1 {
		t.Fatalf("%d \"This wasn't me\" buttons, want 1, beside the phone's sign-in", n)
	}
	tab.Accessible("the security activity")
	tab.Screenshot(shot(mode, "account-activity"))

	// "This wasn't me" beside the phone's sign-in: the phone is signed
	// out, and the page turns to the password change.
	if row := Eval[string](tab, `document.querySelector("#activity button.wasnt-me:not([hidden])").closest("tr").innerText`); !strings.Contains(row, "Chrome on Android") {
		t.Fatalf("\"This wasn't me\" stands beside %q, want the phone's sign-in", row)
	}
	tab.Click(`#activity button.wasnt-me:not([hidden])`)
	tab.WaitText("#account-message", "Now change your password")
	tab.WaitJS(`document.activeElement && document.activeElement.id === "current_password"`, "focus on the password change")
	if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+phone); r.status != 401 {
		t.Fatalf("the phone's session after \"This wasn't me\": %d, want 401", r.status)
	}
	tab.WaitText("table.activity", "Session ended")
	tab.Accessible("after \"This wasn't me\"")

	// Sign-in alerts: off, then on again with the keyboard alone.
	tab.WaitJS(`!document.getElementById("alerts-off").closest("p").hidden`, "sign-in alerts on")
	tab.Click("#alerts-off")
	tab.WaitText("#account-message", "no longer be told")
	tab.WaitJS(`document.activeElement && document.activeElement.id === "alerts-on"`, "focus on the button that turns alerts back on")
	check := tokenAs(t, srv, "curl/8.5.0")
	if r := api(t, "GET", srv.URL+"/api/auth/alerts", "", "Authorization", "Bearer "+check); !strings.Contains(r.body, `"sign_in":false`) {
		t.Fatalf("alerts after turning them off on the page: %s", r.body)
	}
	tab.Accessible("sign-in alerts off")
	tab.Run(chromedp.KeyEvent("\r"))
	tab.WaitText("#account-message", "You will be told of each sign-in")
	if r := api(t, "GET", srv.URL+"/api/auth/alerts", "", "Authorization", "Bearer "+check); !strings.Contains(r.body, `"sign_in":true`) {
		t.Fatalf("alerts after turning them on from the keyboard: %s", r.body)
	}
}
