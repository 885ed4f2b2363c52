package mkosi

import (
	"os"
	"path/filepath"
	"testing"
)

// TestChaseDst: --dir, --write and --tmpfs on a symlink act on its target
// in the new root, as sandbox.py's chase does: a link made by --symlink,
// or one in a bound host tree (an image's /var/run -> ../run), relative
// or not; what cannot be told before the root is built is left to the
// engine.
func TestChaseDst(t *testing.T) {
	img := t.TempDir()
	if err := os.MkdirAll(filepath.Join(img, "var"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../run", filepath.Join(img, "var", "run")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string // "" for no rewrite
	}{
		{[]string{"--symlink", "/x", "/y", "--dir", "/y"}, "/x"},
		{[]string{"--symlink", "a/b", "/d/y", "--write", "hi", "/d/y"}, "/d/a/b"},
		{[]string{"--symlink", "/y", "/z", "--symlink", "/x", "/y", "--tmpfs", "/z"}, "/x"},
		{[]string{"--bind", img, "/", "--dir", "/var/run"}, "/run"},
		{[]string{"--dir", "/y"}, ""},
		{[]string{"--bind", "+/a", "/", "--dir", "/var/run"}, ""},
		{[]string{"--symlink", "/y", "/y", "--dir", "/y"}, ""},
	} {
		o, err := parse(append(c.args, "true"), "/")
		if err != nil {
			t.Fatal(err)
		}
		ops := order(o.ops)
		last := len(ops) - 1
		for i, op := range ops {
			if op.kind == opDir || op.kind == opWrite || op.kind == opTmpfs {
				last = i
			}
		}
		got, ok := chaseDst(ops[:last], ops[last].dst)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("%q: chased to %q (%v), want %q", c.args, got, ok, c.want)
		}
	}
}
