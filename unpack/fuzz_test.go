package unpack

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCleanName: a tar entry name becomes a clean relative path that
// stays inside the destination, or an error. Never a panic, never "..".
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"./etc/passwd", "/abs/name", "a/../../b", "..", "./", "a//b/./c", "a/..b", "..a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		rel, err := cleanName(name)
		if err != nil {
			return
		}
		if rel != "." && (rel != path.Clean(rel) || path.IsAbs(rel)) {
			t.Fatalf("cleanName(%q) = %q: not clean and relative", name, rel)
		}
		for _, c := range strings.Split(rel, "/") {
			if c == ".." {
				t.Fatalf("cleanName(%q) = %q goes up", name, rel)
			}
		}
		if !strings.HasPrefix(filepath.Join("/dest", rel)+"/", "/dest/") {
			t.Fatalf("cleanName(%q) = %q leaves the destination", name, rel)
		}
	})
}
