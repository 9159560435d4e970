package liveauth

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// AccountRoute is the account page: the signed-in user's sessions, password
// change, and account deletion.
const AccountRoute = "/account"

// Messages of the account page. Errors of the service are worded by
// localauth.Public.
const (
	MsgPasswordChanged     = "Password changed"
	MsgNewPasswordMismatch = "The new passwords do not match"
	MsgSessionEnded        = "Session ended"
	MsgOtherSessionsEnded  = "Every other session has ended"
	MsgConfirmPassword     = "Please confirm your password to continue."
	MsgConfirmWithCode     = "Please confirm your password and a code from your authenticator app (or a recovery code) to continue."
	MsgCodeStillNeeded     = "The password alone is not enough here: enter it again with a code from your authenticator app (or a recovery code)."
	MsgDeviceForgotten     = "Device forgotten"
)

// AccountState is substate "account". Pending, the action waiting for a
// password confirmation, stays on the server.
type AccountState struct {
	Message      string `live:"message"`
	ErrorMessage string `live:"error_message"`
	// ReauthNeeded shows the inline password prompt.
	ReauthNeeded bool `live:"reauth_needed"`
	// CodeNeeded adds a code field to that prompt: on an account with a
	// second factor the password alone is no recent login.
	CodeNeeded bool `live:"code_needed"`
	// ConfirmDelete shows the last question before deleting the account.
	ConfirmDelete bool   `live:"confirm_delete"`
	Pending       string `live:"pending,server"`
	// TOTPSetup shows the enrolment of an authenticator app: its QR code
	// (a data: URL) and secret, until the first code confirms it.
	TOTPSetup  bool   `live:"totp_setup"`
	TOTPSecret string `live:"totp_secret"`
	TOTPQR     string `live:"totp_qr"`
	// RecoveryCodes are shown once, until the user says they are saved.
	ShowCodes     bool           `live:"show_codes"`
	RecoveryCodes []RecoveryCode `live:"recovery_codes"`
	// PasskeyResume counts the password confirmations that an "Add a
	// passkey" waited for: each new value has the page script start the
	// ceremony again by itself, as the other actions carry on on the
	// server.
	PasskeyResume int `live:"passkey_resume"`
}

// SessionRow is one of the user's sessions as the account page shows it.
type SessionRow struct {
	ID       string `json:"id"`
	Device   string `json:"device"`
	IP       string `json:"ip"`
	LastSeen string `json:"last_seen"`
	Current  bool   `json:"current"`
}

// AccountInfo is what the account page shows of the user.
type AccountInfo struct {
	MemberSince string `json:"member_since"`
}

// userAgentKey is the tab's server-side value holding the User-Agent of its
// handshake, kept with the sessions it logs in.
const userAgentKey = "liveauth.user_agent"

// mountAccount registers the account state, its computed values and its
// handlers.
func (a *Auth) mountAccount(app *live.App) {
	app.OnConnect(func(r *http.Request, t *live.Tab) {
		if ua := r.UserAgent(); ua != "" {
			t.Store(userAgentKey, ua)
		}
	})
	app.State("account", func() any { return &AccountState{} })
	// Computed only on the account page: elsewhere nothing shows them,
	// and each costs a query.
	deps := []string{"auth.authenticated_user", "live.route"}
	app.Computed("account.sessions", deps, a.sessionRows)
	app.Computed("account.info", deps, a.accountInfo)
	app.Handle("account.end_session", a.endSession)
	app.Handle("account.end_others", a.endOthers)
	app.Handle("account.change_password", a.changePassword)
	app.Handle("account.delete", a.deleteAccount)
	app.Handle("account.reauth", a.reauth)
	app.Handle("account.cancel", a.cancel)
	a.mountFactors(app)
	a.mountDevices(app)
	a.mountActivity(app)
}

func onAccountPage(t *live.Tab) bool {
	_, authed := User(t)
	return authed && t.Route() == AccountRoute
}

func (a *Auth) sessionRows(ctx context.Context, t *live.Tab) any {
	rows := []SessionRow{}
	if !onAccountPage(t) {
		return rows
	}
	list, err := a.svc.ListSessions(ctx, localauth.Token(*a.token(t)))
	if err != nil {
		if !errors.Is(err, localauth.ErrInvalidSession) {
			a.log.Warn("liveauth: listing sessions failed", "err", err)
		}
		return rows
	}
	for _, s := range list {
		rows = append(rows, SessionRow{
			ID: s.ID, Device: s.Device, IP: s.IP, Current: s.Current,
			LastSeen: s.LastSeenAt.UTC().Format("2006-01-02 15:04 UTC"),
		})
	}
	return rows
}

func (a *Auth) accountInfo(ctx context.Context, t *live.Tab) any {
	u, ok := User(t)
	if !ok || t.Route() != AccountRoute {
		return AccountInfo{}
	}
	full, err := a.svc.User(ctx, u.ID)
	if err != nil {
		return AccountInfo{}
	}
	return AccountInfo{MemberSince: full.CreatedAt.UTC().Format("2 January 2006")}
}

// accountAction runs an action of the account page for the tab's session.
// When the action needs a recent login, the page asks for the password
// inline and the action waits in Pending until the user confirms it.
func (a *Auth) accountAction(ctx context.Context, t *live.Tab, pending string, run func(ctx context.Context, tok localauth.Token) error) error {
	as := live.Get[AccountState](t, "account")
	as.Message, as.ErrorMessage = "", ""
	err := run(a.withIP(ctx, t), localauth.Token(*a.token(t)))
	switch {
	case errors.Is(err, localauth.ErrSecondFactorReauthRequired):
		as.Pending, as.ReauthNeeded, as.CodeNeeded = pending, true, true
		as.Message = MsgConfirmWithCode
		t.Focus("reauth_password")
	case errors.Is(err, localauth.ErrReauthRequired):
		as.Pending, as.ReauthNeeded = pending, true
		as.Message = MsgConfirmPassword
		t.Focus("reauth_password")
	case err != nil:
		_, as.ErrorMessage, _ = localauth.Public(err)
		if errors.Is(err, localauth.ErrUnavailable) {
			a.log.Warn("liveauth: account action failed", "err", err)
		}
	}
	t.Invalidate("account.sessions")
	t.Invalidate("account.devices")
	t.Invalidate("account.activity")
	return nil
}

// endSession is account.end_session: end one of the user's sessions.
func (a *Auth) endSession(ctx context.Context, t *live.Tab, ev live.Event) error {
	id := ev.Fields["id"]
	return a.accountAction(ctx, t, "end_session:"+id, func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.EndSession(ctx, tok, id); err != nil {
			return err
		}
		live.Get[AccountState](t, "account").Message = MsgSessionEnded
		return nil
	})
}

// endOthers is account.end_others: end every session but this one.
func (a *Auth) endOthers(ctx context.Context, t *live.Tab, _ live.Event) error {
	return a.accountAction(ctx, t, "end_others", func(ctx context.Context, tok localauth.Token) error {
		if _, err := a.svc.EndOtherSessions(ctx, tok); err != nil {
			return err
		}
		live.Get[AccountState](t, "account").Message = MsgOtherSessionsEnded
		return nil
	})
}

// changePassword is account.change_password. The form asks for the current
// password, which also serves as the recent login the change needs.
func (a *Auth) changePassword(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	current, next := ev.Fields["current_password"], ev.Fields["new_password"]
	clear := func() {
		for _, id := range []string{"current_password", "new_password", "confirm_new_password"} {
			t.SetValue(id, "")
		}
	}
	if next != ev.Fields["confirm_new_password"] {
		as.Message, as.ErrorMessage = "", MsgNewPasswordMismatch
		t.SetValue("confirm_new_password", "")
		t.Focus("confirm_new_password")
		return nil
	}
	return a.accountAction(ctx, t, "", func(ctx context.Context, tok localauth.Token) error {
		err := a.svc.ChangePassword(ctx, tok, current, next)
		if errors.Is(err, localauth.ErrReauthRequired) {
			if err = a.svc.Reauth(ctx, tok, current); err == nil {
				err = a.svc.ChangePassword(ctx, tok, current, next)
			}
		}
		if err != nil {
			t.SetValue("current_password", "")
			t.Focus("current_password")
			return err
		}
		clear()
		as.Message = MsgPasswordChanged
		return nil
	})
}

// deleteAccount is account.delete: the first call asks for confirmation
// (confirm absent), the second, with confirm=yes, deletes the account and
// leaves the tab signed out on the home page.
func (a *Auth) deleteAccount(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	if ev.Fields["confirm"] != "yes" {
		as.Message, as.ErrorMessage, as.ConfirmDelete = "", "", true
		t.Focus("delete-confirm")
		return nil
	}
	as.ConfirmDelete = false
	return a.accountAction(ctx, t, "delete", func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.DeleteAccount(ctx, tok); err != nil {
			return err
		}
		return a.signedOut(ctx, t)
	})
}

// signedOut forgets the tab's token after its account went away, and sends
// the page home.
func (a *Auth) signedOut(ctx context.Context, t *live.Tab) error {
	*a.token(t) = ""
	if a.cookie {
		t.Post(a.opts.LogoutEndpoint, "{}")
	}
	t.Redirect("/")
	return nil
}

// reauth is account.reauth: confirm the password, then carry on with the
// action that asked for it.
func (a *Auth) reauth(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	t.SetValue("reauth_password", "")
	t.SetValue("reauth_code", "")
	err := a.svc.ReauthWith(a.withIP(ctx, t), localauth.Token(*a.token(t)), ev.Fields["password"], codeAnswer(ev.Fields["code"]))
	if err != nil {
		as.Message = ""
		_, as.ErrorMessage, _ = localauth.Public(err)
		if errors.Is(err, localauth.ErrSecondFactorReauthRequired) {
			// The password was right: the code is what is missing.
			as.CodeNeeded, as.ErrorMessage, as.Message = true, "", MsgCodeStillNeeded
		}
		t.Focus("reauth_password")
		return nil
	}
	pending := as.Pending
	as.Pending, as.ReauthNeeded, as.CodeNeeded, as.Message, as.ErrorMessage = "", false, false, "", ""
	if ok, err := a.resumeEmail(ctx, t, pending); ok {
		return err
	}
	switch {
	case pending == "end_others":
		return a.endOthers(ctx, t, live.Event{})
	case pending == "wasnt_me":
		return a.wasntMe(ctx, t, live.Event{})
	case pending == "delete":
		return a.deleteAccount(ctx, t, live.Event{Fields: map[string]string{"confirm": "yes"}})
	case len(pending) > len("end_session:") && pending[:len("end_session:")] == "end_session:":
		return a.endSession(ctx, t, live.Event{Fields: map[string]string{"id": pending[len("end_session:"):]}})
	case pending == "totp_enroll":
		return a.totpEnroll(ctx, t, live.Event{})
	case pending == "totp_disable":
		return a.totpDisable(ctx, t, live.Event{})
	case pending == "regenerate_codes":
		return a.regenerateCodes(ctx, t, live.Event{})
	case pending == "add_passkey":
		// The ceremony runs in the page: its script starts it again.
		as.Message = MsgPasskeyConfirmed
		as.PasskeyResume++
	case strings.HasPrefix(pending, "remove_passkey:"):
		return a.removePasskey(ctx, t, live.Event{Fields: map[string]string{"id": strings.TrimPrefix(pending, "remove_passkey:")}})
	case strings.HasPrefix(pending, confirmPendingPrefix):
		return a.confirmPasskey(ctx, t, live.Event{Fields: map[string]string{"id": strings.TrimPrefix(pending, confirmPendingPrefix)}})
	}
	return nil
}

// cancel is account.cancel: drop the pending action and its questions.
func (a *Auth) cancel(ctx context.Context, t *live.Tab, _ live.Event) error {
	as := live.Get[AccountState](t, "account")
	as.Pending, as.ReauthNeeded, as.CodeNeeded, as.ConfirmDelete, as.Message, as.ErrorMessage = "", false, false, false, "", ""
	clearSecrets(as)
	return nil
}

// AccountPage is the canned account page. It belongs inside RequireLogin.
const AccountPage = template.HTML(`
<section class="card wide account">
  <h1>Your account</h1>
  <p>Signed in as <strong data-text="auth.authenticated_user.display_name"></strong>, member since <span id="member-since" data-text="account.info.member_since"></span>.</p>
  <p class="callout success" id="account-message" role="status" data-show="account.message" data-text="account.message" hidden></p>
  <p class="callout error" id="account-error" role="alert" data-show="account.error_message" data-text="account.error_message" hidden></p>
  <form id="reauth-form" class="inline-form" data-on-submit="account.reauth" data-show="account.reauth_needed" method="post" action="/_live/nojs" novalidate hidden>
    <label for="reauth_password">Your password</label>
    <input id="reauth_password" name="password" type="password" autocomplete="current-password">
    <span class="inline-form" data-show="account.code_needed" hidden>
      <label for="reauth_code">Code from your authenticator app, or a recovery code</label>
      <input id="reauth_code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" spellcheck="false">
    </span>
    <button type="submit">Confirm</button>
    <button type="button" class="secondary" data-on-click="account.cancel">Cancel</button>
  </form>

  <h2>Where you are signed in</h2>
  <table class="sessions">
    <caption class="visually-hidden">Your sessions</caption>
    <thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Last seen</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody id="sessions" data-each="account.sessions">
      <template><tr>
        <td data-item-text="device"></td>
        <td data-item-text="ip"></td>
        <td data-item-text="last_seen"></td>
        <td><span class="tag" data-item-show="current">This device</span><button type="button" class="end-session secondary" data-item-hide="current" data-on-click="account.end_session" data-item-field="id">End</button></td>
      </tr></template>
    </tbody>
  </table>
  <p><button type="button" id="end-others" class="secondary" data-on-click="account.end_others">End all other sessions</button></p>

  <h2>Trusted devices</h2>
  <p>Browsers that completed a login to your account. When someone else locks your account by guessing passwords, these still log in with your password; they never skip the code from your authenticator app. Forget any you do not recognise.</p>
  <table class="devices">
    <caption class="visually-hidden">Your trusted devices</caption>
    <thead><tr><th scope="col">Device</th><th scope="col">Trusted since</th><th scope="col">Last login</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody id="devices" data-each="account.devices">
      <template><tr>
        <td data-item-text="label"></td>
        <td data-item-text="since"></td>
        <td data-item-text="last_used"></td>
        <td><span class="tag" data-item-show="current">This device</span><button type="button" class="forget-device secondary" data-on-click="account.forget_device" data-item-field="id">Forget</button></td>
      </tr></template>
    </tbody>
  </table>

` + EmailSection + `
  <h2>Recent security activity</h2>
  <p class="callout error" id="failed-notice" role="status" data-show="account.failed_notice" data-text="account.failed_notice" hidden></p>
  <table class="activity">
    <caption class="visually-hidden">Recent security activity, newest first</caption>
    <thead><tr><th scope="col">What</th><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">When</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
    <tbody id="activity" data-each="account.activity">
      <template><tr>
        <td data-item-text="what"></td>
        <td data-item-text="device"></td>
        <td data-item-text="ip"></td>
        <td data-item-text="when"></td>
        <td><button type="button" class="wasnt-me secondary" data-item-show="login" data-on-click="account.wasnt_me" data-item-field="session" hidden>This wasn't me</button></td>
      </tr></template>
    </tbody>
  </table>
  <p>"This wasn't me" ends every other session and takes you to the password change.</p>
  <p data-show="account.alerts.sign_in" hidden>Sign-in alerts: <strong>on</strong>. You are told of each sign-in from a new device.
    <button type="button" id="alerts-off" class="secondary" data-on-click="account.sign_in_alerts">Turn off sign-in alerts</button></p>
  <form id="alerts-on-form" data-hide="account.alerts.sign_in" data-on-submit="account.sign_in_alerts" method="post" action="/_live/nojs">
    <p>Sign-in alerts: <strong>off</strong>. <input type="hidden" name="enabled" value="yes">
    <button type="submit" id="alerts-on" class="secondary">Turn on sign-in alerts</button></p>
  </form>

  <h2>Two-step verification</h2>
  <div id="totp-section" data-show="account.factors.totp_available" hidden>
    <p data-show="account.factors.totp" hidden>Authenticator app: <strong>on</strong>. Recovery codes left: <strong id="recovery-left" data-text="account.factors.recovery_codes_left"></strong>.</p>
    <p data-hide="account.factors.totp">Authenticator app: off. With it on, logging in also asks for a code from an app on your phone.</p>
    <p data-show="!account.factors.totp && !account.totp_setup"><button type="button" id="totp-enroll" data-on-click="account.totp_enroll">Set up an authenticator app</button></p>
    <div id="totp-setup" data-show="account.totp_setup" hidden>
      <p>Scan this QR code with your authenticator app, or type the key into it.</p>
      <img id="totp-qr" class="qr" data-src="account.totp_qr" alt="QR code to add this account to an authenticator app" width="256" height="256">
      <p>Key: <code id="totp-secret" data-text="account.totp_secret"></code></p>
      <form id="totp-confirm-form" class="inline-form" data-on-submit="account.totp_confirm" method="post" action="/_live/nojs" novalidate>
        <label for="totp_confirm_code">Code from the app</label>
        <input id="totp_confirm_code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" spellcheck="false">
        <button type="submit">Turn on</button>
        <button type="button" class="secondary" data-on-click="account.cancel">Cancel</button>
      </form>
    </div>
    <div id="recovery-codes" class="callout" data-show="account.show_codes" hidden>
      <p><strong>Your recovery codes.</strong> Each logs you in once if you lose your phone. Keep them somewhere safe: they are not shown again.</p>
      <ul class="codes" data-each="account.recovery_codes"><template><li><code data-item-text="code"></code></li></template></ul>
      <button type="button" id="codes-saved" data-on-click="account.codes_saved">I have saved them</button>
    </div>
    <p data-show="account.factors.totp" hidden>
      <button type="button" id="regenerate-codes" class="secondary" data-on-click="account.regenerate_codes">New recovery codes</button>
      <button type="button" id="totp-disable" class="secondary" data-on-click="account.totp_disable">Turn off</button>
    </p>
  </div>
  <p data-hide="account.factors.totp_available">Two-step verification is not available on this server.</p>

  <h2>Passkeys</h2>
  <div id="passkey-section" data-show="account.factors.passkeys_available" hidden>
    <p>A passkey signs you in with your device's screen lock, with no password to type or steal.</p>
    <table class="passkeys" data-show="account.factors.has_passkeys" hidden>
      <caption class="visually-hidden">Your passkeys</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
      <tbody id="passkeys" data-each="account.factors.passkeys">
        <template><tr>
          <td><span data-item-text="name"></span><span class="callout error suspended-passkey" data-item-show="suspended" hidden> Disabled: it may have been copied. Confirm it only if it is yours and in your hands; otherwise remove it.</span></td>
          <td data-item-text="added"></td>
          <td data-item-text="last_used"></td>
          <td><button type="button" class="confirm-passkey secondary" data-on-click="account.confirm_passkey" data-item-field="id" data-item-show="suspended" hidden>Confirm it is mine</button>
            <button type="button" class="remove-passkey secondary" data-on-click="account.remove_passkey" data-item-field="id">Remove</button></td>
        </tr></template>
      </tbody>
    </table>
    <div class="inline-form">
      <label for="passkey_name">Name for a new passkey</label>
      <input id="passkey_name" name="name" type="text" maxlength="64" placeholder="Laptop" autocomplete="off">
      <button type="button" id="add-passkey" data-passkey="register" data-passkey-form="passkey-added-form" data-passkey-name="passkey_name" data-passkey-reauth="passkey-reauth-form" data-passkey-status="passkey-status">Add a passkey</button>
      <span id="passkey-resume" data-passkey-resume="add-passkey" data-text="account.passkey_resume" hidden></span>
    </div>
    <p class="callout error" id="passkey-status" role="alert" hidden></p>
    <form id="passkey-added-form" data-on-submit="account.passkey_added" method="post" action="/_live/nojs" hidden>
      <input type="hidden" name="credential"><input type="hidden" name="name">
    </form>
    <form id="passkey-reauth-form" data-on-submit="account.passkey_reauth" method="post" action="/_live/nojs" hidden></form>
  </div>
  <p data-hide="account.factors.passkeys_available">Passkeys are not available on this server.</p>

  <h2>Change your password</h2>
  <form id="password-form" data-on-submit="account.change_password" method="post" action="/_live/nojs" novalidate>
    <label for="current_password">Current password</label>
    <input id="current_password" name="current_password" type="password" autocomplete="current-password">
    <label for="new_password">New password</label>
    <input id="new_password" name="new_password" type="password" autocomplete="new-password" aria-describedby="new-password-hint">
    <p class="hint" id="new-password-hint">At least 8 characters. A few unrelated words make a strong, memorable passphrase.</p>
    <label for="confirm_new_password">Confirm new password</label>
    <input id="confirm_new_password" name="confirm_new_password" type="password" autocomplete="new-password">
    <button type="submit">Change password</button>
  </form>

  <h2>Delete your account</h2>
  <p>Deleting your account ends every session and cannot be undone.</p>
  <p data-hide="account.confirm_delete"><button type="button" id="delete-account" class="danger" data-on-click="account.delete">Delete account</button></p>
  <div class="callout error" role="alertdialog" aria-labelledby="delete-question" data-show="account.confirm_delete" hidden>
    <p id="delete-question">Delete your account for good?</p>
    <form data-on-submit="account.delete" method="post" action="/_live/nojs" novalidate>
      <input type="hidden" name="confirm" value="yes">
      <button type="submit" id="delete-confirm" class="danger">Yes, delete my account</button>
      <button type="button" class="secondary" data-on-click="account.cancel">Keep my account</button>
    </form>
  </div>
</section>`)
