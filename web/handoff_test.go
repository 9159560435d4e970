package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/web"
)

// A handoff code counts only from the browser it was issued to: from a
// client without the browser's cookie (curl, another machine) or with
// another one it fails and is spent.
func TestHandoffBoundToBrowser(t *testing.T) {
	e := newEnv(t, false)
	e.post(t, e.client(t), "/api/auth/register", creds("gina", pw))
	res, err := e.svc.Login(localauth.WithClientIP(context.Background(), "192.0.2.1"), "gina", pw)
	if err != nil {
		t.Fatal(err)
	}
	const binding = "the-browser-secret"
	browser := []string{"Cookie", web.HandoffCookieName + "=" + binding}
	for _, thief := range [][]string{
		nil, // no cookie at all
		{"Cookie", web.HandoffCookieName + "=another-browser"},
		{"Cookie", web.CookieName + "=" + binding},
	} {
		code, err := e.svc.IssueHandoff(context.Background(), res.Token, binding)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"code":"` + code + `"}`
		r := e.post(t, e.client(t), "/api/auth/session", body, thief...)
		if r.status != 401 || r.header.Get("Set-Cookie") != "" && strings.Contains(r.header.Get("Set-Cookie"), string(res.Token)) {
			t.Fatalf("code redeemed with %v: got %d %v, want 401 and no session cookie", thief, r.status, r.header)
		}
		if r := e.post(t, e.client(t), "/api/auth/session", body, browser...); r.status != 401 {
			t.Fatalf("the code still worked in the browser after a try with %v: %d", thief, r.status)
		}
	}
}

// BindHandoffs gives a browser its secret once, HttpOnly and SameSite=Strict,
// with the __Host- prefix and Secure under TLS, and passes it on with the
// request that set it.
func TestBindHandoffs(t *testing.T) {
	for _, tlsServer := range []bool{false, true} {
		e := newEnv(t, tlsServer)
		var seen string
		srv := httptest.NewUnstartedServer(e.auth.BindHandoffs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = e.auth.HandoffBinding(r)
		})))
		name := web.HandoffCookieName
		if tlsServer {
			srv.StartTLS()
			name = web.SecureHandoffCookieName
		} else {
			srv.Start()
		}
		defer srv.Close()
		c := srv.Client()
		res, err := c.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		set := res.Header.Get("Set-Cookie")
		if !strings.HasPrefix(set, name+"=") || !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") ||
			!strings.Contains(set, "Path=/") || strings.Contains(set, "Secure") != tlsServer || strings.Contains(set, "Max-Age") {
			t.Fatalf("TLS %v: Set-Cookie %q", tlsServer, set)
		}
		value := strings.TrimPrefix(strings.SplitN(set, ";", 2)[0], name+"=")
		if len(value) < 26 || seen != value {
			t.Fatalf("TLS %v: secret %q (handler saw %q), want at least 128 random bits passed on", tlsServer, value, seen)
		}
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.AddCookie(&http.Cookie{Name: name, Value: value})
		res, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Header.Get("Set-Cookie") != "" || seen != value {
			t.Fatalf("TLS %v: a browser with its secret got a new one: %q", tlsServer, res.Header.Get("Set-Cookie"))
		}
	}
}

// POST /device trades a live login's code for the device cookie alone,
// once, and only from the browser it was issued to: the session token
// never reaches a cookie or the answer.
func TestDeviceHandoff(t *testing.T) {
	e := newEnv(t, false)
	e.post(t, e.client(t), "/api/auth/register", creds("hana", pw))
	res, err := e.svc.Login(localauth.WithClientIP(context.Background(), "192.0.2.1"), "hana", pw)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeviceToken == "" {
		t.Fatal("a login issued no device token")
	}
	const binding = "the-browser-secret"
	browser := []string{"Cookie", web.HandoffCookieName + "=" + binding}
	code, err := e.svc.IssueLoginHandoff(context.Background(), res, binding)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"code":"` + code + `"}`
	if r := e.post(t, e.client(t), "/api/auth/device", body, "Cookie", web.HandoffCookieName+"=another-browser"); r.status != 401 || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("the code from another browser: %d %v, want 401 and no cookie", r.status, r.header)
	}
	code, err = e.svc.IssueLoginHandoff(context.Background(), res, binding)
	if err != nil {
		t.Fatal(err)
	}
	body = `{"code":"` + code + `"}`
	r := e.post(t, e.client(t), "/api/auth/device", body, browser...)
	set := strings.Join(r.header.Values("Set-Cookie"), "\n")
	if r.status != 204 || !strings.Contains(set, web.DeviceCookieName+"="+string(res.DeviceToken)) || strings.Contains(set, string(res.Token)) || strings.Contains(r.raw, string(res.Token)) {
		t.Fatalf("the code from its browser: %d, Set-Cookie %q; want 204 and the device cookie alone", r.status, set)
	}
	if r := e.post(t, e.client(t), "/api/auth/device", body, browser...); r.status != 401 {
		t.Fatalf("the code a second time: %d, want 401", r.status)
	}
}
