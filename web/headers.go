package web

import "net/http"

// ContentSecurityPolicy is the policy SecurityHeaders sends: scripts,
// styles and connections from this origin only (the live client and its
// websocket included), no plugins, no <base>, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// SecurityHeaders sets the headers every response of an auth-bearing site
// needs (OWASP ASVS V3): a Content-Security-Policy, nosniff, no referrer
// leaving the site, no framing, and Cache-Control: no-store, so that no
// authenticated response is kept by a shared or browser cache (handlers that
// serve public assets may override it). Under TLS it adds
// Strict-Transport-Security for two years.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}
