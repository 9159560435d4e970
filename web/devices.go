package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/localauth/localauth"
)

// The trusted devices of the caller: browsers that completed a login to the
// account, whose failed passwords are counted apart from strangers'. The
// caller lists them and forgets any; a forgotten device is a stranger
// until its next completed login.

// devicesPrefix is the route of one device: devices/{id}.
const devicesPrefix = "devices/"

// RenewingContext is Context for an action that may replace the caller's
// device token (a password change, ending the other sessions, turning a
// second factor off end the trust of every other device): the new token is
// set as the device cookie of w, which must not have been written yet.
func (a *Auth) RenewingContext(w http.ResponseWriter, r *http.Request) context.Context {
	return localauth.WithDeviceRenewal(a.Context(r), func(t localauth.Token) { a.SetDeviceCookie(w, r, t) })
}

// apiDevices lists the caller's trusted devices, most recently used first.
func (a *Auth) apiDevices(w http.ResponseWriter, r *http.Request) {
	list, err := a.svc.ListDevices(a.Context(r), a.Token(r))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": list})
}

// apiForgetDevice ends the trust of one of the caller's devices by id: 204,
// or 404 for an id that is not one of the caller's, unknown or not.
func (a *Auth) apiForgetDevice(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, APIPrefix), devicesPrefix)
	if err := a.svc.ForgetDevice(a.Context(r), a.Token(r), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
