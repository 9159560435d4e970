package liveauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/liveauth"
)

// A registration on the canned page creates the account, says so, then
// sends the page to /login, where the new password logs in.
func TestRegistrationCreatesTheAccountThenGoesToLogin(t *testing.T) {
	s := mustSite(t, siteConfig{})
	p := s.open(t, liveauth.RegisterRoute, nil)
	r := p.event("register.handle_registration", map[string]string{
		"username": "Bob", "password": pw, "confirm_password": pw,
	})
	sawSuccess := false
	for _, m := range r.msgs {
		if string(m.Delta["register"]["success"]) == "true" {
			sawSuccess = true
		}
	}
	if !sawSuccess {
		t.Fatalf("the page never showed the success; got:\n%s", p.log.String())
	}
	if got := r.redirect(); got != liveauth.LoginRoute {
		t.Fatalf("redirect to %q, want %q", got, liveauth.LoginRoute)
	}
	if p.flag("register.success") {
		t.Fatal("the success message still shows once the page moved on")
	}
	u, err := s.svc.UserByName(clientCtx, "bob")
	if err != nil {
		t.Fatalf("the account was not created: %v", err)
	}
	var id int64
	p.decode("register.new_user_id", &id)
	if id != u.ID {
		t.Fatalf("new_user_id %d, want %d", id, u.ID)
	}
	if _, err := s.svc.Login(clientCtx, "bob", pw); err != nil {
		t.Fatalf("the new account cannot log in: %v", err)
	}
	if _, ok := p.local[liveauth.LocalStorageKey]; ok {
		t.Fatal("registration signed the tab in; it should only send it to /login")
	}
}

// Each refusal of a registration says why, moves the focus to the field to
// correct, clears the password fields when a password is at fault, and
// creates no account.
func TestRegistrationRefusals(t *testing.T) {
	s := mustSite(t, siteConfig{})
	s.mustRegister(t, "alice")
	_, weak := s.svc.Register(clientCtx, "someone", "short")
	var pe *localauth.PolicyError
	if !errors.As(weak, &pe) || pe.Field != localauth.FieldPassword {
		t.Fatalf("a short password got %v, want a *PolicyError on the password", weak)
	}
	_, badName := localauth.CanonicalUsername("no spaces please")
	if badName == nil {
		t.Fatal("a username with spaces is valid")
	}
	taken, _ := localauth.PublicUsernameTaken(localauth.ErrUserExists, "ALICE")
	for _, c := range []struct {
		name    string
		fields  map[string]string
		message string
		focus   string
		cleared []string
	}{
		{"username empty", map[string]string{"password": pw, "confirm_password": pw},
			liveauth.MsgUsernameEmpty, "username", nil},
		{"username invalid", map[string]string{"username": "no spaces please", "password": pw, "confirm_password": pw},
			publicMessage(badName), "username", nil},
		{"username taken in another case", map[string]string{"username": "ALICE", "password": pw, "confirm_password": pw},
			taken, "username", []string{"username"}},
		{"password empty", map[string]string{"username": "carol", "confirm_password": pw},
			liveauth.MsgPasswordEmpty, "password", nil},
		{"passwords differ", map[string]string{"username": "carol", "password": pw, "confirm_password": pw + "!"},
			liveauth.MsgPasswordMismatch, "confirm_password", []string{"confirm_password"}},
		{"password too weak", map[string]string{"username": "carol", "password": "short", "confirm_password": "short"},
			publicMessage(weak), "password", []string{"password", "confirm_password"}},
		{"email without mail", map[string]string{"username": "carol", "password": pw, "confirm_password": pw, "email": "carol@example.com"},
			publicMessage(localauth.ErrMailUnavailable), "email", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := s.open(t, liveauth.RegisterRoute, nil)
			r := p.event("register.handle_registration", c.fields)
			if got := p.str("register.error_message"); got != c.message {
				t.Errorf("message %q, want %q", got, c.message)
			}
			if !r.focused(c.focus) {
				t.Errorf("focus actions %v, want the last on %q", r.actions("focus"), c.focus)
			}
			for _, id := range c.cleared {
				if !r.has("set_value", id, "") {
					t.Errorf("field %s not cleared; actions %v", id, r.actions("set_value"))
				}
			}
			if p.flag("register.success") || r.redirect() != "" {
				t.Error("the page went on as after a success")
			}
		})
	}
	users, err := s.svc.Users(clientCtx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 {
		t.Fatalf("%d users after refused registrations, want only alice", len(users))
	}
}

// A client that checks too many usernames is slowed down, and the page
// says so instead of answering about the name.
func TestRegistrationThrottledSaysWhy(t *testing.T) {
	s := mustSite(t, siteConfig{service: func(c *localauth.Config) { c.Throttle.RegistrationsFree = 1 }})
	p := s.open(t, liveauth.RegisterRoute, nil)
	for _, name := range []string{"one", "two", "three", "four"} {
		p.event("register.handle_registration", map[string]string{"username": name, "password": pw, "confirm_password": pw})
		if strings.HasPrefix(p.str("register.error_message"), "Too many attempts.") {
			if _, err := s.svc.UserByName(clientCtx, name); !errors.Is(err, localauth.ErrUserNotFound) {
				t.Fatalf("the throttled registration created its account: %v", err)
			}
			return
		}
	}
	t.Fatalf("no registration was throttled; got:\n%s", p.log.String())
}
