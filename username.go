package localauth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// usernamePunctuation is the punctuation a username may hold besides
// letters and digits. PRECIS alone would allow every printable ASCII
// character; characters with a meaning in HTML, URLs, shells or SQL ("<", "/",
// "'", ";"…) are refused too, so that a username is harmless wherever it is
// shown or pasted, escaping or not.
const (
	usernamePunctuation     = "._-@+"
	usernamePunctuationText = ". _ - @ +"
)

// MaxUsernameLength is the longest username accepted, in code points of its
// canonical form.
const MaxUsernameLength = 64

// CanonicalUsername returns the form under which a username is stored and
// compared: the PRECIS UsernameCaseMapped profile of RFC 8265 (width-mapped,
// case-folded, NFC). "Alice", "ALICE" and "ＡＬＩＣＥ" all give "alice".
//
// It refuses, with a *PolicyError wrapping ErrInvalidUsername: the empty
// string, spaces and other characters the profile disallows (zero-width
// characters, controls, symbols), punctuation other than ". _ - @ +", names
// longer than MaxUsernameLength, combining marks that NFC does not compose
// into one letter with their base ("i" followed by U+0307 COMBINING DOT
// ABOVE), and names whose letters come from more than one script in a way
// that can only serve to imitate another name (a Cyrillic "а" among Latin
// letters). Names that merely look like an existing one ("асе" beside "ace")
// are valid here and refused at registration (see UsernameSkeleton).
// Canonicalizing a canonical username returns it unchanged.
func CanonicalUsername(username string) (string, error) {
	if strings.TrimSpace(username) == "" {
		return "", usernameError("Username cannot be empty.")
	}
	// Refuse oversized input before PRECIS does any work on it: the longest
	// code point is 4 bytes and width mapping never shrinks a name below a
	// quarter of its bytes.
	if len(username) > 4*MaxUsernameLength {
		return "", usernameError("Username is too long: at most %d characters.", MaxUsernameLength)
	}
	canonical, err := precis.UsernameCaseMapped.String(username)
	if err != nil {
		return "", usernameError("%s", usernameRefusal(username))
	}
	for _, r := range canonical {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && !strings.ContainsRune(usernamePunctuation, r) {
			return "", usernameError("Username may contain only letters, digits and %s", usernamePunctuationText)
		}
	}
	// NFC has composed every mark that forms one letter with its base
	// ("é", "ẹ"); a mark of the Inherited script left over ("i" + U+0307,
	// "e" + U+0332) draws on the letter without being one, the classic way
	// to make a second "alice".
	for _, r := range canonical {
		if isInheritedMark(r) {
			return "", usernameError("Username cannot contain accents or marks that are not part of a letter.")
		}
	}
	if n := utf8.RuneCountInString(canonical); n > MaxUsernameLength {
		return "", usernameError("Username is too long: at most %d characters.", MaxUsernameLength)
	}
	if mixedScript(canonical) {
		return "", usernameError("Username mixes letters of different alphabets; please use one.")
	}
	return canonical, nil
}

// usernameRefusal says in words why PRECIS refused a username.
func usernameRefusal(username string) string {
	for _, r := range username {
		switch {
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "Username cannot contain control or invisible characters."
		case unicode.IsSpace(r):
			return "Username cannot contain spaces."
		}
	}
	return "Username may contain only letters, digits and " + usernamePunctuationText
}

// displayUsername is the form kept for display: the username as typed, with
// the PRECIS UsernameCasePreserved profile applied so that it holds no
// characters the canonical form would not.
func displayUsername(username string) string {
	d, err := precis.UsernameCasePreserved.String(username)
	if err != nil {
		return username
	}
	return d
}

// scriptSets are the combinations of scripts that one writing system uses
// together (Unicode TS #39, "highly restrictive"). Latin may join each, as
// Japanese, Chinese and Korean text mixes in Latin letters freely.
var scriptSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// mixedScript reports whether the letters of s come from more than one
// script, outside the combinations of scriptSets. Characters of the Common
// and Inherited scripts (digits, punctuation, combining marks) belong to
// every script.
func mixedScript(s string) bool {
	var scripts []string
	for _, r := range s {
		if r < utf8.RuneSelf {
			if unicode.IsLetter(r) {
				scripts = addScript(scripts, "Latin")
			}
			continue
		}
		if name := scriptOf(r); name != "" {
			scripts = addScript(scripts, name)
		}
	}
	if len(scripts) <= 1 {
		return false
	}
	for _, set := range scriptSets {
		if subset(scripts, set) {
			return false
		}
	}
	return true
}

func addScript(scripts []string, name string) []string {
	for _, s := range scripts {
		if s == name {
			return scripts
		}
	}
	return append(scripts, name)
}

func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// scriptOf names the script of r, or "" for Common and Inherited characters.
func scriptOf(r rune) string {
	if unicode.Is(unicode.Common, r) || unicode.Is(unicode.Inherited, r) {
		return ""
	}
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}
