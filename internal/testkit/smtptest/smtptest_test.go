package smtptest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit/smtptest"
	"github.com/localauth/localauth/smtpmail"
)

func mustMailer(tb testing.TB, s *smtptest.Server) *smtpmail.Mailer {
	tb.Helper()
	m, err := smtpmail.New(s.URL(), "localauth@example.com", smtpmail.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// A message sent over SMTP is recorded with its recipient; Text decodes
// its body and subject, and Link finds the link with a token, however the
// body was encoded.
func TestRecordsMessagesAndFindsTheirLinks(t *testing.T) {
	s := smtptest.MustStart(t)
	m := mustMailer(t, s)
	long := strings.Repeat("A very long line that a mailer must wrap or encode. ", 4)
	err := m.Send(context.Background(), localauth.Mail{
		Kind: "reset", To: "alice@example.com", Subject: "Réinitialiser",
		Text: long + "\nOpen https://auth.example.com/reset-password?token=Abc_123-xyz to go on.\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.WaitFor(t, "alice@example.com", "")
	subject, body := got.Text()
	if subject != "Réinitialiser" || !strings.Contains(body, long) {
		t.Fatalf("subject %q, body %q", subject, body)
	}
	link, token, ok := got.Link()
	if !ok || token != "Abc_123-xyz" || link != "https://auth.example.com/reset-password?token=Abc_123-xyz" {
		t.Fatalf("link %q, token %q, ok %v", link, token, ok)
	}
	if len(s.Messages()) != 1 {
		t.Fatalf("%d messages recorded, want 1", len(s.Messages()))
	}
}

// Stopped, the server refuses mail; started again, on the same port, it
// takes it: an outage of the mail server.
func TestStopAndStartOnTheSamePort(t *testing.T) {
	s := smtptest.MustStart(t)
	m := mustMailer(t, s)
	addr := s.Addr
	s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Send(ctx, localauth.Mail{To: "bob@example.com", Subject: "x", Text: "x"}); err == nil {
		t.Fatal("a stopped server took a message")
	}
	s.Start()
	if s.Addr != addr {
		t.Fatalf("restarted on %s, want %s", s.Addr, addr)
	}
	if err := m.Send(ctx, localauth.Mail{To: "bob@example.com", Subject: "x", Text: "x"}); err != nil {
		t.Fatalf("the restarted server refused a message: %v", err)
	}
	s.WaitFor(t, "bob@example.com", "")
}
