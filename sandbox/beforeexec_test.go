package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBeforeExec: Spec.BeforeExec runs once, after the set-up (a mount
// the spec asks for is there), before the command (which has not written
// its file yet), and the command runs when it returns; on both engines
// (the raw one leaves such a sandbox to the Go init).
func TestBeforeExec(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			dir := t.TempDir()
			os.Chmod(dir, 0o777)
			s := baseSpec()
			if e.name == "raw" {
				// Also without nook's pid 1: the command is the
				// process that waited (mkosi-sandbox's shape).
				s.Namespaces.PID = false
				for i := range s.Mounts {
					if s.Mounts[i].Op == OpProc {
						s.Mounts[i] = Mount{Op: OpBind, Source: "/proc", Dest: "/proc"}
					}
				}
			}
			s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: dir, Dest: "/d"})
			s.Args = []string{"sh", "-c", "echo ran >/d/ran"}
			calls := 0
			s.BeforeExec = func() {
				calls++
				if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
					t.Errorf("the command ran before BeforeExec")
				}
			}
			st, err := Run(s)
			if err != nil || st.ExitCode() != 0 {
				t.Fatalf("run: %v, status %+v", err, st)
			}
			if calls != 1 {
				t.Errorf("BeforeExec called %d times, want 1", calls)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "ran")); string(b) != "ran\n" {
				t.Errorf("the command wrote %q", b)
			}
			// A set-up failure: no call.
			calls = 0
			s.Mounts = append(s.Mounts, Mount{Op: OpBind, Source: "/nonexistent-nook-test", Dest: "/x"})
			if _, err := Run(s); err == nil || calls != 0 {
				t.Errorf("a failed set-up: error %v, BeforeExec called %d times", err, calls)
			}
		})
	}
}
