package liveauth_test

import (
	"strings"
	"testing"

	"github.com/localauth/localauth"
)

// A wrong password in the account page's confirmation prompt says that the
// password was wrong, not that a login failed: the user is signed in.
func TestReauthWithWrongPasswordSaysSo(t *testing.T) {
	f := newFixture(t, nil)
	tb := f.dial(t, "/login")
	login(tb, 2)
	tb.until(`"to":"/"`)
	tb.send(map[string]any{"t": "event", "id": 3, "name": "account.reauth", "fields": map[string]string{"password": "not the password at all"}})
	tb.until(localauth.MsgWrongPassword)
	if strings.Contains(tb.seen.String(), localauth.MsgInvalidCredentials) {
		t.Fatalf("the prompt spoke of a failed login:\n%s", tb.seen.String())
	}
}
