package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/localauth/localauth/internal/testkit/smtptest"
)

func TestUserSetEmailAndList(t *testing.T) {
	c := NewCLI(t)
	c.MustRun(pw, "user", "create", "alice", "--password-stdin")
	c.MustRun(pw, "user", "create", "bob", "--password-stdin")
	if _, _, err := c.Run("", "user", "set-email", "alice", "alice@example.com"); err == nil {
		t.Fatal("set-email without --verified or --public-url succeeded")
	}
	if _, _, err := c.Run("", "user", "set-email", "alice", "not an address", "--verified"); err == nil {
		t.Fatal("set-email took a malformed address")
	}
	out := c.MustRun("", "user", "set-email", "alice", "Alice@Example.com", "--verified")
	if !strings.Contains(out, "verified email address of alice") {
		t.Fatalf("set-email printed %q", out)
	}
	if _, _, err := c.Run("", "user", "set-email", "bob", "Alice@EXAMPLE.com", "--verified"); err == nil || !strings.Contains(err.Error(), "another account") {
		t.Fatalf("set-email of another's verified address got %v, want the refusal", err)
	}
	c.MustRun("", "user", "set-email", "bob", "bob@example.com", "--public-url", "https://auth.example.com")
	list := c.MustRun("", "user", "list")
	if !strings.Contains(list, "Alice@Example.com") || !strings.Contains(list, "bob@example.com (unverified)") {
		t.Fatalf("user list got %q, want both addresses, bob's unverified", list)
	}
	var rows []struct {
		Username      string `json:"username"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := json.Unmarshal([]byte(c.MustRun("", "user", "list", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Email != "Alice@Example.com" || !rows[0].EmailVerified || rows[1].EmailVerified {
		t.Fatalf("user list --json got %+v", rows)
	}
}

func TestMailTestSendsOverSMTP(t *testing.T) {
	srv := smtptest.MustStart(t)
	c := NewCLI(t)
	out := c.MustRun("", "mail", "test", "--to", "ops@example.com", "--smtp-url", srv.URL(), "--mail-from", "auth@example.com")
	if !strings.Contains(out, "sent a test mail to ops@example.com") {
		t.Fatalf("mail test printed %q", out)
	}
	srv.WaitFor(t, "ops@example.com", "Test mail")
	srv.Stop()
	if _, _, err := c.Run("", "mail", "test", "--to", "ops@example.com", "--smtp-url", srv.URL(), "--mail-from", "auth@example.com"); err == nil {
		t.Fatal("mail test to a stopped server reported success")
	}
	if _, _, err := c.Run("", "mail", "test", "--to", "ops@example.com", "--smtp-url", "smtp://mail.example.com"); err == nil {
		t.Fatal("mail test without --mail-from succeeded")
	}
}
