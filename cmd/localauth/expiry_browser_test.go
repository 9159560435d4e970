package main

import (
	"strings"
	"testing"
	"time"
)

// A session that reaches its lifetime or its idle timeout signs out the
// page that shows it, as a logout does, although nobody touches the page
// and its keepalive runs: the private data goes, the token leaves the
// browser, the page goes to /login. Checked from outside as an operator
// would: serve with an 8-second lifetime (of a login on a shared computer,
// then of a remembered one, the default), then an 8-second idle timeout,
// and the private greeting gone within 20 seconds (8 in practice).
func TestBrowserSessionExpiryEndsOpenPage(t *testing.T) {
	NeedBrowser(t)
	for _, c := range []struct {
		flag   string
		shared bool // tick "Public or shared computer": a login not remembered
	}{
		{"--session-lifetime", true},
		{"--remember-lifetime", false},
		{"--idle-timeout", false},
	} {
		flag := c.flag
		for _, mode := range modes {
			t.Run(strings.TrimPrefix(flag, "--")+"/"+mode, func(t *testing.T) {
				srv := StartServer(t, "--token-storage", mode, flag, "8s")
				api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`)
				tab := NewBrowser(t).Tab()
				tab.Open(srv.URL + "/protected")
				tab.WaitPath("/login")
				tab.Fill("username", "alice", "password", alicePW)
				if c.shared {
					tab.Click("#shared")
				}
				// The session starts after the form is sent, so it cannot
				// end before 8 s from now, however slow the page is.
				submitted := time.Now()
				tab.Submit("password")
				tab.WaitText("#private-data", "This is private data for alice.")
				shown := time.Now()
				// Untouched from here on.
				deadline := shown.Add(20 * time.Second)
				for strings.Contains(Eval[string](tab, "document.body.innerText"), "private data") {
					if time.Now().After(deadline) {
						t.Fatalf("the private greeting still shows %v after it appeared, with %s 8s", time.Since(shown).Round(time.Second), flag)
					}
					time.Sleep(200 * time.Millisecond)
				}
				if gone := time.Since(submitted); gone < 8*time.Second {
					t.Fatalf("signed out %v after the login was sent, before the session could have ended", gone.Round(time.Millisecond))
				}
				t.Logf("signed out %v after the page showed", time.Since(shown).Round(100*time.Millisecond))
				tab.WaitPath("/login")
				tab.WaitJS(`localStorage.getItem("_auth_token") === null && sessionStorage.getItem("_auth_token") === null`, "the token gone from the browser")
				if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Cookie", ""); r.status != 401 {
					t.Fatalf("/api/auth/me without a session: %d", r.status)
				}
			})
		}
	}
}
