package returnto

import (
	"net/url"
	"strings"
	"testing"
)

// C30, C35: whatever it is given, Safe returns "/" or the input unchanged,
// and an accepted path stays on this origin however a browser reads it
// ("\" as "/", tabs and newlines dropped).
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"/", "/protected?x=1", "//evil.com", "/\\evil.com", "\\\\evil.com", "/%5Cevil.com",
		"%252F%252Fevil.com", "https:evil.com", "javascript:alert(1)", "/\t/evil.com", " //evil.com", "http://evil.com", "/%2F%2Fevil.com", "/a#//evil.com"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/login")
	f.Fuzz(func(t *testing.T, p string) {
		got := Safe(p)
		if got != "/" && got != p {
			t.Fatalf("Safe(%q) = %q: neither the input nor /", p, got)
		}
		// As a browser would read it.
		browser := strings.Map(func(r rune) rune {
			switch r {
			case '\\':
				return '/'
			case '\t', '\n', '\r':
				return -1
			}
			return r
		}, got)
		browser = strings.TrimLeft(browser, " \x00")
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", got, err)
		}
		if u.Host != "app.example" || u.Scheme != "https" {
			t.Fatalf("accepted %q, which a browser takes to %s", got, u)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("accepted %q", got)
		}
	})
}
