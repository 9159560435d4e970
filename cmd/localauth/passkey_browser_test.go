package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Adding a passkey once the login is no longer recent: the page asks for
// the password inline, and once it is confirmed the ceremony carries on by
// itself, with no second click on "Add a passkey" (both token storages).
func TestBrowserPasskeyAfterReauth(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			srv := StartServer(t, "--token-storage", mode, "--addr", "localhost:0", "--reauth-window", reauthWindow.String())
			api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`)
			tab := NewBrowser(t).Tab()
			virtualAuthenticator(t, tab)
			openFocused(tab, srv.URL+"/login")
			tab.Fill("username", "alice", "password", alicePW)
			tab.Submit("password")
			tab.WaitPath("/")
			signedIn(tab)
			openFocused(tab, srv.URL+"/account")
			tab.WaitJS(`!document.getElementById("passkey-section").hidden`, "the passkeys section")

			// Past the recent-login window by the server's clock, which
			// stays put after: the steps after the confirmation finish
			// within the window however slow the machine is.
			srv.Clock.Advance(reauthWindow + time.Second)
			tab.Fill("passkey_name", "Work laptop")
			tab.Click("#add-passkey")
			tab.WaitJS(`!document.getElementById("reauth-form").hidden && document.activeElement && document.activeElement.id === "reauth_password"`, "the password prompt")
			tab.Accessible("the password prompt before adding a passkey")
			if n := Eval[int](tab, `document.querySelectorAll("#passkeys tr").length`); n != 0 {
				t.Fatalf("%d passkeys before the password was confirmed", n)
			}
			tab.Fill("reauth_password", alicePW)
			tab.Submit("reauth_password")
			tab.WaitText("#account-message", "Passkey added")
			tab.WaitJS(`document.querySelectorAll("#passkeys tr").length === 1 && document.querySelector("#passkeys tr").textContent.includes("Work laptop")`, "the passkey listed")
			tab.Accessible("the account page with the passkey added")
			r := api(t, "GET", srv.URL+"/api/auth/passkeys", "", "Authorization", "Bearer "+tokenAs(t, srv, "curl/8.5.0"))
			if r.status != 200 || strings.Count(r.body, `"name":"Work laptop"`) != 1 {
				t.Fatalf("passkeys: %d %s", r.status, r.body)
			}
		})
	}
}

// The JSON API's second step answered with a passkey, by a real (virtual)
// authenticator in Chromium: an account with TOTP and a passkey logs in
// with its password, gets the second step with "passkey" among the methods
// and no session, and completes it with a signed assertion through
// /api/auth/login/mfa (a session cookie) and /api/auth/token/mfa (a bearer
// token). A replayed assertion, or one made for another challenge, is
// refused.
func TestBrowserPasskeySecondStepAPI(t *testing.T) {
	srv := StartServer(t, "--addr", "localhost:0")
	api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`)
	tab := NewBrowser(t).Tab()
	virtualAuthenticator(t, tab)
	openFocused(tab, srv.URL+"/")
	run := func(js string) string {
		t.Helper()
		var got string
		tab.Run(chromedp.Evaluate(`(async () => {
  const post = (path, body, headers) => fetch("/api/auth/" + path, {method: "POST", headers: Object.assign({"Content-Type": "application/json"}, headers || {}), body: JSON.stringify(body || {}), credentials: "same-origin"});
  const assertion = async () => {
    const r = await post("passkeys/login/begin");
    if (r.status !== 200) throw new Error("login/begin " + r.status);
    const o = await r.json();
    const a = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.publicKey)});
    return a.toJSON();
  };
  const password = `+fmt.Sprintf("%q", alicePW)+`;
  `+js+`
})()`, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
		return got
	}

	// A passkey, added through the API from the page.
	if got := run(`
  let r = await post("login", {username: "alice", password});
  if (r.status !== 200) return "login " + r.status;
  r = await post("passkeys/register/begin");
  if (r.status !== 200) return "register/begin " + r.status;
  const co = await r.json();
  const c = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(co.publicKey)});
  r = await post("passkeys/register/finish", {name: "Phone", credential: c.toJSON()});
  await post("logout");
  return "register/finish " + r.status;`); got != "register/finish 201" {
		t.Fatalf("adding the passkey: %s", got)
	}
	// TOTP on, so that a password login has a second step.
	bearer := tokenAs(t, srv, "curl/8.5.0")
	r := api(t, "POST", srv.URL+"/api/auth/totp/enroll", "", "Authorization", "Bearer "+bearer)
	var en struct{ Secret string }
	json.Unmarshal([]byte(r.body), &en)
	if r.status != 200 || en.Secret == "" {
		t.Fatalf("totp/enroll: %d %s", r.status, r.body)
	}
	if r := api(t, "POST", srv.URL+"/api/auth/totp/confirm", fmt.Sprintf(`{"code":%q}`, totpCode(t, en.Secret, 0)), "Authorization", "Bearer "+bearer); r.status != 200 {
		t.Fatalf("totp/confirm: %d %s", r.status, r.body)
	}

	// /login/mfa: the session cookie comes with the second step only.
	got := run(`
  let r = await post("login", {username: "alice", password});
  const step = await r.json();
  if (r.status !== 200 || !step.mfa_required || !step.methods.includes("passkey")) return "login " + r.status + " " + JSON.stringify(step);
  const anon = (await fetch("/api/auth/me")).status;
  const answer = await assertion();
  r = await post("login/mfa", {mfa_token: step.mfa_token, passkey: answer});
  if (r.status !== 200) return "login/mfa " + r.status + " " + await r.text();
  const body = await r.json();
  const me = await (await fetch("/api/auth/me")).json();
  await post("logout");
  // The same assertion again, on a fresh second step: refused.
  r = await post("login", {username: "alice", password});
  const again = await r.json();
  r = await post("login/mfa", {mfa_token: again.mfa_token, passkey: answer});
  const replay = r.status + " " + (await r.json()).error;
  const after = (await fetch("/api/auth/me")).status;
  return [anon, body.user.username, body.expires_at ? "expires" : "no expiry", me.user.username, replay, after].join(" ");`)
	if got != "401 alice expires alice 401 invalid_code 401" {
		t.Fatalf("the second step through /login/mfa with a passkey: %q", got)
	}

	// /token/mfa: a bearer token. An assertion whose signature was
	// tampered with is refused and leaves the step open; a real one (for a
	// challenge of its own: each is used once) is accepted.
	got = run(`
  let r = await post("token", {username: "alice", password});
  const step = await r.json();
  if (r.status !== 200 || !step.mfa_required || step.token) return "token " + r.status + " " + JSON.stringify(step);
  const forged = await assertion();
  const sig = forged.response.signature;
  forged.response.signature = sig.slice(0, 20) + (sig[20] === "A" ? "B" : "A") + sig.slice(21);
  r = await post("token/mfa", {mfa_token: step.mfa_token, passkey: forged});
  const refused = r.status + " " + (await r.json()).error;
  r = await post("token/mfa", {mfa_token: step.mfa_token, passkey: await assertion()});
  if (r.status !== 200) return refused + "; token/mfa " + r.status + " " + await r.text();
  const body = await r.json();
  const me = await (await fetch("/api/auth/me", {headers: {Authorization: "Bearer " + body.token}})).json();
  return [refused, body.token_type, body.token.length, me.user.username].join(" ");`)
	if got != "401 invalid_code Bearer 43 alice" {
		t.Fatalf("the second step through /token/mfa with a passkey: %q", got)
	}
}
