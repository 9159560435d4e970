package web

import (
	"crypto/rand"
	"net/http"
)

// HandoffCookieName is the cookie that binds handoff codes to the browser
// over plain HTTP; under TLS it is SecureHandoffCookieName (see
// SecureCookieName for the prefix).
const (
	HandoffCookieName       = "localauth_handoff"
	SecureHandoffCookieName = "__Host-localauth_handoff"
)

// BindHandoffs gives every browser that loads a page through it a random
// secret in an HttpOnly cookie, if it has none yet, so that the live pages
// in cookie mode can bind the one-time codes they receive to that browser
// (see localauth.Service.IssueHandoff and HandoffBinding). Mount it around
// the live app. A script injected into the page can read a code but not
// this cookie, so a code it sends elsewhere cannot be redeemed there.
//
// The cookie lasts as long as the browser session, SameSite=Strict (it is
// only ever needed on same-origin requests), Path=/, and under TLS Secure
// with the __Host- prefix. It is set on the request passed on too, so a
// websocket handshake that arrives without it is bound as well.
func (a *Auth) BindHandoffs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.HandoffBinding(r) == "" {
			c := &http.Cookie{
				Name:     a.handoffCookieName(r),
				Value:    rand.Text(),
				Path:     "/",
				HttpOnly: true,
				Secure:   a.secure(r),
				SameSite: http.SameSiteStrictMode,
			}
			http.SetCookie(w, c)
			r = r.Clone(r.Context())
			r.AddCookie(c)
		}
		next.ServeHTTP(w, r)
	})
}

// HandoffBinding returns the browser's handoff secret that BindHandoffs
// set, or "" when the request carries none.
func (a *Auth) HandoffBinding(r *http.Request) string {
	c, err := r.Cookie(a.handoffCookieName(r))
	if err != nil {
		return ""
	}
	return c.Value
}

func (a *Auth) handoffCookieName(r *http.Request) string {
	if a.secure(r) {
		return SecureHandoffCookieName
	}
	return HandoffCookieName
}
