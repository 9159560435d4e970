package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit/smtptest"
	"github.com/localauth/localauth/smtpmail"
)

func newMailEnv(t *testing.T) (*env, *smtptest.Server) {
	t.Helper()
	srv := smtptest.MustStart(t)
	m, err := smtpmail.New(srv.URL(), "auth@example.com", smtpmail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newEnvWith(t, false, localauth.Config{
		Mail: localauth.MailConfig{Mailer: m, PublicURL: "https://auth.example.com"},
	}), srv
}

// mailedToken waits for a mail to the address with a link to page, and
// returns its token.
func mailedToken(t *testing.T, srv *smtptest.Server, to, page string) string {
	t.Helper()
	m := srv.WaitFor(t, to, page)
	link, tok, ok := m.Link()
	if !ok || !strings.HasPrefix(link, "https://auth.example.com"+page+"?token=") {
		t.Fatalf("the mail to %s has link %q, want one to %s", to, link, page)
	}
	return tok
}

func TestAPIEmailVerifyAndReset(t *testing.T) {
	e, srv := newMailEnv(t)
	c := e.client(t)

	bad := e.post(t, c, "/api/auth/register", `{"username":"alice","password":"`+pw+`","email":"not an address"}`)
	if bad.status != http.StatusBadRequest || bad.body["error"] != "invalid_email" || bad.body["field"] != "email" {
		t.Fatalf("register with a bad address got %d %s, want 400 invalid_email on field email", bad.status, bad.raw)
	}
	if r := e.post(t, c, "/api/auth/register", `{"username":"alice","password":"`+pw+`","email":"alice@example.com"}`); r.status != http.StatusCreated {
		t.Fatalf("register got %d %s, want 201 (the refused one created nothing)", r.status, r.raw)
	}
	tok := mailedToken(t, srv, "alice@example.com", "/verify-email")
	if r := e.post(t, c, "/api/auth/email/verify", `{"token":"`+tok+`"}`); r.status != http.StatusNoContent {
		t.Fatalf("verify got %d %s, want 204", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/email/verify", `{"token":"`+tok+`"}`); r.status != http.StatusBadRequest || r.body["error"] != "invalid_token" {
		t.Fatalf("second verify got %d %s, want 400 invalid_token", r.status, r.raw)
	}

	login := e.post(t, c, "/api/auth/token", creds("alice", pw))
	bearer := []string{"Authorization", "Bearer " + login.body["token"].(string)}
	me := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", "", bearer...)
	if me.body["email"] != "alice@example.com" || me.body["email_verified"] != true {
		t.Fatalf("me got %s, want the verified address", me.raw)
	}

	if _, err := e.svc.Register(localauth.WithClientIP(t.Context(), "192.0.2.1"), "bob", pw); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetUserEmail(t.Context(), "bob", "bob@example.com", false); err != nil {
		t.Fatal(err)
	}
	var first reply
	for i, body := range []string{
		`{"username":"alice"}`, `{"email":"alice@example.com"}`,
		`{"username":"bob"}`, `{"email":"bob@example.com"}`,
		`{"username":"nobody"}`, `{"email":"nobody@example.com"}`,
	} {
		r := e.post(t, c, "/api/auth/password/forgot", body)
		if r.status != http.StatusAccepted {
			t.Fatalf("forgot %s got %d %s, want 202", body, r.status, r.raw)
		}
		if i == 0 {
			first = r
		} else if r.raw != first.raw {
			t.Fatalf("forgot %s answered %q, unlike %q", body, r.raw, first.raw)
		}
	}

	reset := mailedToken(t, srv, "alice@example.com", "/reset-password")
	if r := e.post(t, c, "/api/auth/password/reset", `{"token":"`+reset+`","new_password":"short"}`); r.status != http.StatusBadRequest || r.body["field"] != "new_password" {
		t.Fatalf("reset with a weak password got %d %s, want 400 on field new_password", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/password/reset", `{"token":"`+reset+`","new_password":"a brand new passphrase"}`); r.status != http.StatusNoContent {
		t.Fatalf("reset got %d %s, want 204", r.status, r.raw)
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", "", bearer...); r.status != http.StatusUnauthorized {
		t.Fatalf("me with a session from before the reset got %d, want 401", r.status)
	}
	if r := e.post(t, c, "/api/auth/password/reset", `{"token":"`+reset+`","new_password":"yet another passphrase"}`); r.status != http.StatusBadRequest || r.body["error"] != "invalid_token" {
		t.Fatalf("second reset got %d %s, want 400 invalid_token", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/token", creds("alice", "a brand new passphrase")); r.status != http.StatusOK {
		t.Fatalf("login with the new password got %d %s", r.status, r.raw)
	}
	for _, m := range srv.Messages() {
		if strings.Contains(strings.Join(m.To, ","), "bob@example.com") && strings.Contains(m.Data, "reset-password") {
			t.Fatal("a reset link went to an unverified address")
		}
	}
}

func TestAPISetEmailNeedsARecentLogin(t *testing.T) {
	e, srv := newMailEnv(t)
	c := e.client(t)
	if _, err := e.svc.Register(localauth.WithClientIP(t.Context(), "192.0.2.1"), "alice", pw); err != nil {
		t.Fatal(err)
	}
	login := e.post(t, c, "/api/auth/token", creds("alice", pw))
	bearer := []string{"Authorization", "Bearer " + login.body["token"].(string)}
	r := e.post(t, c, "/api/auth/email", `{"email":"alice@example.com"}`, bearer...)
	if r.status != http.StatusAccepted {
		t.Fatalf("set email got %d %s, want 202", r.status, r.raw)
	}
	mailedToken(t, srv, "alice@example.com", "/verify-email")
	if r := e.post(t, c, "/api/auth/email", `{"email":"x"}`, bearer...); r.status != http.StatusBadRequest || r.body["error"] != "invalid_email" {
		t.Fatalf("set email to a bad address got %d %s, want 400 invalid_email", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/email", `{"email":"alice@example.com"}`); r.status != http.StatusUnauthorized {
		t.Fatalf("set email without a session got %d, want 401", r.status)
	}
}
