package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/web"
)

// clock is a settable clock for the recent-login window.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type sessionList struct {
	Sessions []struct {
		ID         string    `json:"id"`
		CreatedAt  time.Time `json:"created_at"`
		LastSeenAt time.Time `json:"last_seen_at"`
		IP         string    `json:"ip"`
		Device     string    `json:"device"`
		Current    bool      `json:"current"`
	} `json:"sessions"`
}

// A user with three sessions (three clients) lists them, ends one by id,
// ends the others, changes the password with and without a recent login,
// and deletes the account.
func TestAccountAPI(t *testing.T) {
	clk := &clock{now: time.Now()}
	e := newEnvWith(t, false, localauth.Config{Now: clk.Now})
	api := e.srv.URL + web.APIPrefix
	c := e.client(t)
	if r := e.post(t, c, "/api/auth/register", creds("alice", pw)); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	token := func(ua string) string {
		r := do(t, &http.Client{}, "POST", api+"token", "application/json", creds("alice", pw), "User-Agent", ua)
		tok, _ := r.body["token"].(string)
		if r.status != 200 || tok == "" {
			t.Fatalf("token: %d %s", r.status, r.raw)
		}
		return tok
	}
	laptop := token("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	clk.Advance(time.Second)
	phone := token("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Mobile Safari/537.36")
	clk.Advance(time.Second)
	script := token("curl/8.5.0")
	bearer := func(method, path, body, tok string) reply {
		t.Helper()
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		return do(t, &http.Client{}, method, api+path, ct, body, "Authorization", "Bearer "+tok)
	}

	r := bearer("GET", "sessions", "", laptop)
	var list sessionList
	json.Unmarshal([]byte(r.raw), &list)
	if r.status != 200 || len(list.Sessions) != 3 {
		t.Fatalf("sessions: %d %s", r.status, r.raw)
	}
	if s := list.Sessions; s[0].Device != "curl" || s[1].Device != "Chrome on Android" || s[2].Device != "Firefox on Linux" ||
		!s[2].Current || s[0].Current || s[1].Current || s[2].IP != "127.0.0.1" {
		t.Fatalf("sessions, newest first, the caller's marked: %s", r.raw)
	}
	for _, leak := range []string{laptop, phone, script, "token_hash", "user_agent"} {
		if strings.Contains(r.raw, leak) {
			t.Fatalf("the session list shows %q", leak)
		}
	}
	phoneID, scriptID := list.Sessions[1].ID, list.Sessions[0].ID

	// Another user's session id answers as an unknown one does.
	e.post(t, e.client(t), "/api/auth/register", creds("bob", pw))
	bob := do(t, &http.Client{}, "POST", api+"token", "application/json", creds("bob", pw))
	var bobList sessionList
	json.Unmarshal([]byte(bearer("GET", "sessions", "", bob.body["token"].(string)).raw), &bobList)
	unknown := bearer("DELETE", "sessions/AAAAAAAAAAAAAAAAAAAAAA", "", laptop)
	theirs := bearer("DELETE", "sessions/"+bobList.Sessions[0].ID, "", laptop)
	if unknown.status != 404 || theirs.status != 404 || unknown.raw != theirs.raw {
		t.Fatalf("unknown id: %d %s; another user's: %d %s", unknown.status, unknown.raw, theirs.status, theirs.raw)
	}

	// Ending another session by id.
	if r := bearer("DELETE", "sessions/"+phoneID, "", laptop); r.status != 204 {
		t.Fatalf("end the phone's session: %d %s", r.status, r.raw)
	}
	if r := bearer("GET", "me", "", phone); r.status != 401 {
		t.Fatalf("the ended session: %d", r.status)
	}

	// Without a recent login: 403 reauth_required, nothing changes.
	clk.Advance(11 * time.Minute)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "sessions/revoke-others", ""},
		{"POST", "password", `{"current_password":"` + pw + `","new_password":"a brand new passphrase"}`},
		{"DELETE", "account", ""},
		{"DELETE", "sessions/" + scriptID, ""},
	} {
		if r := bearer(tc.method, tc.path, tc.body, laptop); r.status != 403 || r.body["error"] != "reauth_required" {
			t.Fatalf("%s %s without a recent login: %d %s", tc.method, tc.path, r.status, r.raw)
		}
	}
	if r := bearer("GET", "me", "", script); r.status != 200 {
		t.Fatalf("a refused action changed something: %d", r.status)
	}
	if r := bearer("POST", "reauth", `{"password":"wrong password"}`, laptop); r.status != 401 {
		t.Fatalf("reauth with a wrong password: %d %s", r.status, r.raw)
	}
	if r := bearer("POST", "reauth", `{"password":"`+pw+`"}`, laptop); r.status != 204 {
		t.Fatalf("reauth: %d %s", r.status, r.raw)
	}
	if r := bearer("POST", "sessions/revoke-others", "", laptop); r.status != 204 {
		t.Fatalf("revoke-others: %d %s", r.status, r.raw)
	}
	if r := bearer("GET", "me", "", script); r.status != 401 {
		t.Fatalf("another session after revoke-others: %d", r.status)
	}
	if r := bearer("POST", "password", `{"current_password":"`+pw+`","new_password":"a brand new passphrase"}`, laptop); r.status != 204 {
		t.Fatalf("password change with a recent login: %d %s", r.status, r.raw)
	}
	if r := bearer("DELETE", "account", "", laptop); r.status != 204 {
		t.Fatalf("delete the account: %d %s", r.status, r.raw)
	}
	if r := bearer("GET", "me", "", laptop); r.status != 401 {
		t.Fatalf("after deleting the account: %d", r.status)
	}
	if r := e.post(t, c, "/api/auth/login", creds("alice", "a brand new passphrase")); r.status != 401 {
		t.Fatalf("logging in to a deleted account: %d", r.status)
	}
}

// "Keep me signed in" gives a cookie with Max-Age; otherwise the cookie
// ends with the browser.
func TestRememberCookie(t *testing.T) {
	e := newEnv(t, false)
	e.post(t, e.client(t), "/api/auth/register", creds("alice", pw))
	plain := e.post(t, e.client(t), "/api/auth/login", creds("alice", pw))
	remembered := e.post(t, e.client(t), "/api/auth/login", `{"username":"alice","password":"`+pw+`","remember":true}`)
	session := func(r reply) *http.Cookie {
		for _, c := range (&http.Response{Header: r.header}).Cookies() {
			if c.Name == web.CookieName {
				return c
			}
		}
		t.Fatalf("no session cookie: %v", r.header)
		return nil
	}
	if c := session(plain); c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("a plain login's cookie outlives the browser: %+v", c)
	}
	if c := session(remembered); c.MaxAge < 29*24*3600 {
		t.Fatalf("a remembered login's cookie: Max-Age %d, want 30 days", c.MaxAge)
	}
}

// The answers of edge cases agree with what the body and the document say:
// registration refuses "remember", a refused new password names
// new_password, and second-factor routes tell a caller without a session
// so (401) before anything about what the server offers (409).
func TestAPIEdgeAnswers(t *testing.T) {
	e := newEnv(t, false) // no second factors configured
	c := e.client(t)
	if r := e.post(t, c, "/api/auth/register", `{"username":"ivy","password":"`+pw+`","remember":true}`); r.status != 400 || !strings.Contains(r.raw, "remember") {
		t.Fatalf("register with remember: %d %s", r.status, r.raw)
	}
	for _, path := range []string{"/api/auth/totp/enroll", "/api/auth/recovery-codes", "/api/auth/passkeys/register/begin"} {
		if r := e.post(t, c, path, ""); r.status != 401 || r.body["error"] != "unauthenticated" {
			t.Errorf("POST %s without a session: %d %s", path, r.status, r.raw)
		}
	}
	if r := e.post(t, c, "/api/auth/register", creds("ivy", pw)); r.status != 201 {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/login", creds("ivy", pw)); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	if r := e.post(t, c, "/api/auth/totp/enroll", ""); r.status != 409 || r.body["error"] != "factor_unavailable" {
		t.Fatalf("enroll with no TOTP configured, signed in: %d %s", r.status, r.raw)
	}
	r := e.post(t, c, "/api/auth/password", `{"current_password":"`+pw+`","new_password":"password"}`)
	if r.status != 400 || r.body["error"] != "weak_password" || r.body["field"] != "new_password" {
		t.Fatalf("a common new password: %d %s", r.status, r.raw)
	}
}
