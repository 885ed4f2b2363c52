package session

import (
	"os"
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

// FuzzKeyFile: schroot's key files (and nook's reading of chroot
// definitions from them) never panic; what parses has sections with
// names and keys without surrounding space.
func FuzzKeyFile(f *testing.F) {
	f.Add("[bookworm]\ntype=file\nfile=/srv/b.tar\naliases=a,b\n")
	f.Add("# comment\n\n[x]\ntype=directory\ndirectory=/srv/x\nunion-type=overlay\n[y]\ntype=plain\nlocation=/y\n")
	f.Add("key=outside\n[bad\n")
	f.Fuzz(func(t *testing.T, text string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "conf")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		secs, err := parseKeyFile(p)
		if err != nil {
			return
		}
		for _, s := range secs {
			for k, v := range s.keys {
				if k != strings.TrimSpace(k) || v != strings.TrimSpace(v) {
					t.Fatalf("key %q = %q keeps spaces", k, v)
				}
			}
			if c, err := schrootChroot(p, s); err == nil {
				if ValidName(c.Name) != nil || !filepath.IsAbs(c.Path) {
					t.Fatalf("definition %+v accepted", c)
				}
			}
		}
		readSchroot(p, filepath.Join(dir, "none"))
	})
}
