package commonpw

import (
	"sort"
	"testing"
)

func TestListIsSortedAndLarge(t *testing.T) {
	l := list()
	if len(l) < 5000 {
		t.Fatalf("list has %d entries, want at least 5000", len(l))
	}
	if !sort.StringsAreSorted(l) {
		t.Fatal("passwords.txt is not sorted in byte order; binary search would miss entries")
	}
	for i, p := range l {
		if len(p) < 8 {
			t.Fatalf("entry %d %q is shorter than 8 characters", i, p)
		}
	}
}

func TestContains(t *testing.T) {
	for _, p := range []string{"password", "PASSWORD", "12345678", "iloveyou", "qwertyuiop", "baseball"} {
		if !Contains(p) {
			t.Errorf("Contains(%q) = false, want true", p)
		}
	}
	for _, p := range []string{"correct horse battery staple", "vT3#kq9!Lm", "", "passwor"} {
		if Contains(p) {
			t.Errorf("Contains(%q) = true, want false", p)
		}
	}
}
