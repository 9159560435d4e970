package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// axePath is axe-core as "npm ci" installs it beside its package.json in
// testdata/axe (.ci/run does; LOCALAUTH_AXE names another copy).
func axePath() string {
	if p := os.Getenv("LOCALAUTH_AXE"); p != "" {
		return p
	}
	return filepath.Join("testdata", "axe", "node_modules", "axe-core", "axe.min.js")
}

// Accessible runs axe-core's WCAG 2.1 A and AA rules on the page as it is
// now (its current state: a form, a prompt, a message), and fails the test
// on any violation. what names the state in the failure.
func (t *Tab) Accessible(what string) {
	t.tb.Helper()
	src, err := os.ReadFile(axePath())
	if err != nil {
		t.tb.Fatalf("accessibility check of %s: axe-core is not installed (npm ci --prefix cmd/localauth/testdata/axe): %v", what, err)
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
		t.tb.Fatalf("accessibility check of %s: %v: %s", what, err, out)
	}
	if len(violations) > 0 {
		var b strings.Builder
		for _, v := range violations {
			b.WriteString("\n  " + v.ID + ": " + v.Help + "\n    " + strings.Join(v.Nodes, "\n    "))
		}
		t.tb.Fatalf("accessibility (WCAG 2.1 AA) of %s:%s", what, b.String())
	}
}
