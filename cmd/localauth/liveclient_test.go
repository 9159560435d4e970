package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/localauth/localauth/live"
)

// The live client in Chromium: a socket that closes before the server has
// answered the hello leaves the page unhydrated, and a page whose server
// goes away says so, reconnects when it is back and carries on.

// TestLiveClientHelloUnanswered serves a live page whose websocket
// endpoint reads the hello and closes without answering.
func TestLiveClientHelloUnanswered(t *testing.T) {
	NeedBrowser(t)
	app := live.New(live.Config{})
	app.Page("/", "Hello", `<h1>Hello</h1>`)
	var hellos atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/", app)
	mux.HandleFunc("/_live", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		if _, _, err := c.Read(ctx); err == nil {
			hellos.Add(1)
		}
		c.Close(websocket.StatusTryAgainLater, "")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tab := NewBrowser(t).Tab()
	tab.Run(chromedp.Navigate(srv.URL + "/"))
	// The client reconnects after a close; a second hello means the first
	// socket's close has been handled in the page.
	deadline := time.Now().Add(30 * time.Second)
	for hellos.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the page sent %d hellos in 30s, want 2", hellos.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if Eval[bool](tab, `document.documentElement.classList.contains("live-hydrated")`) {
		t.Fatal("the page is marked hydrated although no hello was ever answered")
	}
	// Never connected, so no "connection lost" banner either.
	if Eval[bool](tab, `!document.getElementById("live-status").hidden`) {
		t.Fatalf("status shown before any connection: %q", Eval[string](tab, `document.getElementById("live-status").textContent`))
	}
}

// TestLiveClientReconnect stops the server under a signed-in page, checks
// the banner, starts it again on the same address and database, and
// expects the page back, signed in, without a reload.
func TestLiveClientReconnect(t *testing.T) {
	NeedBrowser(t)
	first := StartServer(t)
	first.CLI(t).MustRun(alicePW+"\n", "user", "create", "--password-stdin", "alice")
	tab := NewBrowser(t).Tab()
	tab.Open(first.URL + "/login")
	tab.Fill("username", "alice", "password", alicePW)
	tab.Submit("password")
	tab.WaitPath("/")
	tab.Open(first.URL + "/protected")
	tab.WaitText("#private-data", "This is private data for alice.")
	tab.Run(chromedp.Evaluate(`window.__marker = "same page"`, nil))

	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	// The banner is position: fixed, so visibility is its hidden attribute.
	tab.WaitJS(`(() => { const s = document.getElementById("live-status"); return !s.hidden && s.textContent === "Connection lost. Reconnecting…"; })()`, "the reconnecting banner")
	tab.WaitJS(`!document.documentElement.classList.contains("live-hydrated")`, "the page marked offline")
	tab.Accessible("reconnecting banner")

	addr := first.URL[len("http://"):]
	second := StartServer(t, "--addr", addr, "--db", first.DB)
	if second.URL != first.URL {
		t.Fatalf("restarted at %s, want %s", second.URL, first.URL)
	}
	tab.Hydrated()
	tab.WaitJS(`document.getElementById("live-status").hidden`, "the banner gone")
	tab.WaitText("#private-data", "This is private data for alice.")
	if m := Eval[string](tab, `window.__marker || ""`); m != "same page" {
		t.Fatal("the page was reloaded instead of reconnecting")
	}
	// The page works: a link event runs on the new server.
	tab.Click("#home")
	tab.WaitPath("/")
}
