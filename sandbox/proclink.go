package sandbox

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrProcLinkSource refuses a bind without following its source
// (Mount.NoFollow) where that source is a symbolic link in procfs: a magic
// link (/proc/PID/fd/N, /proc/PID/root, /proc/PID/exe, ns/…) or
// /proc/self. Bound as itself it names, to whoever follows it, that
// process's current file (or the reader's own process), not the one the
// caller named; its text is only a description. A bind that follows it
// (Mount without NoFollow) binds the file it leads to.
var ErrProcLinkSource = errors.New("a symbolic link in procfs names a process's file rather than holding a path: it cannot be bound as a link (name its target instead)")

// checkNoFollowSource refuses fd, an O_PATH|O_NOFOLLOW handle on the
// source src of a nofollow bind, when it is a symlink in procfs.
func checkNoFollowSource(fd int, src string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat bind source", Path: src, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return nil
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return &os.PathError{Op: "statfs bind source", Path: src, Err: err}
	}
	if fs.Type == unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("source %s (not followed): %w", src, ErrProcLinkSource)
	}
	return nil
}

// procLinkSource reports whether host path src, not followed, is a
// symlink in procfs (the raw engine's parent looks before it compiles).
func procLinkSource(src string) bool {
	fd, err := unix.Open(src, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false // the engine reports a missing source itself
	}
	defer unix.Close(fd)
	return errors.Is(checkNoFollowSource(fd, src), ErrProcLinkSource)
}
