package liveauth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/returnto"
	"github.com/localauth/localauth/live"
)

// The login and registration pages: their states, the handlers their forms
// call, and the private step that signs a tab in once a login succeeds.

// Messages of the registration page's own checks. Errors
// of the service are worded by localauth.Public.
const (
	MsgUsernameEmpty    = "Username cannot be empty"
	MsgPasswordEmpty    = "Password cannot be empty"
	MsgPasswordMismatch = "Passwords do not match"
)

// Progress messages of the login page.
const (
	MsgSigningIn = "Signing you in…"
	// MsgBusyRetrying shows while a login refused as busy waits for its one
	// retry.
	MsgBusyRetrying = "The server is busy. Trying again in a moment…"
)

// LoginState is substate "login".
type LoginState struct {
	ErrorMessage string `live:"error_message"`
	// Status says what a submitted login is doing while it waits.
	Status     string `live:"status"`
	RedirectTo string `live:"redirect_to"`
	// SecondStep shows the second-factor form after a right password;
	// UseRecovery swaps its code field for a recovery code's, and
	// PasskeyStep offers a passkey as the second factor.
	SecondStep  bool `live:"second_step"`
	UseRecovery bool `live:"use_recovery"`
	PasskeyStep bool `live:"passkey_step"`
	// Passkeys offers "Sign in with a passkey".
	Passkeys bool `live:"passkeys"`
	// SecondStepToken names the login waiting for its second factor. It
	// stays on the server: the page never holds it.
	SecondStepToken string `live:"second_step_token,server"`
}

// RegistrationState is substate "register".
type RegistrationState struct {
	Success      bool   `live:"success"`
	ErrorMessage string `live:"error_message"`
	NewUserID    int64  `live:"new_user_id"`
}

// login is the private handler that signs a tab in: it starts the tab's session from a
// successful Login. It is not registered with the app, so no page can call
// it. In cookie mode the page gets a one-time code for the cookie, never
// the token.
func (a *Auth) login(ctx context.Context, t *live.Tab, res localauth.LoginResult) error {
	// A login on a public or shared computer ends with the browser: its
	// token goes to sessionStorage, which the browser's other open tabs
	// still get (in cookie mode, its cookie has no Max-Age).
	t.SessionStorage(LocalStorageKey, !res.Session.Remember)
	*a.token(t) = string(res.Token)
	if !a.cookie {
		return a.handDevice(ctx, t, res)
	}
	if res.DeviceToken != "" {
		// The browser's cookie holds it once the code below is redeemed;
		// the tab's own calls present it from now on.
		t.Store(deviceKey, res.DeviceToken)
	}
	binding, _ := t.Load(bindingKey)
	b, _ := binding.(string)
	if b == "" {
		// A browser that keeps no cookies cannot hold the session cookie
		// either: the tab stays logged in over its socket only.
		a.log.Warn("liveauth: no handoff binding on this tab; the session cookie is not set")
		return nil
	}
	code, err := a.svc.IssueLoginHandoff(ctx, res, b)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"code": code})
	t.Post(a.opts.SessionEndpoint, string(body))
	return nil
}

// handDevice has a page that keeps its token in LocalStorage trade a
// one-time code for the device cookie of its login: a websocket cannot set
// a cookie, and the token never goes to the page in clear.
func (a *Auth) handDevice(ctx context.Context, t *live.Tab, res localauth.LoginResult) error {
	binding, _ := t.Load(bindingKey)
	b, _ := binding.(string)
	if res.DeviceToken == "" || b == "" {
		return nil
	}
	t.Store(deviceKey, res.DeviceToken)
	code, err := a.svc.IssueLoginHandoff(ctx, res, b)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"code": code})
	t.Post(a.opts.DeviceEndpoint, string(body))
	return nil
}

// LoginOptions reads a login event's "Public or shared computer" choice,
// field shared. Unticked, the default, the login is a remembered one
// (localauth.LoginOptions.Remember: it lives Config.RememberLifetime, and
// its token persists across the browser's tabs and restarts, in
// LocalStorage or in a cookie with Max-Age). Ticked, it is not: the token
// is kept for the browser session only (sessionStorage, which live hands to
// the browser's other open tabs, or a cookie without Max-Age), and it
// lives Config.SessionLifetime. An app's own login page sends the same
// field.
func LoginOptions(ev live.Event) localauth.LoginOptions {
	return localauth.LoginOptions{Remember: ev.Fields["shared"] == ""}
}

// onSubmit is login.on_submit: check the credentials, start the session, and
// go back where the login was asked for.
func (a *Auth) onSubmit(ctx context.Context, t *live.Tab, ev live.Event) error {
	ls := live.Get[LoginState](t, "login")
	ls.ErrorMessage = ""
	// The login may wait its turn for a hashing slot: say so meanwhile.
	ls.Status = MsgSigningIn
	t.Flush()
	lctx := a.withIP(ctx, t)
	opt := LoginOptions(ev)
	res, err := a.svc.Login(lctx, ev.Fields["username"], ev.Fields["password"], opt)
	var busy *localauth.BusyError
	if errors.As(err, &busy) {
		// Refused as busy: the answer says when there will be room, so
		// try once more then, by ourselves.
		_, _, wait := localauth.Public(err)
		ls.Status = MsgBusyRetrying
		t.Flush()
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil
		}
		ls.Status = MsgSigningIn
		t.Flush()
		res, err = a.svc.Login(lctx, ev.Fields["username"], ev.Fields["password"], opt)
	}
	ls.Status = ""
	var sf *localauth.SecondFactorRequiredError
	if errors.As(err, &sf) {
		a.askSecondFactor(t, ls, sf)
		return nil
	}
	if err != nil {
		_, ls.ErrorMessage, _ = localauth.Public(err)
		t.SetValue("password", "")
		t.Focus("password")
		if errors.Is(err, localauth.ErrUnavailable) {
			a.log.Warn("liveauth: login failed", "err", err)
		}
		return nil
	}
	if err := a.login(ctx, t, res); err != nil {
		_, ls.ErrorMessage, _ = localauth.Public(err)
		return nil
	}
	// Settle now, so that redir sees the new authenticated user.
	t.Flush()
	return a.redir(ctx, t, ev)
}

// redir is login.redir. Called from any page but /login with no
// authenticated user, it remembers the page and sends the browser to /login;
// called from /login with an authenticated user, it sends the browser back
// to the remembered page, or /. It decides only once the tab is hydrated,
// so a logged-in user is never bounced.
func (a *Auth) redir(ctx context.Context, t *live.Tab, _ live.Event) error {
	if !t.IsHydrated() {
		return nil
	}
	ls := live.Get[LoginState](t, "login")
	_, authed := User(t)
	switch page := t.Route(); {
	case page == LoginRoute && !authed:
		// A server guard sends browsers here with ?next=; keep it in the
		// tab, which outlives a detour to /register.
		if next := t.Query().Get("next"); next != "" {
			ls.RedirectTo = returnto.Safe(next)
		}
	case page != LoginRoute && !authed:
		ls.RedirectTo = returnto.Safe(page + t.RawQuery())
		t.Redirect(LoginRoute)
	case page == LoginRoute && authed:
		to := returnto.Safe(ls.RedirectTo)
		if ls.RedirectTo == "" {
			if next := t.Query().Get("next"); next != "" {
				to = returnto.Safe(next)
			}
		}
		ls.RedirectTo = ""
		t.Redirect(to)
	}
	return nil
}

// handleRegistration is register.handle_registration, with the page's own checks
// first, each with its message and focus, then the policy's.
func (a *Auth) handleRegistration(ctx context.Context, t *live.Tab, ev live.Event) error {
	rs := live.Get[RegistrationState](t, "register")
	rs.Success = false
	ctx = a.withIP(ctx, t)
	username := ev.Fields["username"]
	password := ev.Fields["password"]
	if username == "" {
		rs.ErrorMessage = MsgUsernameEmpty
		t.Focus("username")
		return nil
	}
	if _, err := a.svc.CheckUsername(ctx, username); err != nil {
		a.registrationRefused(t, rs, username, err)
		return nil
	}
	if password == "" {
		rs.ErrorMessage = MsgPasswordEmpty
		t.Focus("password")
		return nil
	}
	if password != ev.Fields["confirm_password"] {
		rs.ErrorMessage = MsgPasswordMismatch
		t.SetValue("confirm_password", "")
		t.Focus("confirm_password")
		return nil
	}
	email := ev.Fields["email"]
	if !a.emailUsable(t, rs, email) {
		return nil
	}
	u, err := a.svc.Register(ctx, username, password)
	if err != nil {
		a.registrationRefused(t, rs, username, err)
		return nil
	}
	a.registeredEmail(ctx, u, email)
	rs.ErrorMessage = ""
	rs.NewUserID = u.ID
	rs.Success = true
	if !t.Flush() {
		return nil
	}
	timer := time.NewTimer(a.delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-timer.C:
	}
	t.Redirect(LoginRoute)
	rs.Success = false
	return nil
}

// registrationRefused shows why a registration was refused and moves the
// focus to the field to correct.
func (a *Auth) registrationRefused(t *live.Tab, rs *RegistrationState, username string, err error) {
	var pe *localauth.PolicyError
	switch {
	case errors.Is(err, localauth.ErrUserExists):
		// The message names the username: it is shown as text,
		// never as markup.
		rs.ErrorMessage, _ = localauth.PublicUsernameTaken(err, username)
		t.SetValue("username", "")
		t.Focus("username")
		return
	case errors.As(err, &pe):
		if pe.Field == localauth.FieldPassword {
			t.SetValue("password", "")
			t.SetValue("confirm_password", "")
		}
		t.Focus(pe.Field)
	case errors.Is(err, localauth.ErrUnavailable):
		a.log.Warn("liveauth: registration failed", "err", err)
	}
	_, rs.ErrorMessage, _ = localauth.Public(err)
}
