package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// stagingDir is where setup works. A tmpfs is mounted over it (in the
// sandbox's own mount namespace only); the host's files under it stay
// reachable through the host clone, which is taken before the staging tmpfs
// covers the directory.
const stagingDir = "/tmp"

// newTree prepares staging: a private mount namespace, a clone of the host's
// tree, and the empty tmpfs that becomes the new root.
func newTree(inUserNS bool) (*tree, error) {
	// Nothing done here may propagate back to the host: as real root without
	// a user namespace the host's mounts are usually shared.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		// EINVAL: "/" is not a mount point (a chroot into a plain
		// directory). Inside a user namespace that is safe to go on with:
		// every mount shared with a more privileged namespace was reduced
		// to a slave when the user namespace's first mount namespace was
		// made. In the initial user namespace nothing shields the host.
		if !errors.Is(err, unix.EINVAL) || initialUserNS() {
			return nil, &os.PathError{Op: "make / a slave mount", Path: "/", Err: err}
		}
	}
	hostClone, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree (clone the host tree)", Path: "/", Err: err}
	}
	defer unix.Close(hostClone)
	st, err := newTmpfs(0o755, 0, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	err = unix.MoveMount(st, "", unix.AT_FDCWD, stagingDir, unix.MOVE_MOUNT_F_EMPTY_PATH)
	unix.Close(st)
	if err != nil {
		return nil, &os.PathError{Op: "mount staging tmpfs", Path: stagingDir, Err: err}
	}
	hostDir, rootDir := path.Join(stagingDir, "host"), path.Join(stagingDir, "root")
	for _, d := range []string{hostDir, rootDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("create staging directory: %w", err)
		}
	}
	if err := unix.MoveMount(hostClone, "", unix.AT_FDCWD, hostDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return nil, &os.PathError{Op: "attach the host tree", Path: hostDir, Err: err}
	}
	rt, err := newTmpfs(0o755, 0, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	err = unix.MoveMount(rt, "", unix.AT_FDCWD, rootDir, unix.MOVE_MOUNT_F_EMPTY_PATH)
	unix.Close(rt)
	if err != nil {
		return nil, &os.PathError{Op: "mount the new root", Path: rootDir, Err: err}
	}
	t := &tree{staging: stagingDir, owned: map[uint64]bool{}, spliced: map[string]bool{}, inUserNS: inUserNS}
	if t.host, err = os.OpenFile(hostDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("open host tree: %w", err)
	}
	if t.root, err = os.OpenFile(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		return nil, fmt.Errorf("open new root: %w", err)
	}
	id, err := mountID(t.root)
	if err != nil {
		return nil, err
	}
	t.owned[id] = true
	return t, nil
}

// finish applies the deferred read-only flags, detaches the host clone and
// makes the new root the process's root. It reports whether it had to fall
// back to MS_MOVE + chroot.
func (t *tree) finish(noPivot bool) (moved bool, err error) {
	err = t.switchRoot(noPivot, &moved)
	return moved, err
}

func (t *tree) switchRoot(noPivot bool, moved *bool) error {
	ro, err := t.readOnlyLast()
	if err != nil {
		return err
	}
	for _, f := range ro {
		// Not recursive: mounts nook placed below stay as they were made
		// (a bind that was asked read-only is read-only already).
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(int(f.Fd()), "", unix.AT_EMPTY_PATH, &attr); err != nil {
			return fmt.Errorf("make %s read-only: %w", f.Name(), err)
		}
	}
	t.close()
	t.host.Close()
	if err := unix.Unmount(path.Join(t.staging, "host"), unix.MNT_DETACH); err != nil {
		return &os.PathError{Op: "detach the host tree", Path: path.Join(t.staging, "host"), Err: err}
	}
	// By path, not by handle: the path reaches the topmost mount on it.
	t.root.Close()
	newRoot := path.Join(t.staging, "root")
	if err := unix.Chdir(newRoot); err != nil {
		return &os.PathError{Op: "chdir", Path: newRoot, Err: err}
	}
	if !noPivot {
		// pivot_root(".", ".") stacks the old root on top of the new one;
		// detaching "." then leaves only the new root.
		err := unix.PivotRoot(".", ".")
		if err == nil {
			Phase("root switched by pivot_root")
			if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
				return &os.PathError{Op: "detach the old root", Path: "/", Err: err}
			}
			return chdirRoot()
		}
		if !errors.Is(err, unix.EINVAL) {
			return &os.PathError{Op: "pivot_root", Path: ".", Err: err}
		}
		// EINVAL: the current root is not a mount point (an initramfs, or
		// a chroot into a plain directory). Fall back as switch_root does.
	}
	Phase("root switched by MS_MOVE and chroot")
	*moved = true
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return &os.PathError{Op: "move the new root onto /", Path: "/", Err: err}
	}
	if err := unix.Chroot("."); err != nil {
		return &os.PathError{Op: "chroot", Path: ".", Err: err}
	}
	return chdirRoot()
}

// readOnlyLast is what becomes read-only once every operation has run:
// roLast, plus what splices put in place of a remounted mount. A splice
// turns one mount's directory into a tmpfs and one bind per entry; a
// --remount-ro of that mount (non-recursive, as bwrap's) would miss them
// and leave host files writable where the caller asked for none. So a
// remount covers the splices made in the mount it remounts, and, through
// their binds, the splices made in those.
func (t *tree) readOnlyLast() ([]*os.File, error) {
	out := append([]*os.File(nil), t.roLast...)
	covered := map[uint64]bool{}
	for _, id := range t.remounts {
		covered[id] = true
	}
	done := make([]bool, len(t.splices))
	for changed := true; changed; {
		changed = false
		for i, rec := range t.splices {
			if done[i] || !(covered[rec.orig] || covered[rec.tmpfs]) {
				continue
			}
			done[i], changed = true, true
			for _, m := range rec.replaced {
				id, err := mountID(m)
				if err != nil {
					return nil, err
				}
				covered[id] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// initialUserNS reports whether this process is in the host's own user
// namespace (its uid map is the identity over all ids).
func initialUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return true
	}
	return strings.Join(strings.Fields(string(b)), " ") == "0 0 4294967295"
}

func chdirRoot() error {
	if err := unix.Chdir("/"); err != nil {
		return &os.PathError{Op: "chdir", Path: "/", Err: err}
	}
	return nil
}
