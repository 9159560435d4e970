package web_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/web"
)

// The TOTP flow driven from outside: enrol, confirm with a code computed
// from the secret the API gave, log in with password then code (cookie and
// bearer), a replayed code refused, a recovery code, the token bound to its
// client, and turning TOTP off.
func TestTOTPAPI(t *testing.T) {
	clk := &clock{now: time.Now()}
	e := newEnvWith(t, false, localauth.Config{Now: clk.Now, SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{}})
	api := e.srv.URL + web.APIPrefix
	c := e.client(t)
	if r := e.post(t, c, "/api/auth/register", creds("alice", pw)); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/login", creds("alice", pw)); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	r := e.post(t, c, "/api/auth/totp/enroll", "")
	secret, _ := r.body["secret"].(string)
	qr, _ := r.body["qr_code"].(string)
	if r.status != 200 || secret == "" || !strings.HasPrefix(qr, "data:image/png;base64,") || !strings.Contains(r.body["otpauth_url"].(string), "secret="+secret) {
		t.Fatalf("enroll: %d %.200s", r.status, r.raw)
	}
	code := func(shift time.Duration) string {
		c, err := totp.GenerateCode(secret, clk.Now().Add(shift))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if r := e.post(t, c, "/api/auth/totp/confirm", `{"code":"123"}`); r.status != 401 || r.body["error"] != "invalid_code" {
		t.Fatalf("confirm with a wrong code: %d %s", r.status, r.raw)
	}
	r = e.post(t, c, "/api/auth/totp/confirm", `{"code":"`+code(0)+`"}`)
	var conf struct {
		Codes []string `json:"recovery_codes"`
	}
	json.Unmarshal([]byte(r.raw), &conf)
	if r.status != 200 || len(conf.Codes) != 10 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	r = do(t, c, "GET", api+"factors", "", "")
	if r.status != 200 || r.body["totp"] != true || r.body["recovery_codes_left"] != float64(10) || strings.Contains(r.raw, secret) {
		t.Fatalf("factors: %d %s", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/totp/enroll", ""); r.status != 409 {
		t.Fatalf("enroll again: %d %s", r.status, r.raw)
	}

	// A fresh client logs in: the password step gives no session.
	step := func(c *http.Client, path string) string {
		t.Helper()
		r := e.post(t, c, path, creds("alice", pw))
		tok, _ := r.body["mfa_token"].(string)
		var methods []string
		for _, m := range r.body["methods"].([]any) {
			methods = append(methods, m.(string))
		}
		if r.status != 200 || r.body["mfa_required"] != true || tok == "" || !slices.Equal(methods, []string{"totp", "recovery"}) {
			t.Fatalf("%s: %d %s", path, r.status, r.raw)
		}
		for _, ck := range r.header.Values("Set-Cookie") {
			if strings.HasPrefix(ck, web.CookieName+"=") {
				t.Fatalf("%s set a session cookie before the second step", path)
			}
		}
		return tok
	}
	c2 := e.client(t)
	tok := step(c2, "/api/auth/login")
	if r := do(t, c2, "GET", api+"me", "", ""); r.status != 401 {
		t.Fatalf("me after the password step: %d", r.status)
	}
	if r := e.post(t, c2, "/api/auth/login/mfa", `{"mfa_token":"`+tok+`","code":"`+code(0)+`"}`); r.status != 401 || r.body["error"] != "invalid_code" {
		t.Fatalf("the confirmation's code replayed: %d %s", r.status, r.raw)
	}
	clk.Advance(30 * time.Second)
	if r := e.post(t, c2, "/api/auth/login/mfa", `{"mfa_token":"`+tok+`","code":"`+code(0)+`","extra":1}`); r.status != 400 {
		t.Fatalf("an unknown field: %d %s", r.status, r.raw)
	}
	r = e.post(t, c2, "/api/auth/login/mfa", `{"mfa_token":"`+tok+`","code":"`+code(0)+`"}`)
	if r.status != 200 || r.body["user"] == nil {
		t.Fatalf("login/mfa: %d %s", r.status, r.raw)
	}
	if r := do(t, c2, "GET", api+"me", "", ""); r.status != 200 {
		t.Fatalf("me after the second step: %d %s", r.status, r.raw)
	}
	if r := e.post(t, e.client(t), "/api/auth/login/mfa", `{"mfa_token":"`+tok+`","code":"`+code(0)+`"}`); r.status != 401 {
		t.Fatalf("a spent mfa_token: %d %s", r.status, r.raw)
	}

	t.Run("bearer with a recovery code", func(t *testing.T) {
		c3 := &http.Client{}
		tok := step(c3, "/api/auth/token")
		r := e.post(t, c3, "/api/auth/token/mfa", `{"mfa_token":"`+tok+`","recovery_code":"`+conf.Codes[0]+`"}`)
		bearer, _ := r.body["token"].(string)
		if r.status != 200 || bearer == "" || r.body["token_type"] != "Bearer" {
			t.Fatalf("token/mfa: %d %s", r.status, r.raw)
		}
		if r := do(t, c3, "GET", api+"me", "", "", "Authorization", "Bearer "+bearer); r.status != 200 {
			t.Fatalf("me with the bearer token: %d", r.status)
		}
		tok = step(c3, "/api/auth/token")
		if r := e.post(t, c3, "/api/auth/token/mfa", `{"mfa_token":"`+tok+`","recovery_code":"`+conf.Codes[0]+`"}`); r.status != 401 {
			t.Fatalf("a used recovery code: %d %s", r.status, r.raw)
		}
	})
	t.Run("bound to the device cookie it was issued with", func(t *testing.T) {
		tok := step(c2, "/api/auth/login") // c2 holds a device cookie now
		clk.Advance(30 * time.Second)
		if r := e.post(t, &http.Client{}, "/api/auth/login/mfa", `{"mfa_token":"`+tok+`","code":"`+code(0)+`"}`); r.status != 401 {
			t.Fatalf("from a client without the device cookie: %d %s", r.status, r.raw)
		}
	})
	t.Run("turning it off needs a recent login", func(t *testing.T) {
		clk.Advance(11 * time.Minute)
		if r := do(t, c2, "DELETE", api+"totp", "", ""); r.status != 403 || r.body["error"] != "second_factor_required" {
			t.Fatalf("DELETE totp without a recent login: %d %s", r.status, r.raw)
		}
		// The password alone confirms nothing on an account with TOTP.
		if r := e.post(t, c2, "/api/auth/reauth", `{"password":"`+pw+`"}`); r.status != 403 || r.body["error"] != "second_factor_required" {
			t.Fatalf("password-only reauth: %d %s", r.status, r.raw)
		}
		if r := do(t, c2, "DELETE", api+"totp", "", ""); r.status != 403 || r.body["error"] != "second_factor_required" {
			t.Fatalf("DELETE totp after a password-only reauth: %d %s", r.status, r.raw)
		}
		if r := e.post(t, c2, "/api/auth/reauth", `{"password":"`+pw+`","code":"`+testkit.WrongTOTPCode(secret, clk.Now())+`"}`); r.status != 401 || r.body["error"] != "invalid_code" {
			t.Fatalf("reauth with a wrong code: %d %s", r.status, r.raw)
		}
		if r := e.post(t, c2, "/api/auth/reauth", `{"password":"`+pw+`","code":"`+code(0)+`"}`); r.status != 204 {
			t.Fatalf("reauth with password and code: %d %s", r.status, r.raw)
		}
		if r := e.post(t, c2, "/api/auth/recovery-codes", ""); r.status != 200 || len(r.body["recovery_codes"].([]any)) != 10 {
			t.Fatalf("regenerate: %d %s", r.status, r.raw)
		}
		if r := do(t, c2, "DELETE", api+"totp", "", ""); r.status != 204 {
			t.Fatalf("DELETE totp: %d %s", r.status, r.raw)
		}
		if r := e.post(t, e.client(t), "/api/auth/login", creds("alice", pw)); r.status != 200 || r.body["mfa_required"] != nil {
			t.Fatalf("login after turning TOTP off: %d %s", r.status, r.raw)
		}
	})
	if strings.Contains(e.log.String(), secret) {
		t.Fatal("the secret reached the log")
	}
}

// Without a passkey verifier the passkey endpoints say so, and a passkey
// id that is not the caller's is not found.
func TestPasskeyAPIUnavailable(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	e.post(t, c, "/api/auth/register", creds("bob", pw))
	e.post(t, c, "/api/auth/login", creds("bob", pw))
	if r := e.post(t, c, "/api/auth/passkeys/login/begin", ""); r.status != 409 || r.body["error"] != "factor_unavailable" {
		t.Fatalf("login/begin: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "DELETE", e.srv.URL+"/api/auth/passkeys/AAAAAAAAAAAAAAAAAAAAAA", "", ""); r.status != 404 {
		t.Fatalf("DELETE an unknown passkey: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "GET", e.srv.URL+"/api/auth/passkeys", "", ""); r.status != 200 || r.raw != "{\"passkeys\":[]}\n" {
		t.Fatalf("GET passkeys: %d %s", r.status, r.raw)
	}
}
