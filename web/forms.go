package web

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/returnto"
)

// Server-rendered login pages: an HTML form posted to the server, for apps
// that use neither the JSON API from scripts nor live pages.

// LoginForm is what a login page shows. The handler fills it; the page's
// template renders it.
type LoginForm struct {
	// Username is the name typed at the last attempt, to fill the field
	// again. The password is never carried back.
	Username string
	// Next is the validated local path to go to after the login: put it in
	// a hidden field named "next".
	Next string
	// Error is a sentence for the person about the last attempt, "" when
	// there is nothing to tell; Code is its stable code (localauth.Code*)
	// and Field, when set, the form field it is about.
	Error, Code, Field string
	// RetryAfter is how long to wait before the next attempt, when the
	// attempt was throttled or the server was busy.
	RetryAfter time.Duration
	// SecondStep, when not empty, means the password was right and the
	// account asks for a second factor: show a field named "code" (or
	// "recovery_code") and put SecondStep in a hidden field named
	// "mfa_token". Methods lists what the account accepts
	// (localauth.MethodTOTP, MethodRecovery, MethodPasskey); to keep them
	// across a wrong code, put them comma-separated in a hidden field
	// named "methods". A wrong code keeps the step open, and so does a step
	// that has expired (5 minutes) or been spent, which the handler cannot
	// tell apart without telling an attacker too: offer a way back to the
	// password step beside the code field (a link to the login page).
	SecondStep string
	Methods    []string
}

// LoginHandler serves a login page. GET renders an empty form; a browser
// that already has a live session goes on to its ?next= at once. POST takes
// an HTML form (application/x-www-form-urlencoded) with username, password,
// remember ("on" for a session that outlives the browser) and next; or, for
// the second step, mfa_token with code or recovery_code.
//
// A success sets the session and device cookies and answers 303 to the
// validated next ("/" by default). A failure renders the form again with
// the status the JSON API gives the same failure (401 for wrong
// credentials, 429 with Retry-After when throttled, 503 when busy or the
// store is down), and a sentence from localauth.Public. A cross-origin POST
// is refused with 403 before anything is read.
//
// render writes the page for f. The status and Content-Type are set before
// it runs, so it writes the body only.
func (a *Auth) LoginHandler(render func(w http.ResponseWriter, r *http.Request, f LoginForm)) http.Handler {
	show := func(w http.ResponseWriter, r *http.Request, st int, f LoginForm) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header()["Cache-Control"] = valNoStore
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
		}
		w.WriteHeader(st)
		render(w, r, f)
	}
	return a.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			next := returnto.Safe(r.URL.Query().Get("next"))
			if _, err := a.authenticate(r); err == nil {
				http.Redirect(w, r, next, http.StatusSeeOther)
				return
			}
			show(w, r, http.StatusOK, LoginForm{Next: next})
		case http.MethodPost:
			if !a.parseForm(w, r) {
				return
			}
			a.postLogin(w, r, show)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		}
	}))
}

// postLogin runs a posted login form: the password step, or the second
// step when the form carries an mfa_token.
func (a *Auth) postLogin(w http.ResponseWriter, r *http.Request, show func(http.ResponseWriter, *http.Request, int, LoginForm)) {
	f := LoginForm{
		Username: r.PostForm.Get("username"),
		Next:     returnto.Safe(r.PostForm.Get("next")),
	}
	ctx := a.Context(r)
	var res localauth.LoginResult
	var err error
	if step := r.PostForm.Get("mfa_token"); step != "" {
		res, err = a.svc.CompleteLogin(ctx, localauth.Token(step), localauth.SecondFactor{
			Code: r.PostForm.Get("code"), RecoveryCode: r.PostForm.Get("recovery_code"),
		})
		if errors.Is(err, localauth.ErrInvalidCode) {
			// The step stays open for another code until it expires
			// or is used; guesses are throttled like passwords.
			f.SecondStep, f.Methods = step, formMethods(r.PostForm.Get("methods"))
		}
	} else {
		opts := localauth.LoginOptions{Remember: r.PostForm.Get("remember") == "on"}
		res, err = a.svc.Login(ctx, f.Username, r.PostForm.Get("password"), opts)
		var sf *localauth.SecondFactorRequiredError
		if errors.As(err, &sf) {
			f.SecondStep, f.Methods = string(sf.Token), sf.Methods
			show(w, r, http.StatusOK, f)
			return
		}
	}
	if err != nil {
		a.formFailed(w, r, err, f, show)
		return
	}
	a.SetSessionCookie(w, r, res.Token, res.Session)
	a.SetDeviceCookie(w, r, res.DeviceToken)
	http.Redirect(w, r, f.Next, http.StatusSeeOther)
}

// formMethods reads back the methods a second-step form carried, keeping
// only known names.
func formMethods(v string) []string {
	var out []string
	for _, m := range strings.Split(v, ",") {
		switch m {
		case localauth.MethodTOTP, localauth.MethodRecovery, localauth.MethodPasskey:
			out = append(out, m)
		}
	}
	return out
}

// formFailed renders the form again for a Service error, with the status
// the API gives it.
func (a *Auth) formFailed(w http.ResponseWriter, r *http.Request, err error, f LoginForm, show func(http.ResponseWriter, *http.Request, int, LoginForm)) {
	fl := a.failure(r, err)
	f.Error, f.Code, f.Field, f.RetryAfter = fl.msg, fl.code, fl.field, fl.retry
	show(w, r, fl.status, f)
}

// parseForm reads a urlencoded form body of at most MaxBodyBytes; anything
// else is answered here (415, 413 or 400) and parseForm returns false.
func (a *Auth) parseForm(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		http.Error(w, "Send the form as application/x-www-form-urlencoded.", http.StatusUnsupportedMediaType)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "The form is too large.", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "The form could not be read.", http.StatusBadRequest)
		}
		return false
	}
	return true
}

// LogoutHandler ends the request's session on POST (a urlencoded form, or
// no body at all), clears its cookie and answers 303 to the form's
// validated "next" ("/" by default). Logging out
// without a session, or with one that already ended, is the same success.
// Cross-origin POSTs are refused with 403, so no other site can log a user
// out.
func (a *Auth) LogoutHandler() http.Handler {
	return a.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
			return
		}
		// A form posts its fields; a script or a bare button may post
		// nothing at all, which is as good a logout.
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			if !a.parseForm(w, r) {
				return
			}
		}
		if tok := a.Token(r); tok != "" {
			if err := a.svc.Logout(a.Context(r), tok); err != nil && !errors.Is(err, localauth.ErrInvalidSession) {
				a.unavailable(w, r, err)
				return
			}
		}
		a.ClearSessionCookie(w, r)
		http.Redirect(w, r, returnto.Safe(r.PostForm.Get("next")), http.StatusSeeOther)
	}))
}

// RequireAuth serves next only to an authenticated request, for API
// routes: anything else gets 401 with a JSON body
// {"error":"unauthenticated","message":…} and WWW-Authenticate: Bearer, or
// 503 when the store is down. Like the API, it refuses cross-origin
// requests that change state (403), since a session cookie rides along
// with them from a sibling site, and marks its answers Cache-Control:
// no-store. Handlers read the user with CurrentUser.
func (a *Auth) RequireAuth(next http.Handler) http.Handler {
	return a.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := a.authenticate(r)
		if err != nil {
			a.refuseAPI(w, r, err)
			return
		}
		w.Header()["Cache-Control"] = valNoStore
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	}))
}

// refuseAPI answers an unauthenticated or failed API request in JSON.
func (a *Auth) refuseAPI(w http.ResponseWriter, r *http.Request, err error) {
	w.Header()["Cache-Control"] = valNoStore
	if errors.Is(err, localauth.ErrInvalidSession) {
		if a.Token(r) != "" && r.Header.Get("Authorization") == "" {
			a.ClearSessionCookie(w, r)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="localauth"`)
		code, msg, _ := localauth.Public(err)
		writeError(w, http.StatusUnauthorized, code, msg, 0)
		return
	}
	a.fail(w, r, err)
}

// wantsJSON reports whether a request comes from a program rather than a
// browser navigating: it carries a bearer token, or asks for JSON and not
// HTML. Such a request is answered 401, not redirected to a login page.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}
