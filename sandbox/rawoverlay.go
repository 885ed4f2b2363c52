package sandbox

import (
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// overlay mounts an overlayfs whose layers are given as fds
// (FSCONFIG_SET_FD, Linux 6.13): every layer is resolved inside the host
// clone first, so no path is parsed twice. Older kernels refuse fds for
// the layers; then the Go init takes over, which passes /proc/self/fd paths.
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
	// In a user namespace overlayfs keeps its metadata in user.* xattrs
	// ("userxattr"); a kernel or filesystem that refuses it gets a second
	// try without, as in the Go init.
	var retry []int
	attempt := func(userxattr bool) {
		fs := b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("overlay")), imm(unix.FSOPEN_CLOEXEC))
		var mine []int
		setFD := func(key string, r int32, first bool) {
			b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_SET_FD), imm(b.cstr(key)), imm(0), rval(r))
			if first {
				b.last().fallback = errnoBit(unix.EINVAL)
			} else {
				mine = append(mine, len(b.p.insns)-1)
			}
		}
		for i, l := range lowers {
			setFD("lowerdir+", l, i == 0)
		}
		if upper >= 0 {
			setFD("upperdir", upper, false)
			setFD("workdir", work, false)
		}
		if userxattr {
			c.fsconfig(fs, "userxattr", "")
			mine = append(mine, len(b.p.insns)-1)
		}
		if m.Volatile {
			c.fsconfig(fs, "volatile", "") // Linux 5.10; layers as fds need 6.13
		}
		b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_CMD_CREATE), imm(0), imm(0), imm(0))
		mine = append(mine, len(b.p.insns)-1)
		b.sys(unix.SYS_FSMOUNT, rval(fs), imm(unix.FSMOUNT_CLOEXEC), imm(0))
		b.last().out = mt
		mine = append(mine, len(b.p.insns)-1)
		b.closeReg(fs)
		if userxattr {
			retry = mine
		}
	}
	if c.inUserNS {
		attempt(true)
		skip := b.sys(unix.SYS_GETPID) // success: jump past the second try
		again := b.here()
		for _, i := range retry {
			b.p.insns[i].softAll = true
			b.p.insns[i].onSoft = again
		}
		// The failed context is still open; its register was released
		// on the success path, so close it by the number it had.
		b.sys(unix.SYS_CLOSE, rval(int32(b.p.insns[retry[0]].args[0])))
		attempt(false)
		b.p.insns[skip].onOK = b.here()
	} else {
		attempt(false)
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
