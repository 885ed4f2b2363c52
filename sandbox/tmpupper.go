package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// An overlay with a throwaway upper (Mount.TmpfsUpper) gets a tmpfs for
// it. Inside a user namespace overlayfs keeps its metadata (whiteouts of
// directories, opaque directories, redirects) in user.* xattrs of the
// upper ("userxattr"), and tmpfs has those only since Linux 6.6. Before,
// the overlay still mounts -- overlayfs only warns "failed to set xattr on
// upper" -- but it cannot hide a lower directory: `rm -rf` of one fails
// with EIO (Debian 12's 6.1). There nook puts the upper on a disk-backed
// directory of its own instead (diskUppers), on a filesystem with user
// xattrs, and removes it when the sandbox has ended. A nook killed before
// that cannot remove it; the next nook that makes one removes every such
// directory no live nook holds (each holds a lock on its own).

// tmpfsUserXattrs reports whether tmpfs keeps user.* xattrs (Linux 6.6). A
// memfd is a file on the kernel's internal tmpfs, so setting one on a
// memfd answers it without mounting anything. Asked once per process.
var tmpfsUserXattrs = sync.OnceValue(func() bool {
	fd, err := unix.MemfdCreate("nook-xattr-probe", unix.MFD_CLOEXEC)
	if err != nil {
		return true // no answer: keep the tmpfs upper
	}
	defer unix.Close(fd)
	err = unix.Fsetxattr(fd, "user.nook.probe", []byte{'1'}, 0)
	return !errors.Is(err, unix.EOPNOTSUPP)
})

// diskUpperDirName is the directory under the scratch base that holds one
// directory per sandbox with disk-backed uppers.
const diskUpperDirName = "tmp-uppers"

// diskUppers gives every tmpfs-upper overlay of s a disk-backed upper when
// tmpfs cannot be one here (see above), and returns what removes them
// again. TmpfsUpper stays set: the overlay is still nook's own (files are
// written into it in place), while Upper and Work, which both engines take
// first, put its upper on disk. The upper is volatile: nothing there is
// worth an fsync, nor a sync of the whole home filesystem at unmount.
func (s *Spec) diskUppers(id *identity) (cleanup func(), err error) {
	cleanup = func() {}
	need := false
	for _, m := range s.Mounts {
		if m.Op == OpOverlay && m.TmpfsUpper && m.Upper == "" {
			need = true
		}
	}
	if !need || !id.userns || tmpfsUserXattrs() {
		return cleanup, nil
	}
	base, err := s.scratchBase()
	if err != nil {
		return cleanup, err
	}
	parent := filepath.Join(base, diskUpperDirName)
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return cleanup, fmt.Errorf("create the directory for disk-backed overlay uppers %s: %w", parent, err)
	}
	for _, d := range []string{base, parent} {
		if err := privateDir(d); err != nil {
			return cleanup, err
		}
	}
	sweepDiskUppers(parent)
	dir, lock, err := lockedScratchDir(parent)
	if err != nil {
		return cleanup, err
	}
	cleanup = func() {
		if err := removeScratchTree(dir); err != nil {
			fmt.Fprintf(os.Stderr, "nook: warning: %v\n", err)
		}
		lock.Close()
	}
	ms := make([]Mount, len(s.Mounts))
	copy(ms, s.Mounts)
	n := 0
	for i := range ms {
		m := &ms[i]
		if m.Op != OpOverlay || !m.TmpfsUpper || m.Upper != "" {
			continue
		}
		n++
		d := filepath.Join(dir, strconv.Itoa(n))
		m.Upper, m.Work = filepath.Join(d, "upper"), filepath.Join(d, "work")
		for _, p := range []string{d, m.Upper, m.Work} {
			if err := os.Mkdir(p, 0o755); err != nil {
				cleanup()
				return func() {}, fmt.Errorf("create a disk-backed overlay upper: %w", err)
			}
		}
		if m.Mode != nil {
			if err := os.Chmod(m.Upper, os.FileMode(*m.Mode&0o777)|modeBits(*m.Mode)); err != nil {
				cleanup()
				return func() {}, fmt.Errorf("set the mode of a disk-backed overlay upper: %w", err)
			}
		}
		m.Volatile = true
	}
	s.Mounts = ms
	return cleanup, nil
}

// scratchBase is where disk-backed uppers go: s.ScratchDir, else the
// caller's cache directory ($XDG_CACHE_HOME/nook, ~/.cache/nook), else
// /var/tmp -- the first that is not itself a tmpfs.
func (s *Spec) scratchBase() (string, error) {
	var cands []string
	if s.ScratchDir != "" {
		cands = append(cands, s.ScratchDir)
	} else {
		if c, err := os.UserCacheDir(); err == nil {
			cands = append(cands, filepath.Join(c, "nook"))
		}
		cands = append(cands, filepath.Join("/var/tmp", "nook-"+strconv.Itoa(os.Getuid())))
	}
	for _, c := range cands {
		// The directory may not exist yet: look at the nearest parent.
		p := c
		var st unix.Statfs_t
		for unix.Statfs(p, &st) != nil && p != "/" {
			p = filepath.Dir(p)
		}
		if st.Type != unix.TMPFS_MAGIC {
			return c, nil
		}
	}
	return "", fmt.Errorf("an overlay with a throwaway upper inside a user namespace needs user xattrs on tmpfs "+
		"(Linux 6.6; this kernel has none), or a directory on a disk-backed filesystem for the upper, "+
		"and %v are all on tmpfs: set XDG_CACHE_HOME (or Spec.ScratchDir) to a directory on disk", cands)
}

// sweepDiskUppers removes the directories under parent that no live nook
// holds: what a killed nook left.
func sweepDiskUppers(parent string) {
	pl, err := os.Open(parent)
	if err != nil {
		return
	}
	defer pl.Close()
	if unix.Flock(int(pl.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return // another nook is making its directory: sweep next time
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(parent, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			removeScratchTree(p)
		}
		f.Close()
	}
}

// removeScratchTree deletes dir and everything in it. Files a command made
// belong to the ids it had inside: the caller's own are removed here (after
// making the caller's directories writable), and what belongs to a
// subordinate id is removed from inside a user namespace that maps the
// caller's whole range, where the caller is root.
func removeScratchTree(dir string) error {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700) // fails on a subordinate id's directory: fine
		}
		return nil
	})
	err := os.RemoveAll(dir)
	if err == nil {
		return nil
	}
	if os.Geteuid() != 0 {
		if herr := emptyInUserNS(dir); herr == nil {
			err = os.RemoveAll(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("remove the disk-backed overlay upper %s: %w", dir, err)
	}
	return nil
}

// The helper that empties a directory from inside a user namespace is
// this same binary, as the command of a sandbox (the way the Go init is
// started): argv[0] initArg0, argv[1] emptyArg1, argv[2] the directory.
const emptyArg1 = "--nook-sandbox-empty"

func init() {
	if len(os.Args) == 3 && os.Args[0] == initArg0 && os.Args[1] == emptyArg1 {
		if err := emptyDir(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "nook: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
}

// emptyInUserNS runs the helper in a sandbox that maps the caller's
// subordinate ids, the host root read-only and dir writable.
func emptyInUserNS(dir string) error {
	spec := &Spec{
		Args:  []string{"/proc/self/exe", emptyArg1, dir},
		Argv0: initArg0,
		Env:   []string{"PATH=/usr/bin:/bin"},
		Identity: Identity{
			UserNS: UserNSAlways,
			Mode:   "subids-root",
		},
		Namespaces: Namespaces{PID: true, IPC: true},
		SortMounts: true,
		Mounts: []Mount{
			{Op: OpBind, Source: "/", Dest: "/", ReadOnly: true},
			{Op: OpDev, Dest: "/dev"},
			{Op: OpProc, Dest: "/proc"},
			{Op: OpBind, Source: dir, Dest: dir},
		},
		Dir: "/",
	}
	st, err := Run(spec)
	if err != nil {
		return err
	}
	if st.ExitCode() != 0 {
		return fmt.Errorf("empty %s in a user namespace: status %d", dir, st.ExitCode())
	}
	return nil
}

// emptyDir removes everything inside dir (not dir: the helper's view of
// its parent is read-only).
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(q, 0o700)
			}
			return nil
		})
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// ErrScratchDirNotPrivate is wrapped by the error for a directory for
// disk-backed uppers that someone else could change: another user's, a
// symlink, or writable by others. The fallback base /var/tmp/nook-UID is in a
// directory every user can create names in, so its name proves nothing.
var ErrScratchDirNotPrivate = errors.New("not a private directory of this user")

// privateDir makes dir (mode 0700) unless it is there, then checks that it
// is a directory of this user's, not a symlink, that no one else may write:
// what is made and removed under it is then out of every other user's
// reach.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create the directory for disk-backed overlay uppers %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("check the directory for disk-backed overlay uppers %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("directory for disk-backed overlay uppers %s: %w (a directory owned by uid %d that no one else may write); "+
			"remove it or set XDG_CACHE_HOME (or Spec.ScratchDir) to a directory of your own on disk",
			dir, ErrScratchDirNotPrivate, os.Geteuid())
	}
	return nil
}

// lockedScratchDir makes a directory under parent and locks it for this
// process. Creators hold the parent shared until their own directory is
// locked; a sweep takes it exclusively or not at all, so it never takes a
// directory between its creation and its lock.
func lockedScratchDir(parent string) (dir string, lock *os.File, err error) {
	plock, err := os.Open(parent)
	if err != nil {
		return "", nil, fmt.Errorf("open the directory for disk-backed overlay uppers %s: %w", parent, err)
	}
	defer plock.Close()
	if err := unix.Flock(int(plock.Fd()), unix.LOCK_SH); err != nil {
		return "", nil, fmt.Errorf("lock the directory for disk-backed overlay uppers %s: %w", parent, err)
	}
	dir, err = os.MkdirTemp(parent, strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", nil, fmt.Errorf("create a disk-backed overlay upper in %s: %w", parent, err)
	}
	// The lock says "in use" to other nooks' sweeps; it goes with this
	// process (and the sandbox's first process, which inherits the open
	// file until it execs or ends).
	lock, err = os.Open(dir)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.Remove(dir)
		return "", nil, fmt.Errorf("lock the disk-backed overlay upper %s: %w", dir, err)
	}
	return dir, lock, nil
}
