package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/localauth/localauth"
)

// Server-rendered account recovery pages, beside LoginHandler: a forgotten
// password asked for by name or address, a new password set with a
// mailed link's token, an address confirmed with its link's token. Each
// handler serves GET (the empty form) and POST (a urlencoded form) and
// renders through the caller's template.

// RecoveryForm is what a forgot-password, reset-password or verify-email
// page shows.
type RecoveryForm struct {
	// Token is the token of the mailed link the page was opened with
	// (?token=): put it in a hidden field named "token" and post it with
	// the form. The page should send Referrer-Policy: no-referrer, which
	// these handlers set, so that the link's token goes nowhere else.
	Token string
	// Done is true once the request went through: after a forgotten
	// password, say that a link is on its way if the account has a
	// verified address (every request is answered alike, whatever
	// exists); after a reset, that the password is set and the user may
	// log in (every session ended, and a second factor is still asked
	// for); after a verification, that the address is confirmed.
	Done bool
	// Error is a sentence for the person, "" when there is nothing to tell;
	// Code is its stable code (localauth.Code*) and Field, when set, the
	// form field it is about.
	Error, Code, Field string
	// RetryAfter is how long to wait when the server was busy.
	RetryAfter time.Duration
}

// ForgotPasswordHandler serves a forgotten-password page. POST takes
// "username" or "email" and always answers 200 with Done, the same for an
// account that exists, one without a verified address and none at all; the
// mail, if any, is queued, not sent, during the request. Malformed input (an
// address that is not one, both fields or neither) is answered 400 with
// Error; without mail set up, 409.
func (a *Auth) ForgotPasswordHandler(render func(w http.ResponseWriter, r *http.Request, f RecoveryForm)) http.Handler {
	return a.recoveryForm(render, func(r *http.Request, f *RecoveryForm) error {
		return a.svc.ForgotPassword(a.Context(r), localauth.ForgotRequest{
			Username: r.PostForm.Get("username"), Email: r.PostForm.Get("email"),
		})
	})
}

// ResetPasswordHandler serves the page a reset link opens. POST takes
// "token" and "new_password": the password policy applies (400 with Field
// "new_password"); a token that is unknown, used, expired or void answers
// 400 with the code invalid_token. A success ends every session, open page
// and trusted device of the account, starts none, and renders Done.
func (a *Auth) ResetPasswordHandler(render func(w http.ResponseWriter, r *http.Request, f RecoveryForm)) http.Handler {
	return a.recoveryForm(render, func(r *http.Request, f *RecoveryForm) error {
		return a.svc.ResetPassword(a.Context(r), f.Token, r.PostForm.Get("new_password"))
	})
}

// VerifyEmailHandler serves the page a verification link opens. The
// address is confirmed only by POST (a button on the page posting "token"),
// never by opening the link, since mail scanners open links.
func (a *Auth) VerifyEmailHandler(render func(w http.ResponseWriter, r *http.Request, f RecoveryForm)) http.Handler {
	return a.recoveryForm(render, func(r *http.Request, f *RecoveryForm) error {
		return a.svc.VerifyEmail(a.Context(r), f.Token)
	})
}

// recoveryForm is the shape the three handlers share: GET renders the form
// with the link's token, POST runs do and renders Done or the error with
// the status the JSON API gives it. Cross-origin POSTs are refused (403)
// before anything is read.
func (a *Auth) recoveryForm(render func(http.ResponseWriter, *http.Request, RecoveryForm), do func(*http.Request, *RecoveryForm) error) http.Handler {
	show := func(w http.ResponseWriter, r *http.Request, st int, f RecoveryForm) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header()["Cache-Control"] = valNoStore
		w.Header().Set("Referrer-Policy", "no-referrer")
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		w.WriteHeader(st)
		render(w, r, f)
	}
	return a.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			show(w, r, http.StatusOK, RecoveryForm{Token: r.URL.Query().Get("token")})
		case http.MethodPost:
			if !a.parseForm(w, r) {
				return
			}
			f := RecoveryForm{Token: r.PostForm.Get("token")}
			if err := do(r, &f); err != nil {
				fl := a.failure(r, err)
				f.Error, f.Code, f.Field, f.RetryAfter = fl.msg, fl.code, fl.field, fl.retry
				if f.Field == localauth.FieldPassword {
					f.Field = "new_password" // the only password these forms take
				}
				show(w, r, fl.status, f)
				return
			}
			f.Done = true
			show(w, r, http.StatusOK, f)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		}
	}))
}
