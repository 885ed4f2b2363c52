package sandbox

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Lock files (Spec.LockFiles), held by the init while the command runs.

// heldLocks keeps the lock files' handles (and so their locks) for the
// init's lifetime; a collected *os.File would close its fd.
var heldLocks []*os.File

// takeLocks opens each path (inside the new root: the init has switched
// root) and takes a read lock on the whole file. The fds are close-on-exec:
// the init holds them while it waits for the command, which never sees them.
func takeLocks(paths []string) error {
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open lock file: %w", err)
		}
		lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart}
		if err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk); err != nil {
			f.Close()
			return &os.PathError{Op: "lock", Path: p, Err: err}
		}
		heldLocks = append(heldLocks, f)
	}
	return nil
}
