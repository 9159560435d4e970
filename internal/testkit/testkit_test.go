package testkit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth/internal/testkit"
)

// The offset clock is the real time moved on by what was added, and the
// zero value is the real time.
func TestOffsetClock(t *testing.T) {
	var c testkit.OffsetClock
	before := time.Now()
	if got := c.Now(); got.Before(before) || got.After(time.Now()) {
		t.Fatalf("zero clock %v is not the real time", got)
	}
	c.Advance(time.Hour)
	c.Advance(30 * time.Minute)
	before = time.Now()
	got := c.Now()
	after := time.Now()
	if got.Before(before.Add(90*time.Minute)) || got.After(after.Add(90*time.Minute)) {
		t.Fatalf("clock %v after 1h30m added, want real time + 1h30m (%v..%v)", got, before.Add(90*time.Minute), after.Add(90*time.Minute))
	}
}

// A frozen clock stands still however long the test takes, still moves by
// Advance, and runs on from the real time once thawed.
func TestOffsetClockFreeze(t *testing.T) {
	var c testkit.OffsetClock
	c.Advance(time.Hour)
	c.Freeze()
	at := c.Now()
	time.Sleep(20 * time.Millisecond)
	if got := c.Now(); !got.Equal(at) {
		t.Fatalf("a frozen clock moved from %v to %v", at, got)
	}
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(at.Add(time.Minute)) {
		t.Fatalf("a frozen clock advanced by a minute: %v, want %v", got, at.Add(time.Minute))
	}
	c.Thaw()
	before := time.Now()
	got := c.Now()
	if got.Before(before.Add(61*time.Minute)) || !got.After(at.Add(time.Minute)) {
		t.Fatalf("thawed clock %v, want the real time + 1h1m and past %v", got, at.Add(time.Minute))
	}
}

// SyncWriter keeps every write of concurrent writers whole.
func TestSyncWriterKeepsConcurrentWrites(t *testing.T) {
	var w testkit.SyncWriter
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&w, "writer %d line %d\n", i, j)
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(w.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("%d lines, want 800", len(lines))
	}
	for _, l := range lines {
		var i, j int
		if n, err := fmt.Sscanf(l, "writer %d line %d", &i, &j); n != 2 || err != nil {
			t.Fatalf("a torn line: %q", l)
		}
	}
}

// FreshDatabase gives a test a database of its own, usable at once and
// dropped when the test ends.
func TestFreshDatabaseIsDroppedAfterTheTest(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		db := testkit.FreshDatabase(t)
		c, err := pgx.Connect(context.Background(), db.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		if err := c.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if "/"+name != db.Path || !strings.HasPrefix(name, "localauth_t_") {
			t.Fatalf("connected to %q through %v", name, db)
		}
		if _, err := c.Exec(context.Background(), "CREATE TABLE t (x int)"); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		// The subtest skipped without PostgreSQL; so does this test.
		t.Skip("PostgreSQL test: set LOCALAUTH_TEST_POSTGRES to run it")
	}
	admin := testkit.FreshDatabase(t)
	c, err := pgx.Connect(context.Background(), admin.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s outlived its test", name)
	}
}

// A code of digits counts where no digit adjoins it, not inside a longer
// number; any other secret counts anywhere.
func TestHoldsSecret(t *testing.T) {
	for _, c := range []struct {
		text, secret string
		want         bool
	}{
		{`{"time":"2026-12-06T07:13:45.052526133Z"}`, "052526", false},
		{`{"time":"2026-12-06T07:13:45.133052526Z"}`, "052526", false},
		{`elapsed=1052526`, "052526", false},
		{`code=052526 user=alice`, "052526", true},
		{`{"code":"052526"}`, "052526", true},
		{`052526`, "052526", true},
		{`x052526 1052526`, "052526", true},
		{`{"body":"Your code:\n052526\n"}`, "052526", true},
		{`next=%2Fdone%3Fcode%3D052526`, "052526", true},
		{`\u003e052526\u003c`, "052526", true},
		{`hash=16cd052526ab`, "052526", true}, // letters do not shield a code
		{`token=abcdefghijklmnopqrstuv`, "ghijklmnopqrstuv", true},
		{`{"body":"\nabcde-fghij"}`, "abcde-fghij", true},
		{`anything`, "", false},
	} {
		if got := testkit.HoldsSecret(c.text, c.secret); got != c.want {
			t.Errorf("HoldsSecret(%q, %q) = %v, want %v", c.text, c.secret, got, c.want)
		}
	}
}

// The wrong code is none of the codes a verifier allowing two steps of
// drift would take, and has their shape.
func TestWrongTOTPCode(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXP"
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	start := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	for i := range 500 {
		now := start.Add(time.Duration(i) * 7 * time.Second)
		wrong := testkit.WrongTOTPCode(secret, now)
		if len(wrong) != 6 || strings.Trim(wrong, "0123456789") != "" {
			t.Fatalf("wrong code %q is not six digits", wrong)
		}
		for step := -2; step <= 2; step++ {
			if ok, _ := totp.ValidateCustom(wrong, secret, now.Add(time.Duration(step)*30*time.Second), opts); ok {
				t.Fatalf("at %v the wrong code %q is right %d steps away", now, wrong, step)
			}
		}
	}
}
