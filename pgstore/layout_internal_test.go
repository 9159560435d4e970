package pgstore

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every migration leaves a mark layoutVersion can read, in order: a
// migration without one would make a schema an earlier version migrated
// look older than it is, and its history would replay a migration whose
// tables are already there.
func TestLayoutMarksEveryMigration(t *testing.T) {
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") && (!strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go")) {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			continue
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	var marked []int64
	for _, m := range layoutMarks {
		marked = append(marked, m.version)
	}
	if len(versions) == 0 || !slices.Equal(versions, marked) {
		t.Fatalf("migrations %v, marks for %v", versions, marked)
	}
}
