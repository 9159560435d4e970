// Package browser drives Debian's Chromium with chromedp for the tests:
// tabs, waits on conditions (never on clocks), form filling, screenshots,
// and axe-core's WCAG 2.1 AA checks. Tests that use it run when
// LOCALAUTH_E2E=1 (CI sets it) and skip with a message otherwise.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// moduleRoot is the repository's root, found from this file's place in it.
func moduleRoot() string {
	_, here, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "..")
}

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
	TB     testing.TB
	ctx    context.Context
	cancel context.CancelFunc
}

func NewBrowser(tb testing.TB) *Browser {
	tb.Helper()
	NeedBrowser(tb)
	return NewBrowserWithProfile(tb, NewProfile(tb))
}

// NewProfile makes a Chromium profile directory, removed when the test
// ends (after every browser on it has exited: t.TempDir would race
// Chromium's last writes). Browsers started on it one after the other are
// one browser restarted: LocalStorage and cookies with Max-Age stay,
// sessionStorage and cookies without it do not.
func NewProfile(tb testing.TB) string {
	tb.Helper()
	profile, err := os.MkdirTemp("", "localauth-chromium-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return profile
}

// NewBrowserWithProfile starts a headless Chromium on the given profile
// directory (see NewProfile). Close it before starting another on the same
// profile.
func NewBrowserWithProfile(tb testing.TB, profile string) *Browser {
	tb.Helper()
	exe := NeedBrowser(tb)
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
	b := &Browser{TB: tb, ctx: ctx, cancel: func() { cancel(); acancel() }}
	tb.Cleanup(b.cancel)
	return b
}

// Close quits the browser as a person would (Browser.close, so that it
// writes its profile out) and waits until the process has exited.
func (b *Browser) Close() {
	b.TB.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Cancel(ctx); err != nil && ctx.Err() != nil {
		b.TB.Fatalf("closing chromium: %v", err)
	}
	b.cancel()
}

// Tab opens a new tab of the browser (the first call uses the first tab).
func (b *Browser) Tab() *Tab {
	b.TB.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	// The first Run opens the tab; it must not run under a timeout, whose
	// end would close the tab with it.
	if err := chromedp.Run(ctx); err != nil {
		b.TB.Fatalf("opening a tab: %v", err)
	}
	return &Tab{TB: b.TB, ctx: ctx, cancel: cancel}
}

// Tab is one browser tab.
type Tab struct {
	// TB is the test the tab reports to; a subtest sets its own.
	TB     testing.TB
	ctx    context.Context
	cancel context.CancelFunc
}

// Close closes the tab (the browser stays).
func (t *Tab) Close() {
	t.TB.Helper()
	if err := chromedp.Cancel(t.ctx); err != nil {
		t.TB.Fatalf("closing a tab: %v", err)
	}
}

// Run runs chromedp actions with a time limit.
func (t *Tab) Run(actions ...chromedp.Action) {
	t.TB.Helper()
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.TB.Fatalf("browser: %v", err)
	}
}

// Eval evaluates a JavaScript expression and returns its value.
func Eval[T any](t *Tab, js string) T {
	t.TB.Helper()
	var v T
	t.Run(chromedp.Evaluate(js, &v))
	return v
}

// Path returns the tab's location path.
func (t *Tab) Path() string { return Eval[string](t, "location.pathname") }

// WaitPath waits until the location path is p.
func (t *Tab) WaitPath(p string) {
	t.TB.Helper()
	t.WaitJS(fmt.Sprintf("location.pathname === %q", p), "path "+p)
}

// WaitJS waits until a JavaScript condition holds.
func (t *Tab) WaitJS(cond, what string) {
	t.TB.Helper()
	// Generous: CI machines have two cores and other work beside.
	deadline := time.Now().Add(30 * time.Second)
	// The condition is asked in a try: while the page is between two
	// documents, the old one's elements are gone and a new one's not yet
	// there, and an evaluation that fails then (even the protocol's own
	// "execution context was destroyed") means "not yet", not "failed".
	js := "(() => { try { return !!(" + cond + "); } catch (e) { return false; } })()"
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(t.ctx, 10*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(js, &ok))
		cancel()
		if err == nil && ok {
			return
		}
		if t.ctx.Err() != nil {
			t.TB.Fatalf("browser: waiting for %s: %v", what, t.ctx.Err())
		}
		if time.Now().After(deadline) {
			t.TB.Fatalf("waited 30s for %s; at %s, page text: %q", what, t.Path(), Eval[string](t, "document.body.innerText"))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// WaitText waits until the element matching sel is visible and its text
// contains text.
func (t *Tab) WaitText(sel, text string) {
	t.TB.Helper()
	t.WaitJS(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.offsetParent !== null && e.textContent.includes(%q); })()`, sel, text),
		fmt.Sprintf("%q in %s", text, sel))
}

// Hydrated waits until the live client has hydrated the page.
func (t *Tab) Hydrated() {
	t.TB.Helper()
	t.WaitJS(`document.documentElement.classList.contains("live-hydrated")`, "hydration")
}

// Open loads a URL and waits for hydration.
func (t *Tab) Open(u string) {
	t.TB.Helper()
	t.Run(chromedp.Navigate(u))
	t.Hydrated()
}

// Fill sets form fields by id: id, value, id, value...
func (t *Tab) Fill(fields ...string) {
	t.TB.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		js := fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, fields[i], fields[i+1])
		if !Eval[bool](t, js) {
			t.TB.Fatalf("no field %s", fields[i])
		}
	}
}

// Submit clicks the submit button of the form holding the field with id, as
// a person would.
func (t *Tab) Submit(id string) {
	t.TB.Helper()
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
	t.TB.Helper()
	dir := os.Getenv("LOCALAUTH_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join(moduleRoot(), "testoutput")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.TB.Fatal(err)
	}
	var png []byte
	// A tab in the background is hidden and draws no frames, and a
	// screenshot waits for one: bring the tab to the front first (a test
	// may have opened others since).
	t.Run(page.BringToFront(), chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.TB.Fatal(err)
	}
}

// FullPNG captures the whole page (not only the window) as a PNG, with the
// tab brought to the front first.
func (t *Tab) FullPNG() []byte {
	t.TB.Helper()
	var png []byte
	t.Run(page.BringToFront(), chromedp.FullScreenshot(&png, 100))
	return png
}

// Click clicks the element matching sel.
func (t *Tab) Click(sel string) {
	t.TB.Helper()
	t.Run(chromedp.Click(sel, chromedp.ByQuery))
}

// axePath is axe-core as "npm ci" installs it beside its package.json in
// testdata/axe (.ci/run does; LOCALAUTH_AXE names another copy).
func axePath() string {
	if p := os.Getenv("LOCALAUTH_AXE"); p != "" {
		return p
	}
	return filepath.Join(moduleRoot(), "internal", "testkit", "browser", "testdata", "axe", "node_modules", "axe-core", "axe.min.js")
}

// Accessible runs axe-core's WCAG 2.1 A and AA rules on the page as it is
// now (its current state: a form, a prompt, a message), and fails the test
// on any violation. what names the state in the failure.
func (t *Tab) Accessible(what string) {
	t.TB.Helper()
	src, err := os.ReadFile(axePath())
	if err != nil {
		t.TB.Fatalf("accessibility check of %s: axe-core is not installed (npm ci --prefix internal/testkit/browser/testdata/axe): %v", what, err)
	}
	var installed bool
	t.Run(chromedp.Evaluate(string(src)+";\ntrue", &installed))
	var out string
	t.Run(chromedp.Evaluate(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3)}))))`,
		&out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	var violations []struct {
		ID, Help string
		Nodes    []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.TB.Fatalf("accessibility check of %s: %v: %s", what, err, out)
	}
	if len(violations) > 0 {
		var b strings.Builder
		for _, v := range violations {
			b.WriteString("\n  " + v.ID + ": " + v.Help + "\n    " + strings.Join(v.Nodes, "\n    "))
		}
		t.TB.Fatalf("accessibility (WCAG 2.1 AA) of %s:%s", what, b.String())
	}
}
