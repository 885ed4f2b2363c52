package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSpliceKeepsWritableMounts: --ro-bind / / --tmpfs /tmp --bind DIR
// /home --dir /nook-splice-new: making /nook-splice-new splices the
// read-only / (a tmpfs copy whose entries are binds of the originals),
// and the entries that are mounts of their own made read-write before
// (the tmpfs on /tmp, the bind on /home) stay read-write, as asked; the
// other entries stay read-only. The splice once made every entry's bind
// read-only, mounts on it included. Both engines (the raw engine leaves
// splices to the Go init).
func TestSpliceKeepsWritableMounts(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			dir := t.TempDir()
			os.Chmod(dir, 0o777)
			s := baseSpec()
			s.SortMounts = false
			s.Mounts = []Mount{
				{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
				{Op: OpTmpfs, Dest: "/tmp"},
				{Op: OpBind, Source: dir, Dest: "/home"},
				{Op: OpDir, Dest: "/nook-splice-new"},
				{Op: OpProc, Dest: "/proc"},
			}
			r, st := runReport(t, s, reportOpts{do: []string{"write:/tmp/x", "write:/home/x", "mkdir:/usr/nook-splice-x"},
				stat: []string{"/nook-splice-new"}})
			if st.ExitCode() != 0 {
				t.Fatalf("status %+v", st)
			}
			if f := r.Files["/nook-splice-new"]; f == nil || f.Type != "dir" {
				t.Fatalf("/nook-splice-new is %+v: no splice happened, the test shows nothing", f)
			}
			for _, a := range []string{"write:/tmp/x", "write:/home/x"} {
				if r.Do[a] != "ok" {
					t.Errorf("%s: %s, want ok (a read-write mount made before the splice)", a, r.Do[a])
				}
			}
			if r.Do["mkdir:/usr/nook-splice-x"] == "ok" {
				t.Errorf("created a directory in the host's /usr through the spliced read-only /")
				os.Remove("/usr/nook-splice-x")
			}
			if _, err := os.Stat(filepath.Join(dir, "x")); err != nil {
				t.Errorf("the write to the read-write bind did not reach its directory: %v", err)
			}
		})
	}
}
