package session

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxHeldDirs bounds the directories removeAll keeps open at once.
const maxHeldDirs = 64

// removeAll deletes path and everything below it, as os.RemoveAll does,
// but with at most maxHeldDirs directories open at a time. os.RemoveAll
// holds one per level, so a tree deeper than RLIMIT_NOFILE (a command in a
// session makes one in seconds) could never be removed, and its error
// message spelled the whole path out. Here a directory found below
// maxHeldDirs levels is moved up to path's top level (rename within one
// filesystem) and removed from there. Symlinks are removed, never
// followed; a directory is never entered by name after it was opened.
func removeAll(path string) error {
	err := unix.Unlinkat(unix.AT_FDCWD, path, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR {
		var st unix.Stat_t
		if serr := unix.Lstat(path, &st); serr != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("remove %s: %w", path, err)
		}
	}
	top, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s to remove it: %w", path, err)
	}
	type level struct {
		fd      int
		name    string // in the level above
		pending []string
		read    bool
	}
	stack := []level{{fd: top}}
	defer func() {
		for _, l := range stack {
			unix.Close(l.fd)
		}
	}()
	fail := func(what, name string, err error) error {
		return fmt.Errorf("remove %s: %s %q %d levels down: %w", path, what, name, len(stack), err)
	}
	moved := 0
	for len(stack) > 0 {
		l := &stack[len(stack)-1]
		if !l.read {
			if l.pending, err = dirNames(l.fd); err != nil {
				return fail("read the directory", l.name, err)
			}
			l.read = true
		}
		if len(l.pending) == 0 {
			name, fd := l.name, l.fd
			stack = stack[:len(stack)-1]
			unix.Close(fd)
			if len(stack) == 0 {
				break
			}
			if err := unix.Unlinkat(stack[len(stack)-1].fd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
				return fail("remove the directory", name, err)
			}
			continue
		}
		name := l.pending[len(l.pending)-1]
		l.pending = l.pending[:len(l.pending)-1]
		err := unix.Unlinkat(l.fd, name, 0)
		if err == nil || err == unix.ENOENT {
			continue
		}
		if err != unix.EISDIR {
			return fail("remove", name, err)
		}
		err = unix.Unlinkat(l.fd, name, unix.AT_REMOVEDIR)
		if err == nil || err == unix.ENOENT {
			continue
		}
		if err != unix.ENOTEMPTY && err != unix.EEXIST {
			return fail("remove the directory", name, err)
		}
		if len(stack) < maxHeldDirs {
			fd, err := unix.Openat(l.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return fail("open the directory", name, err)
			}
			stack = append(stack, level{fd: fd, name: name})
			continue
		}
		// Too deep to hold another level open: move the directory up to
		// the top, whose pending list takes it (a name nothing uses).
		for {
			tmp := ".nook-deep-" + strconv.Itoa(moved)
			moved++
			err := unix.Renameat2(l.fd, name, stack[0].fd, tmp, unix.RENAME_NOREPLACE)
			if err == unix.EINVAL {
				// No RENAME_NOREPLACE on this filesystem: a plain rename
				// replaces only an empty directory, which was to go too.
				err = unix.Renameat(l.fd, name, stack[0].fd, tmp)
			}
			if err == nil {
				stack[0].pending = append(stack[0].pending, tmp)
				break
			}
			if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.ENOTDIR) {
				return fail("move up the directory", name, err)
			}
		}
	}
	stack = nil
	if err := unix.Rmdir(path); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// dirNames lists the directory open at fd, without . and ..
func dirNames(fd int) ([]string, error) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return nil, err
	}
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
