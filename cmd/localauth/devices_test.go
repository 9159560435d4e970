package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/localauth/localauth/internal/testkit"
)

// What a trusted device and a recent login may unlock, replayed from
// outside against "localauth serve": each client on its own loopback
// address, each browser its own cookie jar.

// callAPI sends a JSON request with c and returns the status and the decoded
// body (nil when it is not a JSON object).
func callAPI(t *testing.T, c *http.Client, method, u, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// deviceCookie returns the device cookie c's jar holds for srv, or "".
func deviceCookie(c *http.Client, srv *Server) string {
	for _, ck := range c.Jar.Cookies(must(url.Parse(srv.URL))) {
		if ck.Name == "localauth_device" {
			return ck.Value
		}
	}
	return ""
}

// withDevice returns a client at ip whose jar holds the device cookie
// value, as a copied or planted cookie would be.
func withDevice(srv *Server, ip, value string) *http.Client {
	c := clientFrom(ip, true)
	c.Jar.SetCookies(must(url.Parse(srv.URL)), []*http.Cookie{{Name: "localauth_device", Value: value, Path: "/"}})
	return c
}

// registerAt registers name on srv from its own address.
func registerAt(t *testing.T, srv *Server, ip, name string) {
	t.Helper()
	if st, body := callAPI(t, clientFrom(ip, false), "POST", srv.URL+"/api/auth/register", `{"username":"`+name+`","password":"`+alicePW+`"}`); st != 201 {
		t.Fatalf("register %s: %d %v", name, st, body)
	}
}

// lockAt guesses at name from strangers' addresses until it answers 429.
//
// The server's clock stands still until the test ends, so the lock holds
// however long the checks that follow take: at the count it stops at, a
// running clock would let the next guess in after one second.
func lockAt(t *testing.T, srv *Server, prefix, name string) {
	t.Helper()
	srv.Clock.Freeze()
	t.Cleanup(srv.Clock.Thaw)
	for i := range 30 {
		st, _ := callAPI(t, clientFrom(fmt.Sprintf("%s.%d", prefix, i+1), false), "POST", srv.URL+"/api/auth/login",
			`{"username":"`+name+`","password":"wrong guess `+fmt.Sprint(i)+`"}`)
		if st == 429 {
			return
		}
		if st != 401 {
			t.Fatalf("guess %d: %d", i, st)
		}
	}
	t.Fatalf("%s not locked after 30 guesses", name)
}

func loginStatus(t *testing.T, c *http.Client, srv *Server, name, pw string) int {
	t.Helper()
	st, _ := callAPI(t, c, "POST", srv.URL+"/api/auth/login", `{"username":"`+name+`","password":"`+pw+`"}`)
	return st
}

func TestTrustedDeviceAttacksFromOutside(t *testing.T) {
	srv := StartServer(t)

	t.Run("90 wrong codes behind a trusted device", func(t *testing.T) {
		registerAt(t, srv, "127.21.9.1", "alice")
		owner := clientFrom("127.21.0.1", true)
		if st := loginStatus(t, owner, srv, "alice", alicePW); st != 200 {
			t.Fatalf("owner's login: %d", st)
		}
		copied := deviceCookie(owner, srv)
		if copied == "" {
			t.Fatal("a login set no device cookie")
		}
		secret, _, _ := enableTOTP(t, srv)
		judged, limited := 0, 0
		for a := range 6 {
			c := withDevice(srv, fmt.Sprintf("127.21.1.%d", a+1), copied)
			for range 3 {
				st, body := callAPI(t, c, "POST", srv.URL+"/api/auth/login", `{"username":"alice","password":"`+alicePW+`"}`)
				tok, _ := body["mfa_token"].(string)
				if st != 200 || tok == "" {
					t.Fatalf("the password from the copied device: %d %v, want the second step", st, body)
				}
				for range 5 {
					switch st, body := callAPI(t, c, "POST", srv.URL+"/api/auth/login/mfa", `{"mfa_token":"`+tok+`","code":"`+testkit.WrongTOTPCode(secret, srv.Clock.Now())+`"}`); {
					case st == 401 && body["error"] == "invalid_code":
						judged++
					case st == 429:
						limited++
					default:
						t.Fatalf("a wrong code: %d %v", st, body)
					}
				}
			}
		}
		if judged > 10 || limited == 0 {
			t.Fatalf("behind a trusted device %d of 90 wrong codes were judged, %d refused; want at most 10 judged", judged, limited)
		}
	})

	t.Run("password-only reauth refused on a TOTP account", func(t *testing.T) {
		registerAt(t, srv, "127.21.9.2", "bea")
		c := clientFrom("127.21.2.1", true)
		if st := loginStatus(t, c, srv, "bea", alicePW); st != 200 {
			t.Fatalf("login: %d", st)
		}
		st, en := callAPI(t, c, "POST", srv.URL+"/api/auth/totp/enroll", "")
		secret, _ := en["secret"].(string)
		if st != 200 || secret == "" {
			t.Fatalf("enroll: %d %v", st, en)
		}
		if st, body := callAPI(t, c, "POST", srv.URL+"/api/auth/totp/confirm", `{"code":"`+totpCode(t, secret, 0)+`"}`); st != 200 {
			t.Fatalf("confirm: %d %v", st, body)
		}
		srv.Clock.Advance(11 * time.Minute)
		off := 11 * time.Minute
		for what, req := range map[string][2]string{
			"reauth with the password": {"POST", "reauth"}, "recovery codes": {"POST", "recovery-codes"},
			"totp off": {"DELETE", "totp"}, "other sessions": {"POST", "sessions/revoke-others"},
		} {
			body := ""
			if what == "reauth with the password" {
				body = `{"password":"` + alicePW + `"}`
			}
			if st, out := callAPI(t, c, req[0], srv.URL+"/api/auth/"+req[1], body); st != 403 || out["error"] != "second_factor_required" {
				t.Fatalf("%s: %d %v, want 403 second_factor_required", what, st, out)
			}
		}
		if st, out := callAPI(t, c, "POST", srv.URL+"/api/auth/reauth", `{"password":"`+alicePW+`","code":"`+totpCode(t, secret, off+30*time.Second)+`"}`); st != 204 {
			t.Fatalf("reauth with password and code: %d %v", st, out)
		}
		if st, out := callAPI(t, c, "DELETE", srv.URL+"/api/auth/totp", ""); st != 204 {
			t.Fatalf("totp off after a full reauth: %d %v", st, out)
		}
	})

	t.Run("old device cookie after a password change", func(t *testing.T) {
		registerAt(t, srv, "127.21.9.3", "cleo")
		owner := clientFrom("127.21.3.1", true)
		if st := loginStatus(t, owner, srv, "cleo", alicePW); st != 200 {
			t.Fatalf("login: %d", st)
		}
		copied := deviceCookie(owner, srv)
		const next = "a whole new long passphrase"
		if st, out := callAPI(t, owner, "POST", srv.URL+"/api/auth/password", `{"current_password":"`+alicePW+`","new_password":"`+next+`"}`); st != 204 {
			t.Fatalf("password change: %d %v", st, out)
		}
		if renewed := deviceCookie(owner, srv); renewed == "" || renewed == copied {
			t.Fatal("the device changing the password kept its old token")
		}
		lockAt(t, srv, "127.21.4", "cleo")
		if st := loginStatus(t, withDevice(srv, "127.21.3.2", copied), srv, "cleo", next); st != 429 {
			t.Fatalf("the old device cookie with the new password on a locked account: %d, want 429", st)
		}
		if st := loginStatus(t, owner, srv, "cleo", next); st != 200 {
			t.Fatalf("the owner's renewed device on a locked account: %d, want 200", st)
		}
	})

	t.Run("made-up device cookie", func(t *testing.T) {
		registerAt(t, srv, "127.21.9.4", "dina")
		b := make([]byte, 32)
		rand.Read(b)
		planted := base64.RawURLEncoding.EncodeToString(b)
		c := withDevice(srv, "127.21.5.1", planted)
		if st := loginStatus(t, c, srv, "dina", alicePW); st != 200 {
			t.Fatalf("login: %d", st)
		}
		if got := deviceCookie(c, srv); got == planted || got == "" {
			t.Fatalf("the login adopted the planted device cookie (now %q)", got)
		}
		lockAt(t, srv, "127.21.6", "dina")
		if st := loginStatus(t, withDevice(srv, "127.21.5.2", planted), srv, "dina", alicePW); st != 429 {
			t.Fatalf("the planted cookie on a locked account: %d, want 429", st)
		}
		if st := loginStatus(t, c, srv, "dina", alicePW); st != 200 {
			t.Fatalf("the issued cookie on a locked account: %d, want 200", st)
		}
	})

	t.Run("devices listed, forgotten and trusted no more", func(t *testing.T) {
		registerAt(t, srv, "127.21.9.5", "emil")
		registerAt(t, srv, "127.21.9.6", "fritz")
		laptop, phone := clientFrom("127.21.7.1", true), clientFrom("127.21.7.2", true)
		for _, c := range []*http.Client{laptop, phone} {
			if st := loginStatus(t, c, srv, "emil", alicePW); st != 200 {
				t.Fatalf("login: %d", st)
			}
		}
		st, out := callAPI(t, laptop, "GET", srv.URL+"/api/auth/devices", "")
		list, _ := out["devices"].([]any)
		if st != 200 || len(list) != 2 {
			t.Fatalf("devices: %d %v", st, out)
		}
		var phoneID string
		for _, d := range list {
			d := d.(map[string]any)
			if d["label"] != "Firefox on Linux" {
				t.Fatalf("device label %v", d["label"])
			}
			if d["current"] == false {
				phoneID, _ = d["id"].(string)
			}
		}
		if phoneID == "" {
			t.Fatalf("no other device in %v", list)
		}
		stranger := clientFrom("127.21.7.3", true)
		loginStatus(t, stranger, srv, "fritz", alicePW)
		if st, _ := callAPI(t, stranger, "DELETE", srv.URL+"/api/auth/devices/"+phoneID, ""); st != 404 {
			t.Fatalf("another user's DELETE: %d, want 404", st)
		}
		if st, _ := callAPI(t, laptop, "DELETE", srv.URL+"/api/auth/devices/"+phoneID, ""); st != 204 {
			t.Fatalf("DELETE: %d, want 204", st)
		}
		out2 := srv.CLI(t).MustRun("", "device", "list", "--user", "emil")
		if strings.Contains(out2, phoneID) || !strings.Contains(out2, "Firefox on Linux") {
			t.Fatalf("device list after forgetting the phone:\n%s", out2)
		}
		lockAt(t, srv, "127.21.8", "emil")
		if st := loginStatus(t, phone, srv, "emil", alicePW); st != 429 {
			t.Fatalf("a forgotten device on a locked account: %d, want 429", st)
		}
		if st := loginStatus(t, laptop, srv, "emil", alicePW); st != 200 {
			t.Fatalf("the remaining device on a locked account: %d, want 200", st)
		}
		// The administrator forgets the laptop too, by the id the list shows.
		_, out = callAPI(t, laptop, "GET", srv.URL+"/api/auth/devices", "")
		id := out["devices"].([]any)[0].(map[string]any)["id"].(string)
		if got := srv.CLI(t).MustRun("", "device", "forget", "--id", id); !strings.Contains(got, id) {
			t.Fatalf("device forget printed %q", got)
		}
		if _, _, err := srv.CLI(t).Run("", "device", "forget", "--id", id); err == nil {
			t.Fatal("forgetting a forgotten device succeeded")
		}
		if st := loginStatus(t, laptop, srv, "emil", alicePW); st != 429 {
			t.Fatalf("a device the administrator forgot on a locked account: %d, want 429", st)
		}
	})
}
