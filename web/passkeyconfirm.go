package web

import (
	"net/http"
	"strings"
)

// confirmSuffix ends the route that confirms a suspended passkey:
// passkeys/{id}/confirm.
const confirmSuffix = "/confirm"

// apiConfirmPasskey is POST passkeys/{id}/confirm: the owner lifts the
// suspension of a passkey disabled as a possible clone (recent login).
func (a *Auth) apiConfirmPasskey(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, APIPrefix), passkeysPrefix), confirmSuffix)
	if err := a.svc.ConfirmPasskey(a.Context(r), a.Token(r), id); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
