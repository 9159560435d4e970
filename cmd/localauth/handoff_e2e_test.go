package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// stealCodes replaces the page's fetch, as a script injected into the page
// could: the one-time code of a login is kept in window.__codes instead of
// being traded for the cookie.
const stealCodes = `window.__codes = []; window.__fetch = window.fetch;
window.fetch = function (u, o) {
  if (String(u).endsWith("/api/auth/session")) {
    window.__codes.push(JSON.parse(o.body).code);
    return Promise.resolve(new Response(null, {status: 204}));
  }
  return window.__fetch.apply(this, arguments);
};`

// In cookie mode the one-time code of a live login is bound to the browser
// by an HttpOnly cookie: taken by a script and redeemed from another client
// (no cookie, as curl), it fails; redeemed from the browser itself, it
// works.
func TestBrowserHandoffBoundToBrowser(t *testing.T) {
	srv := StartServer(t, "--token-storage", "cookie")
	srv.CLI(t).MustRun(pw, "user", "create", "alice", "--password-stdin")
	b := NewBrowser(t)
	tab := b.Tab()

	login := func() string {
		tab.Run(chromedp.Navigate(srv.URL + "/login"))
		tab.WaitPath("/login")
		tab.Hydrated()
		if c := Eval[string](tab, "document.cookie"); strings.Contains(c, "localauth_handoff") {
			t.Fatalf("the handoff secret is readable by scripts: %q", c)
		}
		tab.Run(chromedp.Evaluate(stealCodes, nil))
		tab.Fill("username", "alice", "password", alicePW)
		tab.Submit("password")
		tab.WaitJS(`window.__codes.length === 1`, "the login's one-time code")
		return Eval[string](tab, "window.__codes[0]")
	}

	// Redeemed by another client: refused, no session cookie.
	code := login()
	res, err := http.Post(srv.URL+"/api/auth/session", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || strings.Contains(res.Header.Get("Set-Cookie"), "localauth_session=") {
		t.Fatalf("a stolen code redeemed without the browser's cookie: %d %q, want 401 and no session cookie", res.StatusCode, res.Header.Get("Set-Cookie"))
	}

	// The same steps in the browser: its own redemption works, and the
	// server-side guard then lets it into /protected.
	tab.Click("#topbar-logout")
	tab.WaitJS(`!document.querySelector("#topbar-logout").offsetParent`, "the logout to show")
	login()
	var status float64
	tab.Run(chromedp.Evaluate(`window.__fetch("/api/auth/session", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({code: window.__codes[0]}), credentials: "same-origin"}).then(r => r.status)`, &status,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if status != 204 {
		t.Fatalf("the browser's own redemption: %v, want 204", status)
	}
	tab.Run(chromedp.Navigate(srv.URL + "/protected"))
	tab.WaitPath("/protected")
	tab.WaitText("#protected-title", "Protected Page for alice")
}
