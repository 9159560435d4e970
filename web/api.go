package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/localauth/localauth"
)

// The JSON API, under /api/auth/:
//
//	POST   register   {"username","password"}                       201 {"user"}
//	POST   login      {"username","password","remember"?}          200 {"user","expires_at"} + session and device cookies
//	POST   token      {"username","password","remember"?}          200 {"token","token_type","expires_at","user"} + device cookie
//	POST   logout                                                   204, cookie cleared
//	GET    me                                                       200 {"user"} | 401
//	POST   password   {"current_password","new_password"}           204; the other sessions end (recent login)
//	POST   session    {"code"}                                      204 + session cookie (live pages in cookie mode)
//	GET    sessions                                                 200 {"sessions":[{"id","created_at","last_seen_at","ip","device","current"}]}
//	DELETE sessions/{id}                                            204 | 404 (another's or unknown); another than one's own: recent login
//	POST   sessions/revoke-others                                   204 (recent login)
//	POST   reauth     {"password","code"?|"recovery_code"?|"passkey"?} 204: a recent login for ReauthWindow; 403 second_factor_required for a password alone where a second factor is on
//	GET    devices                                                  200 {"devices":[{"id","label","created_at","last_used_at","current"}]}
//	DELETE devices/{id}                                             204 | 404 (another's or unknown): the device is trusted no more
//	DELETE account                                                  204, cookie cleared (recent login)
//	GET    openapi.json                                             200: this API's OpenAPI document (see OpenAPI)
//
// and the second-factor endpoints of factors.go. openapi.json, beside this
// file, describes every endpoint exactly; the tests hold the API to it.
//
// "Recent login" endpoints answer 403 {"error":"reauth_required"} without
// one.
//
// Errors are {"error": "<stable code>", "message": "<text for people>"},
// with "field" naming the input to correct where there is one. Requests
// must be application/json (415 otherwise), hold no unknown fields (400) and
// fit in Config.MaxBodyBytes (413). Cross-origin requests are refused (403);
// no CORS header is ever sent.

// APIPrefix is where API mounts its routes.
const APIPrefix = "/api/auth/"

// APIUser is a user as the API shows it.
type APIUser struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

func apiUser(u localauth.User) APIUser {
	return APIUser{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, CreatedAt: u.CreatedAt}
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Remember asks for a remembered session (the live login page's
	// default, unless "Public or shared computer" is ticked).
	Remember bool `json:"remember"`
}

// API returns the handler of the JSON API; mount it at APIPrefix.
func (a *Auth) API() http.Handler {
	routes := a.apiRoutes()
	api := a.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One lookup on the exact path: the API is a flat set of names,
		// and GET /api/auth/me runs on every page view of an app, so it
		// should cost no pattern matching. Any path that is not exactly
		// one of the names (unclean ones included) is a 404.
		name, _ := strings.CutPrefix(r.URL.Path, APIPrefix)
		rt, ok := routes[name]
		if !ok {
			rt, ok = a.accountRoute(name)
		}
		if !ok || !strings.HasPrefix(r.URL.Path, APIPrefix) {
			writeError(w, http.StatusNotFound, "not_found", "No such endpoint.", 0)
			return
		}
		if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", rt.method)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use "+rt.method+" for this endpoint.", 0)
			return
		}
		rt.h(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What a JSON answer needs, refusals of cross-origin requests
		// included, whether or not SecurityHeaders runs before: nosniff
		// and no-store (see SecurityHeaders).
		h := w.Header()
		h["X-Content-Type-Options"] = valNosniff
		h["Cache-Control"] = valNoStore
		api.ServeHTTP(w, r)
	})
}

// apiRoutes returns the endpoints of the API by name, their path under
// APIPrefix; those of one item by its id are accountRoute's.
func (a *Auth) apiRoutes() map[string]apiRoute {
	routes := map[string]apiRoute{
		"register": {http.MethodPost, a.apiRegister},
		"login":    {http.MethodPost, a.apiLogin},
		"token":    {http.MethodPost, a.apiToken},
		"logout":   {http.MethodPost, a.apiLogout},
		"me":       {http.MethodGet, a.apiMe},
		"password": {http.MethodPost, a.apiPassword},
		"session":  {http.MethodPost, a.apiSession},
		"device":   {http.MethodPost, a.apiDevice},

		"sessions":               {http.MethodGet, a.apiSessions},
		"sessions/revoke-others": {http.MethodPost, a.apiRevokeOthers},
		"reauth":                 {http.MethodPost, a.apiReauth},
		"account":                {http.MethodDelete, a.apiDeleteAccount},
		"devices":                {http.MethodGet, a.apiDevices},

		"openapi.json": {http.MethodGet, apiOpenAPI},
	}
	a.factorRoutes(routes)
	a.mailRoutes(routes)
	a.activityRoutes(routes)
	return routes
}

// apiRoute is one endpoint of the API: the method it answers (GET also
// answers HEAD) and its handler.
type apiRoute struct {
	method string
	h      http.HandlerFunc
}

// registration is the body of POST register: no "remember", which only a
// login can ask for, so that a client sending it hears of its mistake.
type registration struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Email is optional: a verification link goes to it.
	Email string `json:"email"`
}

func (a *Auth) apiRegister(w http.ResponseWriter, r *http.Request) {
	var in registration
	if !a.decode(w, r, &in) {
		return
	}
	// A bad address is refused before the account exists, so that a
	// refusal changes nothing.
	if in.Email != "" {
		if err := a.checkEmail(in.Email); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	u, err := a.svc.Register(a.Context(r), in.Username, in.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if in.Email != "" {
		a.registeredEmail(r, u, in.Email)
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": apiUser(u)})
}

func (a *Auth) apiLogin(w http.ResponseWriter, r *http.Request) {
	if res, ok := a.passwordLogin(w, r); ok {
		a.loggedIn(w, r, res)
	}
}

func (a *Auth) apiToken(w http.ResponseWriter, r *http.Request) {
	if res, ok := a.passwordLogin(w, r); ok {
		a.tokenIssued(w, r, res)
	}
}

// passwordLogin checks the credentials of a login or token request. It
// reports false once it has answered itself: a body it refused, a refused
// login, or a right password on an account with a second factor, which
// goes on to login/mfa or token/mfa.
func (a *Auth) passwordLogin(w http.ResponseWriter, r *http.Request) (localauth.LoginResult, bool) {
	var in credentials
	if !a.decode(w, r, &in) {
		return localauth.LoginResult{}, false
	}
	res, err := a.svc.Login(a.Context(r), in.Username, in.Password, localauth.LoginOptions{Remember: in.Remember})
	if secondStep(w, err) {
		return localauth.LoginResult{}, false
	}
	if err != nil {
		a.fail(w, r, err)
		return localauth.LoginResult{}, false
	}
	return res, true
}

func (a *Auth) apiLogout(w http.ResponseWriter, r *http.Request) {
	if tok := a.Token(r); tok != "" {
		err := a.svc.Logout(a.Context(r), tok)
		if err != nil && !errors.Is(err, localauth.ErrInvalidSession) {
			a.fail(w, r, err)
			return
		}
	}
	a.ClearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (a *Auth) apiMe(w http.ResponseWriter, r *http.Request) {
	u, err := a.authenticate(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Encoded by hand: this is the hottest answer of the API, and the
	// reflection of encoding/json over a map cost more than the rest of
	// the request. TestMeJSON holds it to encoding/json's output.
	bp := meBuffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"user":`...)
	b = appendAPIUser(b, apiUser(u))
	b = a.appendEmail(r, b, u)
	b = append(b, "}\n"...)
	w.Header()["Content-Type"] = valJSON
	w.Write(b)
	*bp = b
	meBuffers.Put(bp)
}

// meBuffers holds the buffers GET me encodes into (net/http copies what
// Write is given), so that the answer allocates nothing.
var meBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// appendAPIUser appends u as encoding/json marshals it.
func appendAPIUser(b []byte, u APIUser) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"username":`...)
	b = appendJSONString(b, u.Username)
	b = append(b, `,"display_name":`...)
	b = appendJSONString(b, u.DisplayName)
	b = append(b, `,"created_at":`...)
	b = append(b, '"')
	b = u.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// appendJSONString appends s as a JSON string. Usernames hold only
// letters, digits, marks and ". _ - @ +", which need no escaping; anything
// else goes through encoding/json, so the output is always what it would
// write (HTML characters escaped included).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (a *Auth) apiPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	tok := a.Token(r)
	if tok == "" {
		a.fail(w, r, localauth.ErrInvalidSession)
		return
	}
	if err := a.svc.ChangePassword(a.RenewingContext(w, r), tok, in.Current, in.New); err != nil {
		// A refused new password names the field this body calls it by.
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

// apiSession turns a one-time code from a live login into the session
// cookie: the live page in cookie mode never holds the token itself.
func (a *Auth) apiSession(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	// The code counts only from the browser it was issued to.
	tok, sess, device, err := a.svc.RedeemHandoffWithDevice(a.Context(r), in.Code, a.HandoffBinding(r))
	if err != nil {
		a.refuseCode(w, r, err)
		return
	}
	a.SetSessionCookie(w, r, tok, sess)
	// A live login's device token reaches the browser here, on an HTTP
	// response: its websocket cannot set the cookie.
	a.SetDeviceCookie(w, r, device)
	w.WriteHeader(http.StatusNoContent)
}

// apiDevice turns a one-time code from a live login into the device
// cookie alone, for live pages that keep their session token in
// LocalStorage: their login has no HTTP answer of its own that could set
// it, and without it the browser would never be a trusted device.
func (a *Auth) apiDevice(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	_, _, device, err := a.svc.RedeemHandoffWithDevice(a.Context(r), in.Code, a.HandoffBinding(r))
	if err != nil {
		a.refuseCode(w, r, err)
		return
	}
	a.SetDeviceCookie(w, r, device)
	w.WriteHeader(http.StatusNoContent)
}

// decode reads a strict JSON body into v, or answers the error and returns
// false.
func (a *Auth) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send JSON with Content-Type: application/json.", 0)
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "The request body is too large.", 0)
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "The request body could not be read.", 0)
		return false
	}
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD, and a
	// password would become something other than what was typed: refuse.
	if !utf8.Valid(raw) {
		writeError(w, http.StatusBadRequest, "bad_request", "The request body is not valid UTF-8.", 0)
		return false
	}
	if msg := checkKeys(raw, v); msg != "" {
		writeError(w, http.StatusBadRequest, "bad_request", msg, 0)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "The request body is not the expected JSON object.", 0)
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "bad_request", "The request body holds more than one JSON value.", 0)
		return false
	}
	return true
}

// status maps the stable codes of localauth.Public to HTTP statuses: with
// Public, the one place where errors become answers.
var status = map[string]int{
	localauth.CodeInvalidCredentials: http.StatusUnauthorized,
	localauth.CodeAccountDisabled:    http.StatusForbidden,
	localauth.CodeUserExists:         http.StatusConflict,
	localauth.CodeInvalidUsername:    http.StatusBadRequest,
	localauth.CodeWeakPassword:       http.StatusBadRequest,
	localauth.CodeRateLimited:        http.StatusTooManyRequests,
	localauth.CodeBusy:               http.StatusServiceUnavailable,
	localauth.CodeUnavailable:        http.StatusServiceUnavailable,
	localauth.CodeUnauthenticated:    http.StatusUnauthorized,
	localauth.CodeUserNotFound:       http.StatusNotFound,
	localauth.CodeReauthRequired:     http.StatusForbidden,
	localauth.CodeSessionNotFound:    http.StatusNotFound,
	localauth.CodeInternal:           http.StatusInternalServerError,
	localauth.CodeMFARequired:        http.StatusUnauthorized,
	localauth.CodeInvalidCode:        http.StatusUnauthorized,
	localauth.CodeFactorUnavailable:  http.StatusConflict,
	localauth.CodeFactorExists:       http.StatusConflict,
	localauth.CodeFactorNotFound:     http.StatusNotFound,
	localauth.CodeInvalidName:        http.StatusBadRequest,

	localauth.CodeSecondFactorRequired: http.StatusForbidden,
	localauth.CodeInvalidEmail:         http.StatusBadRequest,
	localauth.CodeInvalidMailToken:     http.StatusBadRequest,
	localauth.CodeMailUnavailable:      http.StatusConflict,
}

// fail answers a Service error. Internal and store errors are logged with
// their cause; the client sees only the generic message.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, err error) {
	f := a.failure(r, err)
	if f.code == localauth.CodeUnauthenticated && a.Token(r) != "" {
		a.ClearSessionCookie(w, r)
	}
	f.write(w)
}

// refuseCode answers a one-time code the Service refused. Its
// "unauthenticated" is about the code, not about the session cookie the
// browser may already hold, whose session lives on: the cookie stays.
func (a *Auth) refuseCode(w http.ResponseWriter, r *http.Request, err error) {
	a.failure(r, err).write(w)
}

// failed is a Service error as every transport of this package answers it.
type failed struct {
	status           int
	code, msg, field string
	retry            time.Duration
}

// failure maps a Service error to its answer, the same for the JSON API
// and the login form, and logs the cause of a server-side failure (a busy
// queue is not one).
func (a *Auth) failure(r *http.Request, err error) failed {
	code, msg, retry := localauth.Public(err)
	f := failed{status: status[code], code: code, msg: msg, retry: retry}
	if f.status >= 500 && code != localauth.CodeBusy {
		a.log.Error("web: request failed", "path", r.URL.Path, "err", err)
	}
	if code == localauth.CodeUnavailable {
		f.retry = 5 * time.Second
	}
	var pe *localauth.PolicyError
	if errors.As(err, &pe) {
		f.field = pe.Field
	}
	if errors.Is(err, localauth.ErrInvalidEmail) {
		f.field = "email"
	}
	return f
}

// write sends the answer.
func (f failed) write(w http.ResponseWriter) {
	if f.field != "" {
		writeJSON(w, f.status, map[string]string{"error": f.code, "message": f.msg, "field": f.field})
		return
	}
	writeError(w, f.status, f.code, f.msg, f.retry)
}

func writeError(w http.ResponseWriter, st int, code, msg string, retry time.Duration) {
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
	}
	writeJSON(w, st, map[string]string{"error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, st int, v any) {
	w.Header()["Content-Type"] = valJSON
	w.WriteHeader(st)
	json.NewEncoder(w).Encode(v)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
