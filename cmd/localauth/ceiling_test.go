package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// serve --max-live-conns 2: the third websocket, from the same address or
// not, gets 503 with Retry-After, while registration, login, the API and
// pages keep answering; the same host under https is a foreign origin.
func TestServeLiveConnectionCeiling(t *testing.T) {
	srv := StartServer(t, "--max-live-conns", "2")
	for i := range 2 {
		if _, _, err := DialLive(t, srv, nil); err != nil {
			t.Fatalf("websocket %d of 2: %v", i+1, err)
		}
	}
	_, res, err := DialLive(t, srv, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("websocket past the ceiling: err %v, res %v; want 503 with Retry-After", err, res)
	}
	post := func(path, body string) *http.Response {
		t.Helper()
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST %s at the ceiling: %v", path, err)
		}
		return res
	}
	if res := post("/api/auth/register", `{"username":"alice","password":"`+alicePW+`"}`); res.StatusCode != http.StatusCreated {
		t.Fatalf("register at the ceiling: %d", res.StatusCode)
	}
	res = post("/api/auth/token", `{"username":"alice","password":"`+alicePW+`"}`)
	var tok struct{ Token string }
	json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || tok.Token == "" {
		t.Fatalf("login at the ceiling: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET me at the ceiling: %v %v", err, res)
	}
	page, err := http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("a page at the ceiling: %d", page.StatusCode)
	}
	if !strings.Contains(srv.Log.String(), "too many connections in all") {
		t.Error("no log line for the refused websocket")
	}
}

// The page's own host and port under https is not the page's origin when
// serve speaks plain HTTP.
func TestServeOriginSchemeChecked(t *testing.T) {
	srv := StartServer(t)
	other := "https://" + strings.TrimPrefix(srv.URL, "http://")
	if _, res, err := DialLive(t, srv, http.Header{"Origin": {other}}); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("handshake from %s: err %v, res %v; want 403", other, err, res)
	}
	if _, _, err := DialLive(t, srv, nil); err != nil {
		t.Fatalf("own origin refused: %v", err)
	}
}

func TestServeRefusesBadMaxLiveConns(t *testing.T) {
	for _, v := range []string{"0", "-1", "many"} {
		m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
		err := m.Run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--db", t.TempDir() + "/x.db", "--max-live-conns", v})
		if err == nil || !strings.Contains(err.Error(), "--max-live-conns") {
			t.Fatalf("--max-live-conns %s: got %v, want a usage error", v, err)
		}
	}
}
