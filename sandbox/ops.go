package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// apply runs one filesystem operation on the new root.
func (t *tree) apply(m Mount, fds map[int]*os.File) error {
	t.parentMode = t.bwrapParentMode(m)
	if m.FollowDest && m.Op != OpBind && m.Op != OpDevBind {
		// A bind follows once its source's kind is known (bindFrom).
		d, err := t.follow(m.Dest)
		if err != nil {
			return err
		}
		m.Dest = d
	}
	switch m.Op {
	case OpBind, OpDevBind:
		if m.FromFD {
			return t.bindFD(m, fds[m.FD])
		}
		return t.bind(m)
	case OpTmpfs:
		mode := t.dirMode(m.Dest)
		if m.Mode != nil {
			mode = *m.Mode
		}
		mfd, err := newTmpfs(mode, m.Size, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
		if err != nil {
			return inPhase(PhaseMount, err)
		}
		return t.mountOn(mfd, m.Dest, true)
	case OpProc:
		return t.procOrBind(m)
	case OpDev:
		return t.dev(m.Dest, m.Fuse)
	case OpMqueue:
		fs, err := unix.Fsopen("mqueue", unix.FSOPEN_CLOEXEC)
		if err != nil {
			return os.NewSyscallError("fsopen mqueue", err)
		}
		defer unix.Close(fs)
		mfd, err := createMount(fs, "mqueue", int(mqueueFlags(t.bwrapMountFlags)))
		if err != nil {
			return inPhase(PhaseMount, fmt.Errorf("%w (a new mqueue needs a new IPC namespace: --unshare-ipc)", err))
		}
		return t.mountOn(mfd, m.Dest, false)
	case OpDir:
		mode := t.dirMode(m.Dest)
		if m.Mode != nil {
			mode = *m.Mode
		}
		f, err := t.ensureDir(m.Dest, mode)
		if err != nil {
			return parentsOf(m.Dest, err)
		}
		defer f.Close()
		// What was there already must be a directory too.
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			return &os.PathError{Op: "stat", Path: m.Dest, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && !m.Try {
			return &phaseError{phase: PhaseExisting, err: &os.PathError{Op: "make directory", Path: m.Dest, Err: unix.ENOTDIR}}
		}
		return nil
	case OpSymlink:
		err := t.symlink(m.Source, m.Dest)
		var pe *phaseError
		if m.Replace && errors.As(err, &pe) && pe.phase == PhaseExisting && pe.readlinkErr == 0 {
			return t.symlinkOver(m.Source, m.Dest)
		}
		return err
	case OpWrite:
		return t.writeFile(m, bytes.NewReader(m.Data), modeOr(m.Mode, 0o644))
	case OpFile:
		f := fds[m.FD]
		if f == nil {
			return fmt.Errorf("file descriptor %d for %s was not passed", m.FD, m.Dest)
		}
		return t.writeFile(m, f, modeOr(m.Mode, 0o644))
	case OpChmod:
		return t.chmod(m.Dest, *m.Mode)
	case OpRemountRO:
		f, err := t.openIn(m.Dest)
		if err != nil {
			ph := PhaseCreate
			if errors.Is(err, unix.ENOTDIR) {
				ph = PhaseParents
			}
			return &phaseError{phase: ph, err: err}
		}
		if !isMountRoot(f) {
			// What mount_setattr would refuse once every operation has
			// run (rootfs.go): said here, where the operation is known.
			f.Close()
			return &phaseError{phase: PhaseMount, err: &os.PathError{Op: "remount", Path: m.Dest, Err: unix.EINVAL}}
		}
		id, err := mountID(f)
		if err != nil {
			f.Close()
			return err
		}
		t.roLast = append(t.roLast, f)
		t.remounts = append(t.remounts, id)
		return nil
	case OpOverlay:
		return t.overlay(m)
	}
	return fmt.Errorf("unknown operation %q", m.Op)
}

// chmod changes the mode of dest itself: the parent is resolved inside the
// new root, the last component is not followed when it is a symlink (the
// root holds host inodes through binds; a chroot's symlink must not reach
// them), and device nodes are refused.
func (t *tree) chmod(dest string, mode uint32) error {
	dest = Clean(dest)
	parent, err := t.openIn(path.Dir(dest))
	if err != nil {
		return inPhase(PhaseOpen, err)
	}
	defer parent.Close()
	name := path.Base(dest)
	if dest == "/" {
		name = "."
	}
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return inPhase(PhaseOpen, &os.PathError{Op: "open", Path: dest, Err: err})
	}
	f := os.NewFile(uintptr(fd), dest)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dest, Err: err}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		// apply's caller names the operation and dest.
		return errors.New("it is a symlink; name what it points to instead")
	case unix.S_IFCHR, unix.S_IFBLK:
		return errors.New("refusing to change a device node")
	}
	// O_PATH handles cannot be fchmod'ed; the /proc link reaches the same
	// inode without resolving the path again.
	if err := unix.Fchmodat(unix.AT_FDCWD, fdPath(f), mode, 0); err != nil {
		return inPhase(PhaseChmod, err) // apply's caller names the chmod and dest
	}
	return nil
}

func modeOr(m *uint32, def uint32) uint32 {
	if m != nil {
		return *m
	}
	return def
}

// mountOn attaches a new nook-made mount at dest.
func (t *tree) mountOn(mfd int, dest string, owned bool) error {
	target, err := t.mountPoint(dest, true)
	if err != nil {
		unix.Close(mfd)
		return err
	}
	defer target.Close()
	_, err = t.attach(mfd, target, dest, owned)
	return err
}

func (t *tree) bind(m Mount) error {
	src, err := t.openSource(m)
	if err != nil {
		if m.Try && errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer src.Close()
	return t.bindFrom(m, src)
}

// bindFrom binds the already opened source src onto m.Dest.
func (t *tree) bindFrom(m Mount, src *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(src.Fd()), &st); err != nil {
		return &os.PathError{Op: "stat", Path: m.Source, Err: err}
	}
	tr, err := unix.OpenTree(int(src.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return &os.PathError{Op: "open_tree", Path: m.Source, Err: err}
	}
	var set uint64
	if m.ReadOnly {
		set |= unix.MOUNT_ATTR_RDONLY
	}
	if m.Op == OpBind {
		set |= unix.MOUNT_ATTR_NODEV
	}
	if t.bwrapMountFlags {
		set |= unix.MOUNT_ATTR_NOSUID
	}
	if set != 0 {
		// Applied to the detached clone, so it covers the host's submounts
		// and none of the mounts nook adds below it later.
		if err := setattr(tr, set, 0); err != nil {
			unix.Close(tr)
			return fmt.Errorf("set the attributes of the bind of %s: %w", m.Source, err)
		}
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	var target *os.File
	if m.DestNoFollow && !isDir {
		target = t.symlinkAt(m.Dest)
	}
	if target == nil && m.FollowDest {
		if m.Dest, err = t.follow(m.Dest); err != nil {
			unix.Close(tr)
			return err
		}
	}
	if target == nil {
		if target, err = t.mountPoint(m.Dest, isDir); err != nil {
			unix.Close(tr)
			return err
		}
	}
	defer target.Close()
	_, err = t.attach(tr, target, m.Dest, false)
	return err
}

// symlinkAt returns an O_PATH handle on the symlink at dest itself, or
// nil when dest is anything else or missing (Mount.DestNoFollow).
func (t *tree) symlinkAt(dest string) *os.File {
	dest = Clean(dest)
	parent, err := t.openIn(path.Dir(dest))
	if err != nil {
		return nil
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), path.Base(dest), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), dest)
}

func (t *tree) proc(dest string) error {
	var fs int
	if len(t.procs) > 0 {
		fs, t.procs = t.procs[0], t.procs[1:]
	} else {
		var err error
		if fs, err = unix.Fsopen("proc", unix.FSOPEN_CLOEXEC); err != nil {
			return os.NewSyscallError("fsopen proc", err)
		}
	}
	defer unix.Close(fs)
	mfd, err := createMount(fs, "proc", unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%w: a new /proc inside a user namespace needs a new pid namespace too (--unshare-pid)", err)
		}
		return err
	}
	return t.mountOn(mfd, dest, false)
}

// devNodes are bound from the host into a new /dev: a user namespace cannot
// mknod them.
var devNodes = []string{"null", "zero", "full", "random", "urandom", "tty"}

// fuseNode is the bind of the host's /dev/fuse into the new /dev at dest
// (Mount.Fuse): skipped where the host has none.
func fuseNode(dest string) Mount {
	return Mount{Op: OpDevBind, Source: "/dev/fuse", Dest: path.Join(dest, "fuse"), Try: true}
}

// devTmpfsFlags are the flags of OpDev's tmpfs: bwrap's nosuid,nodev (its
// device nodes are binds, mounts of their own, and /dev/shm is a directory
// on it where programs may map files to run) or nook's nosuid,noexec.
func devTmpfsFlags(bwrap bool) uint64 {
	if bwrap {
		return unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	}
	return unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NOEXEC
}

// mqueueFlags are the flags of a new mqueue filesystem: none under bwrap's
// rule, as bwrap mounts it; nosuid,nodev,noexec under nook's.
func mqueueFlags(bwrap bool) uint64 {
	if bwrap {
		return 0
	}
	return unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
}

func (t *tree) dev(dest string, fuse bool) error {
	mfd, err := newTmpfs(0o755, 0, int(devTmpfsFlags(t.bwrapMountFlags)))
	if err != nil {
		return err
	}
	if err := t.mountOn(mfd, dest, true); err != nil {
		return err
	}
	for _, n := range devNodes {
		if err := t.bind(Mount{Op: OpDevBind, Source: "/dev/" + n, Dest: path.Join(dest, n)}); err != nil {
			return err
		}
	}
	if fuse {
		if err := t.bind(fuseNode(dest)); err != nil {
			return err
		}
	}
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"}, {"pts/ptmx", "ptmx"},
	} {
		if err := t.symlink(l[0], path.Join(dest, l[1])); err != nil {
			return err
		}
	}
	if f, err := t.ensureDir(path.Join(dest, "shm"), t.shmMode()); err != nil {
		return err
	} else {
		f.Close()
	}
	if err := t.devpts(path.Join(dest, "pts")); err != nil {
		return err
	}
	// A command on a terminal expects /dev/console to be that terminal:
	// bound by its path (a mount can only be cloned from this namespace's
	// copy of the host's tree), checked to be the very file on stdio.
	for fd := 0; fd <= 2; fd++ {
		if !isTerminal(fd) {
			continue
		}
		tty, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil || !strings.HasPrefix(tty, "/dev/") {
			continue
		}
		src, err := t.openHost(tty)
		if err != nil {
			return err
		}
		defer src.Close()
		var a, b unix.Stat_t
		if err := unix.Fstat(int(src.Fd()), &a); err != nil {
			return &os.PathError{Op: "stat", Path: tty, Err: err}
		}
		if err := unix.Fstat(fd, &b); err != nil {
			return &os.PathError{Op: "stat", Path: fmt.Sprintf("fd %d", fd), Err: err}
		}
		if a.Dev != b.Dev || a.Ino != b.Ino || a.Rdev != b.Rdev {
			return fmt.Errorf("bind the terminal %s as %s: that path now names another file", tty, path.Join(dest, "console"))
		}
		tr, err := unix.OpenTree(int(src.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
		if err != nil {
			return &os.PathError{Op: "open_tree", Path: tty, Err: err}
		}
		console := path.Join(dest, "console")
		target, err := t.mountPoint(console, false)
		if err != nil {
			unix.Close(tr)
			return err
		}
		defer target.Close()
		_, err = t.attach(tr, target, console, false)
		return err
	}
	return nil
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

func (t *tree) devpts(dest string) error {
	mount := func(withGID bool) (int, error) {
		fs, err := unix.Fsopen("devpts", unix.FSOPEN_CLOEXEC)
		if err != nil {
			return -1, os.NewSyscallError("fsopen devpts", err)
		}
		defer unix.Close(fs)
		opts := [][2]string{{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}}
		if withGID {
			// gid 5 is "tty" on Debian; it exists only when mapped.
			opts = append(opts, [2]string{"gid", strconv.Itoa(t.ttyGID)})
		}
		for _, o := range opts {
			if o[1] == "" {
				err = unix.FsconfigSetFlag(fs, o[0])
			} else {
				err = unix.FsconfigSetString(fs, o[0], o[1])
			}
			if err != nil {
				return -1, os.NewSyscallError("fsconfig devpts "+o[0], err)
			}
		}
		return createMount(fs, "devpts", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
	}
	// bwrap's devpts has no gid option: its ptys belong to the
	// creator's group.
	mfd, err := mount(!t.bwrapMountFlags)
	if err != nil && !t.bwrapMountFlags {
		mfd, err = mount(false)
	}
	if err != nil {
		return err
	}
	return t.mountOn(mfd, dest, false)
}

func (t *tree) symlink(target, dest string) error {
	parent, err := t.ensureDir(path.Dir(dest), t.parentDirMode(path.Dir(dest)))
	if err != nil {
		return inPhaseAll(PhaseParents, err)
	}
	defer parent.Close()
	name := path.Base(dest)
	err = t.create(parent, path.Dir(dest), name, func(d int) error { return unix.Symlinkat(target, d, name) })
	if errors.Is(err, unix.EEXIST) {
		// Idempotent for the same target, as bwrap's --symlink.
		got, rerr := readlinkat(int(parent.Fd()), name)
		if rerr == nil && got == target {
			return nil
		}
		if t.spliced[Clean(path.Dir(dest))] {
			if f, oerr := t.openIn(path.Dir(dest)); oerr == nil {
				got, rerr = readlinkat(int(f.Fd()), name)
				f.Close()
				if rerr == nil && got == target {
					return nil
				}
			}
		}
		return symlinkInTheWay(dest, got, rerr)
	}
	if err != nil {
		return inPhase(PhaseCreate, fmt.Errorf("create symlink %s -> %s: %w", dest, target, err))
	}
	return nil
}

// symlinkOver covers what is at dest, anything but a directory, with a
// symlink to target (Mount.Replace): made on the staging tmpfs and
// mounted over dest's own entry, never following a symlink there, so the
// file under it (a host file in a bound /etc, say) stays as it is.
func (t *tree) symlinkOver(target, dest string) error {
	dest = Clean(dest)
	parent, err := t.openIn(path.Dir(dest))
	if err != nil {
		return inPhase(PhaseParents, err)
	}
	defer parent.Close()
	fd, err := unix.Openat(int(parent.Fd()), path.Base(dest), unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return inPhase(PhaseExisting, &os.PathError{Op: "open", Path: dest, Err: err})
	}
	under := os.NewFile(uintptr(fd), dest)
	defer under.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: dest, Err: err}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// Said as the raw engine says it (its kind check after the
		// move_mount); the failure's fields are those of any symlink
		// in the way.
		pe := symlinkInTheWay(dest, "", unix.EINVAL).(*phaseError)
		pe.err = fmt.Errorf("mount a symlink %s -> %s over what is there: %w", dest, target, unix.EISDIR)
		return pe
	}
	t.nData++
	staged := path.Join(t.staging, fmt.Sprintf("link%d", t.nData))
	if err := unix.Symlink(target, staged); err != nil {
		return fmt.Errorf("create symlink %s -> %s on the staging tmpfs: %w", staged, target, err)
	}
	tr, err := unix.OpenTree(unix.AT_FDCWD, staged, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		return &os.PathError{Op: "open_tree", Path: staged, Err: err}
	}
	_, err = t.attach(tr, under, dest, false)
	return err
}

func (t *tree) overlay(m Mount) error {
	var handles []*os.File
	defer func() {
		for _, h := range handles {
			h.Close()
		}
	}()
	hostPath := func(p string) (string, error) {
		h, err := t.openHost(p)
		if err != nil {
			return "", err
		}
		handles = append(handles, h)
		return fdPath(h), nil
	}
	var lowers []string
	for _, l := range m.Lower {
		p, err := hostPath(l)
		if err != nil {
			return err
		}
		lowers = append(lowers, p)
	}
	var upper, work string
	switch {
	case m.Upper != "":
		var err error
		if upper, err = hostPath(m.Upper); err != nil {
			return err
		}
		if work, err = hostPath(m.Work); err != nil {
			return err
		}
		if m.ClearVolatileMark {
			if err := clearVolatileMark(handles[len(handles)-1], m.Work); err != nil {
				return err
			}
		}
	case m.TmpfsUpper:
		t.nData++
		dir := path.Join(t.staging, fmt.Sprintf("overlay%d", t.nData))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create overlay staging %s: %w", dir, err)
		}
		mfd, err := newTmpfs(0o755, 0, 0)
		if err != nil {
			return err
		}
		err = unix.MoveMount(mfd, "", unix.AT_FDCWD, dir, unix.MOVE_MOUNT_F_EMPTY_PATH)
		unix.Close(mfd)
		if err != nil {
			return &os.PathError{Op: "move_mount", Path: dir, Err: err}
		}
		upper, work = path.Join(dir, "upper"), path.Join(dir, "work")
		for _, d := range []string{upper, work} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return fmt.Errorf("create overlay staging %s: %w", d, err)
			}
		}
		if m.Mode != nil {
			// mkdir drops the sticky bit and applies the umask.
			if err := os.Chmod(upper, os.FileMode(*m.Mode&0o777)|modeBits(*m.Mode)); err != nil {
				return fmt.Errorf("set the mode of overlay staging %s: %w", upper, err)
			}
		}
	}
	// Newer overlayfs options are tried first and dropped one at a time
	// when refused: "lowerdir+" (Linux 6.8; not tried at all before 6.5,
	// see overlayLegacyContext), "userxattr" (5.11, inside a
	// user namespace) and "volatile" (5.10). Before 6.5 overlayfs takes
	// its options the legacy way: fsconfig accepts any key and only the
	// create refuses an unknown one, so a failed create counts too.
	o := ovlOptions{plus: !overlayLegacyContext(), userxattr: t.inUserNS, volatile: m.Volatile, indexOff: m.IndexOff}
	mfd, err := t.overlayMount(lowers, upper, work, o)
	for err != nil {
		var ok bool
		if o, ok = o.without(err); !ok {
			return inPhase(PhaseMount, fmt.Errorf("mount overlay on %s: %w", m.Dest, err))
		}
		mfd, err = t.overlayMount(lowers, upper, work, o)
	}
	if m.ReadOnly {
		if err := setattr(mfd, unix.MOUNT_ATTR_RDONLY, 0); err != nil {
			unix.Close(mfd)
			return err
		}
	}
	return t.mountOn(mfd, m.Dest, m.TmpfsUpper)
}

// overlayLegacyContext reports whether overlayfs is a legacy filesystem to
// fsconfig (before Linux 6.5): such a context takes any key and leaves it
// to overlayfs at create, so "lowerdir+" would be refused only there, with
// a line in the kernel log. A key no kernel knows tells it: a legacy
// context accepts it, a new one refuses it (EINVAL). Asked on a context of
// its own, which is then dropped.
func overlayLegacyContext() bool {
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return false // the mount itself will say why
	}
	defer unix.Close(fs)
	return unix.FsconfigSetFlag(fs, "nook-probe-legacy-context") == nil
}

// ovlOptions are the overlayfs options overlayMount may leave out for an
// older kernel (see tree.overlay).
type ovlOptions struct {
	// plus: "lowerdir+" takes one directory at a time, so no path needs
	// escaping; without it the escaped list goes to "lowerdir".
	plus, userxattr, volatile bool
	// indexOff (Mount.IndexOff) is never dropped: the mount it gives
	// differs in what upper directories it takes.
	indexOff bool
}

// without returns the options to try after a mount with o failed with
// err, newest feature dropped first, and false when none is left to drop.
// userxattr goes on any error (a filesystem may refuse user xattrs), the
// others only on EINVAL, the kernel's answer to an option it does not know.
func (o ovlOptions) without(err error) (ovlOptions, bool) {
	switch {
	case o.plus && errors.Is(err, unix.EINVAL):
		o.plus = false
	case o.userxattr:
		o.userxattr = false
	case o.volatile && errors.Is(err, unix.EINVAL):
		o.volatile = false // an overlay that syncs
	default:
		return o, false
	}
	return o, true
}

func (t *tree) overlayMount(lowers []string, upper, work string, o ovlOptions) (int, error) {
	fs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, os.NewSyscallError("fsopen overlay", err)
	}
	defer unix.Close(fs)
	plus := o.plus
	for i, l := range lowers {
		if !plus {
			break
		}
		if err := unix.FsconfigSetString(fs, "lowerdir+", l); err != nil {
			if i > 0 {
				return -1, os.NewSyscallError("fsconfig overlay lowerdir+", err)
			}
			plus = false // Linux 6.5 to 6.7 refuse the key at once
		}
	}
	if !plus {
		esc := make([]string, len(lowers))
		for i, l := range lowers {
			esc[i] = escapeOverlayPath(l)
		}
		if err := unix.FsconfigSetString(fs, "lowerdir", strings.Join(esc, ":")); err != nil {
			return -1, os.NewSyscallError("fsconfig overlay lowerdir", err)
		}
	}
	if upper != "" {
		if err := unix.FsconfigSetString(fs, "upperdir", upper); err != nil {
			return -1, os.NewSyscallError("fsconfig overlay upperdir", err)
		}
		if err := unix.FsconfigSetString(fs, "workdir", work); err != nil {
			return -1, os.NewSyscallError("fsconfig overlay workdir", err)
		}
	}
	if o.userxattr {
		if err := unix.FsconfigSetFlag(fs, "userxattr"); err != nil {
			return -1, os.NewSyscallError("fsconfig overlay userxattr", err)
		}
	}
	if o.volatile {
		if err := unix.FsconfigSetFlag(fs, "volatile"); err != nil {
			return -1, os.NewSyscallError("fsconfig overlay volatile", err)
		}
	}
	if o.indexOff {
		for _, k := range []string{"index", "metacopy"} {
			if err := unix.FsconfigSetString(fs, k, "off"); err != nil {
				return -1, os.NewSyscallError("fsconfig overlay "+k+"=off", err)
			}
		}
	}
	return createMount(fs, "overlay", 0)
}

// clearVolatileMark removes what a volatile mount left in the work
// directory open as dir (work/incompat/volatile/dirty; see
// Mount.ClearVolatileMark), if anything. The lookups refuse symlinks and
// stay beneath the directory.
func clearVolatileMark(dir *os.File, name string) error {
	if err := removeVolatileMark(int(dir.Fd())); err != nil {
		return fmt.Errorf("clear the volatile mark of overlay work directory %s: %w", name, err)
	}
	return nil
}

func removeVolatileMark(work int) error {
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	inc, err := unix.Openat2(work, "work/incompat", how)
	if err == unix.ENOENT {
		return nil // no mark: the common case
	}
	if err != nil {
		return os.NewSyscallError("openat2 work/incompat", err)
	}
	defer unix.Close(inc)
	vol, err := unix.Openat2(inc, "volatile", how)
	if err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return os.NewSyscallError("openat2 volatile", err)
	}
	err = unix.Unlinkat(vol, "dirty", 0)
	unix.Close(vol)
	if err != nil && err != unix.ENOENT {
		return os.NewSyscallError("unlinkat dirty", err)
	}
	return os.NewSyscallError("unlinkat volatile", unix.Unlinkat(inc, "volatile", unix.AT_REMOVEDIR))
}

// symlinkInTheWay is the failure of a --symlink onto dest, where readlink
// found the target got or failed with rerr: EINVAL, no symlink is there;
// anything else, what is there could not be read.
func symlinkInTheWay(dest, got string, rerr error) error {
	pe := &phaseError{phase: PhaseExisting, existing: got,
		err: fmt.Errorf("create symlink %s: something else is there already", dest)}
	if rerr != nil {
		pe.notSymlink = errors.Is(rerr, unix.EINVAL)
		if !pe.notSymlink && !errors.As(rerr, &pe.readlinkErr) {
			pe.readlinkErr = unix.EIO
		}
	}
	return pe
}
