package localauth

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/localauth/localauth/internal/confusable"
)

// skeletonOverrides are prototypes that replace confusables.txt's where its
// mapping of a small letter misses the look-alike that PRECIS case folding
// makes of its capital. CYRILLIC SMALL LETTER PALOCHKA is drawn as a bare
// vertical stroke, like "l", and its capital (which a user may type and which
// the canonical form folds to the small letter) maps to "l"; the data maps the
// small letter to "i", which would let "раураӏ" stand beside "paypal".
var skeletonOverrides = map[rune]string{
	'\u04CF': "l",
}

// UsernameSkeleton returns the key under which usernames that look alike
// collide: "асе" (Cyrillic) and "ace", "раураӏ" and "paypal", "bòb" and
// "bob", "rn" and "m", "b0b" and "bob". canonical must be a canonical
// username (see CanonicalUsername). Stores keep it unique, so that a name
// that would pass for an existing user's is refused with
// ErrUsernameConfusable.
//
// It is the confusable skeleton of Unicode Technical Standard #39 (data:
// Unicode confusables.txt, see internal/confusable), extended in two ways
// because the name a person reads is what must not be mistaken: combining
// marks of the Inherited script (accents, dots, lines that may sit on any
// letter) are dropped, so "bòb" and "alicẹ" collide with "bob" and "alice";
// and the result is case-folded and mapped once more, since the data maps
// some characters to capital prototypes ("0" to "O") while canonical names
// are small letters. The value is for comparison only, never for display.
// It depends on the confusables data: regenerating that data requires a
// migration that recomputes stored skeletons.
func UsernameSkeleton(canonical string) string {
	s := mapPrototypes(dropInheritedMarks(norm.NFD.String(canonical)))
	s = mapPrototypes(strings.ToLower(s))
	return dropInheritedMarks(norm.NFD.String(s))
}

// mapPrototypes replaces each code point of s (in NFD) by its prototype.
func mapPrototypes(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if p, ok := skeletonOverrides[r]; ok {
			b.WriteString(p)
		} else if p, ok := confusable.Prototype(r); ok {
			b.WriteString(p)
		} else {
			b.WriteRune(r)
		}
	}
	return norm.NFD.String(b.String())
}

// dropInheritedMarks removes the combining marks that belong to no script
// of their own. Marks of a script (Devanagari vowel signs, Thai tone marks)
// are part of how that script spells, and stay.
func dropInheritedMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if isInheritedMark(r) {
			return -1
		}
		return r
	}, s)
}

// isInheritedMark reports whether r is a combining mark that may sit on a
// letter of any script (U+0300–U+036F and the like).
func isInheritedMark(r rune) bool {
	return unicode.IsMark(r) && unicode.Is(unicode.Inherited, r)
}
