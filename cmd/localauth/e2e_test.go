package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's Chromium with chromedp against a real
// "localauth serve" on loopback. They run when LOCALAUTH_E2E=1 (CI sets it)
// and skip with a message otherwise.

// Server is a running "localauth serve" on a temporary database.
type Server struct {
	URL  string
	DB   string
	Log  *SyncWriter
	stop func() error
}

// SyncWriter collects output written by several goroutines.
type SyncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *SyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *SyncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// StartServer runs "serve" in process on 127.0.0.1:0 with extra args.
func StartServer(tb testing.TB, args ...string) *Server {
	tb.Helper()
	db := filepath.Join(tb.TempDir(), "serve.db")
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	log := &SyncWriter{}
	m := &Main{
		Stdin: strings.NewReader(""), Stdout: log, Stderr: log, weakCost: 4,
		Getenv: testEnv,
		ready:  func(u string) { urls <- u },
	}
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...))
	}()
	s := &Server{DB: db, Log: log}
	select {
	case s.URL = <-urls:
	case err := <-done:
		cancel()
		tb.Fatalf("serve exited: %v\n%s", err, log)
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatal("serve did not start within 10s")
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				stopErr = fmt.Errorf("serve did not stop within 15s")
			}
		})
		return stopErr
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("stopping serve: %v", err)
		}
	})
	return s
}

// CLI returns a command line on the server's database.
func (s *Server) CLI(tb testing.TB) *CLI { return &CLI{tb: tb, db: s.DB} }

func chromiumPath() string {
	for _, p := range []string{os.Getenv("LOCALAUTH_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	return ""
}

// NeedBrowser skips the test unless browser tests are enabled and Chromium
// is installed.
func NeedBrowser(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("LOCALAUTH_E2E") != "1" {
		tb.Skip("browser test: set LOCALAUTH_E2E=1 (and install Debian's chromium) to run it")
	}
	p := chromiumPath()
	if p == "" {
		tb.Skip("browser test: LOCALAUTH_E2E=1 but no Chromium at /usr/bin/chromium (apt-get install chromium)")
	}
	return p
}

// Browser is one headless Chromium with a fresh profile.
type Browser struct {
	tb     testing.TB
	ctx    context.Context
	cancel context.CancelFunc
}

func NewBrowser(tb testing.TB) *Browser {
	tb.Helper()
	exe := NeedBrowser(tb)
	// The profile is removed after Chromium has exited (t.TempDir would
	// race Chromium's last writes).
	profile, err := os.MkdirTemp("", "localauth-chromium-")
	if err != nil {
		tb.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Run(ctx); err != nil {
		cancel()
		acancel()
		tb.Fatalf("starting chromium: %v", err)
	}
	b := &Browser{tb: tb, ctx: ctx, cancel: func() { cancel(); acancel() }}
	tb.Cleanup(func() {
		b.cancel()
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return b
}

// Tab opens a new tab of the browser (the first call uses the first tab).
func (b *Browser) Tab() *Tab {
	b.tb.Helper()
	ctx, _ := chromedp.NewContext(b.ctx)
	// The first Run opens the tab; it must not run under a timeout, whose
	// end would close the tab with it.
	if err := chromedp.Run(ctx); err != nil {
		b.tb.Fatalf("opening a tab: %v", err)
	}
	return &Tab{tb: b.tb, ctx: ctx}
}

// Tab is one browser tab.
type Tab struct {
	tb  testing.TB
	ctx context.Context
}

// Run runs chromedp actions with a time limit.
func (t *Tab) Run(actions ...chromedp.Action) {
	t.tb.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.tb.Fatalf("browser: %v", err)
	}
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](t *Tab, js string) T {
	t.tb.Helper()
	var v T
	t.Run(chromedp.Evaluate(js, &v))
	return v
}

// Path returns the tab's location path.
func (t *Tab) Path() string { return Eval[string](t, "location.pathname") }

// WaitPath waits until the location path is p.
func (t *Tab) WaitPath(p string) {
	t.tb.Helper()
	t.WaitJS(fmt.Sprintf("location.pathname === %q", p), "path "+p)
}

// WaitJS waits until a JavaScript condition holds.
func (t *Tab) WaitJS(cond, what string) {
	t.tb.Helper()
	// Generous: CI machines have two cores and other work beside.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if Eval[bool](t, "!!("+cond+")") {
			return
		}
		if time.Now().After(deadline) {
			t.tb.Fatalf("waited 30s for %s; at %s, page text: %q", what, t.Path(), Eval[string](t, "document.body.innerText"))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitText waits until the element matching sel is visible and its text
// contains text.
func (t *Tab) WaitText(sel, text string) {
	t.tb.Helper()
	t.WaitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.offsetParent !== null && e.textContent.includes(%q); })()`, sel, text),
		fmt.Sprintf("%q in %s", text, sel))
}

// Hydrated waits until the live client has hydrated the page.
func (t *Tab) Hydrated() {
	t.tb.Helper()
	t.WaitJS(`document.documentElement.classList.contains("live-hydrated")`, "hydration")
}

// Open loads a URL and waits for hydration.
func (t *Tab) Open(u string) {
	t.tb.Helper()
	t.Run(chromedp.Navigate(u))
	t.Hydrated()
}

// Fill sets form fields by id: id, value, id, value...
func (t *Tab) Fill(fields ...string) {
	t.tb.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, fields[i], fields[i+1])
		if !Eval[bool](t, js) {
			t.tb.Fatalf("no field %s", fields[i])
		}
	}
}

// Submit clicks the submit button of the form holding the field with id, as
// a person would.
func (t *Tab) Submit(id string) {
	t.tb.Helper()
	t.Click(fmt.Sprintf(`form:has(#%s) button[type=submit]`, id))
}

// Value returns the value of a form field by id.
func (t *Tab) Value(id string) string {
	return Eval[string](t, fmt.Sprintf("document.getElementById(%q).value", id))
}

// Focused returns the id of the focused element.
func (t *Tab) Focused() string {
	return Eval[string](t, "document.activeElement ? document.activeElement.id : ''")
}

// Screenshot saves a full-page PNG under testoutput/screenshots.
func (t *Tab) Screenshot(name string) {
	t.tb.Helper()
	dir := os.Getenv("LOCALAUTH_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join("..", "..", "testoutput")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.tb.Fatal(err)
	}
	var png []byte
	// A tab in the background is hidden and draws no frames, and a
	// screenshot waits for one: bring the tab to the front first (a test
	// may have opened others since).
	t.Run(page.BringToFront(), chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.tb.Fatal(err)
	}
}

// Click clicks the element matching sel.
func (t *Tab) Click(sel string) {
	t.tb.Helper()
	t.Run(chromedp.Click(sel, chromedp.ByQuery))
}

func must(u *url.URL, err error) *url.URL {
	if err != nil {
		panic(err)
	}
	return u
}
