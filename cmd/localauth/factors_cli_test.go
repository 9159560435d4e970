package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// enableTOTP turns TOTP on for alice through the API and returns the
// secret, the recovery codes and the bearer token of the session that did
// it.
func enableTOTP(t *testing.T, srv *Server) (secret string, codes []string, bearer string) {
	t.Helper()
	bearer = tokenAs(t, srv, "curl/8.5.0")
	r := api(t, "POST", srv.URL+"/api/auth/totp/enroll", "", "Authorization", "Bearer "+bearer)
	var en struct{ Secret string }
	json.Unmarshal([]byte(r.body), &en)
	if r.status != 200 || en.Secret == "" {
		t.Fatalf("totp/enroll: %d %s", r.status, r.body)
	}
	r = api(t, "POST", srv.URL+"/api/auth/totp/confirm", fmt.Sprintf(`{"code":%q}`, totpCode(t, en.Secret, 0)), "Authorization", "Bearer "+bearer)
	var conf struct {
		Codes []string `json:"recovery_codes"`
	}
	json.Unmarshal([]byte(r.body), &conf)
	if r.status != 200 || len(conf.Codes) != 10 {
		t.Fatalf("totp/confirm: %d %s", r.status, r.body)
	}
	return en.Secret, conf.Codes, bearer
}

// The API's second step driven from outside the process, against the demo
// server, then the administrator's reset: "user reset-factors" removes
// TOTP and the recovery codes, ends the user's sessions, and the password
// alone logs in again.
func TestResetFactorsCommand(t *testing.T) {
	srv := StartServer(t)
	if r := api(t, "POST", srv.URL+"/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	secret, _, bearer := enableTOTP(t, srv)
	r := api(t, "POST", srv.URL+"/api/auth/token", `{"username":"alice","password":"`+alicePW+`"}`)
	var step struct {
		MFA     bool     `json:"mfa_required"`
		Token   string   `json:"mfa_token"`
		Methods []string `json:"methods"`
	}
	json.Unmarshal([]byte(r.body), &step)
	if r.status != 200 || !step.MFA || step.Token == "" || strings.Join(step.Methods, ",") != "totp,recovery" {
		t.Fatalf("token for an account with TOTP: %d %s", r.status, r.body)
	}
	r = api(t, "POST", srv.URL+"/api/auth/token/mfa", fmt.Sprintf(`{"mfa_token":%q,"code":%q}`, step.Token, totpCode(t, secret, 30e9)))
	if r.status != 200 || !strings.Contains(r.body, `"token_type":"Bearer"`) {
		t.Fatalf("token/mfa: %d %s", r.status, r.body)
	}
	if strings.Contains(srv.Log.String(), step.Token) || strings.Contains(srv.Log.String(), secret) {
		t.Fatal("an mfa_token or the TOTP secret reached the log")
	}

	out := srv.CLI(t).MustRun("", "user", "reset-factors", "ALICE")
	if !strings.Contains(out, "removed the second factors of user alice") {
		t.Fatalf("reset-factors printed %q", out)
	}
	if r := api(t, "GET", srv.URL+"/api/auth/me", "", "Authorization", "Bearer "+bearer); r.status != 401 {
		t.Fatalf("a session after reset-factors: %d", r.status)
	}
	r = api(t, "POST", srv.URL+"/api/auth/token", `{"username":"alice","password":"`+alicePW+`"}`)
	if r.status != 200 || strings.Contains(r.body, "mfa_required") {
		t.Fatalf("login after reset-factors: %d %s", r.status, r.body)
	}
	if _, _, err := srv.CLI(t).Run("", "user", "reset-factors", "nobody"); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("reset-factors of an unknown user: %v", err)
	}
}
