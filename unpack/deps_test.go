package unpack

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// nook-unpack links neither the session store nor the sandbox engine: the
// protocol it speaks with nook is package proto, a leaf. Checked on the
// source, by following the imports of every non-test file from
// cmd/nook-unpack through the module's own packages. (It linked both
// until 2026-12-03, through session's protocol types and sandbox.Phase.)
func TestUnpackHelperLinksNoEngine(t *testing.T) {
	_, here, _, ok := runtime.Caller(0)
	top := filepath.Dir(filepath.Dir(here))
	if mod, err := os.ReadFile(filepath.Join(top, "go.mod")); !ok || err != nil || !strings.Contains(string(mod), "module "+module+"\n") {
		t.Skipf("SKIP: nook's source tree is not at %s (a test binary moved away from it): %v", top, err)
	}
	seen := map[string]bool{}
	var walk func(pkg string, from []string)
	walk = func(pkg string, from []string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		for _, banned := range []string{module + "/session", module + "/sandbox"} {
			if pkg == banned {
				t.Errorf("nook-unpack links %s (through %s)", pkg, strings.Join(from, " -> "))
			}
		}
		dir := filepath.Join(top, strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/"))
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("read %s: %v", dir, err)
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatalf("parse %s: %v", e.Name(), err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if p == module || strings.HasPrefix(p, module+"/") {
					walk(p, append(append([]string{}, from...), p))
				}
			}
		}
	}
	walk(module+"/cmd/nook-unpack", []string{"cmd/nook-unpack"})
	if !seen[module+"/unpack/proto"] {
		t.Errorf("the walk did not reach unpack/proto: %v", seen)
	}
}

const module = "github.com/nook-project/nook"
