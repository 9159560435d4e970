package localauth_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/internal/testkit/smtptest"
	"github.com/localauth/localauth/pgstore"
	"github.com/localauth/localauth/smtpmail"
	"github.com/localauth/localauth/sqlitestore"
)

// mailEnv is a Service with mail on, over a real store, sending to a real
// SMTP server in the test process.
type mailEnv struct {
	Svc   *localauth.Service
	Store localauth.Store
	SMTP  *smtptest.Server
	Clock *Clock
}

// mailStores runs fn on a fresh SQLite file and, with
// LOCALAUTH_TEST_POSTGRES set, on a fresh PostgreSQL database.
func mailStores(t *testing.T, fn func(t *testing.T, open func(t *testing.T) localauth.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, func(t *testing.T) localauth.Store {
			st, err := sqlitestore.Open(ctx, t.TempDir()+"/auth.db", sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, func(t *testing.T) localauth.Store { return mustOpenPG(t, testkit.FreshDatabase(t).String()) })
	})
}

func mustOpenPG(t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newMailEnv(t *testing.T, st localauth.Store, srv *smtptest.Server, clock *Clock) *mailEnv {
	t.Helper()
	if srv == nil {
		srv = smtptest.MustStart(t)
	}
	if clock == nil {
		clock = NewClock()
	}
	m, err := smtpmail.New(srv.URL(), "localauth@example.com", smtpmail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := localauth.New(st, localauth.Config{
		Hasher: localauth.BcryptHasher{Cost: 4}, AllowWeakCost: true, NoClientAddress: true,
		Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
		Mail: localauth.MailConfig{Mailer: m, PublicURL: "https://auth.example.com", PollInterval: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &mailEnv{Svc: svc, Store: st, SMTP: srv, Clock: clock}
}

func (e *mailEnv) register(t *testing.T, name, email string, verified bool) {
	t.Helper()
	if _, err := e.Svc.Register(ctx, name, goodPW); err != nil {
		t.Fatal(err)
	}
	if email != "" {
		if err := e.Svc.SetUserEmail(ctx, name, email, verified); err != nil {
			t.Fatal(err)
		}
	}
}

// token waits for a mail to the address whose subject contains subject,
// and returns the token of its link, checking the link's page.
func (e *mailEnv) token(t *testing.T, to, subject, page string) string {
	t.Helper()
	m := e.SMTP.WaitFor(t, to, "")
	for _, x := range e.SMTP.Messages() {
		if s, _ := x.Text(); strings.Contains(s, subject) && contains(x.To, to) {
			m = x
		}
	}
	link, tok, ok := m.Link()
	if !ok {
		_, body := m.Text()
		t.Fatalf("no link in the mail to %s: %s", to, body)
	}
	if want := "https://auth.example.com" + page + "?token="; !strings.HasPrefix(link, want) {
		t.Fatalf("link got %s, want it to start with %s", link, want)
	}
	return tok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// deliver sends what is due and waits until the outbox is empty: the
// background worker may hold a mail this call cannot claim.
func (e *mailEnv) deliver(t *testing.T) {
	t.Helper()
	ms := e.Store.(localauth.MailStore)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := e.Svc.DeliverMail(ctx); err != nil {
			t.Fatal(err)
		}
		n, _, err := ms.OutboxStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outbox still holds %d mails", n)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not timing
	}
}

// decodedBody is a message's text as its reader sees it: the body after the
// header, quoted-printable decoded.
func decodedBody(t *testing.T, m smtptest.Message) string {
	t.Helper()
	_, body, ok := strings.Cut(strings.ReplaceAll(m.Data, "\r\n", "\n"), "\n\n")
	if !ok {
		t.Fatalf("a message with no body:\n%s", m.Data)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
	if err != nil {
		t.Fatalf("decoding the body: %v", err)
	}
	return string(b)
}

func (e *mailEnv) mailsTo(to string) int {
	n := 0
	for _, m := range e.SMTP.Messages() {
		if contains(m.To, to) {
			n++
		}
	}
	return n
}

func TestMailVerifyByLinkOnce(t *testing.T) {
	mailStores(t, func(t *testing.T, open func(t *testing.T) localauth.Store) {
		e := newMailEnv(t, open(t), nil, nil)
		e.register(t, "alice", "alice@example.com", false)
		tok := e.token(t, "alice@example.com", "Confirm", "/verify-email")
		res := e.Svc.Login
		r, err := res(ctx, "alice", goodPW)
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.Svc.Email(ctx, r.Token)
		if err != nil || st.Verified || st.Email != "alice@example.com" {
			t.Fatalf("before verification got %+v, %v; want alice@example.com unverified", st, err)
		}
		if err := e.Svc.VerifyEmail(ctx, tok); err != nil {
			t.Fatalf("VerifyEmail: %v", err)
		}
		if err := e.Svc.VerifyEmail(ctx, tok); !errors.Is(err, localauth.ErrInvalidMailToken) {
			t.Fatalf("second VerifyEmail got %v, want ErrInvalidMailToken", err)
		}
		if st, _ := e.Svc.Email(ctx, r.Token); !st.Verified {
			t.Fatalf("after verification got %+v, want verified", st)
		}
	})
}

func TestMailVerificationExpires(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", false)
	tok := e.token(t, "alice@example.com", "Confirm", "/verify-email")
	e.Clock.Advance(24 * time.Hour)
	if err := e.Svc.VerifyEmail(ctx, tok); !errors.Is(err, localauth.ErrInvalidMailToken) {
		t.Fatalf("VerifyEmail after 24h got %v, want ErrInvalidMailToken", err)
	}
}

func mustSQLite(t *testing.T) localauth.Store {
	st, err := sqlitestore.Open(ctx, t.TempDir()+"/auth.db", sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

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

// An administrator who sets a verified address replaces the one in force at
// once: that address hears of it, once; setting the same address again
// sends nothing.
func TestAdminReplacedAddressIsTold(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	for range 2 {
		if err := e.Svc.SetUserEmail(ctx, "alice", "alice@example.org", true); err != nil {
			t.Fatal(err)
		}
	}
	e.deliver(t)
	m := e.SMTP.WaitFor(t, "alice@example.com", "replaced")
	if body := decodedBody(t, m); !strings.Contains(body, "a***@example.org") || strings.Contains(body, "alice@example.org") {
		t.Fatalf("the notice should name the new address as a***@example.org, and only so:\n%s", body)
	}
	if n := e.mailsTo("alice@example.com"); n != 1 {
		t.Fatalf("the replaced address got %d mails, want 1", n)
	}
	if n := e.mailsTo("alice@example.org"); n != 0 {
		t.Fatalf("the new address got %d mails, want none (an administrator verified it)", n)
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

func TestTwoServicesOnPostgresSendEachMailOnce(t *testing.T) {
	dsn := testkit.FreshDatabase(t).String()
	srv := smtptest.MustStart(t)
	clock := NewClock()
	a := newMailEnv(t, mustOpenPG(t, dsn), srv, clock)
	b := newMailEnv(t, mustOpenPG(t, dsn), srv, clock)
	const n = 30
	for i := range n {
		svc := a.Svc
		if i%2 == 1 {
			svc = b.Svc
		}
		if err := svc.SendTestMail(ctx, "ops@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, e := range []*mailEnv{a, b, a, b} {
		wg.Go(func() {
			if _, err := e.Svc.DeliverMail(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	a.deliver(t)
	got := srv.Messages()
	ids := map[string]bool{}
	for _, m := range got {
		id := headerValue(m.Data, "Message-ID")
		if ids[id] {
			t.Fatalf("message %s sent twice", id)
		}
		ids[id] = true
	}
	if len(got) != n {
		t.Fatalf("messages got %d, want %d, each once", len(got), n)
	}
}

func headerValue(data, name string) string {
	for _, line := range strings.Split(data, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestTakenAddressIsAnsweredAlikeAndItsOwnerNotified(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "alice@example.com", true)
	e.register(t, "mallory", "", false)
	if err := e.Svc.SetUserEmail(ctx, "mallory", "alice@EXAMPLE.com", false); err != nil {
		t.Fatalf("SetUserEmail of a taken address got %v, want nil", err)
	}
	m := e.SMTP.WaitFor(t, "alice@EXAMPLE.com", "")
	if _, _, ok := m.Link(); ok {
		t.Fatal("a link was mailed for an address another account verified")
	}
	if s, _ := m.Text(); !strings.Contains(s, "another account") {
		t.Fatalf("the owner's notice has subject %q", s)
	}
}

func TestNoMailFlowsWithoutAMailer(t *testing.T) {
	e := MustEnv(t)
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Username: "alice"}); !errors.Is(err, localauth.ErrMailUnavailable) {
		t.Fatalf("ForgotPassword without a Mailer got %v, want ErrMailUnavailable", err)
	}
}

func TestEmailKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"  Alice@Example.COM ", "Alice@example.com"},
		{"a.b+c@sub.example.org", "a.b+c@sub.example.org"},
	} {
		got, err := localauth.EmailKey(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("EmailKey(%q) got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "alice", "Alice <a@example.com>", "a@example.com, b@example.com", "a@b", "a\r\nBcc: x@example.com", "@example.com", strings.Repeat("a", 250) + "@example.com"} {
		if _, err := localauth.EmailKey(bad); !errors.Is(err, localauth.ErrInvalidEmail) {
			t.Errorf("EmailKey(%q) got %v, want ErrInvalidEmail", bad, err)
		}
	}
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

// Changing a verified address: the old one stays in force until the new
// one is verified, and receives a notice.
func TestEmailChangeNotifiesTheOldAddress(t *testing.T) {
	e := newMailEnv(t, mustSQLite(t), nil, nil)
	e.register(t, "alice", "old@example.com", true)
	r, err := e.Svc.Login(ctx, "alice", goodPW)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.SetEmail(ctx, r.Token, "new@example.com"); err != nil {
		t.Fatal(err)
	}
	// The notice names the new address only as far as its owner needs:
	// the old mailbox may be a stranger's.
	notice := e.SMTP.WaitFor(t, "old@example.com", "A new email address")
	if body := decodedBody(t, notice); !strings.Contains(body, "n***@example.com") || strings.Contains(body, "new@example.com") {
		t.Fatalf("the notice to the old address should name the new one as n***@example.com, and only so:\n%s", body)
	}
	tok := e.token(t, "new@example.com", "Confirm", "/verify-email")
	if st, _ := e.Svc.Email(ctx, r.Token); st.Email != "old@example.com" || !st.Verified || st.Pending != "new@example.com" {
		t.Fatalf("before verification got %+v, want old in force and new pending", st)
	}
	// Until then, a reset still goes to the old address.
	if err := e.Svc.ForgotPassword(ctx, localauth.ForgotRequest{Email: "new@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Svc.VerifyEmail(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.Svc.Email(ctx, r.Token); st.Email != "new@example.com" || !st.Verified || st.Pending != "" {
		t.Fatalf("after verification got %+v, want new in force", st)
	}
	e.deliver(t)
	for _, m := range e.SMTP.Messages() {
		if _, _, ok := m.Link(); ok && contains(m.To, "new@example.com") && strings.Contains(m.Data, "reset-password") {
			t.Fatal("a reset link went to the address before it was verified")
		}
	}
	// Setting an address needs a recent login.
	e.Clock.Advance(time.Hour)
	if err := e.Svc.SetEmail(ctx, r.Token, "other@example.com"); !errors.Is(err, localauth.ErrReauthRequired) {
		t.Fatalf("SetEmail without a recent login got %v, want ErrReauthRequired", err)
	}
}
