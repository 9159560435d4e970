// Package confusable computes the confusable skeleton of Unicode Technical
// Standard #39: two strings whose skeletons are equal look alike ("раураӏ"
// in Cyrillic and "paypal"; "rn" and "m").
//
// The table in tables.go is generated from Unicode's confusables.txt; its
// header names the data's version and how it was obtained. Changing the
// data changes skeletons: a store that keeps them must recompute them in a
// migration when the table is regenerated.
package confusable

import (
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run gen.go

// Skeleton returns skeleton(s) as UTS #39 defines it: NFD, each code point
// replaced by its prototype from confusables.txt, NFD again. It is meant
// for comparison only, never for display.
func Skeleton(s string) string {
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if p, ok := Prototype(r); ok {
			b.WriteString(p)
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFD.String(b.String())
}

// Prototype returns what confusables.txt maps r to, in NFD, and whether it
// maps r at all. r must be in NFD; a precomposed letter is looked up
// through its decomposition (see Skeleton).
func Prototype(r rune) (string, bool) {
	i, ok := slices.BinarySearch(from[:], r)
	if !ok {
		return "", false
	}
	return to[i], true
}
