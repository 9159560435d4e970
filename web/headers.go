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
//
// The JSON API's answers (under APIPrefix) get only what a JSON answer
// needs: API sets nosniff and Cache-Control: no-store on each of them
// itself, and here they get HSTS under TLS. The page headers (the policy,
// framing, referrer, opener, permissions) govern documents a browser
// renders; a JSON answer served with nosniff is never rendered, so they
// would only be bytes on the hottest answers of the API.
//
// It sends the default ContentSecurityPolicy; a site whose pages need more
// (an image host, an analytics endpoint) uses Headers instead.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			setAPIHeaders(w.Header(), r.TLS != nil)
		} else {
			setSecurityHeaders(w.Header(), r.TLS != nil)
		}
		next.ServeHTTP(w, r)
	})
}

// isAPI reports whether r is for the JSON API, which owns APIPrefix: it
// answers every path under it, with JSON.
func isAPI(r *http.Request) bool {
	return len(r.URL.Path) >= len(APIPrefix) && r.URL.Path[:len(APIPrefix)] == APIPrefix
}

// Headers configures the security headers for sites whose pages need a
// policy other than the default. The zero value sends what SecurityHeaders
// sends.
type Headers struct {
	// ContentSecurityPolicy replaces the default policy (the constant
	// ContentSecurityPolicy) when not empty. The live client needs
	// script-src and connect-src to allow this origin; loosen other
	// directives only as far as the pages need.
	ContentSecurityPolicy string
}

// Handler wraps next like SecurityHeaders, with c's policy.
func (c Headers) Handler(next http.Handler) http.Handler {
	if c.ContentSecurityPolicy == "" || c.ContentSecurityPolicy == ContentSecurityPolicy {
		return SecurityHeaders(next)
	}
	csp := oneValue(c.ContentSecurityPolicy)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if isAPI(r) {
			setAPIHeaders(h, r.TLS != nil)
		} else {
			setSecurityHeaders(h, r.TLS != nil)
			h["Content-Security-Policy"] = csp
		}
		next.ServeHTTP(w, r)
	})
}

// The header values, built once. They run on every response, so they are
// assigned straight into the map under their canonical keys: Header.Set
// would canonicalise each key and allocate a new one-element slice each
// time. Each slice has its capacity cut to its length, so a handler's
// Header.Add appends to a copy and never to the shared array; handlers
// replace values (Set), they never write into them.
var (
	valCSP         = oneValue(ContentSecurityPolicy)
	valNosniff     = oneValue("nosniff")
	valSameOrigin  = oneValue("same-origin")
	valDeny        = oneValue("DENY")
	valPermissions = oneValue("camera=(), microphone=(), geolocation=(), payment=()")
	valNoStore     = oneValue("no-store")
	valHSTS        = oneValue("max-age=63072000; includeSubDomains")
	valJSON        = oneValue("application/json; charset=utf-8")
)

func oneValue(v string) []string { return []string{v}[:1:1] }

func setSecurityHeaders(h http.Header, tls bool) {
	h["Content-Security-Policy"] = valCSP
	h["X-Content-Type-Options"] = valNosniff
	h["Referrer-Policy"] = valSameOrigin
	h["X-Frame-Options"] = valDeny
	h["Cross-Origin-Opener-Policy"] = valSameOrigin
	h["Permissions-Policy"] = valPermissions
	h["Cache-Control"] = valNoStore
	if tls {
		h["Strict-Transport-Security"] = valHSTS
	}
}

// setAPIHeaders sets the headers of a JSON answer: nosniff, so that no
// browser reads it as a document, and no-store, so that no cache keeps it.
func setAPIHeaders(h http.Header, tls bool) {
	h["X-Content-Type-Options"] = valNosniff
	h["Cache-Control"] = valNoStore
	if tls {
		h["Strict-Transport-Security"] = valHSTS
	}
}
