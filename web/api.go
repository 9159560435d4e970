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
	"time"
	"unicode/utf8"

	"github.com/localauth/localauth"
)

// The JSON API, under /api/auth/:
//
//	POST register   {"username","password"}              201 {"user"}
//	POST login      {"username","password"}              200 {"user","expires_at"} + session cookie
//	POST token      {"username","password"}              200 {"token","token_type","expires_at","user"}
//	POST logout                                          204, cookie cleared
//	GET  me                                              200 {"user"} | 401
//	POST password   {"current_password","new_password"}  204; the other sessions end
//	POST session    {"code"}                             204 + session cookie (live pages in cookie mode)
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
}

// API returns the handler of the JSON API; mount it at APIPrefix.
func (a *Auth) API() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+APIPrefix+"register", a.apiRegister)
	mux.HandleFunc("POST "+APIPrefix+"login", a.apiLogin)
	mux.HandleFunc("POST "+APIPrefix+"token", a.apiToken)
	mux.HandleFunc("POST "+APIPrefix+"logout", a.apiLogout)
	mux.HandleFunc("GET "+APIPrefix+"me", a.apiMe)
	mux.HandleFunc("POST "+APIPrefix+"password", a.apiPassword)
	mux.HandleFunc("POST "+APIPrefix+"session", a.apiSession)
	mux.HandleFunc(APIPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "No such endpoint.", 0)
	})
	return a.csrf.Handler(noStore(methodErrors(mux)))
}

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// methodErrors turns the mux's plain-text 405 into the API's JSON error.
func methodErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == APIPrefix {
			// ServeMux answers 405 (with Allow) when the path matches
			// another method; reproduce it in JSON.
			probe := r.Clone(r.Context())
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				probe.Method = m
				if _, p := mux.Handler(probe); p != APIPrefix {
					w.Header().Set("Allow", m)
					writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use "+m+" for this endpoint.", 0)
					return
				}
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func (a *Auth) apiRegister(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if !a.decode(w, r, &in) {
		return
	}
	u, err := a.svc.Register(a.Context(r), in.Username, in.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": apiUser(u)})
}

func (a *Auth) apiLogin(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if !a.decode(w, r, &in) {
		return
	}
	res, err := a.svc.Login(a.Context(r), in.Username, in.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.SetSessionCookie(w, r, res.Token, res.Session.ExpiresAt)
	writeJSON(w, http.StatusOK, map[string]any{"user": apiUser(res.User), "expires_at": res.Session.ExpiresAt})
}

func (a *Auth) apiToken(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if !a.decode(w, r, &in) {
		return
	}
	res, err := a.svc.Login(a.Context(r), in.Username, in.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"token": string(res.Token), "token_type": "Bearer",
		"expires_at": res.Session.ExpiresAt, "user": apiUser(res.User),
	})
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
	writeJSON(w, http.StatusOK, map[string]any{"user": apiUser(u)})
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
	if err := a.svc.ChangePassword(a.Context(r), tok, in.Current, in.New); err != nil {
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
	tok, sess, err := a.svc.RedeemHandoff(a.Context(r), in.Code)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.SetSessionCookie(w, r, tok, sess.ExpiresAt)
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
	localauth.CodeInternal:           http.StatusInternalServerError,
}

// fail answers a Service error. Internal and store errors are logged with
// their cause; the client sees only the generic message.
func (a *Auth) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, retry := localauth.Public(err)
	st := status[code]
	if st >= 500 && code != localauth.CodeBusy {
		a.log.Error("web: request failed", "path", r.URL.Path, "err", err)
		if code == localauth.CodeUnavailable {
			retry = 5 * time.Second
		}
	}
	if code == localauth.CodeUnauthenticated && a.Token(r) != "" {
		a.ClearSessionCookie(w, r)
	}
	var pe *localauth.PolicyError
	if errors.As(err, &pe) {
		writeJSON(w, st, map[string]string{"error": code, "message": msg, "field": pe.Field})
		return
	}
	writeError(w, st, code, msg, retry)
}

func writeError(w http.ResponseWriter, st int, code, msg string, retry time.Duration) {
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
	}
	writeJSON(w, st, map[string]string{"error": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, st int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(st)
	json.NewEncoder(w).Encode(v)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
