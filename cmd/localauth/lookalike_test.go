package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// A database holding look-alike users from before they were refused (as
// the skeleton migration leaves it: the later one without a skeleton):
// "migrate" names them, and the CLI refuses a further look-alike.
func TestMigrateReportsLookAlikes(t *testing.T) {
	c := NewCLI(t)
	c.MustRun(pw, "user", "create", "ace", "--password-stdin")
	c.MustRun(pw, "user", "create", "bob", "--password-stdin")
	if out := c.MustRun("", "migrate"); strings.Contains(out, "warning") {
		t.Fatalf("migrate warned without look-alikes: %q", out)
	}
	db, err := sql.Open("sqlite", c.db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(context.Background(),
		`INSERT INTO users (username, display_name, password_hash, enabled, created_at, password_changed_at)
		 SELECT 'асе', 'асе', password_hash, 1, created_at, password_changed_at FROM users WHERE username = 'ace'`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := c.MustRun("", "migrate")
	if !strings.Contains(out, `warning: look-alike usernames`) || !strings.Contains(out, `"ace", "асе"`) || strings.Contains(out, `"bob"`) {
		t.Fatalf("migrate printed %q, want one warning naming ace and асе", out)
	}
	if us := c.Users(); len(us) != 3 {
		t.Fatalf("got %d users, want 3", len(us))
	}
	_, _, err = c.Run(pw, "user", "create", "áce", "--password-stdin")
	if err == nil || !strings.Contains(err.Error(), "is too similar to one already registered") {
		t.Fatalf("user create áce: got %v, want the look-alike refusal", err)
	}
}
