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
// the server, which explains each refusal on the page (S10).

// LoginPage is the canned login page: fields username and password (S12), a
// link to /register. On load it calls login.redir once, which sends an
// already-authenticated tab on (S17).
const LoginPage = template.HTML(`
<section class="card auth-card">
  <h1>Log in</h1>
  <p class="callout error" role="alert" data-show="login.error_message" data-text="login.error_message" hidden></p>
  <form data-on-submit="login.on_submit" method="post" action="/_live/nojs" novalidate>
    <label for="username">Username</label>
    <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password">
    <button type="submit">Log in</button>
  </form>
  <p class="muted">No account yet? <a href="/register">Create one</a></p>
  <span data-on-mount="login.redir"></span>
</section>`)

// RegisterPage is the canned registration page: fields username, password
// and confirm_password (S9).
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
    <button type="submit">Register</button>
  </form>
  <p class="muted">Already have an account? <a href="/login">Log in</a></p>
</section>`)

// RequireLogin wraps a page's content: it is shown only once the tab is
// hydrated and authenticated; until then spinners show, one of which calls
// login.redir when it mounts, which sends an anonymous tab to /login and
// back afterwards (S19). It protects nothing: content is public, and private
// data must come from state.
func RequireLogin(content template.HTML) template.HTML {
	return `<div class="require-login" data-show="live.is_hydrated && auth.is_authenticated" hidden>` + content + `</div>
<div class="require-login-wait" data-hide="live.is_hydrated && auth.is_authenticated">
  <span class="spinner" role="progressbar" aria-label="Loading" data-on-mount="login.redir"></span>
</div>`
}
