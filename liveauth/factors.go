package liveauth

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"slices"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/live"
)

// Second factors on the live pages: the login page's second step and
// passkey sign-in, and the account page's authenticator app, recovery
// codes and passkeys.
//
// The WebAuthn calls (navigator.credentials.create and .get) can only run
// in the page, so a small script (PasskeyScript) does them: it fetches the
// ceremony's options from the JSON API (passkeys/login/begin,
// passkeys/register/begin), asks the browser, and hands the answer back to
// the tab through a hidden form whose submit event runs a handler here.
// The second-step token never reaches the page; the challenge reaches it
// only inside the options the browser needs.

// Messages of the second factors.
const (
	MsgCodeRequired      = "Enter the 6-digit code from your authenticator app."
	MsgTOTPOn            = "Two-step verification is on. Save your recovery codes now: they are shown only once."
	MsgTOTPOff           = "Two-step verification is off"
	MsgNewRecoveryCodes  = "New recovery codes. The old ones no longer work; save these now: they are shown only once."
	MsgPasskeyAdded      = "Passkey added"
	MsgPasskeyRemoved    = "Passkey removed"
	MsgPasskeyConfirmed  = "Password confirmed. Follow your browser’s prompt to add the passkey."
	MsgPasskeyNoResponse = "The passkey did not answer. Please try again."
	MsgPasskeyFailed     = "That passkey could not be used here. Please try again, or use another way in."
)

// passkeyError is the message for a refused passkey answer: the Service's
// ErrInvalidCode speaks of codes.
func passkeyError(err error) string {
	if errors.Is(err, localauth.ErrInvalidCode) {
		return MsgPasskeyFailed
	}
	_, msg, _ := localauth.Public(err)
	return msg
}

// PasskeyScript is the page script of the passkey ceremonies: hand-written,
// no build step, no outside service. Serve it with
// app.Asset(PasskeyScriptPath, "text/javascript; charset=utf-8",
// PasskeyScript) and link it from live.Config.Head (PasskeyScriptLink); it
// runs under a Content-Security-Policy of script-src 'self'.
//
//go:embed passkey.js
var PasskeyScript []byte

// PasskeyScriptPath is where the demo serves PasskeyScript.
const PasskeyScriptPath = "/static/localauth-passkeys.js"

// PasskeyScriptLink is the <head> markup that loads PasskeyScript.
const PasskeyScriptLink = template.HTML(`<script src="` + PasskeyScriptPath + `" defer></script>`)

// askSecondFactor turns the login page to its second step.
func (a *Auth) askSecondFactor(t *live.Tab, ls *LoginState, sf *localauth.SecondFactorRequiredError) {
	ls.SecondStepToken = string(sf.Token)
	ls.SecondStep, ls.UseRecovery = true, false
	ls.PasskeyStep = slices.Contains(sf.Methods, localauth.MethodPasskey)
	ls.ErrorMessage = ""
	t.SetValue("password", "")
	t.Focus("totp_code")
}

// secondStep is login.second_step: the code (or recovery code) after a
// right password. A wrong code keeps the step open for another try.
func (a *Auth) secondStep(ctx context.Context, t *live.Tab, ev live.Event) error {
	ls := live.Get[LoginState](t, "login")
	ans := localauth.SecondFactor{Code: ev.Fields["code"], RecoveryCode: ev.Fields["recovery_code"]}
	if ans.Code == "" && ans.RecoveryCode == "" {
		ls.ErrorMessage = MsgCodeRequired
		return nil
	}
	return a.finishSecondStep(ctx, t, ev, ans)
}

func (a *Auth) finishSecondStep(ctx context.Context, t *live.Tab, ev live.Event, ans localauth.SecondFactor) error {
	ls := live.Get[LoginState](t, "login")
	ls.ErrorMessage = ""
	res, err := a.svc.CompleteLogin(a.withIP(ctx, t), localauth.Token(ls.SecondStepToken), ans)
	t.SetValue("totp_code", "")
	t.SetValue("recovery_code", "")
	if err != nil {
		_, ls.ErrorMessage, _ = localauth.Public(err)
		if len(ans.Passkey) > 0 {
			ls.ErrorMessage = passkeyError(err)
		}
		if errors.Is(err, localauth.ErrInvalidCode) || errors.Is(err, localauth.ErrRateLimited) {
			if ls.UseRecovery {
				t.Focus("recovery_code")
			} else {
				t.Focus("totp_code")
			}
			return nil
		}
		// The password no longer holds, or the account changed: back to
		// the start.
		a.resetSecondStep(ls)
		return nil
	}
	a.resetSecondStep(ls)
	return a.loggedIn(ctx, t, ev, res)
}

func (a *Auth) resetSecondStep(ls *LoginState) {
	ls.SecondStepToken, ls.SecondStep, ls.UseRecovery, ls.PasskeyStep = "", false, false, false
}

// loggedIn starts the tab's session and goes back where the login was
// asked for.
func (a *Auth) loggedIn(ctx context.Context, t *live.Tab, ev live.Event, res localauth.LoginResult) error {
	ls := live.Get[LoginState](t, "login")
	if err := a.login(ctx, t, res); err != nil {
		_, ls.ErrorMessage, _ = localauth.Public(err)
		return nil
	}
	t.Flush()
	return a.redir(ctx, t, ev)
}

// useRecovery is login.use_recovery: ask for a recovery code instead.
func (a *Auth) useRecovery(_ context.Context, t *live.Tab, _ live.Event) error {
	ls := live.Get[LoginState](t, "login")
	if ls.SecondStep {
		ls.UseRecovery, ls.ErrorMessage = true, ""
		t.Focus("recovery_code")
	}
	return nil
}

// startOver is login.start_over: drop the half-done login.
func (a *Auth) startOver(_ context.Context, t *live.Tab, _ live.Event) error {
	ls := live.Get[LoginState](t, "login")
	a.resetSecondStep(ls)
	ls.ErrorMessage = ""
	t.Focus("username")
	return nil
}

// passkeyLogin is login.passkey: the browser's answer to a passkey
// ceremony (field credential), as a whole login or as the second step.
func (a *Auth) passkeyLogin(ctx context.Context, t *live.Tab, ev live.Event) error {
	ls := live.Get[LoginState](t, "login")
	cred := ev.Fields["credential"]
	if cred == "" {
		ls.ErrorMessage = MsgPasskeyNoResponse
		return nil
	}
	if ls.SecondStep {
		return a.finishSecondStep(ctx, t, ev, localauth.SecondFactor{Passkey: []byte(cred)})
	}
	ls.ErrorMessage = ""
	res, err := a.svc.PasskeyLogin(a.withIP(ctx, t), []byte(cred), LoginOptions(ev))
	if err != nil {
		ls.ErrorMessage = passkeyError(err)
		if errors.Is(err, localauth.ErrUnavailable) {
			a.log.Warn("liveauth: passkey login failed", "err", err)
		}
		return nil
	}
	return a.loggedIn(ctx, t, ev, res)
}

// RecoveryCode is one recovery code as the account page lists it.
type RecoveryCode struct {
	Code string `json:"code"`
}

// PasskeyRow is one passkey as the account page lists it.
type PasskeyRow struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Added    string `json:"added"`
	LastUsed string `json:"last_used"`
	// Suspended marks a passkey disabled as a possible clone, which its
	// owner may confirm (account.confirm_passkey) or remove.
	Suspended bool `json:"suspended"`
}

// Factors is what the account page shows of the user's second factors.
type Factors struct {
	TOTPAvailable     bool         `json:"totp_available"`
	PasskeysAvailable bool         `json:"passkeys_available"`
	TOTP              bool         `json:"totp"`
	RecoveryCodesLeft int          `json:"recovery_codes_left"`
	Passkeys          []PasskeyRow `json:"passkeys"`
	HasPasskeys       bool         `json:"has_passkeys"`
}

func (a *Auth) factors(ctx context.Context, t *live.Tab) any {
	f := Factors{Passkeys: []PasskeyRow{}}
	if !onAccountPage(t) {
		return f
	}
	st, err := a.svc.Factors(ctx, localauth.Token(*a.token(t)))
	if err != nil {
		if !errors.Is(err, localauth.ErrInvalidSession) {
			a.log.Warn("liveauth: reading second factors failed", "err", err)
		}
		return f
	}
	f.TOTPAvailable, f.PasskeysAvailable = st.TOTPAvailable, st.PasskeysAvailable
	f.TOTP, f.RecoveryCodesLeft = st.TOTP, st.RecoveryCodesLeft
	for _, p := range st.Passkeys {
		row := PasskeyRow{ID: p.ID, Name: p.Name, Added: p.CreatedAt.UTC().Format("2006-01-02"), LastUsed: "never", Suspended: p.Suspended}
		if p.LastUsedAt != nil {
			row.LastUsed = p.LastUsedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		f.Passkeys = append(f.Passkeys, row)
	}
	f.HasPasskeys = len(f.Passkeys) > 0
	return f
}

// mountFactors registers the account page's second-factor values and
// handlers.
func (a *Auth) mountFactors(app *live.App) {
	app.Computed("account.factors", []string{"auth.authenticated_user", "live.route"}, a.factors)
	app.Handle("account.totp_enroll", a.totpEnroll)
	app.Handle("account.totp_confirm", a.totpConfirm)
	app.Handle("account.totp_disable", a.totpDisable)
	app.Handle("account.regenerate_codes", a.regenerateCodes)
	app.Handle("account.codes_saved", a.codesSaved)
	app.Handle("account.passkey_added", a.passkeyAdded)
	app.Handle("account.passkey_reauth", a.passkeyReauth)
	app.Handle("account.remove_passkey", a.removePasskey)
	app.Handle("account.confirm_passkey", a.confirmPasskey)
}

// clearSecrets drops the enrolment secret and the recovery codes from
// the tab's state: they are shown once.
func clearSecrets(as *AccountState) {
	as.TOTPSetup, as.TOTPSecret, as.TOTPQR = false, "", ""
	as.RecoveryCodes, as.ShowCodes = nil, false
}

// totpEnroll is account.totp_enroll: a new secret, shown as a QR code and
// as text until a code from it confirms it.
func (a *Auth) totpEnroll(ctx context.Context, t *live.Tab, _ live.Event) error {
	as := live.Get[AccountState](t, "account")
	return a.accountAction(ctx, t, "totp_enroll", func(ctx context.Context, tok localauth.Token) error {
		en, err := a.svc.EnrollTOTP(ctx, tok)
		if err != nil {
			return err
		}
		clearSecrets(as)
		as.TOTPSetup, as.TOTPSecret, as.TOTPQR = true, en.Secret, "data:image/png;base64,"+base64.StdEncoding.EncodeToString(en.QRCode)
		t.Focus("totp_confirm_code")
		return nil
	})
}

// totpConfirm is account.totp_confirm: the first code turns TOTP on and
// brings the recovery codes, shown once.
func (a *Auth) totpConfirm(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	code := ev.Fields["code"]
	t.SetValue("totp_confirm_code", "")
	return a.accountAction(ctx, t, "", func(ctx context.Context, tok localauth.Token) error {
		codes, err := a.svc.ConfirmTOTP(ctx, tok, code)
		if err != nil {
			t.Focus("totp_confirm_code")
			return err
		}
		a.showCodes(as, codes)
		as.Message = MsgTOTPOn
		t.Invalidate("account.factors")
		t.Focus("codes-saved")
		return nil
	})
}

func (a *Auth) showCodes(as *AccountState, codes []string) {
	clearSecrets(as)
	as.ShowCodes = true
	for _, c := range codes {
		as.RecoveryCodes = append(as.RecoveryCodes, RecoveryCode{Code: c})
	}
}

// totpDisable is account.totp_disable (recent login).
func (a *Auth) totpDisable(ctx context.Context, t *live.Tab, _ live.Event) error {
	as := live.Get[AccountState](t, "account")
	return a.accountAction(ctx, t, "totp_disable", func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.DisableTOTP(ctx, tok); err != nil {
			return err
		}
		clearSecrets(as)
		as.Message = MsgTOTPOff
		t.Invalidate("account.factors")
		return nil
	})
}

// regenerateCodes is account.regenerate_codes (recent login).
func (a *Auth) regenerateCodes(ctx context.Context, t *live.Tab, _ live.Event) error {
	as := live.Get[AccountState](t, "account")
	return a.accountAction(ctx, t, "regenerate_codes", func(ctx context.Context, tok localauth.Token) error {
		codes, err := a.svc.RegenerateRecoveryCodes(ctx, tok)
		if err != nil {
			return err
		}
		a.showCodes(as, codes)
		as.Message = MsgNewRecoveryCodes
		t.Invalidate("account.factors")
		t.Focus("codes-saved")
		return nil
	})
}

// codesSaved is account.codes_saved: the user has the codes; forget them.
func (a *Auth) codesSaved(_ context.Context, t *live.Tab, _ live.Event) error {
	as := live.Get[AccountState](t, "account")
	clearSecrets(as)
	as.Message = ""
	return nil
}

// passkeyAdded is account.passkey_added: the browser's answer to the
// registration options the page script fetched (fields name, credential).
func (a *Auth) passkeyAdded(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	return a.accountAction(ctx, t, "", func(ctx context.Context, tok localauth.Token) error {
		if _, err := a.svc.FinishPasskeyRegistration(ctx, tok, ev.Fields["name"], []byte(ev.Fields["credential"])); err != nil {
			if errors.Is(err, localauth.ErrInvalidCode) {
				as.ErrorMessage = MsgPasskeyFailed
				return nil
			}
			return err
		}
		as.Message = MsgPasskeyAdded
		t.SetValue("passkey_name", "")
		t.Invalidate("account.factors")
		return nil
	})
}

// passkeyReauth is account.passkey_reauth: the page script was told that
// adding a passkey needs a recent login; ask for the password.
func (a *Auth) passkeyReauth(ctx context.Context, t *live.Tab, _ live.Event) error {
	return a.accountAction(ctx, t, "add_passkey", func(context.Context, localauth.Token) error {
		return localauth.ErrReauthRequired
	})
}

// removePasskey is account.remove_passkey (recent login).
func (a *Auth) removePasskey(ctx context.Context, t *live.Tab, ev live.Event) error {
	as := live.Get[AccountState](t, "account")
	id := ev.Fields["id"]
	return a.accountAction(ctx, t, "remove_passkey:"+id, func(ctx context.Context, tok localauth.Token) error {
		if err := a.svc.RemovePasskey(ctx, tok, id); err != nil {
			return err
		}
		as.Message = MsgPasskeyRemoved
		t.Invalidate("account.factors")
		return nil
	})
}
