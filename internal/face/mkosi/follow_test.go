package mkosi

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFollowFlags: an operation asks the engine to follow its destination
// where a symlink may be met at or above it in the new root (one --symlink
// made, one in a bound host tree, anything under a +SRC bind, an overlay,
// /dev or /proc), every operation after a bind that followed one too, and
// no other: those stay with the raw engine.
func TestFollowFlags(t *testing.T) {
	img := t.TempDir()
	if err := os.MkdirAll(filepath.Join(img, "var", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../run", filepath.Join(img, "var", "run")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []bool // per operation in execution order
	}{
		{[]string{"--dir", "/y"}, []bool{false}},
		{[]string{"--symlink", "/x", "/y", "--dir", "/y"}, []bool{false, true}},
		{[]string{"--symlink", "/x", "/y", "--dir", "/y/z"}, []bool{false, true}},
		{[]string{"--symlink", "/x", "/y", "--dir", "/z"}, []bool{false, false}},
		{[]string{"--bind", img, "/", "--dir", "/var/run"}, []bool{false, true}},
		{[]string{"--bind", img, "/", "--dir", "/var/run/x"}, []bool{false, true}},
		{[]string{"--bind", img, "/", "--dir", "/var/lib/x"}, []bool{false, false}},
		{[]string{"--bind", img, "/", "--tmpfs", "/var", "--dir", "/var/run"}, []bool{false, false, false}},
		{[]string{"--bind", img, "/i", "--bind", "+/i", "/j", "--bind", "+/i/var", "/j/var/x"}, []bool{false, false, true}},
		{[]string{"--dev", "/dev", "--dir", "/dev/core"}, []bool{false, true}},
		{[]string{"--dev", "/dev", "--dir", "/devx"}, []bool{false, false}},
		{[]string{"--overlay-lowerdir", img, "--overlay", "/o", "--dir", "/o/a"}, []bool{false, true}},
		// A bind that follows lands where only the built root tells:
		// every later operation follows.
		{[]string{"--symlink", "/x", "/y", "--bind", img, "/y", "--dir", "/z"}, []bool{false, true, true}},
		{[]string{"--symlink", "/x", "/y", "--tmpfs", "/y", "--dir", "/z"}, []bool{false, true, false}},
		// Found by review: a --dir makes nothing where a directory is,
		// so what is below it comes from before; an operation that
		// followed a link leaves the link; a --bind-try of a missing
		// source is skipped; a --symlink under a link lands elsewhere.
		{[]string{"--bind", img, "/", "--dir", "/var", "--dir", "/var/run/x"}, []bool{false, false, true}},
		{[]string{"--bind", img, "/", "--dir", "/var/run", "--dir", "/var/run/x"}, []bool{false, true, true}},
		{[]string{"--bind", img + "/var", "/var", "--bind-try", "/nonexistent", "/var", "--dir", "/var/run/x"}, []bool{false, false, true}},
		{[]string{"--symlink", "/z", "/a", "--symlink", "/made", "/a/l", "--dir", "/q"}, []bool{false, false, true}},
	} {
		o, err := parse(append(c.args, "true"), "/")
		if err != nil {
			t.Fatal(err)
		}
		ops := order(o.ops)
		got := followFlags(ops)
		if len(got) != len(c.want) {
			t.Errorf("%q: %d operations, want %d", c.args, len(got), len(c.want))
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: operation %d (%v %s) follows: %v, want %v", c.args, i, ops[i].kind, ops[i].dst, got[i], c.want[i])
			}
		}
	}
}
