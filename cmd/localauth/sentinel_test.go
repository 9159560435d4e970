package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Sentinels: secrets that must never show up where they do not belong.
const (
	sentinelPW    = "Sentinel-Passw0rd-1f6b93"
	sentinelNext  = "Sentinel-Next-Passw0rd-77ac21"
	sentinelWrong = "Sentinel-Wrong-Passw0rd-0d4e58"
)

// recorder keeps every byte the server sent back.
type recorder struct{ b strings.Builder }

func (r *recorder) do(t *testing.T, method, url, body, bearer string, cookie *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for k, v := range res.Header {
		if k != "Set-Cookie" {
			fmt.Fprintf(&r.b, "%s: %s\n", k, strings.Join(v, ","))
		}
	}
	r.b.Write(b)
	return res, string(b)
}

// C23, C24, C28, C40: a scenario over every pathway with sentinel passwords;
// then every log line, page, API body and websocket message is searched.
// The passwords appear nowhere; tokens never in a log or a URL, and in
// cookie mode never in any body or websocket message.
func TestSentinelScan(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			srv := StartServer(t, "--token-storage", mode, "--log-format", "json") // the audit records read below as JSON
			var rec recorder
			var tokens []string
			creds := func(u, p string) string { return fmt.Sprintf(`{"username":%q,"password":%q}`, u, p) }

			rec.do(t, "POST", srv.URL+"/api/auth/register", creds("alice", sentinelPW), "", nil)
			rec.do(t, "POST", srv.URL+"/api/auth/register", creds("weak", "password"), "", nil)
			rec.do(t, "POST", srv.URL+"/api/auth/login", creds("alice", sentinelWrong), "", nil)
			rec.do(t, "POST", srv.URL+"/api/auth/login", creds("nobody", sentinelWrong), "", nil)
			res, _ := rec.do(t, "POST", srv.URL+"/api/auth/login", creds("alice", sentinelPW), "", nil)
			var cookie *http.Cookie
			for _, c := range res.Cookies() {
				cookie = c
				tokens = append(tokens, c.Value)
			}
			_, body := rec.do(t, "POST", srv.URL+"/api/auth/token", creds("alice", sentinelPW), "", nil)
			var tok struct{ Token string }
			json.Unmarshal([]byte(body), &tok)
			tokens = append(tokens, tok.Token)
			rec.do(t, "GET", srv.URL+"/api/auth/me", "", "", cookie)
			rec.do(t, "POST", srv.URL+"/api/auth/password", fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, sentinelWrong, sentinelNext), tok.Token, nil)
			rec.do(t, "POST", srv.URL+"/api/auth/password", fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, sentinelPW, sentinelNext), tok.Token, nil)
			for _, p := range []string{"/", "/login", "/register", "/protected", "/_live/live.js"} {
				rec.do(t, "GET", srv.URL+p, "", "", cookie)
			}

			// The live pages: a failed and a successful login, a registration.
			header := http.Header{}
			if mode == "cookie" && cookie != nil {
				header.Set("Cookie", cookie.String())
			}
			c, _, err := DialLive(t, srv, header)
			if err != nil {
				t.Fatal(err)
			}
			c.Send(map[string]any{"t": "hello", "id": 1, "route": "/login", "query": ""})
			c.Send(map[string]any{"t": "event", "id": 2, "name": "login.on_submit", "fields": map[string]string{"username": "alice", "password": sentinelWrong}})
			c.Until(`"There was a problem logging in, please try again."`)
			c.Send(map[string]any{"t": "event", "id": 3, "name": "register.handle_registration",
				"fields": map[string]string{"username": "bob", "password": sentinelPW, "confirm_password": sentinelPW}})
			c.Send(map[string]any{"t": "event", "id": 4, "name": "login.on_submit", "fields": map[string]string{"username": "alice", "password": sentinelNext}})
			live := c.Until(`"redirect"`)
			live += c.Collect(700 * time.Millisecond)
			if mode == "localstorage" {
				// The one place the token belongs: LocalStorage, by way of
				// a local_set action.
				var m struct{ Actions []struct{ Do, Value string } }
				for _, line := range strings.Split(live, "\n") {
					json.Unmarshal([]byte(line), &m)
					for _, a := range m.Actions {
						if a.Do == "local_set" {
							tokens = append(tokens, a.Value)
							live = strings.ReplaceAll(live, a.Value, "[local_set token]")
						}
					}
				}
			}
			for _, tk := range tokens {
				rec.do(t, "POST", srv.URL+"/api/auth/logout", "", tk, nil)
			}

			log := srv.Log.String()
			bodies := rec.b.String()
			for name, hay := range map[string]string{"server log": log, "HTTP answers": bodies, "websocket messages": live} {
				for _, pw := range []string{sentinelPW, sentinelNext, sentinelWrong} {
					if strings.Contains(hay, pw) {
						t.Errorf("%s hold a sentinel password", name)
					}
				}
			}
			if len(tokens) < 2 {
				t.Fatalf("the scenario issued %d tokens", len(tokens))
			}
			for _, tk := range tokens {
				if tk == "" {
					continue
				}
				if strings.Contains(log, tk) {
					t.Error("the server log holds a token")
				}
				if strings.Contains(live, tk) {
					t.Error("a websocket message holds a token")
				}
				// Bearer tokens are handed out by /api/auth/token by design;
				// nothing else may carry one.
				if strings.Count(bodies, tk) > 1 || (tk != tok.Token && strings.Contains(bodies, tk)) {
					t.Error("an HTTP answer holds a token it should not")
				}
			}
			if !strings.Contains(log, `"event":"login_failed"`) || !strings.Contains(log, `"event":"password_change"`) {
				t.Fatal("the scenario left no audit trail; the scan would prove nothing")
			}
		})
	}
}
