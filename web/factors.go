package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/localauth/localauth"
)

// The second-factor endpoints of the API:
//
//	POST   login/mfa   {"mfa_token","code"|"recovery_code"|"passkey"}  as login: 200 {"user","expires_at"} + cookies
//	POST   token/mfa   {"mfa_token","code"|"recovery_code"|"passkey"}  as token: 200 {"token","token_type","expires_at","user"}
//	GET    factors                                      200 {"totp","recovery_codes_left","passkeys":[...],...}
//	POST   totp/enroll                                  200 {"secret","otpauth_url","qr_code"} (recent login)
//	POST   totp/confirm  {"code"}                       200 {"recovery_codes":[...10]} (recent login)
//	DELETE totp                                         204 (recent login)
//	POST   recovery-codes                               200 {"recovery_codes":[...10]}: replaces them all (recent login)
//	GET    passkeys                                     200 {"passkeys":[{"id","name","created_at","last_used_at","suspended"}]}
//	DELETE passkeys/{id}                                204 | 404 (recent login)
//	POST   passkeys/{id}/confirm                        204 | 404: lifts a possible clone's suspension (recent login)
//	POST   passkeys/register/begin                      200 {"publicKey":{...}} for navigator.credentials.create (recent login)
//	POST   passkeys/register/finish {"name","credential"}  201 {"passkey"} (recent login)
//	POST   passkeys/login/begin                         200 {"publicKey":{...}} for navigator.credentials.get
//	POST   passkeys/login/finish {"credential","remember"?}  as login
//
// A login or token request for an account with a second factor answers
// 200 {"mfa_required":true,"mfa_token","methods":[...]} and sets no session
// cookie. The mfa_token is finished with login/mfa (or token/mfa) from the
// same client (address and device cookie) within five minutes. A passkey
// answer for the second step comes from passkeys/login/begin and
// navigator.credentials.get, like a passkey login.

// passkeysPrefix is the route of one passkey: passkeys/{id}.
const passkeysPrefix = "passkeys/"

func (a *Auth) factorRoutes(routes map[string]apiRoute) {
	routes["login/mfa"] = apiRoute{http.MethodPost, a.apiLoginMFA}
	routes["token/mfa"] = apiRoute{http.MethodPost, a.apiTokenMFA}
	routes["factors"] = apiRoute{http.MethodGet, a.apiFactors}
	routes["totp/enroll"] = apiRoute{http.MethodPost, a.apiTOTPEnroll}
	routes["totp/confirm"] = apiRoute{http.MethodPost, a.apiTOTPConfirm}
	routes["totp"] = apiRoute{http.MethodDelete, a.apiTOTPDisable}
	routes["recovery-codes"] = apiRoute{http.MethodPost, a.apiRecoveryCodes}
	routes["passkeys"] = apiRoute{http.MethodGet, a.apiPasskeys}
	routes["passkeys/register/begin"] = apiRoute{http.MethodPost, a.apiPasskeyRegisterBegin}
	routes["passkeys/register/finish"] = apiRoute{http.MethodPost, a.apiPasskeyRegisterFinish}
	routes["passkeys/login/begin"] = apiRoute{http.MethodPost, a.apiPasskeyLoginBegin}
	routes["passkeys/login/finish"] = apiRoute{http.MethodPost, a.apiPasskeyLoginFinish}
}

// secondStep answers a login that needs a second factor, and reports
// whether err was one.
func secondStep(w http.ResponseWriter, err error) bool {
	var sf *localauth.SecondFactorRequiredError
	if !errors.As(err, &sf) {
		return false
	}
	writeJSON(w, http.StatusOK, map[string]any{"mfa_required": true, "mfa_token": string(sf.Token), "methods": sf.Methods})
	return true
}

type mfaAnswer struct {
	Token        string          `json:"mfa_token"`
	Code         string          `json:"code"`
	RecoveryCode string          `json:"recovery_code"`
	Passkey      json.RawMessage `json:"passkey"`
}

func (a *Auth) completeLogin(w http.ResponseWriter, r *http.Request) (localauth.LoginResult, bool) {
	var in mfaAnswer
	if !a.decode(w, r, &in) {
		return localauth.LoginResult{}, false
	}
	passkey := in.Passkey
	if string(passkey) == "null" {
		passkey = nil // a JSON null is no answer, as an absent key is
	}
	res, err := a.svc.CompleteLogin(a.Context(r), localauth.Token(in.Token),
		localauth.SecondFactor{Code: in.Code, RecoveryCode: in.RecoveryCode, Passkey: passkey})
	if err != nil {
		a.fail(w, r, err)
		return localauth.LoginResult{}, false
	}
	return res, true
}

func (a *Auth) apiLoginMFA(w http.ResponseWriter, r *http.Request) {
	if res, ok := a.completeLogin(w, r); ok {
		a.loggedIn(w, r, res)
	}
}

func (a *Auth) apiTokenMFA(w http.ResponseWriter, r *http.Request) {
	if res, ok := a.completeLogin(w, r); ok {
		a.tokenIssued(w, r, res)
	}
}

// loggedIn answers a login with the session cookie, as login does.
func (a *Auth) loggedIn(w http.ResponseWriter, r *http.Request, res localauth.LoginResult) {
	a.SetSessionCookie(w, r, res.Token, res.Session)
	a.SetDeviceCookie(w, r, res.DeviceToken)
	writeJSON(w, http.StatusOK, map[string]any{"user": apiUser(res.User), "expires_at": res.Session.ExpiresAt})
}

// tokenIssued answers a login with the bearer token in the body, as token
// does, and no session cookie. The device cookie is still set: a client
// that keeps cookies then logs in next time as a known device, not as a
// stranger.
func (a *Auth) tokenIssued(w http.ResponseWriter, r *http.Request, res localauth.LoginResult) {
	a.SetDeviceCookie(w, r, res.DeviceToken)
	writeJSON(w, http.StatusOK, map[string]any{
		"token": string(res.Token), "token_type": "Bearer",
		"expires_at": res.Session.ExpiresAt, "user": apiUser(res.User),
	})
}

func (a *Auth) apiFactors(w http.ResponseWriter, r *http.Request) {
	st, err := a.svc.Factors(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// QRDataURL returns a PNG as a data: URL, which the pages' Content
// Security Policy allows as an image source.
func QRDataURL(png []byte) string {
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
}

func (a *Auth) apiTOTPEnroll(w http.ResponseWriter, r *http.Request) {
	en, err := a.svc.EnrollTOTP(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": en.Secret, "otpauth_url": en.URL, "qr_code": QRDataURL(en.QRCode)})
}

func (a *Auth) apiTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	codes, err := a.svc.ConfirmTOTP(a.Context(r), a.Token(r), in.Code)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (a *Auth) apiTOTPDisable(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DisableTOTP(a.RenewingContext(w, r), a.Token(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) apiRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	codes, err := a.svc.RegenerateRecoveryCodes(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"recovery_codes": codes})
}

func (a *Auth) apiPasskeys(w http.ResponseWriter, r *http.Request) {
	st, err := a.svc.Factors(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"passkeys": st.Passkeys})
}

func (a *Auth) apiRemovePasskey(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, APIPrefix), passkeysPrefix)
	if err := a.svc.RemovePasskey(a.Context(r), a.Token(r), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeRaw answers JSON the Service already encoded.
func writeRaw(w http.ResponseWriter, st int, b []byte) {
	w.Header()["Content-Type"] = valJSON
	w.WriteHeader(st)
	w.Write(b)
}

func (a *Auth) apiPasskeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	opts, err := a.svc.BeginPasskeyRegistration(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, opts)
}

func (a *Auth) apiPasskeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	pk, err := a.svc.FinishPasskeyRegistration(a.Context(r), a.Token(r), in.Name, in.Credential)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"passkey": pk})
}

func (a *Auth) apiPasskeyLoginBegin(w http.ResponseWriter, r *http.Request) {
	opts, err := a.svc.BeginPasskeyLogin(a.Context(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeRaw(w, http.StatusOK, opts)
}

func (a *Auth) apiPasskeyLoginFinish(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Credential json.RawMessage `json:"credential"`
		Remember   bool            `json:"remember"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	res, err := a.svc.PasskeyLogin(a.Context(r), in.Credential, localauth.LoginOptions{Remember: in.Remember})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.loggedIn(w, r, res)
}
