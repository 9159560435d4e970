package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/localauth/localauth"
)

// An operator reads one user's security activity, or everyone's, as JSON
// and as a table; bad input is a usage error that prints nothing.
func TestActivityCommand(t *testing.T) {
	c := NewCLI(t)
	c.MustRun(pw, "user", "create", "ida", "--password-stdin")
	c.MustRun(pw, "user", "create", "jon", "--password-stdin")
	e := openEnv(t, c.db)
	ctx := localauth.WithUserAgent(context.Background(), "curl/8.5.0")
	for range 2 {
		if _, err := e.svc.Login(ctx, "ida", "wrong password!"); !errors.Is(err, localauth.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ida", "jon"} {
		if _, err := e.svc.Login(ctx, name, strings.TrimSpace(pw)); err != nil {
			t.Fatal(err)
		}
	}
	var rows []activityRow
	if err := json.Unmarshal([]byte(c.MustRun("", "activity", "--user", "ida", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range rows {
		if r.Username != "ida" {
			t.Fatalf("activity --user ida shows %+v", r)
		}
		types = append(types, r.Type)
	}
	if got := strings.Join(types, " "); got != "device_trusted login login_failed" {
		t.Fatalf("ida's activity: got %q, want %q", got, "device_trusted login login_failed")
	}
	if rows[2].Count != 2 || rows[1].Device != "curl" {
		t.Fatalf("ida's failures and sign-in: %+v", rows[1:])
	}
	if err := json.Unmarshal([]byte(c.MustRun("", "activity", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("everyone's activity: %d rows, want 5: %+v", len(rows), rows)
	}
	table := c.MustRun("", "activity", "jon")
	if !strings.Contains(table, "EVENT") || !strings.Contains(table, "login") || strings.Contains(table, "ida") {
		t.Fatalf("activity jon:\n%s", table)
	}
	for _, args := range [][]string{{"activity", "--limit", "0"}, {"activity", "ida", "--user", "jon"}, {"activity", "nobody"}} {
		out, _, err := c.Run("", args...)
		if err == nil || out != "" {
			t.Errorf("localauth %s: %v, printed %q; want an error and nothing", strings.Join(args, " "), err, out)
		}
	}
}
