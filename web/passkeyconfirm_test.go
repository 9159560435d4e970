package web_test

import (
	"testing"
)

// Confirming a passkey that is not one of the caller's suspended ones
// answers 404 and changes nothing; without a session, 401.
func TestConfirmPasskeyAPI(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	if r := e.post(t, c, "/api/auth/passkeys/AAAAAAAAAAAAAAAAAAAAAA/confirm", ""); r.status != 401 {
		t.Fatalf("confirm without a session: %d %s", r.status, r.raw)
	}
	e.post(t, c, "/api/auth/register", creds("bob", pw))
	e.post(t, c, "/api/auth/login", creds("bob", pw))
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "not-an-id"} {
		if r := e.post(t, c, "/api/auth/passkeys/"+id+"/confirm", ""); r.status != 404 {
			t.Fatalf("confirm %s: %d %s", id, r.status, r.raw)
		}
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/me", "", ""); r.status != 200 {
		t.Fatalf("after refused confirmations /me answers %d, want the session still there", r.status)
	}
}
