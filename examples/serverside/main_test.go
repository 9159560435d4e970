package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/localauth/localauth"
)

// The example runs as written: a browser is sent to the login form, logs
// in, sees its page, calls the JSON route, and logs out.
func TestExample(t *testing.T) {
	a, err := newApp(t.Context(), filepath.Join(t.TempDir(), "example.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Service.Register(localauth.WithClientIP(t.Context(), "192.0.2.1"), "alice", "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	res, body := get("/account")
	if res.Request.URL.Path != "/login" || res.Request.URL.Query().Get("next") != "/account" || !strings.Contains(body, `name="next" value="/account"`) {
		t.Fatalf("anonymous /account ended at %s: %.300s", res.Request.URL, body)
	}
	if res, body := get("/api/notes"); res.StatusCode != 401 || !strings.Contains(body, `"unauthenticated"`) {
		t.Fatalf("anonymous /api/notes: %d %s", res.StatusCode, body)
	}

	form := url.Values{"username": {"alice"}, "password": {"wrong password"}, "next": {"/account"}}
	res, err = c.PostForm(srv.URL+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || !strings.Contains(string(b), `role="alert">There was a problem logging in`) || !strings.Contains(string(b), `value="alice"`) {
		t.Fatalf("wrong password: %d %.400s", res.StatusCode, b)
	}

	form.Set("password", "correct horse battery staple")
	res, err = c.PostForm(srv.URL+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.Request.URL.Path != "/account" || !strings.Contains(string(b), "Hello, alice") {
		t.Fatalf("login ended at %s: %.300s", res.Request.URL, b)
	}
	if res, body := get("/api/notes"); res.StatusCode != 200 || !strings.Contains(body, `"owner":"alice"`) {
		t.Fatalf("/api/notes signed in: %d %s", res.StatusCode, body)
	}

	res, err = c.PostForm(srv.URL+"/logout", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res, _ := get("/account"); res.Request.URL.Path != "/login" {
		t.Fatalf("after logout /account ended at %s", res.Request.URL)
	}
}

// The README shows the routes of this program: its excerpt is this file's
// routes function, word for word, so that what a reader copies compiles
// and runs here.
func TestREADMEExcerpt(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	const from = "// routes wires"
	_, block, ok := strings.Cut(string(readme), "```go\n"+from)
	if !ok {
		t.Fatalf("the README has no Go block starting %q", from)
	}
	block, _, _ = strings.Cut(from+block, "```\n")
	_, fn, ok := strings.Cut(string(src), from)
	if !ok {
		t.Fatalf("main.go has no %q", from)
	}
	fn, _, _ = strings.Cut(from+fn, "\n}\n")
	if want := fn + "\n}\n"; block != want {
		t.Fatalf("the README's excerpt differs from main.go's routes:\nREADME:\n%s\nmain.go:\n%s", block, want)
	}
}
