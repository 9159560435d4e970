// Package demo is the example app, served by "localauth serve": a
// home page, a protected page with a piece of private data, and the login
// and registration pages of liveauth, all on the live runtime.
package demo

import (
	"context"
	"html/template"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
	"github.com/localauth/localauth/liveauth"
)

// State is substate "demo". It has no variables of its own: its one value,
// private_data, is computed.
type State struct{}

// New builds the demo app over svc.
func New(svc *localauth.Service, cfg live.Config, opts liveauth.Options) (*live.App, *liveauth.Auth) {
	cfg.Head += liveauth.StylesheetLink + liveauth.PasskeyScriptLink
	app := live.New(cfg)
	app.Asset(liveauth.StylesheetPath, "text/css; charset=utf-8", liveauth.Stylesheet)
	app.Asset(liveauth.PasskeyScriptPath, "text/javascript; charset=utf-8", liveauth.PasskeyScript)
	opts.NoPages = true
	auth := liveauth.Mount(app, svc, opts)
	app.State("demo", func() any { return &State{} })
	// The private data: computed on the server from the user the
	// server itself authenticated, so it reaches authenticated tabs only.
	app.Computed("demo.private_data", []string{"auth.authenticated_user"}, func(_ context.Context, t *live.Tab) any {
		u, ok := liveauth.User(t)
		if !ok {
			return ""
		}
		return "This is private data for " + u.DisplayName + "."
	})
	app.Page("/", "localauth demo", frame(indexBody))
	app.Page("/protected", "Protected page", frame(liveauth.RequireLogin(protectedBody)))
	app.Page(liveauth.LoginRoute, "Log in", frame(liveauth.LoginPage))
	app.Page(liveauth.RegisterRoute, "Create an account", frame(liveauth.RegisterPage))
	app.Page(liveauth.AccountRoute, "Your account", frame(liveauth.RequireLogin(liveauth.AccountPage)))
	app.Page(liveauth.ForgotPasswordRoute, "Forgot your password", frame(liveauth.ForgotPasswordPage))
	app.Page(liveauth.ResetPasswordRoute, "Choose a new password", frame(liveauth.ResetPasswordPage))
	app.Page(liveauth.VerifyEmailRoute, "Verify your email address", frame(liveauth.VerifyEmailPage))
	return app, auth
}

func frame(body template.HTML) template.HTML { return topbar + body }

const topbar = template.HTML(`
<header class="topbar">
  <a class="brand" href="/">localauth demo</a>
  <nav>
    <a href="/">Home</a>
    <a href="/protected">Protected</a>
    <a href="/account" id="account-link" data-show="auth.is_authenticated" hidden>Account</a>
    <span class="who" data-show="auth.is_authenticated" hidden>Signed in as <strong id="who" data-text="auth.authenticated_user.display_name"></strong></span>
    <a href="/" id="topbar-logout" data-on-click="auth.do_logout" data-show="auth.is_authenticated" hidden>Log out</a>
    <a href="/login" data-hide="auth.is_authenticated">Log in</a>
    <a href="/register" data-hide="auth.is_authenticated">Register</a>
  </nav>
</header>`)

// indexBody is the home page.
const indexBody = template.HTML(`
<section class="card wide">
  <h1>Welcome to my homepage!</h1>
  <p>This demo keeps each tab's state on the server and syncs it over a websocket. Its
  <a href="/protected" id="protected-link">protected page</a> asks you to log in first.</p>
  <p class="muted">Every page here is public; private data comes only from state the server computes after checking who you are.</p>
</section>`)

// protectedBody is the protected page.
const protectedBody = template.HTML(`
<section class="card wide">
  <h1 id="protected-title">Protected Page for <span data-text="auth.authenticated_user.display_name"></span></h1>
  <p class="private" id="private-data" data-text="demo.private_data"></p>
  <p><a href="/" id="home">Home</a> · <a href="/" id="logout" data-on-click="auth.do_logout">Logout</a></p>
</section>`)
