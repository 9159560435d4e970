// Package commonpw answers whether a password is on a list of passwords that
// attackers try first.
//
// The list is passwords.txt beside this file: every entry of eight characters
// or more from the password frequency list of zxcvbn 4.4.2 (Dropbox, MIT
// licence), which ranks the 30,000 most common passwords of Xato's corpus of
// ten million leaked passwords. It was taken from the copy that the Go module
// github.com/trustelem/zxcvbn v1.0.1 ships as data/passwords.txt (SHA-256
// 6313cc5e…d951f) and built with
//
//	awk '{print tolower($1)}' data/passwords.txt | awk 'length($0)>=8' | LC_ALL=C sort -u
//
// Shorter entries are left out because every password policy of localauth
// refuses passwords under eight characters before this list is consulted.
package commonpw

import (
	_ "embed"
	"sort"
	"strings"
	"sync"
)

//go:embed passwords.txt
var raw string

var list = sync.OnceValue(func() []string {
	// The file is sorted in byte order (LC_ALL=C), which is Go's string order,
	// so the slice can be searched without sorting it again. Split keeps
	// pointers into the embedded data: no copy of the text is made.
	return strings.Split(strings.TrimSuffix(raw, "\n"), "\n")
})

// Len reports how many passwords the list holds.
func Len() int { return len(list()) }

// Contains reports whether password, compared without regard to ASCII case,
// is on the list.
func Contains(password string) bool {
	p := strings.ToLower(password)
	l := list()
	i := sort.SearchStrings(l, p)
	return i < len(l) && l[i] == p
}
