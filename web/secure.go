package web

import "net/http"

// Secure reports whether the browser reached the server over TLS, directly
// or through a trusted proxy that says so in X-Forwarded-Proto. It suits
// live.Config.Secure, so that the websocket's Origin check knows the
// page's scheme behind a proxy.
func (a *Auth) Secure(r *http.Request) bool { return a.secure(r) }
