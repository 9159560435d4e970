package main

import (
	"testing"

	"github.com/localauth/localauth/internal/testkit/smtptest"
)

// Password reset by email in Chromium, in both token storages, against a
// real SMTP server: the address is verified by its mailed link (a button
// press on the page), the login page leads to /forgot-password, the mailed
// reset link opens /reset-password, the new password is set and logs in,
// and the account page shows the verified address. Each page passes the
// accessibility checks.
func TestBrowserPasswordResetByEmail(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			mail := smtptest.MustStart(t)
			srv := StartServer(t, "--token-storage", mode, "--smtp-url", mail.URL(), "--mail-from", "auth@example.com")
			if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`","email":"alice@example.com"}`); r.status != 201 {
				t.Fatalf("register: %d %s", r.status, r.body)
			}
			b := NewBrowser(t)
			tab := b.Tab()

			link, _, ok := mail.WaitFor(t, "alice@example.com", "verify-email").Link()
			if !ok {
				t.Fatal("no link in the verification mail")
			}
			tab.Open(link)
			tab.Accessible("the verification page")
			tab.Click("#verify-button")
			tab.WaitText("#verify-message", "verified")

			tab.Open(srv.URL + "/login")
			tab.Click("#forgot-link")
			tab.WaitPath("/forgot-password")
			tab.Accessible("the forgot-password page")
			tab.Fill("account", "alice")
			tab.Submit("account")
			tab.WaitText("#forgot-message", "If the account has a verified email address")

			link, _, ok = mail.WaitFor(t, "alice@example.com", "reset-password").Link()
			if !ok {
				t.Fatal("no link in the reset mail")
			}
			tab.Open(link)
			tab.Accessible("the reset-password page")
			tab.Fill("password", "a brand new passphrase", "confirm_password", "a brand new passphrase")
			tab.Submit("confirm_password")
			tab.WaitText("#reset-message", "Your password is changed")
			tab.Accessible("the reset-password page, done")
			mail.WaitFor(t, "alice@example.com", "was changed")

			tab.Click("#reset-login")
			tab.WaitPath("/login")
			tab.Fill("username", "alice", "password", "a brand new passphrase")
			tab.Submit("password")
			tab.WaitPath("/")
			tab.Click("#account-link")
			tab.WaitPath("/account")
			tab.WaitText("#email-current", "alice@example.com")
			tab.Accessible("the account page with an address")
		})
	}
}
