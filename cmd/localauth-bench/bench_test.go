package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary be the server under test when the bench
// starts one as a child process, as the bench binary itself is.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
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
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--duration", "300ms", "--cost", "10", "--tabs", "100", "--sessions", "2000", "--flood", "3000",
		"--postgres", os.Getenv("LOCALAUTH_TEST_POSTGRES"), "--mass-users", "4", "--mass-tabs", "5"}, &stdout, &stderr, os.Getenv)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, row := range []string{
		"Authenticate p50, 2000 sessions stored", "process RSS, idle", "GET /api/auth/me, cookie mode, 50 conns", "GET /api/auth/me, metrics on", "process RSS under the me load",
		"logins/s, cost 10", "registrations/s, cost 10", "burst: 50 users from 50 addresses at once",
		"starvation: 20 logins beside one address", "flood: 3000 failures from 3000 addresses", "owner: logins from a trusted device",
		"parallel guessing: 50 addresses at once", "live: event round trip p99", "live: RSS per hydrated idle tab, 100 tabs",
	} {
		if !strings.Contains(out, row) {
			t.Errorf("no row %q in:\n%s", row, out)
		}
	}
	// The mass-revocation row needs PostgreSQL; without it, it says so.
	mass := "mass revocation: 4 users disabled at once, 20 tabs on 4 instances"
	if os.Getenv("LOCALAUTH_TEST_POSTGRES") == "" {
		mass = "mass revocation across instances"
	}
	if !strings.Contains(out, mass) {
		t.Errorf("no row %q in:\n%s", mass, out)
	}
	if strings.Contains(out, "store lookup") {
		t.Errorf("the retired store-lookup row is still printed:\n%s", out)
	}
	if !strings.Contains(out, "RESULT") || strings.Count(out, "\n") < 12 {
		t.Fatalf("table:\n%s", out)
	}
}
