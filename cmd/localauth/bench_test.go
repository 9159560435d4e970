package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for the localauth binary when the
// bench command starts a server as a child process.
func TestMain(m *testing.M) {
	if os.Getenv("LOCALAUTH_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The bench command runs every row end to end, on tiny settings. Speed is
// not judged here (the table is); only that each row is measured.
func TestBenchCommandRunsEveryRow(t *testing.T) {
	if testing.Short() {
		t.Skip("bench: skipped in -short mode")
	}
	c := NewCLI(t)
	out := c.MustRun("", "bench", "--duration", "300ms", "--cost", "10", "--tabs", "100", "--sessions", "2000")
	for _, row := range []string{
		"Authenticate p50, 2000 sessions stored", "Authenticate p50, store lookup, 2000 sessions stored", "process RSS, idle", "GET /api/auth/me, 50 conns", "process RSS under the me load",
		"logins/s, cost 10", "registrations/s, cost 10", "50 concurrent logins: admitted p99",
		"50 concurrent logins: slowest rejection", "live: event round trip p99", "live: RSS per hydrated idle tab, 100 tabs",
	} {
		if !strings.Contains(out, row) {
			t.Errorf("no row %q in:\n%s", row, out)
		}
	}
	if !strings.Contains(out, "RESULT") || strings.Count(out, "\n") < 12 {
		t.Fatalf("table:\n%s", out)
	}
}
