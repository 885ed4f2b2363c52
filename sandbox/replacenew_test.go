package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSymlinkReplaceNothingThere: where nothing is at the destination
// yet (a writable directory: nook's tmpfs, and a host directory bound
// read-write), Replace makes the symlink as --symlink does and mounts
// nothing over it, so the command may remove or replace it later as any
// other file (mkosi's /etc/resolv.conf, rewritten by the command's network
// setup). The raw engine once went on into its cover-it steps after a
// successful symlinkat and mounted a second, staged link over the new one
// (rm: Device or resource busy). Both engines.
func TestSymlinkReplaceNothingThere(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			dir := t.TempDir()
			s := baseSpec()
			s.Mounts = append(s.Mounts,
				Mount{Op: OpBind, Source: dir, Dest: "/tmp/bound"},
				Mount{Op: OpSymlink, Source: "/target/one", Dest: "/tmp/new", Replace: true},
				Mount{Op: OpSymlink, Source: "/target/two", Dest: "/tmp/bound/new", Replace: true})
			var r *report
			var st Status
			rawDoesIt(t, func() {
				r, st = runReport(t, s, reportOpts{stat: []string{"/tmp/new", "/tmp/bound/new"}})
			})
			if st.ExitCode() != 0 {
				t.Fatalf("status %+v", st)
			}
			for dest, target := range map[string]string{"/tmp/new": "/target/one", "/tmp/bound/new": "/target/two"} {
				if f := r.Files[dest]; f == nil || f.Type != "symlink" || f.Target != target {
					t.Errorf("%s is %+v, want a symlink to %s", dest, f, target)
				}
				if m := r.mount(dest); m != nil {
					t.Errorf("a mount over %s, where nothing was in the way: %+v", dest, m)
				}
			}
			// The host directory was given read-write: the link is made
			// there, as --symlink makes it.
			if l, err := os.Readlink(filepath.Join(dir, "new")); err != nil || l != "/target/two" {
				t.Errorf("the bound directory's new link: %q, %v", l, err)
			}
		})
	}
}
