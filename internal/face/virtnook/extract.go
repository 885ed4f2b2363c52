package virtnook

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// errRefused is why a member of a copyup's archive was not unpacked.
var errRefused = errors.New("refused")

// extractUp unpacks the tar stream a testbed sent for copyup into the
// host's directory dir. The stream is the testbed's to choose (root
// inside may replace its tar), and the server may be real root, so it is
// unpacked here rather than by the host's tar, which as root makes device
// nodes and keeps setuid bits: a 0666 disk or a setuid-root program of the
// testbed's in the host's output. Every name is resolved inside dir
// (openat2 RESOLVE_IN_ROOT: a symlink or ".." cannot lead out); the last
// component is never followed; only directories, files, symlinks and hard
// links to members are made; modes are kept exactly but for setuid,
// setgid and sticky. A member it cannot or will not make is said on
// errOut and the rest still unpacked; the first such is returned
// (copy-failed, as the host's tar failing was).
func extractUp(dir string, r io.Reader, errOut io.Writer) error {
	root, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("copyup into %s: %w", dir, err)
	}
	defer root.Close()
	var first error
	fail := func(err error) {
		fmt.Fprintf(errOut, "%s: copyup into %s: %v\n", Name, dir, err)
		if first == nil {
			first = err
		}
	}
	type dirMode struct {
		rel  string
		mode uint32
	}
	var dirs []dirMode
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(fmt.Errorf("read the testbed's archive: %w", err))
			break
		}
		mode := uint32(h.Mode) & 0o777
		rel, ok := memberName(h.Name)
		if !ok {
			fail(fmt.Errorf("member %q: %w: its name goes up with \"..\"", h.Name, errRefused))
			continue
		}
		if h.Typeflag == tar.TypeDir {
			if rel != "." {
				d, err := pathrs.MkdirAllHandle(root, rel, 0o700)
				if err != nil {
					fail(fmt.Errorf("member %q: %w", h.Name, err))
					continue
				}
				d.Close()
			}
			dirs = append(dirs, dirMode{rel, mode})
			continue
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if err := member(root, h, rel, mode, tr); err != nil {
			fail(fmt.Errorf("member %q: %w", h.Name, err))
		}
	}
	// Directories' own modes last, deepest first: a 0555 one still took
	// its files.
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		fd, err := unix.Openat2(int(root.Fd()), d.rel, &how)
		if err == nil {
			err = unix.Fchmod(fd, d.mode)
			unix.Close(fd)
		}
		if err != nil {
			fail(fmt.Errorf("mode of %q: %w", d.rel, err))
		}
	}
	return first
}

// member makes one member that is not a directory at rel.
func member(root *os.File, h *tar.Header, rel string, mode uint32, r io.Reader) error {
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink:
	default:
		return fmt.Errorf("%w: type %q is not made on the host (only directories, files and links)", errRefused, h.Typeflag)
	}
	if rel == "." {
		return fmt.Errorf("%w: the top is not a directory", errRefused)
	}
	parent, err := pathrs.MkdirAllHandle(root, path.Dir(rel), 0o700)
	if err != nil {
		return err
	}
	defer parent.Close()
	pfd, name := int(parent.Fd()), path.Base(rel)
	// What is there goes (a directory stays, and the member fails), so
	// nothing is written through an old symlink or hard link.
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(pfd, name, 0); err != nil {
			return &os.PathError{Op: "replace", Path: rel, Err: err}
		}
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		if err := unix.Symlinkat(h.Linkname, pfd, name); err != nil {
			return &os.PathError{Op: "symlink", Path: rel, Err: err}
		}
		return nil
	case tar.TypeLink:
		target, ok := memberName(h.Linkname)
		if !ok || target == "." {
			return fmt.Errorf("%w: a hard link to %q, not to a member", errRefused, h.Linkname)
		}
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		tfd, err := unix.Openat2(int(root.Fd()), path.Dir(target), &how)
		if err != nil {
			return &os.PathError{Op: "open hard link target's directory", Path: path.Dir(target), Err: err}
		}
		defer unix.Close(tfd)
		// Flags 0: a symlink as target is linked itself, not followed.
		if err := unix.Linkat(tfd, path.Base(target), pfd, name, 0); err != nil {
			return &os.PathError{Op: "hard link to " + target, Path: rel, Err: err}
		}
		return nil
	}
	fd, err := unix.Openat(pfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: rel, Err: err}
	}
	ts := unix.NsecToTimespec(h.ModTime.UnixNano())
	unix.UtimesNanoAt(pfd, name, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	return f.Close()
}

// memberName is a member's name relative to the directory ("." for the
// directory itself), a leading "/" dropped as GNU tar does; false when a
// component is "..".
func memberName(n string) (string, bool) {
	for _, c := range strings.Split(n, "/") {
		if c == ".." {
			return "", false
		}
	}
	rel := path.Clean("/" + n)[1:]
	if rel == "" {
		rel = "."
	}
	return rel, true
}
