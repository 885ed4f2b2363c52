package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// Where a bind takes its source from: a caller's fd (Mount.FromFD), the
// new root itself (Mount.SourceInRoot), or the host's /proc when a new
// procfs is refused (Mount.FallbackBind).

// bindFD binds what the caller's fd src (an open directory or O_PATH
// handle, as received by the init) refers to onto m.Dest.
//
// The fd's mount belongs to the caller's mount namespace, which open_tree
// refuses to clone from (EINVAL). So the fd's path is looked up in the
// host clone instead, and the result must be the very same inode as the
// fd: a path that was renamed or replaced since the caller opened it is
// refused rather than followed.
func (t *tree) bindFD(m Mount, src *os.File) error {
	if src == nil {
		return fmt.Errorf("file descriptor %d to bind was not passed", m.FD)
	}
	p, err := os.Readlink(fdPath(src))
	if err != nil {
		return fmt.Errorf("find the path of fd %d: %w", m.FD, err)
	}
	h, err := t.openHost(p)
	if err != nil {
		return err
	}
	defer h.Close()
	var want, got unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &want); err != nil {
		return &os.PathError{Op: "fstat", Path: fdPath(src), Err: err}
	}
	if err := unix.Fstat(int(h.Fd()), &got); err != nil {
		return &os.PathError{Op: "fstat", Path: p, Err: err}
	}
	if want.Dev != got.Dev || want.Ino != got.Ino {
		return fmt.Errorf("fd %d (%s) is no longer reachable by its path", m.FD, p)
	}
	return t.bindFrom(m, h)
}

// procOrBind mounts a new procfs, or with m.FallbackBind binds the host's
// /proc where the kernel refuses one (EPERM: no pid namespace of our own).
func (t *tree) procOrBind(m Mount) error {
	err := t.proc(m.Dest)
	if err != nil && m.FallbackBind && errors.Is(err, unix.EPERM) {
		return t.bind(Mount{Op: OpBind, Source: "/proc", Dest: m.Dest})
	}
	return err
}

// openSource opens a bind's source: a host path, or with m.SourceInRoot a
// path inside the new root; with m.NoFollow a symlink there is opened as
// itself.
func (t *tree) openSource(m Mount) (*os.File, error) {
	if m.NoFollow {
		return t.openSourceNoFollow(m)
	}
	if m.SourceInRoot {
		return t.openIn(m.Source)
	}
	return t.openHost(m.Source)
}

// openSourceNoFollow resolves the directory of m.Source as openSource
// does and opens its last component without following a symlink there
// (O_PATH|O_NOFOLLOW: a handle on the link itself, which open_tree clones
// as it is, dangling or not).
func (t *tree) openSourceNoFollow(m Mount) (*os.File, error) {
	src := Clean(m.Source)
	dm := m
	dm.NoFollow, dm.Source = false, path.Dir(src)
	if src == "/" {
		return t.openSource(dm)
	}
	dir, err := t.openSource(dm)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), path.Base(src), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("can't find source path %s: %w", m.Source, err)
	}
	if err := checkNoFollowSource(fd, m.Source); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), src), nil
}
