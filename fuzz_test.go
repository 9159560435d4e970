package localauth_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/localauth/localauth"
)

// C35: the username canonicalizer never panics; what it accepts is
// canonical (canonicalizing again changes nothing), valid UTF-8, within the
// length limit, and made of letters, digits, marks and ". _ - @ +" only.
func FuzzCanonicalUsername(f *testing.F) {
	for _, s := range []string{"alice", "ALICE", "ＡＬＩＣＥ", "\u0430lice", "al ice", "alice\u200b", "名前", "café", "cafe\u0301", "", "a\x00", "Ann+Tag@Example.org", "ß", "İstanbul", "ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := localauth.CanonicalUsername(in)
		if err != nil {
			if c != "" {
				t.Fatalf("refused %q but returned %q", in, c)
			}
			return
		}
		if !utf8.ValidString(c) || c == "" || utf8.RuneCountInString(c) > localauth.MaxUsernameLength {
			t.Fatalf("accepted %q as %q", in, c)
		}
		again, err := localauth.CanonicalUsername(c)
		if err != nil || again != c {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, c, again, err)
		}
		for _, r := range c {
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && !strings.ContainsRune("._-@+", r) {
				t.Fatalf("canonical %q holds %q", c, r)
			}
		}
	})
}

// Password normalization never panics, is idempotent, and lets no control
// character through.
func FuzzNormalizePassword(f *testing.F) {
	for _, s := range []string{"correct horse battery staple", "caf\u00e9", "cafe\u0301", "a\u00a0b", "\x00", "\t", "", "\xff", "ﬁ", "Ω"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := localauth.NormalizePassword(in)
		if err != nil {
			return
		}
		if !utf8.ValidString(n) || n == "" {
			t.Fatalf("accepted %q as %q", in, n)
		}
		for _, r := range n {
			if unicode.IsControl(r) {
				t.Fatalf("normalized %q holds control character %U", in, r)
			}
		}
		if again, err := localauth.NormalizePassword(n); err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, n, again, err)
		}
	})
}
