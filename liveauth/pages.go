package liveauth

import (
	_ "embed"
	"html/template"
)

// Stylesheet is the stylesheet of the canned pages: centred cards, callouts,
// a spinner, dark mode following the operating system. Serve it with
// app.Asset(StylesheetPath, "text/css; charset=utf-8", Stylesheet) and link
// it from live.Config.Head (StylesheetLink).
//
//go:embed style.css
var Stylesheet []byte

// StylesheetPath is where the demo serves Stylesheet.
const StylesheetPath = "/static/localauth.css"

// StylesheetLink is the <head> markup that links Stylesheet.
const StylesheetLink = template.HTML(`<link rel="stylesheet" href="` + StylesheetPath + `">`)

// The forms post to /_live/nojs only when the page script did not run, so
// that a password is never sent in a URL. novalidate leaves every check to
// the server, which explains each refusal on the page.

// LoginPage is the canned login page: fields username and password, the
// "Public or shared computer" choice (field shared, see LoginOptions), a
// link to /register, "Sign in with a passkey" when the server offers
// passkeys, and the second step (#totp_code, or #recovery_code) for an
// account with two-step verification. On load it calls login.redir once, which sends an
// already-authenticated tab on.
const LoginPage = template.HTML(`
<section class="card auth-card">
  <h1>Log in</h1>
  <p class="callout error" role="alert" data-show="login.error_message" data-text="login.error_message" hidden></p>
  <p class="callout" id="login-status" role="status" data-show="login.status" data-text="login.status" hidden></p>
  <form data-on-submit="login.on_submit" data-hide="login.second_step" method="post" action="/_live/nojs" novalidate>
    <label for="username">Username</label>
    <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password">
    <p class="checkbox"><input id="shared" name="shared" type="checkbox" value="yes" aria-describedby="shared-hint"><label for="shared">Public or shared computer</label></p>
    <p class="hint" id="shared-hint">Tick it to be signed out when the browser closes.</p>
    <button type="submit">Log in</button>
  </form>
  <div class="passkey-login" data-show="login.passkeys && !login.second_step" hidden>
    <p class="divider"><span>or</span></p>
    <button type="button" id="passkey-login" class="secondary" data-passkey="login" data-passkey-form="passkey-form" data-passkey-status="passkey-status">Sign in with a passkey</button>
  </div>
  <p class="callout error" id="passkey-status" role="alert" hidden></p>
  <form id="passkey-form" data-on-submit="login.passkey" method="post" action="/_live/nojs" hidden>
    <input type="hidden" name="credential"><input type="hidden" name="shared">
  </form>
  <div id="second-step" data-show="login.second_step" hidden>
    <h2>Two-step verification</h2>
    <form id="totp-form" data-on-submit="login.second_step" data-hide="login.use_recovery" method="post" action="/_live/nojs" novalidate>
      <label for="totp_code">Code from your authenticator app</label>
      <input id="totp_code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" spellcheck="false">
      <button type="submit">Verify</button>
    </form>
    <form id="recovery-form" data-on-submit="login.second_step" data-show="login.use_recovery" method="post" action="/_live/nojs" novalidate hidden>
      <label for="recovery_code">Recovery code</label>
      <input id="recovery_code" name="recovery_code" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" aria-describedby="recovery-hint">
      <p class="hint" id="recovery-hint">One of the codes you saved when you set up two-step verification, like abcde-fghij. Each works once.</p>
      <button type="submit">Verify</button>
    </form>
    <p data-hide="login.use_recovery"><a href="#recovery_code" id="use-recovery" data-on-click="login.use_recovery">Use a recovery code</a></p>
    <p data-show="login.passkey_step" hidden><button type="button" id="passkey-verify" class="secondary" data-passkey="login" data-passkey-form="passkey-form" data-passkey-status="passkey-status">Use a passkey</button></p>
    <p class="muted"><a href="/login" id="start-over" data-on-click="login.start_over">Start over</a></p>
  </div>
  <p class="muted" data-hide="login.second_step">No account yet? <a href="/register">Create one</a></p>
  <p class="muted" data-show="mail.available && !login.second_step" hidden><a href="/forgot-password" id="forgot-link">Forgot your password?</a></p>
  <span data-on-mount="login.redir"></span>
</section>`)

// RegisterPage is the canned registration page: fields username, password
// and confirm_password, and email when the server sends mail.
const RegisterPage = template.HTML(`
<section class="card auth-card">
  <h1>Create an account</h1>
  <p class="callout success" role="status" data-show="register.success" hidden><span class="spinner small" aria-hidden="true"></span> Registration successful!</p>
  <p class="callout error" role="alert" data-show="register.error_message" data-text="register.error_message" hidden></p>
  <form data-on-submit="register.handle_registration" data-hide="register.success" method="post" action="/_live/nojs" novalidate>
    <label for="username">Username</label>
    <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="new-password" aria-describedby="password-hint">
    <p class="hint" id="password-hint">At least 8 characters. A few unrelated words make a strong, memorable passphrase.</p>
    <label for="confirm_password">Confirm password</label>
    <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password">
    <div data-show="mail.available" hidden>
      <label for="email">Email address (optional)</label>
      <input id="email" name="email" type="email" autocomplete="email" spellcheck="false" aria-describedby="email-hint">
      <p class="hint" id="email-hint">We mail it a link to confirm it; once confirmed, it can reset a forgotten password.</p>
    </div>
    <button type="submit">Register</button>
  </form>
  <p class="muted">Already have an account? <a href="/login">Log in</a></p>
</section>`)

// RequireLogin wraps a page's content: it is shown only once the tab is
// hydrated and authenticated; until then spinners show, one of which calls
// login.redir when it mounts, which sends an anonymous tab to /login and
// back afterwards. It protects nothing: content is public, and private
// data must come from state.
func RequireLogin(content template.HTML) template.HTML {
	return `<div class="require-login" data-show="live.is_hydrated && auth.is_authenticated" hidden>` + content + `</div>
<div class="require-login-wait" data-hide="live.is_hydrated && auth.is_authenticated">
  <span class="spinner" role="progressbar" aria-label="Loading" data-on-mount="login.redir"></span>
</div>`
}
