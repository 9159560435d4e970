package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/localauth/localauth"
)

// The account endpoints of the API: a signed-in user's own sessions, the
// password confirmation that sensitive actions need, and deleting the
// account. Actions that need a recent login answer 403 reauth_required
// without one; POST reauth with the password, then try again. On an account
// with a second factor they answer 403 second_factor_required instead:
// POST reauth with the password and a code (or a passkey's answer).

// sessionsPrefix is the route of one session: sessions/{id}.
const sessionsPrefix = "sessions/"

// apiSessions lists the caller's sessions, newest first.
func (a *Auth) apiSessions(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListSessions(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// apiEndSession ends one of the caller's sessions by id: 204, or 404 for an
// id that is not one of the caller's, unknown or not.
func (a *Auth) apiEndSession(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, APIPrefix), sessionsPrefix)
	tok := a.Token(r)
	if err := a.svc.EndSession(a.Context(r), tok, id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiRevokeOthers ends every session of the caller but its own.
func (a *Auth) apiRevokeOthers(w http.ResponseWriter, r *http.Request) {
	if _, err := a.svc.EndOtherSessions(a.RenewingContext(w, r), a.Token(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiReauth confirms the caller for the sensitive actions: the password,
// and on an account with a second factor one answer in the fields of the
// second step of a login (a passkey's answer alone will do).
func (a *Auth) apiReauth(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password     string          `json:"password"`
		Code         string          `json:"code"`
		RecoveryCode string          `json:"recovery_code"`
		Passkey      json.RawMessage `json:"passkey"`
	}
	if !a.decode(w, r, &in) {
		return
	}
	passkey := in.Passkey
	if string(passkey) == "null" {
		passkey = nil // a JSON null is no answer, as an absent key is
	}
	answer := localauth.SecondFactor{Code: in.Code, RecoveryCode: in.RecoveryCode, Passkey: passkey}
	if err := a.svc.ReauthWith(a.Context(r), a.Token(r), in.Password, answer); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiDeleteAccount deletes the caller's account, sessions and device tokens
// included, and clears the session cookie.
func (a *Auth) apiDeleteAccount(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteAccount(a.Context(r), a.Token(r)); err != nil {
		a.fail(w, r, err)
		return
	}
	a.ClearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// itemRoutes are the endpoints of one item by its id: the name is the
// prefix followed by the id, which holds no slash. One table for routing
// and for the test that compares the routes with the OpenAPI document.
var itemRoutes = []struct {
	prefix, suffix, method string
	h                      func(*Auth, http.ResponseWriter, *http.Request)
}{
	{sessionsPrefix, "", http.MethodDelete, (*Auth).apiEndSession},
	{passkeysPrefix, "", http.MethodDelete, (*Auth).apiRemovePasskey},
	{passkeysPrefix, confirmSuffix, http.MethodPost, (*Auth).apiConfirmPasskey},
	{devicesPrefix, "", http.MethodDelete, (*Auth).apiForgetDevice},
}

// accountRoute returns the route of an account endpoint that is not a
// plain name (sessions/{id}, passkeys/{id}), if name is one.
func (a *Auth) accountRoute(name string) (apiRoute, bool) {
	for _, it := range itemRoutes {
		id, ok := strings.CutPrefix(name, it.prefix)
		if it.suffix != "" {
			var has bool
			id, has = strings.CutSuffix(id, it.suffix)
			ok = ok && has
		}
		if ok && id != "" && !strings.Contains(id, "/") {
			h := it.h
			return apiRoute{it.method, func(w http.ResponseWriter, r *http.Request) { h(a, w, r) }}, true
		}
	}
	return apiRoute{}, false
}
