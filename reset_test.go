package localauth_test

// Password reset by mail: the forgotten-password request, the link it
// mails, and what a reset does and leaves alone.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit/smtptest"
	"github.com/localauth/localauth/smtpmail"
)

func TestForgotAnswersAlikeAndMailsOnlyVerified(t *testing.T) {
	mailStores(t, func(t *testing.T, open func(t *testing.T) localauth.Store) {
		e := newMailEnv(t, open(t), nil, nil)
		e.register(t, "verified", "v@example.com", true)
		e.register(t, "unverified", "u@example.com", false)
		e.SMTP.WaitFor(t, "u@example.com", "") // its verification link
		for _, req := range []localauth.ForgotRequest{
			{Username: "verified"}, {Email: "v@EXAMPLE.com"},
			{Username: "unverified"}, {Email: "u@example.com"},
			{Username: "nobody"}, {Email: "nobody@example.com"},
		} {
			if err := e.Svc.ForgotPassword(ctx, req); err != nil {
				t.Fatalf("ForgotPassword(%+v) got %v, want nil", req, err)
			}
		}
		e.deliver(t)
		if n := e.mailsTo("v@example.com"); n != 2 {
			t.Fatalf("reset mails to the verified address got %d, want 2", n)
		}
		if n := e.mailsTo("u@example.com"); n != 1 {
			t.Fatalf("mails to the unverified address got %d, want only its verification", n)
		}
		if n := e.mailsTo("nobody@example.com"); n != 0 {
			t.Fatalf("mails to an unknown address got %d, want 0", n)
		}
		for _, req := range []localauth.ForgotRequest{{}, {Username: "a", Email: "a@example.com"}, {Email: "not an address"}} {
			if err := e.Svc.ForgotPassword(ctx, req); err == nil {
				t.Fatalf("ForgotPassword(%+v) got nil, want an error for a malformed request", req)
			}
		}
	})
}

func TestResetByLinkEndsSessionsOnceAndNotifies(t *testing.T) {
	mailStores(t, func(t *testing.T, open func(t *testing.T) localauth.Store) {
		e := newMailEnv(t, open(t), nil, nil)
		e.register(t, "alice", "alice@example.com", true)
		old, err := e.Svc.Login(ctx, "alice", goodPW)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Email: "alice@example.com"}); err != nil {
			t.Fatal(err)
		}
		tok := e.token(t, "alice@example.com", "Reset", "/reset-password")
		if err := e.Svc.ResetPassword(ctx, tok, "short"); err == nil {
			t.Fatal("ResetPassword took a password the policy refuses")
		}
		const next = "a brand new passphrase"
		if err := e.Svc.ResetPassword(ctx, tok, next); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		if _, err := e.Svc.Authenticate(ctx, old.Token); !errors.Is(err, localauth.ErrInvalidSession) {
			t.Fatalf("the old session after a reset got %v, want ErrInvalidSession", err)
		}
		if err := e.Svc.ResetPassword(ctx, tok, "another new passphrase"); !errors.Is(err, localauth.ErrInvalidMailToken) {
			t.Fatalf("second ResetPassword got %v, want ErrInvalidMailToken", err)
		}
		if _, err := e.Svc.Login(ctx, "alice", goodPW); err == nil {
			t.Fatal("the old password still logs in")
		}
		if _, err := e.Svc.Login(ctx, "alice", next); err != nil {
			t.Fatalf("Login with the new password: %v", err)
		}
		e.SMTP.WaitFor(t, "alice@example.com", "was changed")
	})
}

func TestResetLinkExpiresAndVoidsOnPasswordChange(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	tok := e.token(t, "alice@example.com", "Reset", "/reset-password")
	e.Clock.Advance(30 * time.Minute)
	if err := e.Svc.ResetPassword(ctx, tok, "a brand new passphrase"); !errors.Is(err, localauth.ErrInvalidMailToken) {
		t.Fatalf("ResetPassword after 30 minutes got %v, want ErrInvalidMailToken", err)
	}

	e.Clock.Advance(time.Hour)
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	e.deliver(t)
	var tok2 string
	for _, m := range e.SMTP.Messages() {
		if _, x, ok := m.Link(); ok && x != tok {
			tok2 = x
		}
	}
	if tok2 == "" {
		t.Fatal("no second reset link arrived")
	}
	u, err := e.Store.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.SetPassword(ctx, u.ID, "set by an administrator"); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.ResetPassword(ctx, tok2, "a brand new passphrase"); !errors.Is(err, localauth.ErrInvalidMailToken) {
		t.Fatalf("ResetPassword after another password change got %v, want ErrInvalidMailToken", err)
	}
}

func TestResetMailsAreLimitedPerAccount(t *testing.T) {
	mailStores(t, func(t *testing.T, open func(t *testing.T) localauth.Store) {
		e := newMailEnv(t, open(t), nil, nil)
		e.register(t, "alice", "alice@example.com", true)
		for i := range 15 {
			req := localauth.ForgotRequest{Username: "alice"}
			if i%2 == 1 {
				req = localauth.ForgotRequest{Email: "alice@example.com"}
			}
			if err := e.Svc.ForgotPassword(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		e.deliver(t)
		if n := e.mailsTo("alice@example.com"); n != 3 {
			t.Fatalf("reset mails after 15 requests got %d, want 3", n)
		}
		e.Clock.Advance(time.Hour + time.Second)
		if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
			t.Fatal(err)
		}
		e.deliver(t)
		if n := e.mailsTo("alice@example.com"); n != 4 {
			t.Fatalf("reset mails an hour later got %d, want 4", n)
		}
	})
}

// Forgotten-password requests count against the client's address, before
// any account is looked up: past the allowance every request is refused
// alike, for a verified account and for none, and another address is not
// held back.
func TestForgotRequestsThrottledPerClient(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	attacker := localauth.WithClientIP(ctx, "2001:db8:7:7::1")
	// ResetRequestsFree (10) free, and one more at once: the first delay
	// runs from it.
	for i := range 11 {
		// Other addresses of the same /64 count together.
		c := localauth.WithClientIP(ctx, fmt.Sprintf("2001:db8:7:7::%x", i+2))
		if err := e.Svc.ForgotPassword(c, localauth.ForgotRequest{Username: fmt.Sprintf("user%d", i)}); err != nil {
			t.Fatalf("request %d within the allowance: %v", i+1, err)
		}
	}
	var known, unknown *localauth.RateLimitError
	if err := e.Svc.ForgotPassword(attacker, localauth.ForgotRequest{Username: "alice"}); !errors.As(err, &known) || known.RetryAfter <= 0 {
		t.Fatalf("the 12th request, for a verified account: %v, want a *RateLimitError", err)
	}
	if err := e.Svc.ForgotPassword(attacker, localauth.ForgotRequest{Username: "nobody"}); !errors.As(err, &unknown) {
		t.Fatalf("the 13th request, for no account: %v, want a *RateLimitError", err)
	}
	st, msg, _ := localauth.Public(unknown)
	st2, msg2, _ := localauth.Public(known)
	if st != st2 || msg != msg2 {
		t.Fatalf("refusals differ: %q %q for no account, %q %q for alice", st, msg, st2, msg2)
	}
	e.deliver(t)
	if n := e.mailsTo("alice@example.com"); n != 0 {
		t.Fatalf("a refused request mailed alice %d times", n)
	}
	if err := e.Svc.ForgotPassword(localauth.WithClientIP(ctx, "192.0.2.8"), localauth.ForgotRequest{Username: "alice"}); err != nil {
		t.Fatalf("another client: %v", err)
	}
	e.deliver(t)
	if n := e.mailsTo("alice@example.com"); n != 1 {
		t.Fatalf("reset mails for the other client's request: %d, want 1", n)
	}
}

// A page's one field takes a username or an address: Account finds the
// account either way, and each request counts once against the client,
// even for an address that is also a valid username.
func TestForgotByAccountFindsEitherAndCountsOnce(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	e.register(t, "bob", "bob@example.com", true)
	client := localauth.WithClientIP(ctx, "192.0.2.44")
	for _, account := range []string{"bob", "alice@example.com"} {
		if err := e.Svc.ForgotPassword(client, localauth.ForgotRequest{Account: account}); err != nil {
			t.Fatalf("Account %q: %v", account, err)
		}
	}
	e.deliver(t)
	if a, b := e.mailsTo("alice@example.com"), e.mailsTo("bob@example.com"); a != 1 || b != 1 {
		t.Fatalf("reset mails: alice %d, bob %d; want 1 each", a, b)
	}
	// 2 counted so far; 9 more fit the allowance (10 free and one).
	for i := range 9 {
		if err := e.Svc.ForgotPassword(client, localauth.ForgotRequest{Account: "nobody@example.com"}); err != nil {
			t.Fatalf("request %d: %v (counted twice?)", i+3, err)
		}
	}
	var rl *localauth.RateLimitError
	if err := e.Svc.ForgotPassword(client, localauth.ForgotRequest{Account: "nobody@example.com"}); !errors.As(err, &rl) {
		t.Fatalf("request 12: %v, want a *RateLimitError", err)
	}
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Account: "bob", Username: "bob"}); err == nil {
		t.Fatal("a request naming the account twice was taken")
	}
}

func TestResetDuringOutageIsDeliveredAfter(t *testing.T) {
	mailStores(t, func(t *testing.T, open func(t *testing.T) localauth.Store) {
		e := newMailEnv(t, open(t), nil, nil)
		e.register(t, "alice", "alice@example.com", true)
		e.SMTP.Stop()
		if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
			t.Fatalf("ForgotPassword during an outage got %v, want nil", err)
		}
		if n, err := e.Svc.DeliverMail(ctx); err != nil || n != 0 {
			t.Fatalf("DeliverMail during an outage got %d, %v; want 0, nil", n, err)
		}
		e.SMTP.Start()
		// The retry is due within the backoff; an hour covers any.
		e.Clock.Advance(time.Hour)
		e.deliver(t)
		e.token(t, "alice@example.com", "Reset", "/reset-password")
	})
}

// A forgot-password request for an account with a verified address returns
// while the SMTP server has not answered: the mail waits in the outbox, so
// the request takes as long as one for an unknown account.
func TestForgotDoesNotWaitForSMTP(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	e.SMTP.Hold()
	defer e.SMTP.Release()
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.SMTP.Messages()); n != 0 {
		t.Fatalf("%d messages delivered while the server holds them", n)
	}
	e.SMTP.Release()
	e.token(t, "alice@example.com", "Reset", "/reset-password")
}

// A reset does not skip the second factor: the next login still asks for
// the code. Turning the factor on sent a notice to the verified address.
func TestResetKeepsTheSecondFactor(t *testing.T) {
	srv := smtptest.MustStart(t)
	m, err := smtpmail.New(srv.URL(), "auth@example.com", smtpmail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := MustFactorEnv(t, func(c *localauth.Config) {
		c.Mail = localauth.MailConfig{Mailer: m, PublicURL: "https://auth.example.com"}
	})
	e.MustRegister(t, "alice", goodPW)
	if err := e.Svc.SetUserEmail(ctx, "alice", "alice@example.com", true); err != nil {
		t.Fatal(err)
	}
	e.MustEnableTOTP(t, "alice")
	srv.WaitFor(t, "alice@example.com", "An authenticator app was set up")
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, tok, ok := srv.WaitFor(t, "alice@example.com", "reset-password").Link()
	if !ok {
		t.Fatal("no reset link")
	}
	const next = "a brand new passphrase"
	if err := e.Svc.ResetPassword(ctx, tok, next); err != nil {
		t.Fatal(err)
	}
	_, err = e.Svc.Login(ctx, "alice", next)
	var sf *localauth.SecondFactorRequiredError
	if !errors.As(err, &sf) {
		t.Fatalf("Login after a reset got %v, want the second step", err)
	}
}
