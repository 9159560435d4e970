package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth/internal/testkit"
)

// totpCode is the code of secret for the time step after shift from now.
func totpCode(t *testing.T, secret string, shift time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(shift))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signedIn waits until the page shows a signed-in user.
func signedIn(tab *Tab) {
	tab.TB.Helper()
	tab.WaitJS(`!document.getElementById("account-link").hidden`, "signed in")
}

// logOut clicks the top bar's Log out and waits for the anonymous page.
func logOut(tab *Tab) {
	tab.TB.Helper()
	tab.Click("#topbar-logout")
	tab.WaitJS(`document.getElementById("account-link").hidden && !localStorage.getItem("_auth_token") && !sessionStorage.getItem("_auth_token")`, "signed out")
}

// TOTP in Chromium, in both token storages: enrol on the account page from
// the QR code's secret, see the recovery codes once, log out, log in with
// password and code (and land on the page that asked for the login), find
// an accepted code refused when replayed, and log in with a recovery code.
func TestBrowserTOTP(t *testing.T) {
	inModes(t, browserTOTP)
}

func browserTOTP(t *testing.T, mode string, srv *Server) {
	if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	tab := NewBrowser(t).Tab()
	tab.Open(srv.URL + "/login")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/")
	signedIn(tab)
	tab.Click("#account-link")
	tab.WaitPath("/account")
	tab.WaitJS(`!document.getElementById("totp-enroll").closest("p").hidden`, "the set-up button")

	tab.Click("#totp-enroll")
	tab.WaitJS(`(() => { const i = document.getElementById("totp-qr"); return !document.getElementById("totp-setup").hidden && i.complete && i.naturalWidth >= 100 && i.src.startsWith("data:image/png;base64,"); })()`, "the QR code")
	secret := Eval[string](tab, `document.getElementById("totp-secret").textContent`)
	if len(secret) < 16 {
		t.Fatalf("the key shown is %q", secret)
	}
	tab.Accessible("the authenticator app set-up")
	tab.Screenshot(shot(mode, "totp-setup"))

	tab.Fill("totp_confirm_code", testkit.WrongTOTPCode(secret, srv.Clock.Now()))
	tab.Submit("totp_confirm_code")
	tab.WaitText("#account-error", "That code did not work")
	confirmCode := totpCode(t, secret, 0)
	tab.Fill("totp_confirm_code", confirmCode)
	tab.Submit("totp_confirm_code")
	tab.WaitJS(`document.querySelectorAll("#recovery-codes li").length === 10 && !document.getElementById("recovery-codes").hidden`, "ten recovery codes")
	codes := Eval[[]string](tab, `Array.from(document.querySelectorAll("#recovery-codes li")).map(e => e.textContent.trim())`)
	tab.WaitText("#recovery-left", "10")
	tab.Accessible("the recovery codes")
	tab.Screenshot(shot(mode, "totp-recovery-codes"))
	if strings.Contains(Eval[string](tab, `document.body.innerHTML`), secret) {
		t.Fatal("the key is still on the page after the factor was confirmed")
	}
	tab.Click("#codes-saved")
	tab.WaitJS(`document.querySelectorAll("#recovery-codes li").length === 0`, "the codes gone")
	if html := Eval[string](tab, `document.body.innerHTML`); strings.Contains(html, codes[0]) {
		t.Fatal("a recovery code is still on the page after 'I have saved them'")
	}

	// Log out; the protected page asks for a login, which now has two
	// steps, and then goes back to it.
	logOut(tab)
	tab.Open(srv.URL + "/protected")
	tab.WaitPath("/login")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitJS(`!document.getElementById("second-step").hidden`, "the second step")
	tab.WaitJS(`document.activeElement && document.activeElement.id === "totp_code"`, "focus on the code")
	if Eval[bool](tab, `!document.getElementById("account-link").hidden`) {
		t.Fatal("signed in after the password alone")
	}
	tab.Accessible("the second step")
	tab.Screenshot(shot(mode, "login-second-step"))

	// The code that confirmed the factor is spent: refused, even within
	// its window.
	tab.Fill("totp_code", confirmCode)
	tab.Submit("totp_code")
	tab.WaitText(`[role=alert]`, "That code did not work")
	tab.Accessible("a refused code")
	// The next step's code (one step of drift) is fresh.
	next := totpCode(t, secret, 30*time.Second)
	tab.Fill("totp_code", next)
	tab.Submit("totp_code")
	tab.WaitPath("/protected")
	signedIn(tab)
	tab.WaitText("#private-data", "private data for alice")

	// That code, replayed on another login, is refused too.
	logOut(tab)
	tab.Open(srv.URL + "/login")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitJS(`!document.getElementById("second-step").hidden`, "the second step")
	tab.Fill("totp_code", next)
	tab.Submit("totp_code")
	tab.WaitText(`[role=alert]`, "That code did not work")

	// A recovery code instead.
	tab.Click("#use-recovery")
	tab.WaitJS(`!document.getElementById("recovery-form").hidden && document.activeElement && document.activeElement.id === "recovery_code"`, "the recovery code field")
	tab.Accessible("the recovery code field")
	tab.Fill("recovery_code", codes[3])
	tab.Submit("recovery_code")
	tab.WaitPath("/")
	signedIn(tab)
	tab.Click("#account-link")
	tab.WaitPath("/account")
	tab.WaitText("#recovery-left", "9")
	tab.Accessible("the account page with two-step verification on")
	// Three completed logins from this browser are one trusted device,
	// its token renewed at each: in cookie mode with the session cookie,
	// in LocalStorage mode by a one-time code the page trades for the
	// device cookie alone.
	tab.WaitJS(`document.querySelectorAll("#devices tr").length === 1 && document.querySelector("#devices .tag").offsetParent !== null`, "this browser as the one trusted device")

	// Past the recent-login window, a change of factors asks for the
	// password and a code inline: the password alone does not do.
	srv.Clock.Advance(11 * time.Minute)
	tab.Click("#regenerate-codes")
	tab.WaitJS(`!document.getElementById("reauth-form").hidden && document.getElementById("reauth_code").offsetParent !== null`, "the password and code prompt")
	tab.Accessible("the password and code prompt")
	tab.Fill("reauth_password", alicePW)
	tab.Submit("reauth_password")
	tab.WaitText("#account-message", "The password alone is not enough here")
	if Eval[bool](tab, `!document.getElementById("recovery-codes").hidden`) {
		t.Fatal("new recovery codes after the password alone")
	}
	tab.Fill("reauth_password", alicePW, "reauth_code", totpCode(t, secret, 11*time.Minute+30*time.Second))
	tab.Submit("reauth_code")
	tab.WaitJS(`document.querySelectorAll("#recovery-codes li").length === 10 && !document.getElementById("recovery-codes").hidden`, "ten new recovery codes")
	tab.Click("#codes-saved")
	for _, s := range append([]string{secret, next, confirmCode}, codes...) {
		if testkit.HoldsSecret(srv.Log.String(), s) {
			t.Fatal("a second-factor secret reached the server's log")
		}
	}
}

// virtualAuthenticator adds a platform authenticator to the tab, as a
// laptop's fingerprint reader: CTAP2, internal, resident keys, user
// verification that succeeds.
func virtualAuthenticator(t *testing.T, tab *Tab) {
	t.Helper()
	var id webauthn.AuthenticatorID
	tab.Run(webauthn.Enable(), actionFunc(func(ctx context.Context) error {
		var err error
		id, err = webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true,
			HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}).Do(ctx)
		return err
	}))
	if id == "" {
		t.Fatal("no virtual authenticator")
	}
}

// openFocused opens u in the tab brought to the front: WebAuthn answers
// only a page that has the focus, which a headless tab gets only so.
func openFocused(tab *Tab, u string) {
	tab.TB.Helper()
	tab.Open(u)
	tab.Run(page.BringToFront())
	tab.WaitJS(`document.hasFocus()`, "the page's focus")
}

type actionFunc func(ctx context.Context) error

func (f actionFunc) Do(ctx context.Context) error { return f(ctx) }

// Passkeys in Chromium with a virtual authenticator, in both token
// storages: add one on the account page, log out, sign in with it and no
// username; with TOTP on, use it as the second step after the password;
// remove it.
func TestBrowserPasskeys(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			// Passkeys need a domain: the default relying party is
			// localhost on a loopback address.
			srv := StartServer(t, "--token-storage", mode, "--addr", "localhost:0")
			if !strings.Contains(srv.URL, "//localhost:") {
				t.Fatalf("server URL %s, want localhost", srv.URL)
			}
			browserPasskeys(t, mode, srv)
		})
	}
}

func browserPasskeys(t *testing.T, mode string, srv *Server) {
	if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	tab := NewBrowser(t).Tab()
	virtualAuthenticator(t, tab)
	openFocused(tab, srv.URL+"/login")
	tab.WaitJS(`!document.getElementById("passkey-login").closest("div").hidden`, "the passkey button")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/")
	signedIn(tab)
	tab.Click("#account-link")
	tab.WaitPath("/account")
	tab.WaitJS(`!document.getElementById("passkey-section").hidden`, "the passkeys section")
	tab.Fill("passkey_name", "Work laptop")
	tab.Click("#add-passkey")
	tab.WaitText("#account-message", "Passkey added")
	tab.WaitJS(`document.querySelectorAll("#passkeys tr").length === 1 && document.querySelector("#passkeys tr").textContent.includes("Work laptop")`, "the passkey listed")
	tab.Accessible("the account page with a passkey")
	tab.Screenshot(shot(mode, "account-passkey"))

	// Sign in with it: no username, both factors at once.
	logOut(tab)
	openFocused(tab, srv.URL+"/login")
	tab.Accessible("the login page with passkeys")
	tab.Click("#passkey-login")
	tab.WaitPath("/")
	signedIn(tab)
	tab.WaitText("#who", "alice")
	tab.Click("#account-link")
	tab.WaitPath("/account")
	tab.WaitJS(`document.querySelector("#passkeys tr") && !document.querySelector("#passkeys tr").textContent.includes("never")`, "the passkey's last use")

	// With TOTP on, the passkey is a second step after the password.
	bearer := tokenAs(t, srv, "curl/8.5.0")
	r := api(t, "POST", srv.URL+"/api/auth/totp/enroll", "", "Authorization", "Bearer "+bearer)
	var en struct{ Secret string }
	json.Unmarshal([]byte(r.body), &en)
	if r.status != 200 || en.Secret == "" {
		t.Fatalf("totp/enroll: %d", r.status)
	}
	if r := api(t, "POST", srv.URL+"/api/auth/totp/confirm", fmt.Sprintf(`{"code":%q}`, totpCode(t, en.Secret, 0)), "Authorization", "Bearer "+bearer); r.status != 200 {
		t.Fatalf("totp/confirm: %d %s", r.status, r.body)
	}
	// Turning TOTP on ended this browser's session.
	tab.WaitPath("/login")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitJS(`!document.getElementById("second-step").hidden && !document.getElementById("passkey-verify").closest("p").hidden`, "the passkey as a second step")
	tab.Accessible("the second step with a passkey")
	tab.Click("#passkey-verify")
	tab.WaitPath("/account")
	signedIn(tab)

	tab.WaitJS(`document.querySelectorAll("#passkeys button.remove-passkey").length === 1`, "the remove button")
	tab.Click("#passkeys button.remove-passkey")
	tab.WaitText("#account-message", "Passkey removed")
	tab.WaitJS(`document.querySelectorAll("#passkeys tr").length === 0`, "no passkeys")
}

// The passkey endpoints of the JSON API driven by a page's own script with
// the virtual authenticator: sign in with the password (cookie), register
// a passkey (begin, navigator.credentials.create, finish), log out, log in
// with it (begin, navigator.credentials.get, finish), and find a replayed
// answer refused.
func TestBrowserPasskeyAPI(t *testing.T) {
	srv := StartServer(t, "--addr", "localhost:0")
	if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"bob","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	tab := NewBrowser(t).Tab()
	virtualAuthenticator(t, tab)
	openFocused(tab, srv.URL+"/")
	js := `(async () => {
  const post = (path, body) => fetch("/api/auth/" + path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {}), credentials: "same-origin"});
  let r = await post("login", {username: "bob", password: ` + fmt.Sprintf("%q", alicePW) + `});
  if (r.status !== 200) return "login " + r.status;
  r = await post("passkeys/register/begin");
  if (r.status !== 200) return "register/begin " + r.status;
  const co = await r.json();
  const c = await navigator.credentials.create({publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(co.publicKey)});
  r = await post("passkeys/register/finish", {name: "API key", credential: c.toJSON()});
  if (r.status !== 201) return "register/finish " + r.status + " " + await r.text();
  const added = await r.json();
  r = await post("logout");
  if ((await fetch("/api/auth/me")).status !== 401) return "still signed in";
  r = await post("passkeys/login/begin");
  if (r.status !== 200) return "login/begin " + r.status;
  const ro = await r.json();
  const a = await navigator.credentials.get({publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(ro.publicKey)});
  r = await post("passkeys/login/finish", {credential: a.toJSON()});
  if (r.status !== 200) return "login/finish " + r.status + " " + await r.text();
  const me = await (await fetch("/api/auth/me")).json();
  const replay = await post("passkeys/login/finish", {credential: a.toJSON()});
  const list = await (await fetch("/api/auth/passkeys")).json();
  return [me.user.username, added.passkey.name, replay.status, list.passkeys.length, list.passkeys[0].last_used_at ? "used" : "unused"].join(" ");
})()`
	var got string
	tab.Run(chromedp.Evaluate(js, &got, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if got != "bob API key 401 1 used" {
		t.Fatalf("the passkey API from the page: %q", got)
	}
}
