package web_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/web"
)

// The server-rendered recovery pages, each rendering its RecoveryForm as
// JSON so that the test reads what a template would get.
func recoveryServer(t *testing.T, e *env) *httptest.Server {
	mux := http.NewServeMux()
	asJSON := func(w http.ResponseWriter, r *http.Request, f web.RecoveryForm) { json.NewEncoder(w).Encode(f) }
	mux.Handle("/forgot", e.auth.ForgotPasswordHandler(asJSON))
	mux.Handle("/reset", e.auth.ResetPasswordHandler(asJSON))
	mux.Handle("/verify", e.auth.VerifyEmailHandler(asJSON))
	srv := httptest.NewServer(web.SecurityHeaders(mux))
	t.Cleanup(srv.Close)
	return srv
}

func postRecovery(t *testing.T, c *http.Client, u string, form url.Values, headers ...string) (reply, web.RecoveryForm) {
	t.Helper()
	r := do(t, c, "POST", u, "application/x-www-form-urlencoded", form.Encode(), headers...)
	var f web.RecoveryForm
	json.Unmarshal([]byte(r.raw), &f)
	return r, f
}

// Forgot → mailed link → reset by form → the new password logs in, the
// link works once; unknown names are answered alike; bad input and
// cross-origin posts change nothing.
func TestRecoveryForms(t *testing.T) {
	e, mail := newMailEnv(t)
	srv := recoveryServer(t, e)
	c := e.client(t)
	ctx := localauth.WithClientIP(t.Context(), "192.0.2.1")
	if _, err := e.svc.Register(ctx, "alice", pw); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetUserEmail(ctx, "alice", "alice@example.com", true); err != nil {
		t.Fatal(err)
	}
	old, err := e.svc.Login(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}

	known, fk := postRecovery(t, c, srv.URL+"/forgot", url.Values{"username": {"alice"}})
	unknown, fu := postRecovery(t, c, srv.URL+"/forgot", url.Values{"username": {"nobody-here"}})
	if known.status != 200 || !fk.Done || unknown.status != 200 || known.raw != unknown.raw || fu != fk {
		t.Fatalf("forgot: known %d %s, unknown %d %s: want the same 200 Done", known.status, known.raw, unknown.status, unknown.raw)
	}
	if r, f := postRecovery(t, c, srv.URL+"/forgot", url.Values{"email": {"not an address"}}); r.status != 400 || f.Done || f.Error == "" {
		t.Fatalf("forgot with a malformed address: %d %+v", r.status, f)
	}
	if r := do(t, c, "POST", srv.URL+"/forgot", "application/x-www-form-urlencoded", "username=alice",
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Fatalf("cross-origin forgot: %d", r.status)
	}

	tok := mailedToken(t, mail, "alice@example.com", "/reset-password")
	r := do(t, c, "GET", srv.URL+"/reset?token="+url.QueryEscape(tok), "", "")
	var f web.RecoveryForm
	json.Unmarshal([]byte(r.raw), &f)
	if r.status != 200 || f.Token != tok || r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET reset: %d %v %+v", r.status, r.header, f)
	}
	if r, f := postRecovery(t, c, srv.URL+"/reset", url.Values{"token": {tok}, "new_password": {"short"}}); r.status != 400 || f.Field != "new_password" || f.Token != tok || f.Done {
		t.Fatalf("reset with a password the policy refuses: %d %+v", r.status, f)
	}
	const next = "a brand new passphrase"
	if r, f := postRecovery(t, c, srv.URL+"/reset", url.Values{"token": {tok}, "new_password": {next}}); r.status != 200 || !f.Done {
		t.Fatalf("reset: %d %+v", r.status, f)
	}
	if r, f := postRecovery(t, c, srv.URL+"/reset", url.Values{"token": {tok}, "new_password": {"yet another passphrase"}}); r.status != 400 || f.Code != localauth.CodeInvalidMailToken {
		t.Fatalf("the link a second time: %d %+v", r.status, f)
	}
	if _, err := e.svc.Authenticate(ctx, old.Token); !errors.Is(err, localauth.ErrInvalidSession) {
		t.Fatalf("the session from before the reset: %v", err)
	}
	if _, err := e.svc.Login(ctx, "alice", next); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	if r, f := postRecovery(t, c, srv.URL+"/verify", url.Values{"token": {"not-a-token"}}); r.status != 400 || f.Code != localauth.CodeInvalidMailToken {
		t.Fatalf("verify with a made-up token: %d %+v", r.status, f)
	}
}

// The verification page confirms an address on its button's POST only:
// opening the link (as a mail scanner does) confirms nothing.
func TestVerifyEmailForm(t *testing.T) {
	e, mail := newMailEnv(t)
	srv := recoveryServer(t, e)
	c := e.client(t)
	ctx := localauth.WithClientIP(t.Context(), "192.0.2.1")
	u, err := e.svc.Register(ctx, "bob", pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetUserEmail(ctx, "bob", "bob@example.com", false); err != nil {
		t.Fatal(err)
	}
	tok := mailedToken(t, mail, "bob@example.com", "/verify-email")
	if r := do(t, c, "GET", srv.URL+"/verify?token="+url.QueryEscape(tok), "", ""); r.status != 200 {
		t.Fatalf("GET verify: %d", r.status)
	}
	if st, err := e.svc.UserEmail(ctx, u.ID); err != nil || st.Verified {
		t.Fatalf("after opening the link: %+v %v, want not verified yet", st, err)
	}
	if r, f := postRecovery(t, c, srv.URL+"/verify", url.Values{"token": {tok}}); r.status != 200 || !f.Done {
		t.Fatalf("verify: %d %+v", r.status, f)
	}
	if st, err := e.svc.UserEmail(ctx, u.ID); err != nil || !st.Verified || st.Email != "bob@example.com" {
		t.Fatalf("after the button: %+v %v, want bob@example.com verified", st, err)
	}
}
