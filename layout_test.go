package localauth_test

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxFileLines is where a Go file is split along its seams: past it a
// reader no longer holds the file in mind.
const maxFileLines = 600

// generated is the header of generated files (go.dev/s/generatedcode),
// which are exempt.
var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// The repository's layout keeps its shape: no hand-written Go file past
// maxFileLines, and the guessing machinery (package throttle) free of the
// policy that uses it.
func TestLayout(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := bytes.Count(src, []byte("\n")); n > maxFileLines && !generated.Match(src) {
			t.Errorf("%s has %d lines: split it along its seams (at most %d)", path, n, maxFileLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("throttle/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in package throttle (%v)", err)
	}
	for _, f := range files {
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, "github.com/localauth/") {
				t.Errorf("%s imports %s: package throttle holds no policy and imports nothing of localauth", f, p)
			}
		}
	}
}
