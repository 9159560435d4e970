package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/localauth/localauth/internal/testkit"
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
// not judged here (the table is); only that each row is measured. Every
// row includes the mass-revocation one, which needs PostgreSQL, and the
// whole takes minutes on two cores: it runs with LOCALAUTH_TEST_POSTGRES
// (as CI does) and skips without it.
func TestBenchCommandRunsEveryRow(t *testing.T) {
	if testing.Short() {
		t.Skip("bench: skipped in -short mode")
	}
	pg := os.Getenv(testkit.PostgresEnv)
	if pg == "" {
		t.Skip("bench test (every row, minutes long, one on PostgreSQL): set LOCALAUTH_TEST_POSTGRES to run it")
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--duration", "300ms", "--cost", "10", "--tabs", "100", "--sessions", "2000", "--flood", "3000",
		"--postgres", pg, "--mass-users", "4", "--mass-tabs", "5"}, &stdout, &stderr, os.Getenv)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, row := range []string{
		"Authenticate p50, 2000 sessions stored", "process RSS, idle", "GET /api/auth/me, cookie mode, 50 conns", "GET /api/auth/me, metrics on", "process RSS under the me load",
		"logins/s, cost 10", "registrations/s, cost 10", "one successful login at a time, cost 10", "burst: 50 users from 50 addresses at once",
		"starvation: 20 logins beside one address", "flood: 3000 failures from 3000 addresses", "owner: logins from a trusted device",
		"parallel guessing: 50 addresses at once", "live: event round trip p99", "live: RSS per hydrated idle tab, 100 tabs",
		"mass revocation: 4 users disabled at once, 20 tabs on 4 instances",
	} {
		if !strings.Contains(out, row) {
			t.Errorf("no row %q in:\n%s", row, out)
		}
	}
	// The pooler row needs PgBouncer besides PostgreSQL; without it, it says so.
	pooler := "GET /api/auth/me through PgBouncer (transaction mode, pool 10), cache on"
	if _, err := exec.LookPath("pgbouncer"); err != nil {
		if _, err := os.Stat("/usr/sbin/pgbouncer"); err != nil {
			pooler = "me through PgBouncer (transaction mode) vs direct"
		}
	}
	if !strings.Contains(out, pooler) {
		t.Errorf("no row %q in:\n%s", pooler, out)
	}
	if strings.Contains(out, "store lookup") {
		t.Errorf("the retired store-lookup row is still printed:\n%s", out)
	}
	if !strings.Contains(out, "RESULT") || strings.Count(out, "\n") < 12 {
		t.Fatalf("table:\n%s", out)
	}
}
