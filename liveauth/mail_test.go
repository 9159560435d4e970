package liveauth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit/smtptest"
	"github.com/localauth/localauth/liveauth"
)

// mailTo waits for a mail to the address whose link opens path, and
// returns the link's token.
func (s *site) mailTo(tb testing.TB, addr, path string) string {
	tb.Helper()
	deadline := time.Now().Add(patience)
	for {
		for _, m := range s.smtp.Messages() {
			link, token, ok := m.Link()
			if ok && smtptestTo(m, addr) && strings.Contains(link, path+"?") {
				return token
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no mail to %s with a link to %s within %v; got %d mails", addr, path, patience, len(s.smtp.Messages()))
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for time
	}
}

func smtptestTo(m smtptest.Message, addr string) bool {
	for _, to := range m.To {
		if to == addr {
			return true
		}
	}
	return false
}

// mailMessages reads the mail pages' message and error.
func (p *page) mailMessages() (message, errorMessage string) {
	return p.str("mail.message"), p.str("mail.error_message")
}

// The forgotten-password page answers alike whether the account exists,
// mails a link to the verified address, and the reset page sets the new
// password with the link's token, once, signing the account out
// everywhere.
func TestForgotAndResetPassword(t *testing.T) {
	s := mustSite(t, siteConfig{mail: true})
	s.mustRegister(t, "alice")
	if err := s.svc.SetUserEmail(clientCtx, "alice", "alice@example.com", true); err != nil {
		t.Fatal(err)
	}
	open := s.signedIn(t, "alice", privateRoute)

	p := s.open(t, liveauth.ForgotPasswordRoute, nil)
	if !p.flag("mail.available") {
		t.Fatal("the page says mail is not available")
	}
	r := p.event("mail.forgot", map[string]string{"account": ""})
	if _, e := p.mailMessages(); e != liveauth.MsgAccountEmpty || !r.focused("account") {
		t.Fatalf("an empty answer got %q", e)
	}
	p.event("mail.forgot", map[string]string{"account": "nobody"})
	unknown, _ := p.mailMessages()
	if unknown == "" || !p.flag("mail.done") {
		t.Fatalf("no answer for an unknown account; got:\n%s", p.log.String())
	}
	q := s.open(t, liveauth.ForgotPasswordRoute, nil)
	q.event("mail.forgot", map[string]string{"account": "alice"})
	if known, _ := q.mailMessages(); known != unknown {
		t.Fatalf("the answer tells accounts apart: %q for alice, %q for nobody", known, unknown)
	}
	token := s.mailTo(t, "alice@example.com", liveauth.ResetPasswordRoute)

	noToken := s.open(t, liveauth.ResetPasswordRoute, nil)
	noToken.event("mail.reset", map[string]string{"password": "a new long passphrase", "confirm_password": "a new long passphrase"})
	if _, e := noToken.mailMessages(); e != liveauth.MsgNoToken {
		t.Fatalf("a reset without token got %q, want %q", e, liveauth.MsgNoToken)
	}

	const next = "a new long passphrase"
	reset := s.open(t, liveauth.ResetPasswordRoute+"?token="+token, nil)
	for _, c := range []struct {
		name                string
		password, confirm   string
		want, focus, clears string
	}{
		{"empty", "", "", liveauth.MsgPasswordEmpty, "password", ""},
		{"mismatch", next, next + "!", liveauth.MsgPasswordMismatch, "confirm_password", "confirm_password"},
	} {
		r := reset.event("mail.reset", map[string]string{"password": c.password, "confirm_password": c.confirm})
		if _, e := reset.mailMessages(); e != c.want {
			t.Fatalf("%s: error %q, want %q", c.name, e, c.want)
		}
		if !r.focused(c.focus) || (c.clears != "" && !r.has("set_value", c.clears, "")) {
			t.Fatalf("%s: focus or clearing wrong: %v", c.name, r.msgs)
		}
	}
	if _, err := s.svc.Login(clientCtx, "alice", pw); err != nil {
		t.Fatalf("a refused reset changed the password: %v", err)
	}
	reset.event("mail.reset", map[string]string{"password": next, "confirm_password": next})
	if m, e := reset.mailMessages(); m != liveauth.MsgResetDone || e != "" || !reset.flag("mail.done") {
		t.Fatalf("reset: message %q, error %q", m, e)
	}
	if _, err := s.svc.Login(clientCtx, "alice", next); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}
	open.signedOut()

	again := s.open(t, liveauth.ResetPasswordRoute+"?token="+token, nil)
	again.event("mail.reset", map[string]string{"password": "yet another passphrase", "confirm_password": "yet another passphrase"})
	if _, e := again.mailMessages(); e != publicMessage(localauth.ErrInvalidMailToken) {
		t.Fatalf("a used link got %q, want %q", e, publicMessage(localauth.ErrInvalidMailToken))
	}
}

// An address set on the account page is unverified until its mailed
// link is opened, after a
// password confirmation when the login is old; the mailed link verifies it
// on the verification page.
func TestEmailAddressVerifiedByTheMailedLink(t *testing.T) {
	s := mustSite(t, siteConfig{mail: true})
	s.mustRegister(t, "alice")
	p := s.signedIn(t, "alice", liveauth.AccountRoute)
	var info liveauth.EmailInfo
	p.decode("account.email", &info)
	if info != (liveauth.EmailInfo{}) {
		t.Fatalf("email %+v before any was set", info)
	}
	r := p.event("account.set_email", map[string]string{"email": ""})
	if got := p.str("account.error_message"); got != liveauth.MsgEmailEmpty || !r.focused("email") {
		t.Fatalf("an empty address got %q", got)
	}

	s.oldLogin()
	p.event("account.set_email", map[string]string{"email": "alice@example.com"})
	if !p.flag("account.reauth_needed") {
		t.Fatalf("no password prompt for an address change with an old login; got:\n%s", p.log.String())
	}
	r = p.event("account.reauth", map[string]string{"password": pw})
	if got, want := p.str("account.message"), "A link to confirm alice@example.com is on its way there."; got != want {
		t.Fatalf("message %q, want %q; error %q", got, want, p.str("account.error_message"))
	}
	if !r.has("set_value", "email", "") {
		t.Fatal("the address field was not cleared")
	}
	p.decode("account.email", &info)
	if info.Email != "alice@example.com" || info.Verified {
		t.Fatalf("email %+v, want alice@example.com not verified yet", info)
	}
	token := s.mailTo(t, "alice@example.com", liveauth.VerifyEmailRoute)

	for _, c := range []struct{ name, route, want string }{
		{"no token", liveauth.VerifyEmailRoute, liveauth.MsgNoToken},
		{"made-up token", liveauth.VerifyEmailRoute + "?token=madeup", publicMessage(localauth.ErrInvalidMailToken)},
	} {
		v := s.open(t, c.route, nil)
		v.event("mail.verify", nil)
		if _, e := v.mailMessages(); e != c.want {
			t.Fatalf("%s: error %q, want %q", c.name, e, c.want)
		}
	}
	v := s.open(t, liveauth.VerifyEmailRoute+"?token="+token, nil)
	v.event("mail.verify", nil)
	if m, e := v.mailMessages(); m != liveauth.MsgEmailVerified || e != "" || !v.flag("mail.done") {
		t.Fatalf("verify: message %q, error %q", m, e)
	}
	p.nav(privateRoute)
	p.nav(liveauth.AccountRoute)
	p.decode("account.email", &info)
	if info.Email != "alice@example.com" || !info.Verified || info.Pending != "" {
		t.Fatalf("email %+v, want alice@example.com verified", info)
	}
}

// An address given at registration is set on the new account,
// unverified until its mailed link is opened; an unusable one refuses the registration.
func TestRegistrationWithEmail(t *testing.T) {
	s := mustSite(t, siteConfig{mail: true})
	p := s.open(t, liveauth.RegisterRoute, nil)
	r := p.event("register.handle_registration", map[string]string{
		"username": "carol", "password": pw, "confirm_password": pw, "email": "not an address"})
	if got := p.str("register.error_message"); got != publicMessage(localauth.ErrInvalidEmail) || !r.focused("email") {
		t.Fatalf("a bad address got %q, want %q", got, publicMessage(localauth.ErrInvalidEmail))
	}
	if _, err := s.svc.UserByName(clientCtx, "carol"); err == nil {
		t.Fatal("a registration refused for its address created the account")
	}
	r = p.event("register.handle_registration", map[string]string{
		"username": "carol", "password": pw, "confirm_password": pw, "email": "carol@example.com"})
	if r.redirect() != liveauth.LoginRoute {
		t.Fatalf("the registration did not go on to /login; got:\n%s", p.log.String())
	}
	u, err := s.svc.UserByName(clientCtx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.svc.UserEmail(clientCtx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Email != "carol@example.com" || st.Verified {
		t.Fatalf("email state %+v, want carol@example.com not verified yet", st)
	}
	s.mailTo(t, "carol@example.com", liveauth.VerifyEmailRoute)
}

// Without mail the pages say so, and the forgot form is refused in words.
func TestMailPagesWithoutMail(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.open(t, liveauth.ForgotPasswordRoute, nil)
	if p.flag("mail.available") {
		t.Fatal("the page offers mail on a server without it")
	}
	p.event("mail.forgot", map[string]string{"account": "alice"})
	if _, e := p.mailMessages(); e != publicMessage(localauth.ErrMailUnavailable) {
		t.Fatalf("error %q, want %q", e, publicMessage(localauth.ErrMailUnavailable))
	}
	if p.flag("mail.done") {
		t.Fatal("the page claims a link is on its way")
	}
}
