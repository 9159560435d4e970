package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/localauth/localauth"
)

// The email endpoints, under /api/auth/:
//
//	POST password/forgot {"username"} | {"email"}   202 {"message"}, the same whatever exists
//	POST password/reset  {"token","new_password"}   204; every session of the account ends
//	POST email           {"email"}                  202 {"message"} (recent login)
//	POST email/verify    {"token"}                  204
//
// and register takes an optional "email", me shows "email" and
// "email_verified" when mail is on.

func (a *Auth) mailRoutes(routes map[string]apiRoute) {
	routes["password/forgot"] = apiRoute{http.MethodPost, a.apiForgot}
	routes["password/reset"] = apiRoute{http.MethodPost, a.apiReset}
	routes["email"] = apiRoute{http.MethodPost, a.apiSetEmail}
	routes["email/verify"] = apiRoute{http.MethodPost, a.apiVerifyEmail}
}

// ForgotAnswer is the one answer to every well-formed forgot-password
// request: it says nothing of whether the account exists.
const ForgotAnswer = "If the account has a verified email address, a link to reset its password is on its way there."

// EmailAnswer answers a change of address alike whether or not another
// account holds it.
const EmailAnswer = "A link to confirm the address is on its way there."

func (a *Auth) apiForgot(w http.ResponseWriter, r *http.Request) {
	var in localauth.ForgotRequest
	if !a.decode(w, r, &in) {
		return
	}
	if err := a.svc.ForgotPassword(a.Context(r), in); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": ForgotAnswer})
}

func (a *Auth) apiReset(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
		New   string `json:"new_password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	if err := a.svc.ResetPassword(a.Context(r), in.Token, in.New); err != nil {
		var pe *localauth.PolicyError
		if errors.As(err, &pe) && pe.Field == localauth.FieldPassword {
			named := *pe
			named.Field = "new_password"
			err = &named
		}
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) apiSetEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	tok := a.Token(r)
	if tok == "" {
		a.fail(w, r, localauth.ErrInvalidSession)
		return
	}
	if err := a.svc.SetEmail(a.Context(r), tok, in.Email); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": EmailAnswer})
}

func (a *Auth) apiVerifyEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	if err := a.svc.VerifyEmail(a.Context(r), in.Token); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkEmail refuses an address given at registration that cannot be
// used: malformed, or mail is off.
func (a *Auth) checkEmail(addr string) error {
	if _, err := localauth.NormalizeEmail(addr); err != nil {
		return err
	}
	if !a.svc.MailAvailable() {
		return localauth.ErrMailUnavailable
	}
	return nil
}

// registeredEmail sets the address given at registration. The account
// exists by now, so a failure here is logged, not answered: the user can
// set the address again from the account page.
func (a *Auth) registeredEmail(r *http.Request, u localauth.User, addr string) {
	if err := a.svc.SetUserEmail(a.Context(r), u.Username, addr, false); err != nil {
		a.log.Error("web: setting the email address given at registration failed", "err", err)
	}
}

// appendEmail appends the me answer's email fields when mail is on.
func (a *Auth) appendEmail(r *http.Request, b []byte, u localauth.User) []byte {
	if !a.svc.MailAvailable() {
		return b
	}
	st, err := a.svc.UserEmail(a.Context(r), u.ID)
	if err != nil {
		return b
	}
	b = append(b, `,"email":`...)
	b = appendJSONString(b, st.Email)
	b = append(b, `,"email_verified":`...)
	return strconv.AppendBool(b, st.Verified)
}
