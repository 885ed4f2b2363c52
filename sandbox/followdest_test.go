package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFollowDest: with FollowDest an operation acts where its destination's
// symlinks lead in the new root as built so far, the last one's too, a
// dangling link's target made: links nook planted, links in a tree bound
// from inside the new root, links in an overlay's layer; a link whose
// target climbs out stays in the new root; a bind of a file keeps
// DestNoFollow's rule while a bind of a directory follows. Both engines
// (the raw one hands it to the Go init). Failed before FollowDest: the
// engine made nothing through a dangling link ("no such file or
// directory", 125).
func TestFollowDest(t *testing.T) {
	host := t.TempDir()
	for _, d := range []string{"tree", "low", "bound"} {
		if err := os.Mkdir(filepath.Join(host, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"tree/l": "../treemade", "low/l": "../ovmade/sub", "tree/esc": "/../../../../../../fd-escaped"} {
		if err := os.Symlink(target, filepath.Join(host, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "file"), []byte("bound file"), 0o644); err != nil {
		t.Fatal(err)
	}
	escaped := "/fd-escaped"
	if _, err := os.Lstat(escaped); err == nil {
		t.Fatalf("%s exists on the host before the test", escaped)
	}
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			s := baseSpec()
			s.SortMounts = false
			s.Mounts = append(s.Mounts,
				// A link nook made, to a place two levels down.
				Mount{Op: OpSymlink, Source: "/tmp/x/sub", Dest: "/tmp/y"},
				Mount{Op: OpDir, Dest: "/tmp/y", FollowDest: true},
				// A host tree bound, then bound again from inside the new
				// root (mkosi-sandbox's +SRC): a relative link in it.
				Mount{Op: OpBind, Source: filepath.Join(host, "tree"), Dest: "/tmp/h"},
				Mount{Op: OpBind, Source: "/tmp/h", SourceInRoot: true, Dest: "/tmp/h2/in"},
				Mount{Op: OpWrite, Dest: "/tmp/h2/in/l", Data: []byte("through +SRC"), FollowDest: true},
				// An absolute link that climbs: it stays in the new root.
				Mount{Op: OpTmpfs, Dest: "/tmp/h2/in/esc", FollowDest: true},
				// A link in an overlay's lower layer.
				Mount{Op: OpOverlay, Lower: []string{filepath.Join(host, "low")}, TmpfsUpper: true, Dest: "/tmp/o"},
				Mount{Op: OpDir, Dest: "/tmp/o/l", FollowDest: true},
				// A file bound onto a link mounts on the link itself; a
				// directory bound onto one follows it.
				Mount{Op: OpSymlink, Source: "/tmp/ft", Dest: "/tmp/fl"},
				Mount{Op: OpBind, Source: filepath.Join(host, "file"), Dest: "/tmp/fl", DestNoFollow: true, FollowDest: true},
				Mount{Op: OpSymlink, Source: "dt", Dest: "/tmp/dl"},
				Mount{Op: OpBind, Source: filepath.Join(host, "bound"), Dest: "/tmp/dl", DestNoFollow: true, FollowDest: true},
			)
			r, st := runReport(t, s, reportOpts{stat: []string{"/tmp/x/sub", "/tmp/treemade", "/tmp/h2/treemade",
				"/fd-escaped", "/tmp/ovmade/sub", "/tmp/o/ovmade/sub", "/tmp/fl", "/tmp/ft", "/tmp/dt"}})
			if st.ExitCode() != 0 {
				t.Fatalf("status %+v", st)
			}
			want := map[string]string{
				"/tmp/x/sub": "dir",
				// The link is relative to where it is seen: /tmp/h2/in.
				"/tmp/h2/treemade": "file",
				"/fd-escaped":      "dir",
				"/tmp/ovmade/sub":  "dir",
				"/tmp/fl":          "file",
				"/tmp/dt":          "dir",
			}
			for p, typ := range want {
				if f := r.Files[p]; f == nil || f.Type != typ {
					t.Errorf("%s is %+v, want a %s", p, f, typ)
				}
			}
			for _, p := range []string{"/tmp/treemade", "/tmp/o/ovmade/sub", "/tmp/ft"} {
				if f := r.Files[p]; f != nil {
					t.Errorf("%s is %+v, want nothing", p, f)
				}
			}
			if f := r.Files["/tmp/h2/treemade"]; f != nil && f.Content != "through +SRC" {
				t.Errorf("/tmp/h2/treemade holds %q", f.Content)
			}
			if f := r.Files["/tmp/fl"]; f != nil && f.Content != "bound file" {
				t.Errorf("/tmp/fl holds %q", f.Content)
			}
			if f := r.Files["/fd-escaped"]; f != nil && f.Mode != 0o755 {
				t.Errorf("the tmpfs at /fd-escaped has mode %o, want 755", f.Mode)
			}
			if _, err := os.Lstat(escaped); err == nil {
				t.Errorf("%s was made on the host", escaped)
			}
			for _, name := range []string{"treemade", "ovmade"} {
				if _, err := os.Lstat(filepath.Join(host, name)); err == nil {
					t.Errorf("%s was made in the host tree", name)
				}
			}
		})
	}
}

// TestFollowDestLoop: a destination whose links go round ends the set-up
// with ELOOP naming the operation, on both engines.
func TestFollowDestLoop(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			s := baseSpec()
			s.SortMounts = false
			s.Mounts = append(s.Mounts,
				Mount{Op: OpSymlink, Source: "/tmp/b", Dest: "/tmp/a"},
				Mount{Op: OpSymlink, Source: "a", Dest: "/tmp/b"},
				Mount{Op: OpDir, Dest: "/tmp/a/c", FollowDest: true})
			_, _, err := tryReport(t, s, reportOpts{})
			if !errors.Is(err, unix.ELOOP) || !strings.Contains(err.Error(), "/tmp/a/c") {
				t.Fatalf("got %v, want ELOOP for /tmp/a/c", err)
			}
		})
	}
}

// TestFollowDestValidate: FollowDest is refused on a symlink, which
// mkosi-sandbox makes where it is told.
func TestFollowDestValidate(t *testing.T) {
	if err := (&Mount{Op: OpSymlink, Source: "/a", Dest: "/x", FollowDest: true}).Validate(); err == nil {
		t.Error("FollowDest on a symlink was accepted")
	}
	if err := (&Mount{Op: OpDir, Dest: "/x", FollowDest: true}).Validate(); err != nil {
		t.Error(err)
	}
}
