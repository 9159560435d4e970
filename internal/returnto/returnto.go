// Package returnto validates return paths: where a browser is sent after
// login (the live page's redirect_to, the ?next= of a guarded route). It is
// the one validator every pathway uses.
package returnto

import (
	"net/url"
	"strings"
)

// Safe returns p when it is a path on this origin, else "/".
//
// Accepted: a single leading "/" not followed by "/" or "\", then no
// backslash and no control or space character anywhere, no scheme, no host.
// The value is decoded once, as a query parameter is, and judged as decoded;
// it is never decoded again, so "%252F%252F" stays a harmless literal path
// segment rather than becoming "//". Browsers read "\" as "/" and drop tabs
// and newlines inside URLs, which is why those are refused outright.
func Safe(p string) string {
	if !ok(p) {
		return "/"
	}
	return p
}

func ok(p string) bool {
	if len(p) == 0 || len(p) > 2048 || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f || c == '\\' || c == ' ' {
			return false
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// A path whose encoded form decodes to a backslash or a second slash
	// at the start would be re-read by some servers and proxies; refuse it.
	if dec, err := url.PathUnescape(u.EscapedPath()); err != nil || strings.HasPrefix(dec, "//") || strings.Contains(dec, "\\") {
		return false
	}
	return true
}
