package liveauth

import (
	"context"
	"errors"
	"html/template"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// The pages of password reset by email and of address verification. Links
// in mails open them with ?token=…; the token is sent to the server only
// when the person presses the page's button, because mail scanners open
// links on their own.
const (
	ForgotPasswordRoute = "/forgot-password"
	ResetPasswordRoute  = "/reset-password"
	VerifyEmailRoute    = "/verify-email"
)

// Messages of the mail pages.
const (
	MsgResetDone       = "Your password is changed, and the account is signed out everywhere. Log in with the new password."
	MsgEmailVerified   = "Your email address is verified."
	MsgNoToken         = "This page needs the link from the mail. Open the link again, or ask for a new one."
	MsgAccountEmpty    = "Enter your username or your email address."
	MsgEmailEmpty      = "Enter an email address."
	MsgMailUnavailable = "Email is not available here."
)

// MailState is substate "mail": the mail pages' messages, and whether the
// server sends mail at all (Available), which shows the email fields.
type MailState struct {
	Available    bool   `live:"available"`
	Done         bool   `live:"done"`
	Message      string `live:"message"`
	ErrorMessage string `live:"error_message"`
}

// EmailInfo is the account page's view of the user's address.
type EmailInfo struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified"`
	Pending  string `json:"pending"`
}

// mountMail registers the mail state, handlers and, unless pages is
// false, the pages.
func (a *Auth) mountMail(app *live.App, pages bool) {
	available := a.svc.MailAvailable()
	app.State("mail", func() any { return &MailState{Available: available} })
	app.Computed("account.email", []string{"auth.authenticated_user", "live.route"}, a.emailInfo)
	app.Handle("mail.forgot", a.forgot)
	app.Handle("mail.reset", a.reset)
	app.Handle("mail.verify", a.verify)
	app.Handle("account.set_email", a.setEmail)
	if pages {
		app.Page(ForgotPasswordRoute, "Forgot your password", ForgotPasswordPage)
		app.Page(ResetPasswordRoute, "Choose a new password", ResetPasswordPage)
		app.Page(VerifyEmailRoute, "Verify your email address", VerifyEmailPage)
	}
}

func (a *Auth) emailInfo(ctx context.Context, t *live.Tab) any {
	u, ok := User(t)
	if !ok || t.Route() != AccountRoute {
		return EmailInfo{}
	}
	st, err := a.svc.UserEmail(ctx, u.ID)
	if err != nil {
		return EmailInfo{}
	}
	return EmailInfo{Email: st.Email, Verified: st.Verified, Pending: st.Pending}
}

// forgot is mail.forgot. The field takes a username or an address; it is
// tried as each it can be, and the answer is the same whatever exists.
func (a *Auth) forgot(ctx context.Context, t *live.Tab, ev live.Event) error {
	ms := live.Get[MailState](t, "mail")
	ms.Message, ms.ErrorMessage = "", ""
	account := ev.Fields["account"]
	if account == "" {
		ms.ErrorMessage = MsgAccountEmpty
		t.Focus("account")
		return nil
	}
	ctx = a.withIP(ctx, t)
	_, nameErr := localauth.CanonicalUsername(account)
	_, emailErr := localauth.NormalizeEmail(account)
	tried := nameErr == nil || emailErr == nil
	var failure error
	if tried {
		// One request, whether the field holds a username or an address.
		failure = a.svc.ForgotPassword(ctx, localauth.ForgotRequest{Account: account})
	}
	switch {
	case !tried:
		ms.ErrorMessage = MsgAccountEmpty
		t.Focus("account")
	case failure != nil:
		_, ms.ErrorMessage, _ = localauth.Public(failure)
	default:
		ms.Done = true
		ms.Message = forgotAnswer
	}
	return nil
}

// forgotAnswer is the same as the API's: it tells nothing of the account.
const forgotAnswer = "If the account has a verified email address, a link to reset its password is on its way there. It works for 30 minutes."

// reset is mail.reset: a new password with the token of the page's link.
func (a *Auth) reset(ctx context.Context, t *live.Tab, ev live.Event) error {
	ms := live.Get[MailState](t, "mail")
	ms.Message, ms.ErrorMessage = "", ""
	token := t.Query().Get("token")
	if token == "" {
		ms.ErrorMessage = MsgNoToken
		return nil
	}
	next := ev.Fields["password"]
	if next == "" {
		ms.ErrorMessage = MsgPasswordEmpty
		t.Focus("password")
		return nil
	}
	if next != ev.Fields["confirm_password"] {
		ms.ErrorMessage = MsgPasswordMismatch
		t.SetValue("confirm_password", "")
		t.Focus("confirm_password")
		return nil
	}
	if err := a.svc.ResetPassword(a.withIP(ctx, t), token, next); err != nil {
		_, ms.ErrorMessage, _ = localauth.Public(err)
		if errors.Is(err, localauth.ErrUnavailable) {
			a.log.Warn("liveauth: password reset failed", "err", err)
		}
		return nil
	}
	t.SetValue("password", "")
	t.SetValue("confirm_password", "")
	ms.Done, ms.Message = true, MsgResetDone
	return nil
}

// verify is mail.verify: the button of the verification page.
func (a *Auth) verify(ctx context.Context, t *live.Tab, _ live.Event) error {
	ms := live.Get[MailState](t, "mail")
	ms.Message, ms.ErrorMessage = "", ""
	token := t.Query().Get("token")
	if token == "" {
		ms.ErrorMessage = MsgNoToken
		return nil
	}
	if err := a.svc.VerifyEmail(ctx, token); err != nil {
		_, ms.ErrorMessage, _ = localauth.Public(err)
		return nil
	}
	ms.Done, ms.Message = true, MsgEmailVerified
	t.Invalidate("account.email")
	return nil
}

// setEmail is account.set_email; it needs a recent login, asked for inline
// as the other account actions do.
func (a *Auth) setEmail(ctx context.Context, t *live.Tab, ev live.Event) error {
	addr := ev.Fields["email"]
	as := live.Get[AccountState](t, "account")
	if addr == "" {
		as.Message, as.ErrorMessage = "", MsgEmailEmpty
		t.Focus("email")
		return nil
	}
	return a.accountAction(ctx, t, emailPendingPrefix+addr, func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.SetEmail(ctx, tok, addr); err != nil {
			return err
		}
		t.SetValue("email", "")
		as.Message = "A link to confirm " + addr + " is on its way there."
		t.Invalidate("account.email")
		return nil
	})
}

// emailPendingPrefix marks an address change waiting for the password.
const emailPendingPrefix = "set_email:"

// resumeEmail carries on with an address change after the password
// confirmation it waited for; ok is false for another pending action.
func (a *Auth) resumeEmail(ctx context.Context, t *live.Tab, pending string) (ok bool, err error) {
	if len(pending) <= len(emailPendingPrefix) || pending[:len(emailPendingPrefix)] != emailPendingPrefix {
		return false, nil
	}
	return true, a.setEmail(ctx, t, live.Event{Fields: map[string]string{"email": pending[len(emailPendingPrefix):]}})
}

// ForgotPasswordPage asks for a username or an email address, and answers
// alike whatever exists.
const ForgotPasswordPage = template.HTML(`
<section class="card auth-card">
  <h1>Forgot your password</h1>
  <p class="callout error" role="alert" data-show="mail.error_message" data-text="mail.error_message" hidden></p>
  <p class="callout success" id="forgot-message" role="status" data-show="mail.message" data-text="mail.message" hidden></p>
  <div data-show="mail.available" hidden>
    <form id="forgot-form" data-on-submit="mail.forgot" data-hide="mail.done" method="post" action="/_live/nojs" novalidate>
      <label for="account">Username or email address</label>
      <input id="account" name="account" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" aria-describedby="account-hint" autofocus>
      <p class="hint" id="account-hint">A reset link goes to the account's email address, if it has a verified one.</p>
      <button type="submit">Send a reset link</button>
    </form>
  </div>
  <p data-hide="mail.available">Email is not available here: ask an administrator to reset your password.</p>
  <p class="muted"><a href="/login">Back to log in</a></p>
</section>`)

// ResetPasswordPage sets a new password with the token in its URL.
const ResetPasswordPage = template.HTML(`
<section class="card auth-card">
  <h1>Choose a new password</h1>
  <p class="callout error" role="alert" data-show="mail.error_message" data-text="mail.error_message" hidden></p>
  <p class="callout success" id="reset-message" role="status" data-show="mail.message" data-text="mail.message" hidden></p>
  <form id="reset-form" data-on-submit="mail.reset" data-hide="mail.done" method="post" action="/_live/nojs" novalidate>
    <label for="password">New password</label>
    <input id="password" name="password" type="password" autocomplete="new-password" aria-describedby="password-hint" autofocus>
    <p class="hint" id="password-hint">At least 8 characters. Setting it signs the account out everywhere; a second factor is still asked for at the next login.</p>
    <label for="confirm_password">Confirm new password</label>
    <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password">
    <button type="submit">Set the password</button>
  </form>
  <p class="muted" data-show="mail.done" hidden><a href="/login" id="reset-login">Log in</a></p>
  <p class="muted" data-hide="mail.done"><a href="/forgot-password">Ask for a new link</a></p>
</section>`)

// VerifyEmailPage verifies the address in its URL's token at a button
// press.
const VerifyEmailPage = template.HTML(`
<section class="card auth-card">
  <h1>Verify your email address</h1>
  <p class="callout error" role="alert" data-show="mail.error_message" data-text="mail.error_message" hidden></p>
  <p class="callout success" id="verify-message" role="status" data-show="mail.message" data-text="mail.message" hidden></p>
  <form id="verify-form" data-on-submit="mail.verify" data-hide="mail.done" method="post" action="/_live/nojs" novalidate>
    <p>Press the button to confirm that this address is yours.</p>
    <button type="submit" id="verify-button">Verify my address</button>
  </form>
  <p class="muted"><a href="/account">Your account</a></p>
</section>`)

// EmailSection is the email part of the account page.
const EmailSection = template.HTML(`
  <h2>Email address</h2>
  <div id="email-section" data-show="mail.available" hidden>
    <p data-show="account.email.email" hidden>Address: <strong id="email-current" data-text="account.email.email"></strong> <span class="tag" id="email-verified" data-show="account.email.verified" hidden>verified</span><span class="tag" data-hide="account.email.verified">not verified yet: open the link we mailed</span></p>
    <p data-show="account.email.pending" hidden>Waiting for verification: <strong id="email-pending" data-text="account.email.pending"></strong></p>
    <p data-hide="account.email.email">No address yet. With a verified one you can reset a forgotten password.</p>
    <form id="email-form" class="inline-form" data-on-submit="account.set_email" method="post" action="/_live/nojs" novalidate>
      <label for="email">New email address</label>
      <input id="email" name="email" type="email" autocomplete="email" spellcheck="false">
      <button type="submit">Send a confirmation link</button>
    </form>
  </div>
`)

// emailUsable checks the optional address of a registration before the
// account exists, so that a refusal changes nothing.
func (a *Auth) emailUsable(t *live.Tab, rs *RegistrationState, addr string) bool {
	if addr == "" {
		return true
	}
	var err error
	if !a.svc.MailAvailable() {
		err = localauth.ErrMailUnavailable
	} else {
		_, err = localauth.NormalizeEmail(addr)
	}
	if err != nil {
		_, rs.ErrorMessage, _ = localauth.Public(err)
		t.Focus("email")
		return false
	}
	return true
}

// registeredEmail sets the address given at registration. The account
// exists by now, so a failure is logged: the user can set the address
// again on the account page.
func (a *Auth) registeredEmail(ctx context.Context, u localauth.User, addr string) {
	if addr == "" {
		return
	}
	if err := a.svc.SetUserEmail(ctx, u.Username, addr, false); err != nil {
		a.log.Warn("liveauth: setting the address given at registration failed", "err", err)
	}
}
