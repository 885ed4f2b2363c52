package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"syscall"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// tree builds the new root. Every destination is resolved inside the new
// root (openat2 RESOLVE_IN_ROOT through pathrs-lite) and every mount lands on
// an O_PATH handle with move_mount(2), so a symlink planted in a chroot can
// never redirect an operation onto the host. Sources are host paths,
// resolved inside an attached clone of the host's mount tree, so that the
// staging tmpfs (over /tmp) hides nothing from them.
type tree struct {
	// ttyGID is group 5 ("tty" on Debian) inside, as the init sees it
	// (outerID, lock.go).
	ttyGID  int
	staging string   // where the staging tmpfs is mounted
	host    *os.File // O_PATH: staging/host, a recursive clone of the host's "/"
	root    *os.File // O_PATH: staging/root, the new root's tmpfs
	// owned holds the ids of mounts nook made itself (tmpfs and friends):
	// entries may be created there freely. Anything else is the host's.
	owned map[uint64]bool
	// roLast are mounts to make read-only once every operation has run, so
	// mount points could still be created inside them.
	roLast []*os.File
	// keep holds mount handles until setup ends.
	keep  []*os.File
	nData int
	// inUserNS tells overlayfs to use user.* xattrs.
	inUserNS bool
	// spliced records directories already replaced by a tmpfs copy.
	spliced map[string]bool
	// splices describes each splice, and remounts each --remount-ro, so
	// that a read-only remount also covers the splices made in what it
	// remounts (see readOnlyLast).
	splices  []*spliceRec
	remounts []uint64
	// bwrapModes and parentMode: see Spec.BwrapModes and modes.go.
	bwrapModes      bool
	bwrapMountFlags bool // Spec.BwrapMountFlags
	parentMode      uint32
	// procs are file system contexts for OpProc opened by the command's
	// process in its own pid namespace (aspid1init.go), used in order.
	procs []int
}

// spliceRec is one splice: the mount the directory was on, and the mounts
// that replaced it there (the tmpfs and one bind per entry).
type spliceRec struct {
	orig, tmpfs uint64
	replaced    []*os.File
}

func (t *tree) close() {
	for _, f := range t.keep {
		f.Close()
	}
	for _, f := range t.roLast {
		f.Close()
	}
	t.keep, t.roLast = nil, nil
}

func mountID(f *os.File) (uint64, error) {
	var st unix.Statx_t
	if err := unix.Statx(int(f.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st); err != nil {
		return 0, &os.PathError{Op: "statx", Path: f.Name(), Err: err}
	}
	return st.Mnt_id, nil
}

// openIn resolves p inside the new root and returns an O_PATH handle.
func (t *tree) openIn(p string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(t.root, p)
	if err != nil {
		return nil, fmt.Errorf("resolve %s inside the new root: %w", p, err)
	}
	return f, nil
}

// openHost resolves a host path inside the host clone.
func (t *tree) openHost(p string) (*os.File, error) {
	f, err := pathrs.OpenatInRoot(t.host, p)
	if err != nil {
		// The errno says it all; the resolver's own layers of
		// wrapping are noise to a user who mistyped a path.
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return nil, fmt.Errorf("can't find source path %s: %w", p, errno)
		}
		return nil, fmt.Errorf("resolve host path %s: %w", p, err)
	}
	return f, nil
}

func fdPath(f *os.File) string { return fmt.Sprintf("/proc/self/fd/%d", f.Fd()) }

// attach mounts the detached mount mfd onto target and remembers mfd.
func (t *tree) attach(mfd int, target *os.File, dest string, owned bool) (*os.File, error) {
	m := os.NewFile(uintptr(mfd), "mount:"+dest)
	if err := unix.MoveMount(mfd, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		ph, en := PhaseMount, err
		if e := kindMismatch(mfd, int(target.Fd())); e != 0 {
			ph, en = PhaseExisting, e
		}
		m.Close()
		return nil, &phaseError{phase: ph, err: &os.PathError{Op: "move_mount", Path: dest, Err: en}}
	}
	if owned {
		id, err := mountID(m)
		if err != nil {
			m.Close()
			return nil, err
		}
		t.owned[id] = true
	}
	t.keep = append(t.keep, m)
	if Clean(dest) == "/" {
		// A handle does not follow mounts stacked on the directory it
		// names; only a path lookup does. Re-open the root so later
		// lookups start at the topmost mount.
		if err := t.reopenRoot(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (t *tree) reopenRoot() error {
	f, err := os.OpenFile(path.Join(t.staging, "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open new root: %w", err)
	}
	t.root.Close()
	t.root = f
	return nil
}

func (t *tree) isOwned(dir *os.File) bool {
	id, err := mountID(dir)
	return err == nil && t.owned[id]
}

// newTmpfs makes a detached tmpfs.
func newTmpfs(mode uint32, size int64, attrs int) (int, error) {
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen tmpfs", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigSetString(fs, "mode", fmt.Sprintf("%o", mode)); err != nil {
		return -1, os.NewSyscallError("fsconfig tmpfs mode", err)
	}
	if size > 0 {
		if err := unix.FsconfigSetString(fs, "size", fmt.Sprint(size)); err != nil {
			return -1, os.NewSyscallError("fsconfig tmpfs size", err)
		}
	}
	if tmpfsContext != "" {
		if err := unix.FsconfigSetString(fs, "context", tmpfsContext); err != nil {
			return -1, os.NewSyscallError("fsconfig tmpfs context "+tmpfsContext, err)
		}
	}
	return createMount(fs, "tmpfs", attrs)
}

func createMount(fs int, what string, attrs int) (int, error) {
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, os.NewSyscallError("create "+what+" superblock", err)
	}
	m, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs)
	if err != nil {
		return -1, os.NewSyscallError("fsmount "+what, err)
	}
	return m, nil
}

// ensureDir returns a handle on directory p inside the new root, creating
// missing components: mode for the last, 0755 (1777 for tmp) for parents.
func (t *tree) ensureDir(p string, mode uint32) (*os.File, error) {
	p = Clean(p)
	if f, err := pathrs.OpenatInRoot(t.root, p); err == nil {
		return f, nil
	} else if !errors.Is(err, unix.ENOENT) {
		// ENOTDIR: a component above p is no directory.
		ph := PhaseCreate
		if errors.Is(err, unix.ENOTDIR) {
			ph = PhaseParents
		}
		return nil, &phaseError{phase: ph, path: p, err: fmt.Errorf("resolve %s inside the new root: %w", p, err)}
	}
	parent, err := t.ensureDir(path.Dir(p), t.parentDirMode(path.Dir(p)))
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	name := path.Base(p)
	err = t.create(parent, path.Dir(p), name, func(dir int) error {
		if err := unix.Mkdirat(dir, name, mode&0o777); err != nil {
			return err
		}
		if mode&^0o777 != 0 {
			// mkdir(2) ignores the sticky and set-id bits. Chmod through
			// a no-follow handle: by name, a racing rename could swap
			// the new directory for a symlink to a host file.
			fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return unix.Fchmod(fd, mode)
		}
		return nil
	})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &phaseError{phase: PhaseCreate, path: p, err: fmt.Errorf("create directory %s inside the new root: %w", p, err)}
	}
	f, err := t.openIn(p)
	if err != nil {
		return nil, &phaseError{phase: PhaseCreate, path: p, err: err}
	}
	return f, nil
}

// create runs mk (an *at call relative to a real fd on dir) and, when the
// directory sits on a read-only mount of host files, first replaces the
// directory by a tmpfs copy of itself (a splice) so the new entry never
// touches the host.
func (t *tree) create(dir *os.File, dirPath, name string, mk func(dirfd int) error) error {
	err := mk(int(dir.Fd()))
	if err == nil || errors.Is(err, unix.EEXIST) || t.isOwned(dir) {
		return err
	}
	if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) {
		return err
	}
	spliced, serr := t.splice(dir, dirPath)
	if serr != nil {
		return fmt.Errorf("%w (and making %s writable failed: %w)", err, dirPath, serr)
	}
	defer spliced.Close()
	return mk(int(spliced.Fd()))
}

// splice covers directory dir (at dirPath inside the new root) with a new
// tmpfs holding the same entries: subdirectories and files are bind mounts
// of the originals, symlinks are copied. The tmpfs becomes read-only once
// setup ends. This is how a mount point can
// appear under a read-only bind ("--ro-bind / / --tmpfs /new") without
// writing to the host. It returns a handle on the new directory.
func (t *tree) splice(dir *os.File, dirPath string) (*os.File, error) {
	if t.spliced[dirPath] {
		return nil, fmt.Errorf("directory already replaced once")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: dirPath, Err: err}
	}
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(dir.Fd()), &sfs); err != nil {
		return nil, &os.PathError{Op: "fstatfs", Path: dirPath, Err: err}
	}
	readonly := sfs.Flags&unix.ST_RDONLY != 0
	orig, err := mountID(dir)
	if err != nil {
		return nil, err
	}
	rec := &spliceRec{orig: orig}
	rd, err := pathrs.Reopen(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, fmt.Errorf("open %s to list it: %w", dirPath, err)
	}
	names, err := rd.Readdirnames(-1)
	rd.Close()
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dirPath, err)
	}
	mfd, err := newTmpfs(st.Mode&0o7777, 0, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	m, err := t.attach(mfd, dir, dirPath, true)
	if err != nil {
		return nil, err
	}
	t.spliced[dirPath] = true
	t.splices = append(t.splices, rec)
	rec.replaced = append(rec.replaced, m)
	if rec.tmpfs, err = mountID(m); err != nil {
		return nil, err
	}
	top, err := t.openIn(dirPath)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		em, err := t.spliceEntry(dir, top, dirPath, n, readonly)
		if err != nil {
			top.Close()
			return nil, err
		}
		if em != nil {
			rec.replaced = append(rec.replaced, em)
		}
	}
	// Spliced because the directory was read-only, or because nook could
	// not write it (EACCES on a read-write mount): either way the copy
	// must not be writable once set-up ends.
	t.roLast = append(t.roLast, m)
	return top, nil
}

// spliceEntry recreates entry name of from in to: a symlink as a copy, a
// directory or file as a bind of the original, whose mount it returns.
func (t *tree) spliceEntry(from, to *os.File, dirPath, name string, readonly bool) (*os.File, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(from.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path.Join(dirPath, name), Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		target, err := readlinkat(int(from.Fd()), name)
		if err != nil {
			return nil, &os.PathError{Op: "readlink", Path: path.Join(dirPath, name), Err: err}
		}
		return nil, unix.Symlinkat(target, int(to.Fd()), name)
	case unix.S_IFDIR:
		if err := unix.Mkdirat(int(to.Fd()), name, 0o755); err != nil {
			return nil, &os.PathError{Op: "mkdir", Path: path.Join(dirPath, name), Err: err}
		}
	default:
		fd, err := unix.Openat(int(to.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o444)
		if err != nil {
			return nil, &os.PathError{Op: "create", Path: path.Join(dirPath, name), Err: err}
		}
		unix.Close(fd)
	}
	tr, err := unix.OpenTree(int(from.Fd()), name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return nil, &os.PathError{Op: "open_tree", Path: path.Join(dirPath, name), Err: err}
	}
	if readonly {
		// Only an entry of the read-only directory's own mount is made
		// read-only: a mount of its own there keeps its flags (a tmpfs or
		// bind nook made read-write before the splice, as asked; a host
		// mount under a read-only bind is read-only already).
		own, err := onMount(from, name)
		if err != nil {
			unix.Close(tr)
			return nil, err
		}
		if own {
			if err := setattr(tr, unix.MOUNT_ATTR_RDONLY, 0); err != nil {
				unix.Close(tr)
				return nil, err
			}
		}
	}
	target, err := pathrs.OpenatInRoot(t.root, path.Join(dirPath, name))
	if err != nil {
		unix.Close(tr)
		return nil, err
	}
	defer target.Close()
	return t.attach(tr, target, path.Join(dirPath, name), false)
}

// onMount reports whether entry name of dir is on dir's own mount, not
// the root of another mount on it.
func onMount(dir *os.File, name string) (bool, error) {
	id, err := mountID(dir)
	if err != nil {
		return false, err
	}
	var st unix.Statx_t
	if err := unix.Statx(int(dir.Fd()), name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_MNT_ID, &st); err != nil {
		return false, &os.PathError{Op: "statx", Path: path.Join(dir.Name(), name), Err: err}
	}
	return st.Mnt_id == id, nil
}

func readlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// setattr changes the attributes of a whole mount tree.
func setattr(mfd int, set, clr uint64) error {
	attr := unix.MountAttr{Attr_set: set, Attr_clr: clr}
	if err := unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return os.NewSyscallError("mount_setattr", err)
	}
	return nil
}

// mountPoint returns a handle on dest, creating it as a directory or an
// empty file when it is missing.
func (t *tree) mountPoint(dest string, dir bool) (*os.File, error) {
	if dir {
		f, err := t.ensureDir(dest, t.dirMode(dest))
		return f, parentsOf(dest, err)
	}
	if f, err := pathrs.OpenatInRoot(t.root, dest); err == nil {
		return f, nil
	}
	parent, err := t.ensureDir(path.Dir(dest), t.parentDirMode(path.Dir(dest)))
	if err != nil {
		return nil, inPhaseAll(PhaseParents, err)
	}
	defer parent.Close()
	name := path.Base(dest)
	err = t.create(parent, path.Dir(dest), name, func(d int) error {
		fd, err := unix.Openat(d, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o444)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, inPhase(PhaseCreate, fmt.Errorf("create mount point %s: %w", dest, err))
	}
	f, err := t.openIn(dest)
	return f, inPhase(PhaseCreate, err)
}

// writeFile puts data at m.Dest: a plain file when dest's directory is
// nook's own (and m.AsBind is not set), otherwise a file on the staging
// tmpfs bind-mounted over dest (read-only with m.ReadOnly), so host files
// are never written.
func (t *tree) writeFile(m Mount, data io.Reader, mode uint32) error {
	dest := m.Dest
	parent, err := t.ensureDir(path.Dir(dest), t.parentDirMode(path.Dir(dest)))
	if err != nil {
		return inPhaseAll(PhaseParents, err)
	}
	defer parent.Close()
	name := path.Base(dest)
	if t.isOwned(parent) && !m.AsBind && plainOrMissing(parent, name) {
		fd, err := unix.Openat(int(parent.Fd()), name, unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, mode)
		if err != nil {
			return inPhase(PhaseCreate, &os.PathError{Op: "create", Path: dest, Err: err})
		}
		return fillFile(fd, dest, data, mode)
	}
	t.nData++
	staged := path.Join(t.staging, fmt.Sprintf("data%d", t.nData))
	fd, err := unix.Open(staged, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, mode)
	if err != nil {
		return &os.PathError{Op: "create", Path: staged, Err: err}
	}
	if err := fillFile(fd, dest, data, mode); err != nil {
		return err
	}
	tr, err := unix.OpenTree(unix.AT_FDCWD, staged, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return &os.PathError{Op: "open_tree", Path: staged, Err: err}
	}
	if m.AsBind && m.ReadOnly {
		if err := setattr(tr, unix.MOUNT_ATTR_RDONLY, 0); err != nil {
			unix.Close(tr)
			return fmt.Errorf("make bind of data for %s read-only: %w", dest, err)
		}
	}
	target, err := t.mountPoint(dest, false)
	if err != nil {
		unix.Close(tr)
		return err
	}
	defer target.Close()
	_, err = t.attach(tr, target, dest, false)
	return err
}

// plainOrMissing reports whether name in dir is missing or a plain file on
// dir's own mount: anything else there (a symlink, a host file bound over
// the name) must not be written through.
func plainOrMissing(dir *os.File, name string) bool {
	var st unix.Statx_t
	err := unix.Statx(int(dir.Fd()), name, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_TYPE|unix.STATX_MNT_ID, &st)
	if errors.Is(err, unix.ENOENT) {
		return true
	}
	if err != nil || uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return false
	}
	dm, err := mountID(dir)
	return err == nil && dm == st.Mnt_id
}

func fillFile(fd int, dest string, data io.Reader, mode uint32) error {
	f := os.NewFile(uintptr(fd), dest)
	defer f.Close()
	if _, err := io.Copy(f, data); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	// The umask is 0 during setup, but an existing file keeps its mode.
	if err := f.Chmod(os.FileMode(mode&0o777) | modeBits(mode)); err != nil {
		return fmt.Errorf("chmod %s: %w", dest, err)
	}
	return nil
}

func modeBits(m uint32) os.FileMode {
	var out os.FileMode
	if m&unix.S_ISUID != 0 {
		out |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		out |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		out |= os.ModeSticky
	}
	return out
}

// escapeOverlayPath escapes the characters the legacy "lowerdir=" option
// string gives meaning to.
func escapeOverlayPath(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)
	return r.Replace(p)
}
