// Package web adapts localauth to net/http: session transport in an
// HttpOnly cookie or a bearer header, route guards, a JSON API, client
// addresses behind trusted proxies, and the security headers every response
// needs. It works under any router.
package web
