package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/web"
)

// A one-time code refused at the session or device endpoint (used
// already, made up, from another browser) is refused alone: the answer
// clears no session cookie the browser holds, whose session lives on.
func TestRefusedCodeKeepsTheSessionCookie(t *testing.T) {
	e := newEnv(t, false)
	e.post(t, e.client(t), "/api/auth/register", creds("hana", pw))
	res, err := e.svc.Login(localauth.WithClientIP(context.Background(), "192.0.2.1"), "hana", pw)
	if err != nil {
		t.Fatal(err)
	}
	const binding = "the-browser-secret"
	for _, path := range []string{"/api/auth/session", "/api/auth/device"} {
		for _, code := range []string{"made-up-code", strings.Repeat("A", 43)} {
			r := e.post(t, e.client(t), path, `{"code":"`+code+`"}`,
				"Cookie", web.HandoffCookieName+"="+binding+"; "+web.CookieName+"="+string(res.Token))
			if r.status != 401 {
				t.Fatalf("%s with code %q: status %d, want 401", path, code, r.status)
			}
			if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
				t.Fatalf("%s with a refused code set cookies %v", path, sc)
			}
		}
	}
	if _, err := e.svc.Authenticate(context.Background(), res.Token); err != nil {
		t.Fatalf("the session ended: %v", err)
	}
}
