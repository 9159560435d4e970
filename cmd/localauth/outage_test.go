package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/localauth/localauth/internal/faultproxy"

	"github.com/localauth/localauth/internal/testkit"
)

// waitLong waits up to d for a JavaScript condition: database outages and
// recoveries take longer than a page update on a loaded machine.
func waitLong(t *Tab, cond, what string, d time.Duration) {
	t.TB.Helper()
	deadline := time.Now().Add(d)
	for !Eval[bool](t, "!!("+cond+")") {
		if time.Now().After(deadline) {
			t.TB.Fatalf("waited %v for %s; at %s, page text: %q", d, what, t.Path(), Eval[string](t, "document.body.innerText"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// An open tab that a PostgreSQL outage turned anonymous (the store could not
// vouch for its session: fail closed) keeps its token, and once the
// database is back it is authenticated again and returns to its page,
// without a reload, in both token storages.
func TestBrowserTabRecoversAfterDatabaseOutage(t *testing.T) {
	NeedBrowser(t)
	db := testkit.FreshDatabase(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			proxy, err := faultproxy.Start(db.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			via := *db
			via.Host = proxy.Addr()
			srv := StartServer(t, "--db", via.String(), "--token-storage", mode)
			name := "alice" + mode
			// srv.CLI names the server's default file; this server uses
			// PostgreSQL.
			(&CLI{tb: t, db: via.String()}).MustRun(alicePW+"\n", "user", "create", name, "--password-stdin")
			b := NewBrowser(t)
			tab := b.Tab()
			tab.Open(srv.URL + "/login")
			tab.Fill("username", name, "password", alicePW)
			tab.Submit("password")
			tab.WaitPath("/")
			tab.Click("#protected-link")
			tab.WaitPath("/protected")
			private := fmt.Sprintf("This is private data for %s.", name)
			tab.WaitText("#private-data", private)
			tab.Run(chromedp.Evaluate(`window.__sameDocument = true`, nil))

			proxy.Cut()
			waitLong(tab, `location.pathname === "/login"`, "the tab to fall back to /login during the outage", 30*time.Second)
			if txt := Eval[string](tab, "document.body.innerText"); strings.Contains(txt, private) {
				t.Fatalf("private data shown during the outage: %q", txt)
			}
			if mode == "localstorage" && len(Eval[string](tab, `localStorage.getItem("_auth_token") || ""`)) != 43 {
				t.Fatal("the tab dropped its token during the outage")
			}

			proxy.Restore()
			start := time.Now()
			waitLong(tab, `location.pathname === "/protected"`, "the tab to return to /protected after the outage", 30*time.Second)
			tab.WaitText("#private-data", private)
			t.Logf("tab back on its page %v after the database returned", time.Since(start).Round(time.Millisecond))
			if !Eval[bool](tab, "window.__sameDocument === true") {
				t.Fatal("the page was reloaded; it should have recovered in place")
			}
		})
	}
}
