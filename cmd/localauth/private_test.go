package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

// LiveClient speaks the live protocol as a page would, without a browser.
type LiveClient struct {
	tb   testing.TB
	conn *websocket.Conn
	msgs chan []byte
	seen strings.Builder
	// final counts the messages answered (see Replies); answered holds
	// their ids.
	final    int
	answered map[int64]bool
	// closeErr is why the connection ended, set before msgs is closed.
	closeErr error
}

func DialLive(tb testing.TB, srv *Server, header http.Header) (*LiveClient, *http.Response, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Origin") == "" {
		header.Set("Origin", srv.URL)
	}
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/_live", &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		return nil, res, err
	}
	lc := &LiveClient{tb: tb, conn: c, msgs: make(chan []byte, 256)}
	// One reader for the connection's life: a Read whose context ends
	// closes a coder/websocket connection, so reads never time out here.
	go func() {
		defer close(lc.msgs)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				lc.closeErr = err // read by the test once msgs is closed
				return
			}
			lc.msgs <- b
		}
	}()
	tb.Cleanup(func() { c.CloseNow() })
	return lc, res, nil
}

func (c *LiveClient) Send(v any) {
	c.tb.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.tb.Fatalf("sending: %v", err)
	}
}

// Collect reads messages for d and returns everything received so far:
// for checking that something does not come. To wait for what must come,
// use Until or Replies.
func (c *LiveClient) Collect(d time.Duration) string {
	timeout := time.After(d)
	for {
		select {
		case b, ok := <-c.msgs:
			if !ok {
				return c.seen.String()
			}
			c.record(b)
		case <-timeout:
			return c.seen.String()
		}
	}
}

// livePatience is how long a test waits for a message that must come: a
// loaded 2-core machine running -race may take seconds.
const livePatience = 30 * time.Second

// Until reads until a message contains s, or fails after livePatience.
func (c *LiveClient) Until(s string) string {
	c.tb.Helper()
	timeout := time.After(livePatience)
	for !strings.Contains(c.seen.String(), s) {
		select {
		case b, ok := <-c.msgs:
			if !ok {
				c.tb.Fatalf("connection closed before a message with %q; got:\n%s", s, c.seen.String())
			}
			c.record(b)
		case <-timeout:
			c.tb.Fatalf("no message with %q within %v; got:\n%s", s, livePatience, c.seen.String())
		}
	}
	return c.seen.String()
}

// Replies reads until n messages since the connection opened have been
// final answers (an error, or an update marked done), and returns
// everything received. The server answers a tab's messages in order, one
// final answer each, so n is the number of messages sent: once they are
// all answered, whatever the answers were to hold is there, however slow
// the machine.
func (c *LiveClient) Replies(n int) string {
	c.tb.Helper()
	got, closed := c.RepliesOrClose(n)
	if closed != nil {
		c.tb.Fatalf("connection closed (%v) after %d of %d answers; got:\n%s", closed, c.final, n, got)
	}
	return got
}

// RepliesOrClose is Replies for a test that lets the server end the
// connection instead of answering: it returns what was received and, if
// the connection ended first, why.
func (c *LiveClient) RepliesOrClose(n int) (string, error) {
	c.tb.Helper()
	timeout := time.After(livePatience)
	for c.final < n {
		select {
		case b, ok := <-c.msgs:
			if !ok {
				return c.seen.String(), c.closeErr
			}
			c.record(b)
		case <-timeout:
			c.tb.Fatalf("%d of %d answers within %v; got:\n%s", c.final, n, livePatience, c.seen.String())
		}
	}
	return c.seen.String(), nil
}

// record keeps a message and counts it if it is a final answer.
func (c *LiveClient) record(b []byte) {
	c.seen.Write(b)
	c.seen.WriteByte('\n')
	if c.answered == nil {
		c.answered = map[int64]bool{}
	}
	if answersAnother(c.answered, b) {
		c.final++
	}
}

// answersAnother reports whether the live message b is the final answer to
// a message not yet answered, and records it in answered. The final answer
// to a message is an error or an update marked done, under the message's
// id; a handler that fails may send both, which count once. A message the
// server could not read, or refused for its rate, is answered under id 0.
func answersAnother(answered map[int64]bool, b []byte) bool {
	var m struct {
		T     string `json:"t"`
		ID    int64  `json:"id"`
		Done  bool   `json:"done"`
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &m) != nil || (m.T != "error" && !m.Done) {
		return false
	}
	if m.ID == 0 {
		return m.Error == "bad_message" || m.Error == "rate_limited"
	}
	if answered[m.ID] {
		return false
	}
	answered[m.ID] = true
	return true
}

// finalAnswers returns, of the live messages in got (one per line), the
// final answers, one per message answered.
func finalAnswers(got string) []string {
	var out []string
	answered := map[int64]bool{}
	for line := range strings.Lines(got) {
		if answersAnother(answered, []byte(line)) {
			out = append(out, line)
		}
	}
	return out
}

const privateMarker = "private data for"

// The private data reaches only an authenticated tab: not the pages,
// not the assets, not the socket of a tab without a live session.
func TestPrivateDataNeverReachesAnonymousClients(t *testing.T) {
	srv := StartServer(t)
	cli := srv.CLI(t)
	cli.MustRun(alicePW+"\n", "user", "create", "alice", "--password-stdin")
	e := openEnv(t, srv.DB)
	res, err := e.svc.Login(context.Background(), "alice", alicePW)
	if err != nil {
		t.Fatal(err)
	}
	token := string(res.Token)

	// Pages and assets, fetched without a session.
	for _, path := range []string{"/", "/protected", "/login", "/register", "/nope", "/_live/live.js", "/static/localauth.css"} {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if strings.Contains(string(body), privateMarker) {
			t.Errorf("GET %s contains the private data", path)
		}
	}

	// The socket, with no token, a forged one, and events reaching for it.
	for name, local := range map[string]map[string]string{
		"no token":     {},
		"forged token": {"_auth_token": strings.Repeat("A", 43)},
		"token hash":   {"_auth_token": res.Session.TokenHash.String()},
	} {
		c, _, err := DialLive(t, srv, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Send(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": "", "local": local})
		c.Send(map[string]any{"t": "event", "id": 2, "name": "demo.private_data"})
		c.Send(map[string]any{"t": "event", "id": 3, "name": "auth.login", "fields": map[string]string{"user_id": "1"}})
		c.Send(map[string]any{"t": "event", "id": 4, "name": "auth._login"})
		c.Send(map[string]any{"t": "event", "id": 5, "name": "login.redir"})
		c.Replies(5)
		// Anything pushed after the last answer would come at once.
		got := c.Collect(300 * time.Millisecond)
		if strings.Contains(got, privateMarker) {
			t.Errorf("%s: the socket sent the private data:\n%s", name, got)
		}
		if n := strings.Count(got, `"error":"unknown_event"`); n != 3 {
			t.Errorf("%s: %d unknown_event replies to 3 events naming no public handler:\n%s", name, n, got)
		}
		if !strings.Contains(got, `"redirect","to":"/login"`) {
			t.Errorf("%s: an anonymous tab on /protected was not sent to /login:\n%s", name, got)
		}
	}

	// The positive control: the same socket with the real token gets it,
	// and loses it the moment the session is revoked elsewhere (C20, C22).
	c, _, err := DialLive(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": "", "local": map[string]string{"_auth_token": token}})
	c.Until("This is private data for alice.")
	if strings.Contains(c.seen.String(), token) {
		t.Fatal("the token came back in page state")
	}
	cli.MustRun("", "session", "revoke", "alice")
	c.Until(`"private_data":""`)
	c.Until(`"local_remove","key":"_auth_token"`)

	// And a browser that never logged in never shows it.
	b := NewBrowser(t)
	tab := b.Tab()
	tab.Run(chromedp.Navigate(srv.URL + "/protected"))
	tab.WaitPath("/login")
	if html := Eval[string](tab, "document.documentElement.outerHTML"); strings.Contains(html, privateMarker) {
		t.Fatal("the logged-out browser's page holds the private data")
	}
	if strings.Contains(srv.Log.String(), token) || strings.Contains(srv.Log.String(), alicePW) {
		t.Fatal("the server log holds the token or the password")
	}
}

// C27: a websocket handshake from another origin is refused with 403 and
// no upgrade.
func TestCrossOriginHandshakeRefused(t *testing.T) {
	srv := StartServer(t)
	for _, origin := range []string{"http://evil.example", "null", "http://127.0.0.1.evil.example"} {
		_, res, err := DialLive(t, srv, http.Header{"Origin": {origin}})
		if err == nil {
			t.Fatalf("handshake from %s accepted", origin)
		}
		if res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("handshake from %s: got %v, want 403", origin, res)
		}
	}
	if _, _, err := DialLive(t, srv, nil); err != nil {
		t.Fatalf("same-origin handshake refused: %v", err)
	}
	if !strings.Contains(srv.Log.String(), "handshake refused") {
		t.Error("no log line for the refused handshakes")
	}
}

// Cookie mode: the server guards /protected itself (303 before any content),
// the socket authenticates with the cookie only, and the token never
// appears in a websocket message (C24).
func TestCookieModeServerSide(t *testing.T) {
	srv := StartServer(t, "--token-storage", "cookie")
	srv.CLI(t).MustRun(alicePW+"\n", "user", "create", "alice", "--password-stdin")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(srv.URL + "/protected")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Fprotected" || strings.Contains(string(body), "Protected Page") {
		t.Fatalf("anonymous GET /protected: %d %q %q", res.StatusCode, res.Header.Get("Location"), body)
	}
	login, err := http.Post(srv.URL+"/api/auth/login", "application/json", strings.NewReader(`{"username":"alice","password":"`+alicePW+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	var cookie *http.Cookie
	for _, c := range login.Cookies() {
		if c.Name == "localauth_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie from the API login")
	}
	req, _ := http.NewRequest("GET", srv.URL+"/login?next=/protected", nil)
	req.AddCookie(cookie)
	res, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/protected" {
		t.Fatalf("logged-in GET /login?next=/protected: %d %q", res.StatusCode, res.Header.Get("Location"))
	}

	// The token in a hello's LocalStorage values means nothing in cookie mode.
	c, _, err := DialLive(t, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": "", "local": map[string]string{"_auth_token": cookie.Value}})
	if got := c.Replies(1); strings.Contains(got, privateMarker) || !strings.Contains(got, `"is_authenticated":false`) {
		t.Fatalf("a LocalStorage token authenticated in cookie mode:\n%s", got)
	}
	// The cookie on the handshake does, and the token never comes back.
	c, _, err = DialLive(t, srv, http.Header{"Cookie": {cookie.String()}})
	if err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"t": "hello", "id": 1, "route": "/protected", "query": ""})
	c.Until("This is private data for alice.")
	c.Send(map[string]any{"t": "event", "id": 2, "name": "auth.do_logout"})
	got := c.Until(`"/api/auth/logout"`)
	if strings.Contains(got, cookie.Value) {
		t.Fatal("C24: the token appeared in a websocket message")
	}
}
