package web_test

import (
	"context"
	"strings"
	"testing"
)

// Keys must match exactly and appear once: a body that encoding/json would
// read one way and another reader another way is refused with 400, names
// the field, and changes nothing (no user, no session, no counted failure).
func TestStrictJSONKeys(t *testing.T) {
	e := newEnv(t, false)
	c := e.client(t)
	if r := e.post(t, c, "/api/auth/register", creds("alice", pw)); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	cases := []struct {
		name, path, body, inMessage string
	}{
		{"keys in another case", "/api/auth/login", `{"Username":"alice","PASSWORD":"` + pw + `"}`, `Unknown field "Username"; the fields are "password", `},
		{"one key in another case", "/api/auth/token", `{"username":"alice","Password":"` + pw + `"}`, `"Password"`},
		{"duplicate password", "/api/auth/login", `{"username":"alice","password":"wrong password!","password":"` + pw + `"}`, `The field "password" appears more than once.`},
		{"duplicate username", "/api/auth/register", `{"username":"bob","username":"carol","password":"` + pw + `"}`, `The field "username" appears more than once.`},
		{"escaped duplicate", "/api/auth/login", `{"username":"alice","password":"x","p\u0061ssword":"` + pw + `"}`, `appears more than once`},
		{"unknown field", "/api/auth/register", `{"username":"dave","password":"` + pw + `","admin":true}`, `Unknown field "admin"`},
		{"code in another case", "/api/auth/session", `{"Code":"x"}`, `Unknown field "Code"; the fields are "code".`},
		{"long unknown field", "/api/auth/login", `{"` + strings.Repeat("k", 500) + `":1}`, `Unknown field "` + strings.Repeat("k", 64) + `…"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, c, tc.path, tc.body)
			msg, _ := r.body["message"].(string)
			if r.status != 400 || r.body["error"] != "bad_request" || !strings.Contains(msg, tc.inMessage) {
				t.Fatalf("got %d %s, want 400 bad_request with %q in the message", r.status, truncate(r.raw), tc.inMessage)
			}
			if r.header.Get("Set-Cookie") != "" {
				t.Fatalf("a refused body set a cookie: %s", r.header.Get("Set-Cookie"))
			}
		})
	}
	ctx := context.Background()
	if us, _ := e.svc.Users(ctx); len(us) != 1 {
		t.Fatalf("refused bodies created users: %+v", us)
	}
	if ss, _ := e.svc.Sessions(ctx, 0); len(ss) != 0 {
		t.Fatalf("refused bodies started %d sessions", len(ss))
	}
	// Exact keys still work, and no failure was counted by the refusals
	// (a throttled account would answer 429).
	if r := e.post(t, c, "/api/auth/login", creds("alice", pw)); r.status != 200 {
		t.Fatalf("exact keys: %d %s", r.status, r.raw)
	}
}
