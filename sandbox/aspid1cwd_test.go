package sandbox

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAsPID1GuardCwd: with AsPID1, nook's pid 1 (the guard above the
// command's pid namespace) works in the sandbox's root, not in the
// caller's directory on the host tree it left: that would keep the
// caller's file system busy and hold a handle on the host tree for the
// whole run. Failed on the raw engine before its pid 1 changed directory
// (its cwd stayed the caller's). Read from outside through
// /proc/PID/cwd and /proc/PID/root: same directory.
func TestAsPID1GuardCwd(t *testing.T) {
	for _, e := range bothEngines {
		t.Run(e.name, func(t *testing.T) {
			t.Setenv("NOOK_ENGINE", e.env)
			s := baseSpec()
			s.AsPID1 = true
			s.Identity = Identity{UserNS: UserNSAlways}
			s.Args = []string{"/bin/sleep", "30"}
			p, err := Start(s)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				unix.Kill(p.Pid, unix.SIGKILL)
				p.Wait()
			}()
			var cwd, root unix.Stat_t
			var last error
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				last = unix.Stat(fmt.Sprintf("/proc/%d/cwd", p.Pid), &cwd)
				if last == nil {
					last = unix.Stat(fmt.Sprintf("/proc/%d/root", p.Pid), &root)
				}
				if errors.Is(last, unix.EACCES) && os.Getuid() != 0 {
					t.Skip("pid 1 is not dumpable: only root reads its /proc/PID/cwd")
				}
				if last == nil && cwd.Dev == root.Dev && cwd.Ino == root.Ino {
					return
				}
			}
			if last != nil {
				t.Fatalf("stat pid 1's cwd and root: %v", last)
			}
			t.Errorf("pid 1's cwd is %d:%d, its root %d:%d: it stayed outside the sandbox's root", cwd.Dev, cwd.Ino, root.Dev, root.Ino)
		})
	}
}
