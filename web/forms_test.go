package web_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/internal/testkit"
	"github.com/localauth/localauth/mfa"
	"github.com/localauth/localauth/web"
)

// formServer serves LoginHandler at /form-login (rendering the LoginForm
// as JSON, so that the test reads exactly what a template would get),
// LogoutHandler at /form-logout, and RequireAuth over /api/private.
func formServer(t *testing.T, e *env) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle(web.APIPrefix, e.auth.API())
	mux.Handle("/form-login", e.auth.LoginHandler(func(w http.ResponseWriter, r *http.Request, f web.LoginForm) {
		json.NewEncoder(w).Encode(f)
	}))
	mux.Handle("/form-logout", e.auth.LogoutHandler())
	mux.Handle("/api/private", e.auth.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := web.CurrentUser(r.Context())
		fmt.Fprintf(w, `{"user":%q}`, u.Username)
	})))
	mux.Handle("/private", e.auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("private page"))
	})))
	srv := httptest.NewServer(web.SecurityHeaders(mux))
	t.Cleanup(srv.Close)
	return srv
}

// postForm posts a urlencoded form and decodes a rendered LoginForm.
func postForm(t *testing.T, c *http.Client, u string, form url.Values, headers ...string) (reply, web.LoginForm) {
	t.Helper()
	r := do(t, c, "POST", u, "application/x-www-form-urlencoded", form.Encode(), headers...)
	var f web.LoginForm
	json.Unmarshal([]byte(r.raw), &f)
	return r, f
}

func TestLoginForm(t *testing.T) {
	e := newEnv(t, false)
	srv := formServer(t, e)
	c := e.client(t)
	if _, err := e.svc.Register(localauth.WithClientIP(t.Context(), "192.0.2.1"), "alice", pw); err != nil {
		t.Fatal(err)
	}

	// GET renders the empty form with the validated return path.
	r := do(t, c, "GET", srv.URL+"/form-login?next=%2F%2Fevil.example%2F", "", "")
	var f web.LoginForm
	json.Unmarshal([]byte(r.raw), &f)
	if r.status != 200 || f.Next != "/" || f.Error != "" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET: %d %q %+v", r.status, r.header.Get("Content-Type"), f)
	}

	// A wrong password: 401, the public sentence, the name kept, the
	// password not carried back.
	r, f = postForm(t, c, srv.URL+"/form-login", url.Values{"username": {"alice"}, "password": {"wrong password here"}, "next": {"/private"}})
	if r.status != 401 || f.Code != localauth.CodeInvalidCredentials || f.Error != localauth.MsgInvalidCredentials || f.Username != "alice" || f.Next != "/private" {
		t.Fatalf("wrong password: %d %+v", r.status, f)
	}
	if strings.Contains(r.raw, "wrong password here") {
		t.Fatal("the rendered form carries the password back")
	}

	// A cross-origin POST is refused before anything is read or counted.
	r = do(t, c, "POST", srv.URL+"/form-login", "application/x-www-form-urlencoded",
		url.Values{"username": {"alice"}, "password": {pw}}.Encode(), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if r.status != 403 {
		t.Fatalf("cross-origin form post: %d %s", r.status, r.raw)
	}
	// JSON to the form handler is not a form.
	if r := do(t, c, "POST", srv.URL+"/form-login", "application/json", creds("alice", pw)); r.status != 415 {
		t.Fatalf("JSON to the form: %d", r.status)
	}
	if r := do(t, c, "POST", srv.URL+"/form-login", "application/x-www-form-urlencoded", "username=alice&password="+strings.Repeat("x", 70<<10)); r.status != 413 {
		t.Fatalf("oversized form: %d", r.status)
	}

	// The right password: cookies set, 303 to next; the session works.
	r, _ = postForm(t, c, srv.URL+"/form-login", url.Values{"username": {"ALICE"}, "password": {pw}, "next": {"/private"}, "remember": {"on"}})
	if r.status != 303 || r.header.Get("Location") != "/private" {
		t.Fatalf("login: %d %s %s", r.status, r.header.Get("Location"), r.raw)
	}
	var session, device bool
	for _, ck := range r.header.Values("Set-Cookie") {
		session = session || strings.HasPrefix(ck, web.CookieName+"=") && strings.Contains(ck, "Max-Age=") && strings.Contains(ck, "HttpOnly")
		device = device || strings.HasPrefix(ck, web.DeviceCookieName+"=")
	}
	if !session || !device {
		t.Fatalf("cookies after a remembered login: %q", r.header.Values("Set-Cookie"))
	}
	if r := do(t, c, "GET", srv.URL+"/api/private", "", ""); r.status != 200 || r.body["user"] != "alice" {
		t.Fatalf("RequireAuth with the form's session: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "POST", srv.URL+"/api/private", "application/json", "{}", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != 403 {
		t.Fatalf("a cross-origin POST through RequireAuth: %d %s", r.status, r.raw)
	}
	// Signed in, the form sends the browser on.
	if r := do(t, c, "GET", srv.URL+"/form-login?next=/private", "", ""); r.status != 303 || r.header.Get("Location") != "/private" {
		t.Fatalf("GET signed in: %d %s", r.status, r.header.Get("Location"))
	}

	// Logout: GET is not allowed; POST ends the session, clears the
	// cookie and goes to a validated next.
	if r := do(t, c, "GET", srv.URL+"/form-logout", "", ""); r.status != 405 {
		t.Fatalf("GET logout: %d", r.status)
	}
	if r := do(t, c, "POST", srv.URL+"/form-logout", "application/json", `{}`); r.status != 415 {
		t.Fatalf("logout with a JSON body: %d", r.status)
	}
	r, _ = postForm(t, c, srv.URL+"/form-logout", url.Values{"next": {"https://evil.example/"}})
	if r.status != 303 || r.header.Get("Location") != "/" {
		t.Fatalf("logout: %d %s", r.status, r.header.Get("Location"))
	}
	if r := do(t, c, "GET", srv.URL+"/api/private", "", ""); r.status != 401 {
		t.Fatalf("after logout: %d", r.status)
	}
	// A bodiless POST logs out too.
	postForm(t, c, srv.URL+"/form-login", url.Values{"username": {"alice"}, "password": {pw}})
	if r := do(t, c, "GET", srv.URL+"/api/private", "", ""); r.status != 200 {
		t.Fatalf("signed in again: %d", r.status)
	}
	if r := do(t, c, "POST", srv.URL+"/form-logout", "", ""); r.status != 303 {
		t.Fatalf("bodiless logout: %d %s", r.status, r.raw)
	}
	if r := do(t, c, "GET", srv.URL+"/api/private", "", ""); r.status != 401 {
		t.Fatalf("after a bodiless logout: %d", r.status)
	}
}

// Throttled form logins answer 429 with Retry-After and the same sentence
// the API gives.
func TestLoginFormThrottled(t *testing.T) {
	e := newEnv(t, false)
	srv := formServer(t, e)
	c := e.client(t)
	if _, err := e.svc.Register(localauth.WithClientIP(t.Context(), "192.0.2.1"), "bob", pw); err != nil {
		t.Fatal(err)
	}
	var r reply
	var f web.LoginForm
	for range 30 {
		r, f = postForm(t, c, srv.URL+"/form-login", url.Values{"username": {"bob"}, "password": {"not the password"}})
		if r.status == 429 {
			break
		}
	}
	if r.status != 429 || f.Code != localauth.CodeRateLimited || r.header.Get("Retry-After") == "" || f.RetryAfter <= 0 || !strings.HasPrefix(f.Error, "Too many attempts") {
		t.Fatalf("throttled form: %d %q %+v", r.status, r.header.Get("Retry-After"), f)
	}
}

// RequireAuth and RequireLogin towards programs: 401 JSON, never a
// redirect to a page.
func TestRequireAuthAnswersPrograms(t *testing.T) {
	e := newEnv(t, false)
	srv := formServer(t, e)
	c := e.client(t)
	r := do(t, c, "GET", srv.URL+"/api/private", "", "")
	if r.status != 401 || r.body["error"] != "unauthenticated" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("RequireAuth anonymous: %d %v %s", r.status, r.header, r.raw)
	}
	for _, h := range [][]string{
		{"Authorization", "Bearer " + strings.Repeat("A", 43)},
		{"Accept", "application/json"},
	} {
		r := do(t, c, "GET", srv.URL+"/private", "", "", h...)
		if r.status != 401 || r.body["error"] != "unauthenticated" {
			t.Errorf("RequireLogin with %s: %d %s", h[0], r.status, r.raw)
		}
	}
	// A browser navigating still goes to the login page.
	r = do(t, c, "GET", srv.URL+"/private", "", "", "Accept", "text/html,application/xhtml+xml,application/json;q=0.9")
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/login?next=") {
		t.Fatalf("RequireLogin for a browser: %d %s", r.status, r.header.Get("Location"))
	}
}

// An account with TOTP: the form's password step renders the second step
// and sets no session; a wrong code keeps the step open; the right code
// finishes the login.
func TestLoginFormSecondStep(t *testing.T) {
	clk := &clock{now: time.Now()}
	e := newEnvWith(t, false, localauth.Config{Now: clk.Now, SecretKey: []byte(rand.Text() + rand.Text()), TOTP: mfa.TOTP{}})
	srv := formServer(t, e)
	ctx := localauth.WithClientIP(t.Context(), "192.0.2.1")
	if _, err := e.svc.Register(ctx, "carol", pw); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Login(ctx, "carol", pw)
	if err != nil {
		t.Fatal(err)
	}
	en, err := e.svc.EnrollTOTP(ctx, res.Token)
	if err != nil {
		t.Fatal(err)
	}
	code := func(shift time.Duration) string {
		c, err := totp.GenerateCode(en.Secret, clk.Now().Add(shift))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.svc.ConfirmTOTP(ctx, res.Token, code(0)); err != nil {
		t.Fatal(err)
	}

	c := e.client(t)
	r, f := postForm(t, c, srv.URL+"/form-login", url.Values{"username": {"carol"}, "password": {pw}, "next": {"/private"}})
	if r.status != 200 || f.SecondStep == "" || len(f.Methods) == 0 || f.Next != "/private" {
		t.Fatalf("password step: %d %+v", r.status, f)
	}
	for _, ck := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(ck, web.CookieName+"=") {
			t.Fatal("a session cookie before the second step")
		}
	}
	step := url.Values{"mfa_token": {f.SecondStep}, "methods": {strings.Join(f.Methods, ",")}, "next": {"/private"}}
	wrong := url.Values{"code": {testkit.WrongTOTPCode(en.Secret, clk.Now())}}
	for k, v := range step {
		wrong[k] = v
	}
	r, f2 := postForm(t, c, srv.URL+"/form-login", wrong)
	if r.status != 401 || f2.Code != localauth.CodeInvalidCode || f2.SecondStep != f.SecondStep || len(f2.Methods) != len(f.Methods) {
		t.Fatalf("wrong code: %d %+v", r.status, f2)
	}
	clk.Advance(30 * time.Second) // a code not already used for the enrolment
	step.Set("code", code(0))
	r, _ = postForm(t, c, srv.URL+"/form-login", step)
	if r.status != 303 || r.header.Get("Location") != "/private" {
		t.Fatalf("second step: %d %s %s", r.status, r.header.Get("Location"), r.raw)
	}
	if r := do(t, c, "GET", srv.URL+"/api/private", "", ""); r.status != 200 {
		t.Fatalf("after the second step: %d", r.status)
	}
}
