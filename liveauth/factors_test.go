package liveauth_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/mfa"
)

// A login of an account with TOTP turns the page to its second step, keeps
// the second-step token on the server (it never reaches the page), refuses
// a wrong code with a message and goes on after a right one.
func TestSecondStepOnTheLoginPage(t *testing.T) {
	f := newFixture(t, func(c *localauth.Config) {
		c.SecretKey = []byte(rand.Text() + rand.Text())
		c.TOTP = mfa.TOTP{}
	})
	ctx := localauth.WithClientIP(context.Background(), "192.0.2.1") // as the API would pass it
	res, err := f.svc.Login(ctx, "alice", pw)
	if err != nil {
		t.Fatal(err)
	}
	en, err := f.svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(en.Secret, time.Now())
	if _, err := f.svc.ConfirmTOTP(ctx, res.Token, code); err != nil {
		t.Fatal(err)
	}
	tb := f.dial(t, "/login")
	login(tb, 2)
	tb.until(`"second_step":true`)
	if strings.Contains(tb.seen.String(), `"to":"/"`) || strings.Contains(tb.seen.String(), "second_step_token") {
		t.Fatal("the page moved on, or saw the second-step token, after the password alone")
	}
	tb.send(map[string]any{"t": "event", "id": 3, "name": "login.second_step", "fields": map[string]string{"code": testkit.WrongTOTPCode(en.Secret, time.Now())}})
	tb.until(localauth.MsgInvalidCode)
	next, _ := totp.GenerateCode(en.Secret, time.Now().Add(30*time.Second))
	tb.send(map[string]any{"t": "event", "id": 4, "name": "login.second_step", "fields": map[string]string{"code": next}})
	tb.until(`"to":"/"`)
	if seen := tb.seen.String(); testkit.HoldsSecret(seen, en.Secret) || testkit.HoldsSecret(seen, code) || testkit.HoldsSecret(seen, next) {
		t.Fatal("a second-factor secret reached the page")
	}
}
