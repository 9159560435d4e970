package liveauth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/liveauth"
)

// factors is the account page's view of the second factors.
func (p *page) factors() liveauth.Factors {
	p.tb.Helper()
	var f liveauth.Factors
	p.decode("account.factors", &f)
	return f
}

// recoveryCodes are the codes the page shows.
func (p *page) recoveryCodes() []string {
	p.tb.Helper()
	var rows []liveauth.RecoveryCode
	p.decode("account.recovery_codes", &rows)
	var codes []string
	for _, r := range rows {
		codes = append(codes, r.Code)
	}
	return codes
}

// An authenticator app is set up from the account page: a secret and its
// QR code until a first code confirms it, then recovery codes shown once.
// With the app on, the actions that need a recent login want a code with
// the password; new recovery codes replace the old; the app can be turned
// off again.
func TestAuthenticatorAppOnTheAccountPage(t *testing.T) {
	s := mustSite(t, siteConfig{totp: true})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	if f := p.factors(); !f.TOTPAvailable || f.TOTP || f.PasskeysAvailable {
		t.Fatalf("factors %+v, want TOTP available and off, no passkeys", f)
	}

	r := p.event("account.totp_enroll", nil)
	secret := p.str("account.totp_secret")
	if !p.flag("account.totp_setup") || secret == "" || !strings.HasPrefix(p.str("account.totp_qr"), "data:image/png;base64,") {
		t.Fatalf("no enrolment shown; got:\n%s", p.log.String())
	}
	if !r.focused("totp_confirm_code") {
		t.Fatalf("focus %v, want the code field", r.actions("focus"))
	}

	r = p.event("account.totp_confirm", map[string]string{"code": testkit.WrongTOTPCode(secret, s.clock.Now())})
	if got := p.str("account.error_message"); got != localauth.MsgInvalidCode {
		t.Fatalf("a wrong first code got %q, want %q", got, localauth.MsgInvalidCode)
	}
	if p.factors().TOTP || !r.focused("totp_confirm_code") {
		t.Fatal("a wrong first code turned the app on, or lost the focus")
	}
	code, _ := totp.GenerateCode(secret, s.clock.Now())
	r = p.event("account.totp_confirm", map[string]string{"code": code})
	if got := p.str("account.message"); got != liveauth.MsgTOTPOn {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgTOTPOn, p.str("account.error_message"))
	}
	codes := p.recoveryCodes()
	if !p.flag("account.show_codes") || len(codes) == 0 || p.flag("account.totp_setup") || p.str("account.totp_secret") != "" {
		t.Fatalf("after the first code: codes %v, setup still showing %v", codes, p.flag("account.totp_setup"))
	}
	if f := p.factors(); !f.TOTP || f.RecoveryCodesLeft != len(codes) {
		t.Fatalf("factors %+v, want TOTP on with %d codes", f, len(codes))
	}
	if !r.focused("codes-saved") {
		t.Fatalf("focus %v, want the codes' button", r.actions("focus"))
	}
	p.event("account.codes_saved", nil)
	if p.flag("account.show_codes") || len(p.recoveryCodes()) != 0 {
		t.Fatal("the codes still show after the user saved them")
	}

	// With the app on, the password alone confirms nothing.
	s.oldLogin()
	p.event("account.regenerate_codes", nil)
	if !p.flag("account.reauth_needed") || !p.flag("account.code_needed") || p.str("account.message") != liveauth.MsgConfirmWithCode {
		t.Fatalf("no prompt for password and code; got:\n%s", p.log.String())
	}
	p.event("account.reauth", map[string]string{"password": pw})
	if got := p.str("account.message"); got != liveauth.MsgCodeStillNeeded || !p.flag("account.code_needed") || p.str("account.error_message") != "" {
		t.Fatalf("password alone: message %q, error %q; want %q and no error: the password was right", got, p.str("account.error_message"), liveauth.MsgCodeStillNeeded)
	}
	// A code typed with a space, as apps show it.
	code, _ = totp.GenerateCode(secret, s.clock.Now())
	p.event("account.reauth", map[string]string{"password": pw, "code": code[:3] + " " + code[3:]})
	if got := p.str("account.message"); got != liveauth.MsgNewRecoveryCodes {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgNewRecoveryCodes, p.str("account.error_message"))
	}
	fresh := p.recoveryCodes()
	if len(fresh) != len(codes) || slices.Contains(fresh, codes[0]) {
		t.Fatalf("new codes %v, old %v", fresh, codes)
	}
	p.event("account.codes_saved", nil)

	// A recovery code serves as the second factor of the confirmation.
	s.oldLogin()
	p.event("account.totp_disable", nil)
	if !p.flag("account.code_needed") {
		t.Fatalf("turning the app off asked no code; got:\n%s", p.log.String())
	}
	p.event("account.reauth", map[string]string{"password": pw, "code": fresh[0]})
	if got := p.str("account.message"); got != liveauth.MsgTOTPOff {
		t.Fatalf("message %q, want %q; error %q", got, liveauth.MsgTOTPOff, p.str("account.error_message"))
	}
	if f := p.factors(); f.TOTP || f.RecoveryCodesLeft != 0 {
		t.Fatalf("factors %+v after turning the app off", f)
	}
	if _, err := s.svc.Login(clientCtx, "alice", pw); err != nil {
		t.Fatalf("with the app off the password alone does not log in: %v", err)
	}
}

// Setting up the app when the login is old asks for the password first,
// then shows the secret.
func TestAuthenticatorAppSetupWaitsForThePassword(t *testing.T) {
	s := mustSite(t, siteConfig{totp: true})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	s.oldLogin()
	p.event("account.totp_enroll", nil)
	if !p.flag("account.reauth_needed") || p.flag("account.totp_setup") {
		t.Fatalf("no password prompt before the secret; got:\n%s", p.log.String())
	}
	p.event("account.reauth", map[string]string{"password": pw})
	if !p.flag("account.totp_setup") || p.str("account.totp_secret") == "" {
		t.Fatalf("the setup did not resume; got:\n%s", p.log.String())
	}
	p.event("account.cancel", nil)
	if p.flag("account.totp_setup") || p.str("account.totp_secret") != "" || p.str("account.totp_qr") != "" {
		t.Fatal("cancel left the secret on the page")
	}
}

// On a server without authenticator apps the page says so, and the setup
// is refused in words.
func TestAuthenticatorAppUnavailable(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	if p.factors().TOTPAvailable {
		t.Fatal("the page offers an authenticator app the server cannot check")
	}
	p.event("account.totp_enroll", nil)
	if got, want := p.str("account.error_message"), publicMessage(localauth.ErrFactorUnavailable); got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
	if p.flag("account.totp_setup") {
		t.Fatal("a setup shows")
	}
}

// Adding a passkey is a ceremony the page script runs; when the server
// says it needs a recent login, the page asks for the password and, once
// it is confirmed, tells the script to start again. The server's refusals
// of passkey answers and ids are worded.
func TestPasskeyActionsOnTheAccountPage(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)

	p.event("account.passkey_reauth", nil)
	if !p.flag("account.reauth_needed") || p.str("account.message") != liveauth.MsgConfirmPassword {
		t.Fatalf("no password prompt; got:\n%s", p.log.String())
	}
	var resume int
	p.decode("account.passkey_resume", &resume)
	p.event("account.reauth", map[string]string{"password": pw})
	var after int
	p.decode("account.passkey_resume", &after)
	if after != resume+1 || p.str("account.message") != liveauth.MsgPasskeyConfirmed {
		t.Fatalf("resume %d→%d, message %q; want a new resume and %q", resume, after, p.str("account.message"), liveauth.MsgPasskeyConfirmed)
	}

	tok := p.token()
	for _, c := range []struct {
		event  string
		fields map[string]string
		err    error
	}{
		{"account.passkey_added", map[string]string{"name": "Laptop", "credential": `{"id":"x"}`},
			func() error {
				_, err := s.svc.FinishPasskeyRegistration(clientCtx, tok, "Laptop", []byte(`{"id":"x"}`))
				return err
			}()},
		{"account.remove_passkey", map[string]string{"id": "no-such-passkey"},
			s.svc.RemovePasskey(clientCtx, tok, "no-such-passkey")},
		{"account.confirm_passkey", map[string]string{"id": "no-such-passkey"},
			s.svc.ConfirmPasskey(clientCtx, tok, "no-such-passkey")},
	} {
		if c.err == nil {
			t.Fatalf("%s: the service accepted it", c.event)
		}
		want := publicMessage(c.err)
		if errors.Is(c.err, localauth.ErrInvalidCode) {
			want = liveauth.MsgPasskeyFailed
		}
		p.event(c.event, c.fields)
		if got := p.str("account.error_message"); got != want {
			t.Errorf("%s: error %q, want %q", c.event, got, want)
		}
	}
}
