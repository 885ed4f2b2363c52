package sandbox

import (
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// overlay mounts an overlayfs. Every layer is resolved inside the host
// clone first (an O_PATH handle), so no path is looked up twice, and the
// handles reach overlayfs in the newest way the kernel takes, tried in
// this order when the child runs (docs/kernels.md):
//
//   - the handles themselves, FSCONFIG_SET_FD on "lowerdir+", "upperdir"
//     and "workdir": Linux 6.13. Before, fsconfig takes no O_PATH fd
//     (EBADF), and before 6.5 overlayfs takes no fd at all (EOPNOTSUPP:
//     it is a legacy filesystem to fsconfig);
//   - one "lowerdir+" string per lower layer (6.8), each the handle's
//     /proc/self/fd/N, which overlayfs resolves at once to the handle's
//     directory (a kernel before 6.5 is told apart first, so that it goes
//     on to the next way without a failed create);
//   - the legacy "lowerdir" list of those paths, which overlayfs before
//     6.5 resolves at FSCONFIG_CMD_CREATE. The paths hold no ':', ',' or
//     '\\', so nothing needs escaping whatever the layers are called.
//
// In a user namespace each way is tried with "userxattr" (overlayfs keeps
// its metadata in user.* xattrs there) and then without, as the Go init
// does (tree.overlay). So an older kernel costs a few failed system calls,
// never a second start through the Go init.
func (c *rawTree) overlay(m Mount) {
	b := c.b
	var layers []int32
	hostDir := func(p string) int32 {
		r := b.sysOut(unix.SYS_OPENAT2, rval(c.host), imm(b.cstr(p)), imm(c.howPath), imm(24))
		b.last().fallback = errnoBit(unix.EAGAIN) | errnoBit(unix.ENOSYS)
		layers = append(layers, r)
		return r
	}
	var lowers []int32
	for _, l := range m.Lower {
		lowers = append(lowers, hostDir(l))
	}
	var upper, work int32 = -1, -1
	switch {
	case m.Upper != "":
		upper, work = hostDir(m.Upper), hostDir(m.Work)
		if m.ClearVolatileMark {
			c.clearVolatileMark(work, m.Work)
		}
	case m.TmpfsUpper:
		c.nOverlay++
		dir := path.Join(rawStaging, fmt.Sprintf("overlay%d", c.nOverlay))
		b.sys(unix.SYS_MKDIRAT, imm(atFdcwd), imm(b.cstr(dir)), imm(0o755))
		mt := c.tmpfs(0o755, 0, 0)
		b.sys(unix.SYS_MOVE_MOUNT, rval(mt), imm(b.cstr("")), imm(atFdcwd), imm(b.cstr(dir)), imm(unix.MOVE_MOUNT_F_EMPTY_PATH))
		b.closeReg(mt)
		for _, d := range []string{"upper", "work"} {
			p := path.Join(dir, d)
			b.sys(unix.SYS_MKDIRAT, imm(atFdcwd), imm(b.cstr(p)), imm(0o755))
			if d == "upper" && m.Mode != nil {
				// mkdir would drop the sticky bit and apply the umask.
				b.sys(unix.SYS_FCHMODAT, imm(atFdcwd), imm(b.cstr(p)), imm(uintptr(*m.Mode&0o7777)), imm(0))
			}
			r := b.sysOut(unix.SYS_OPENAT, imm(atFdcwd), imm(b.cstr(p)), imm(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
			layers = append(layers, r)
			if d == "upper" {
				upper = r
			} else {
				work = r
			}
		}
	}
	mt := b.reg()
	fs := b.reg() // the attempts' fs context, one register for all of them
	b.resetScratch()
	defer b.resetScratch()
	const (
		ovlFDs = iota
		ovlPlus
		ovlList
	)
	xattrs := []bool{false}
	if c.inUserNS {
		xattrs = []bool{true, false}
	}
	var toNext []int     // instructions whose failure starts the next attempt
	var toNextMode []int // ... the next way of passing the layers
	var toDone []int     // success: jump past the last attempt
	var toList []int     // success: go to the legacy list
	var lowerPaths []uintptr
	var upperPath, workPath, listPath uintptr
	jumpTo := func(list []int, at int32) {
		for _, i := range list {
			b.p.insns[i].softAll = true
			b.p.insns[i].onSoft = at
		}
	}
	for mode := ovlFDs; mode <= ovlList; mode++ {
		for xi, userxattr := range xattrs {
			last := mode == ovlList && xi == len(xattrs)-1
			start := b.here()
			if start > 0 && (len(toNext) > 0 || len(toNextMode) > 0) {
				// Reached only from a failed attempt, whose context is
				// still open.
				jumpTo(toNext, start)
				toNext = nil
				b.sys(unix.SYS_CLOSE, rval(fs))
			}
			if xi == 0 {
				jumpTo(toNextMode, start)
				toNextMode = nil
				// The strings are made once per way, in the child: they
				// hold its fd numbers.
				switch mode {
				case ovlPlus:
					for _, l := range lowers {
						lowerPaths = append(lowerPaths, b.fdPaths("", l))
					}
					if upper >= 0 {
						upperPath, workPath = b.fdPaths("", upper), b.fdPaths("", work)
					}
				case ovlList:
					for _, i := range toList {
						b.p.insns[i].onOK = start
					}
					// upperPath and workPath are ovlPlus's: every way
					// here passes through its start.
					listPath = b.fdPaths(":", lowers...)
				}
			}
			var mine []int
			soft := func() { mine = append(mine, len(b.p.insns)-1) }
			b.sys(unix.SYS_FSOPEN, imm(b.cstr("overlay")), imm(unix.FSOPEN_CLOEXEC))
			b.last().out = fs
			setFD := func(key string, r int32) {
				b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_SET_FD), imm(b.cstr(key)), imm(0), rval(r))
			}
			setStr := func(key string, v uintptr) {
				b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_SET_STRING), imm(b.cstr(key)), imm(v), imm(0))
			}
			switch mode {
			case ovlFDs:
				for i, l := range lowers {
					setFD("lowerdir+", l)
					if i == 0 {
						// EBADF, EOPNOTSUPP, EINVAL: no layers as fds here.
						toNextMode = append(toNextMode, len(b.p.insns)-1)
					} else {
						soft()
					}
				}
				if upper >= 0 {
					setFD("upperdir", upper)
					soft()
					setFD("workdir", work)
					soft()
				}
			case ovlPlus:
				if xi == 0 {
					// Before 6.5 overlayfs is a legacy filesystem to
					// fsconfig, which takes any key and leaves it to
					// overlayfs at create: "lowerdir+" would fail only
					// there, and with a line in the kernel log for every
					// command. So an unknown key tells the kernels apart
					// first: accepted, it is one of those, and the legacy
					// list is next; refused (EINVAL, no log line), the
					// context is unchanged and the strings are tried.
					c.fsconfig(fs, "nook-probe-legacy-context", "")
					b.last().softAll = true
					toList = append(toList, len(b.p.insns)-1)
				}
				for i, l := range lowerPaths {
					setStr("lowerdir+", l)
					if i == 0 {
						// EINVAL from 6.5 to 6.7, which do not know the
						// key; older kernels take any key here and refuse
						// it at create.
						toNextMode = append(toNextMode, len(b.p.insns)-1)
					} else {
						soft()
					}
				}
				if upper >= 0 {
					setStr("upperdir", upperPath)
					soft()
					setStr("workdir", workPath)
					soft()
				}
			case ovlList:
				setStr("lowerdir", listPath)
				soft()
				if upper >= 0 {
					setStr("upperdir", upperPath)
					soft()
					setStr("workdir", workPath)
					soft()
				}
			}
			if userxattr {
				c.fsconfig(fs, "userxattr", "")
				soft()
			}
			if m.Volatile {
				c.fsconfig(fs, "volatile", "") // Linux 5.10
				soft()
			}
			if m.IndexOff {
				for _, k := range []string{"index", "metacopy"} {
					c.fsconfig(fs, k, "off")
					soft()
				}
			}
			b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_CMD_CREATE), imm(0), imm(0), imm(0))
			soft()
			b.sys(unix.SYS_FSMOUNT, rval(fs), imm(unix.FSMOUNT_CLOEXEC), imm(0))
			b.last().out = mt
			soft()
			b.sys(unix.SYS_CLOSE, rval(fs))
			if last {
				// The last way's errors are the ones reported.
				for _, i := range mine {
					b.p.insns[i].softAll = false
				}
				continue
			}
			toNext = append(toNext, mine...)
			toDone = append(toDone, b.sys(unix.SYS_GETPID))
		}
	}
	b.used[fs] = false
	for _, i := range toDone {
		b.p.insns[i].onOK = b.here()
	}
	for _, r := range layers {
		b.closeReg(r)
	}
	if m.ReadOnly {
		attr := make([]byte, 32)
		ne.PutUint64(attr[0:], unix.MOUNT_ATTR_RDONLY)
		b.sys(unix.SYS_MOUNT_SETATTR, rval(mt), imm(b.cstr("")), imm(unix.AT_EMPTY_PATH|unix.AT_RECURSIVE), imm(b.bytes(attr)), imm(32))
	}
	target := c.mountPoint(m.Dest, true)
	c.ownNext = m.TmpfsUpper
	c.attach(mt, target, m.Dest)
}

// clearVolatileMark removes what a volatile mount left in the work
// directory (work/incompat/volatile/dirty; see Mount.ClearVolatileMark),
// if anything: work is the directory's O_PATH fd. The lookups refuse
// symlinks and stay beneath it.
func (c *rawTree) clearVolatileMark(work int32, name string) {
	b := c.b
	step := b.cur
	defer func() { b.cur = step }() // the mount's own step again after this
	b.at("clear the volatile mark of overlay work directory " + name)
	how := make([]byte, 24) // struct open_how {flags, mode, resolve uint64}
	ne.PutUint64(how[0:], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	ne.PutUint64(how[16:], unix.RESOLVE_NO_SYMLINKS|unix.RESOLVE_BENEATH|unix.RESOLVE_NO_MAGICLINKS)
	noLinks := b.bytes(how)
	inc := b.sysOut(unix.SYS_OPENAT2, rval(work), imm(b.cstr("work/incompat")), imm(noLinks), imm(24))
	openInc := len(b.p.insns) - 1
	b.p.insns[openInc].soft[0] = uint16(unix.ENOENT) // no mark: the common case
	vol := b.sysOut(unix.SYS_OPENAT2, rval(inc), imm(b.cstr("volatile")), imm(noLinks), imm(24))
	openVol := len(b.p.insns) - 1
	b.p.insns[openVol].soft[0] = uint16(unix.ENOENT)
	b.sys(unix.SYS_UNLINKAT, rval(vol), imm(b.cstr("dirty")), imm(0))
	b.last().soft[0] = uint16(unix.ENOENT)
	b.closeReg(vol)
	b.sys(unix.SYS_UNLINKAT, rval(inc), imm(b.cstr("volatile")), imm(unix.AT_REMOVEDIR))
	b.p.insns[openVol].onSoft = b.here()
	b.closeReg(inc)
	b.p.insns[openInc].onSoft = b.here()
}
