package returnto

import "testing"

// C30: every hostile return path lands on "/".
func TestSafe(t *testing.T) {
	hostile := []string{
		"//evil.com", "/\\evil.com", "\\\\evil.com", "/%5Cevil.com", "%252F%252Fevil.com",
		"https:evil.com", "javascript:alert(1)", "/\t/evil.com", " //evil.com", "http://evil.com",
		"https://evil.com/path", "", "evil.com", "/%2F/evil.com", "/%2f%2fevil.com", "/\n/evil.com",
		"/\r\n/evil.com", "/x\x00y", "///evil.com", "/\\/evil.com", "/.\\evil.com",
		"//evil.com/%2F..", "/ /evil.com", "\x00/", "data:text/html,<script>alert(1)</script>",
	}
	for _, p := range hostile {
		if got := Safe(p); got != "/" {
			t.Errorf("Safe(%q) = %q, want /", p, got)
		}
	}
	local := []string{"/", "/protected", "/protected?tab=2", "/a/b/c", "/search?q=a%20b", "/p#frag", "/%C3%A9t%C3%A9"}
	for _, p := range local {
		if got := Safe(p); got != p {
			t.Errorf("Safe(%q) = %q, want it unchanged", p, got)
		}
	}
}
