package confusable

import (
	"slices"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestSkeleton(t *testing.T) {
	for in, want := range map[string]string{
		"асе":    "ace",    // Cyrillic
		"paypal": "paypal", // prototypes map to themselves
		"0":      "O",
		"1":      "l",
		"m":      "rn",
		"ℌ":      "H",
		"ǆ":      "dž", // decomposed first, then mapped
	} {
		if got := Skeleton(in); got != norm.NFD.String(want) {
			t.Errorf("Skeleton(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	if UnicodeVersion == "" || len(from) < 5000 || len(from) != len(to) {
		t.Fatalf("table: version %q, %d sources, %d prototypes", UnicodeVersion, len(from), len(to))
	}
	if !slices.IsSorted(from[:]) {
		t.Fatal("sources are not sorted: Prototype's binary search would miss")
	}
	for i, p := range to {
		if p == "" || !utf8.ValidString(p) || !norm.NFD.IsNormalString(p) {
			t.Fatalf("prototype of U+%04X is %q, want non-empty NFD", from[i], p)
		}
	}
}
