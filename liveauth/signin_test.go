package liveauth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/liveauth"
)

// A wrong password, or an unknown username, gets the same message, clears
// the password field and leaves the tab signed out with nothing stored.
func TestLoginRefusedSaysSoAlikeForEveryAccount(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	for _, c := range []struct{ name, username, password string }{
		{"wrong password", "alice", "not the password at all"},
		{"unknown user", "nobody", pw},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := s.open(t, liveauth.LoginRoute, nil)
			r := p.event("login.on_submit", map[string]string{"username": c.username, "password": c.password})
			if got := p.str("login.error_message"); got != localauth.MsgInvalidCredentials {
				t.Fatalf("message %q, want %q", got, localauth.MsgInvalidCredentials)
			}
			if !r.has("set_value", "password", "") || !r.focused("password") {
				t.Fatalf("the password field was not cleared and focused: %v", r.msgs)
			}
			if p.flag("auth.is_authenticated") || p.token() != "" || r.redirect() != "" {
				t.Fatalf("a refused login signed the tab in; got:\n%s", p.log.String())
			}
			if p.str("login.status") != "" {
				t.Fatalf("status %q left showing after the answer", p.str("login.status"))
			}
		})
	}
}

// A tab sent to /login from a private page goes back to that page, query
// included, after the login, even after a detour to /register; there it
// sees the data computed for its user.
func TestLoginReturnsToThePageThatAskedForIt(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.open(t, privateRoute+"?tab=2", nil)
	if p.flag("auth.is_authenticated") || p.str("private.secret") != "" {
		t.Fatal("an anonymous tab sees private data")
	}
	if u := p.user(); u.ID != -1 {
		t.Fatalf("anonymous user has id %d, want -1", u.ID)
	}
	// The spinner of RequireLogin asks where to go.
	r := p.event("login.redir", nil)
	if got := r.redirect(); got != liveauth.LoginRoute {
		t.Fatalf("redirect %q, want %q", got, liveauth.LoginRoute)
	}
	p.nav(liveauth.LoginRoute)
	p.event("login.redir", nil) // the login page's own mount: stays
	p.nav(liveauth.RegisterRoute)
	p.nav(liveauth.LoginRoute)
	r = p.login("alice")
	if got, want := r.redirect(), privateRoute+"?tab=2"; got != want {
		t.Fatalf("redirect %q, want %q", got, want)
	}
	p.follow(r)
	if got, want := p.str("private.secret"), "secret of alice"; got != want {
		t.Fatalf("private value %q, want %q", got, want)
	}
	if got := p.user(); got.Username != "alice" || got.ID <= 0 {
		t.Fatalf("authenticated user %+v, want alice", got)
	}
	if p.str("login.redirect_to") != "" {
		t.Fatalf("redirect_to %q kept after use", p.str("login.redirect_to"))
	}
	if _, err := s.svc.Authenticate(clientCtx, p.token()); err != nil {
		t.Fatalf("the token the page keeps names no session: %v", err)
	}
}

// A ?next= on the login page is where a login goes, when it is a path of
// this site; anything else goes home.
func TestLoginFollowsOnlyLocalNext(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	for _, c := range []struct{ name, next, want string }{
		{"a path of the site", "/account", "/account"},
		{"another site", "https://evil.example/", "/"},
		{"another host without scheme", "//evil.example/x", "/"},
		{"none", "", "/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			route := liveauth.LoginRoute
			if c.next != "" {
				route += "?next=" + c.next
			}
			p := s.open(t, route, nil)
			p.event("login.redir", nil)
			if got := p.login("alice").redirect(); got != c.want {
				t.Fatalf("redirect %q, want %q", got, c.want)
			}
		})
	}
}

// A tab already signed in that opens the login page is sent on at once.
func TestLoginPageSendsASignedInTabOn(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	tok := s.mustLogin(t, "alice")
	p := s.open(t, liveauth.LoginRoute+"?next="+privateRoute, map[string]string{liveauth.LocalStorageKey: string(tok)})
	if !p.flag("auth.is_authenticated") {
		t.Fatalf("the tab is not signed in with a live token; got:\n%s", p.log.String())
	}
	if got := p.event("login.redir", nil).redirect(); got != privateRoute {
		t.Fatalf("redirect %q, want %q", got, privateRoute)
	}
	// And a private page does not bounce it.
	q := s.open(t, privateRoute, map[string]string{liveauth.LocalStorageKey: string(tok)})
	if got := q.event("login.redir", nil).redirect(); got != "" {
		t.Fatalf("a signed-in tab on a private page was sent to %q", got)
	}
}

// A token that names no session is forgotten: the page drops it from
// LocalStorage and shows the anonymous user.
func TestUnknownTokenIsForgotten(t *testing.T) {
	s := mustSite(t, siteConfig{})
	p := s.open(t, privateRoute, map[string]string{liveauth.LocalStorageKey: "not-a-token"})
	if _, ok := p.local[liveauth.LocalStorageKey]; ok {
		t.Fatalf("the page still keeps a token that names no session; got:\n%s", p.log.String())
	}
	if p.flag("auth.is_authenticated") {
		t.Fatal("a made-up token authenticated the tab")
	}
}

// enableTOTP turns on an authenticator app for username and returns its
// secret and recovery codes. The clock moves on past the code used.
func enableTOTP(tb testing.TB, s *site, username string) (secret string, codes []string) {
	tb.Helper()
	tok := s.mustLogin(tb, username)
	en, err := s.svc.EnrollTOTP(clientCtx, tok)
	if err != nil {
		tb.Fatal(err)
	}
	code, _ := totp.GenerateCode(en.Secret, s.clock.Now())
	if codes, err = s.svc.ConfirmTOTP(clientCtx, tok, code); err != nil {
		tb.Fatal(err)
	}
	s.clock.Advance(time.Minute)
	return en.Secret, codes
}

// The second step takes a recovery code instead of the app's code, once;
// an empty answer asks for the code; "Start over" drops the half-done
// login; after the second step the tab goes back where it was sent from.
func TestSecondStepRecoveryCodeAndStartOver(t *testing.T) {
	s := mustSite(t, siteConfig{totp: true})
	s.mustRegister(t, "alice")
	secret, codes := enableTOTP(t, s, "alice")

	p := s.open(t, privateRoute, nil)
	p.follow(p.event("login.redir", nil))
	r := p.login("alice")
	if !p.flag("login.second_step") || r.redirect() != "" || p.token() != "" {
		t.Fatalf("the password alone got further than the second step; got:\n%s", p.log.String())
	}
	if !r.focused("totp_code") {
		t.Fatalf("focus %v, want the code field", r.actions("focus"))
	}
	p.event("login.second_step", map[string]string{"code": ""})
	if got := p.str("login.error_message"); got != liveauth.MsgCodeRequired {
		t.Fatalf("message %q, want %q", got, liveauth.MsgCodeRequired)
	}
	if r := p.event("login.use_recovery", nil); !p.flag("login.use_recovery") || !r.focused("recovery_code") {
		t.Fatalf("use_recovery did not switch to the recovery code field; got:\n%s", p.log.String())
	}
	r = p.event("login.second_step", map[string]string{"recovery_code": codes[0]})
	if got := r.redirect(); got != privateRoute {
		t.Fatalf("redirect %q, want %q", got, privateRoute)
	}
	if p.flag("login.second_step") || p.flag("login.use_recovery") {
		t.Fatal("the second step still shows after the login")
	}
	if _, err := s.svc.Authenticate(clientCtx, p.token()); err != nil {
		t.Fatalf("the page's token names no session: %v", err)
	}

	// The same recovery code does not work twice.
	q := s.open(t, liveauth.LoginRoute, nil)
	q.login("alice")
	q.event("login.use_recovery", nil)
	r = q.event("login.second_step", map[string]string{"recovery_code": codes[0]})
	if got := q.str("login.error_message"); got != localauth.MsgInvalidCode {
		t.Fatalf("a used recovery code got %q, want %q", got, localauth.MsgInvalidCode)
	}
	if !q.flag("login.second_step") || !r.focused("recovery_code") {
		t.Fatal("a wrong code closed the second step")
	}
	q.event("login.start_over", nil)
	if q.flag("login.second_step") || q.flag("login.use_recovery") || q.str("login.error_message") != "" {
		t.Fatalf("start over left the second step; got:\n%s", q.log.String())
	}
	// The half-done login is gone: a code now has nothing to complete.
	code, _ := totp.GenerateCode(secret, s.clock.Now())
	q.event("login.second_step", map[string]string{"code": code})
	if q.token() != "" {
		t.Fatal("a code after start over signed the tab in")
	}
}

// The use_recovery event does nothing on a login page not at its second
// step.
func TestUseRecoveryOutsideTheSecondStep(t *testing.T) {
	s := mustSite(t, siteConfig{})
	p := s.open(t, liveauth.LoginRoute, nil)
	p.event("login.use_recovery", nil)
	if p.flag("login.use_recovery") {
		t.Fatal("use_recovery switched fields with no second step open")
	}
}

// A passkey answer that is missing, or that the server cannot use, says so
// and signs nothing in.
func TestPasskeyLoginRefusals(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	p := s.open(t, liveauth.LoginRoute, nil)
	if p.flag("login.passkeys") {
		t.Fatal("the page offers passkeys on a server without them")
	}
	p.event("login.passkey", map[string]string{"credential": ""})
	if got := p.str("login.error_message"); got != liveauth.MsgPasskeyNoResponse {
		t.Fatalf("message %q, want %q", got, liveauth.MsgPasskeyNoResponse)
	}
	_, err := s.svc.PasskeyLogin(clientCtx, []byte(`{"id":"x"}`), localauth.LoginOptions{})
	if err == nil {
		t.Fatal("a made-up passkey answer logged in")
	}
	want := publicMessage(err)
	if errors.Is(err, localauth.ErrInvalidCode) {
		want = liveauth.MsgPasskeyFailed // not a word about codes
	}
	p.event("login.passkey", map[string]string{"credential": `{"id":"x"}`})
	if got := p.str("login.error_message"); got != want || got == "" {
		t.Fatalf("message %q, want %q", got, want)
	}
	if p.token() != "" {
		t.Fatal("a refused passkey signed the tab in")
	}
}
