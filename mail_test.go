package localauth_test

import (
	"errors"
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
		fn(t, mustSQLite)
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
	st, _ := openSQLite(t)
	return st
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
