package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/localauth/localauth"
	"github.com/localauth/localauth/web"
)

type activityList struct {
	Events []struct {
		ID        int64  `json:"id"`
		Type      string `json:"type"`
		At        string `json:"at"`
		FirstAt   string `json:"first_at"`
		Count     int    `json:"count"`
		IP        string `json:"ip"`
		Device    string `json:"device"`
		SessionID string `json:"session_id"`
		Detail    string `json:"detail"`
	} `json:"events"`
	NextBefore int64 `json:"next_before"`
}

// Two users each see their own activity through the API, and only theirs:
// sign-ins, one event for a run of failed ones, a password change; the
// sign-in alert preference is theirs too.
func TestActivityAPI(t *testing.T) {
	e := newEnvWith(t, false, localauth.Config{})
	api := e.srv.URL + web.APIPrefix
	for _, name := range []string{"alice", "mallory"} {
		if r := e.post(t, e.client(t), "/api/auth/register", creds(name, pw)); r.status != 201 {
			t.Fatalf("register %s: %d %s", name, r.status, r.raw)
		}
	}
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	token := func(name, password string) (string, int) {
		r := do(t, &http.Client{}, "POST", api+"token", "application/json", creds(name, password), "User-Agent", firefox)
		tok, _ := r.body["token"].(string)
		return tok, r.status
	}
	for range 3 {
		if _, st := token("alice", "not the password at all"); st != 401 {
			t.Fatalf("wrong password: %d, want 401", st)
		}
	}
	alice, _ := token("alice", pw)
	mallory, _ := token("mallory", pw)
	bearer := func(method, path, body, tok string) reply {
		t.Helper()
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		return do(t, &http.Client{}, method, api+path, ct, body, "Authorization", "Bearer "+tok)
	}
	if r := bearer("POST", "password", `{"current_password":"`+pw+`","new_password":"another long passphrase"}`, alice); r.status != 204 {
		t.Fatalf("password change: %d %s", r.status, r.raw)
	}

	list := func(tok, query string) activityList {
		t.Helper()
		r := bearer("GET", "activity"+query, "", tok)
		if r.status != 200 {
			t.Fatalf("GET activity%s: %d %s", query, r.status, r.raw)
		}
		var l activityList
		if err := json.Unmarshal([]byte(r.raw), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	var types []string
	l := list(alice, "")
	for _, ev := range l.Events {
		types = append(types, ev.Type)
	}
	if got, want := strings.Join(types, " "), "password_changed device_forgotten device_trusted login login_failed"; got != want {
		t.Fatalf("alice's activity, newest first: got %q, want %q", got, want)
	}
	// The password change, from a client without a device cookie, ended
	// the trust of the device the login made.
	failed, login := l.Events[4], l.Events[3]
	if failed.Count != 3 || failed.FirstAt == "" || failed.IP != "127.0.0.1" {
		t.Fatalf("failed sign-ins: got %+v, want one event of 3 from 127.0.0.1", failed)
	}
	if login.Device != "Firefox on Linux" || login.SessionID == "" || login.Count != 0 {
		t.Fatalf("sign-in: got %+v, want the browser's label and the session's id, no count", login)
	}
	if strings.Contains(fmt.Sprint(l), alice) {
		t.Fatal("the activity holds the session token")
	}
	theirs := list(mallory, "")
	for _, ev := range theirs.Events {
		if ev.SessionID == login.SessionID || ev.Type == "login_failed" || ev.Type == "password_changed" {
			t.Fatalf("mallory sees alice's event %+v", ev)
		}
	}
	if len(theirs.Events) != 2 {
		t.Fatalf("mallory's activity: %+v, want a sign-in and its device", theirs.Events)
	}

	// Paging.
	page := list(alice, "?limit=2")
	if len(page.Events) != 2 || page.NextBefore != page.Events[1].ID {
		t.Fatalf("first page: %+v, want 2 events and next_before the last one's id", page)
	}
	rest := list(alice, fmt.Sprintf("?before=%d", page.NextBefore))
	if len(rest.Events) != 3 || rest.Events[0].Type != "device_trusted" || rest.Events[1].Type != "login" || rest.NextBefore != 0 {
		t.Fatalf("second page: %+v, want the device, the sign-in and the failures, no next page", rest)
	}
	// Mallory's cursor on alice's ids shows only mallory's.
	if other := list(mallory, fmt.Sprintf("?before=%d", l.Events[0].ID+1)); len(other.Events) != 2 {
		t.Fatalf("mallory paging past alice's ids: %+v", other.Events)
	}
	for _, q := range []string{"?before=abc", "?before=-1", "?limit=0", "?limit=101", "?before=99999999999999999999"} {
		if r := bearer("GET", "activity"+q, "", alice); r.status != 400 || r.body["error"] != "bad_request" {
			t.Errorf("GET activity%s: %d %s, want 400 bad_request", q, r.status, r.raw)
		}
	}
	if r := do(t, &http.Client{}, "GET", api+"activity", "", ""); r.status != 401 {
		t.Fatalf("activity without a session: %d, want 401", r.status)
	}

	// Sign-in alerts: on by default, per user.
	if r := bearer("GET", "alerts", "", alice); r.status != 200 || r.body["sign_in"] != true {
		t.Fatalf("alerts: %d %s, want sign_in true", r.status, r.raw)
	}
	if r := bearer("POST", "alerts/sign-in", `{"enabled":false}`, alice); r.status != 200 || r.body["sign_in"] != false {
		t.Fatalf("turning alerts off: %d %s", r.status, r.raw)
	}
	if r := bearer("GET", "alerts", "", alice); r.body["sign_in"] != false {
		t.Fatalf("alerts after turning off: %s", r.raw)
	}
	if r := bearer("GET", "alerts", "", mallory); r.body["sign_in"] != true {
		t.Fatalf("alice's choice changed mallory's alerts: %s", r.raw)
	}
	for _, body := range []string{`{}`, `{"enabled":"no"}`, `{"enabled":true,"x":1}`} {
		if r := bearer("POST", "alerts/sign-in", body, alice); r.status != 400 {
			t.Errorf("alerts/sign-in %s: %d %s, want 400", body, r.status, r.raw)
		}
	}
	if r := bearer("GET", "alerts", "", alice); r.body["sign_in"] != false {
		t.Fatalf("a refused request changed the preference: %s", r.raw)
	}
}
