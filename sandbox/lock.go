package sandbox

import (
	"syscall"

	"github.com/nook-project/nook/sandbox/idmap"
	"golang.org/x/sys/unix"
)

// Locking the sandbox against its command.
//
// The command keeps capabilities (mkosi's need: mounting inside a build,
// nested sandboxes), and a capability in the user namespace that owns a
// mount namespace is power over every mount in it: remount nook's read-only
// binds read-write, unmount the tmpfs over a secret or the fresh /proc.
// The kernel has one guard for this: when a mount namespace is copied into
// a less privileged user namespace (copy_mnt_ns with CL_UNPRIVILEGED), every
// mount of the copy is MNT_LOCKED (it cannot be unmounted or moved apart
// from what it covers) and its read-only, nosuid, nodev, noexec and atime
// flags become MNT_LOCK_* (they cannot be cleared). bubblewrap holds that
// way.
//
// So nook builds the tree in one user namespace (the outer one) and runs
// the command in a second one nested in it, with a new mount namespace made
// together with it: the command holds its capabilities there, can make and
// undo mounts of its own, and cannot undo nook's.
//
// Which ids each namespace maps: the outer namespace maps the host ids the
// identity uses onto themselves (host 1000 is 1000 there, a subordinate
// range keeps its numbers), and the nested one carries the identity's own
// map (0 → 1000, say). Read from inside, /proc/self/uid_map then shows the
// host ids as before, and tools that read it (or compare it with bwrap's)
// see no difference. The set-up runs in the outer namespace as the caller's
// own uid with every capability there; an id it names (devpts's gid) is
// translated with outerID.
//
// Who writes the nested maps: a map of more than one id needs CAP_SETUID in
// the parent (outer) namespace, and both the opener and the writer of
// /proc/PID/uid_map must be in the parent or the namespace itself. So the
// process that becomes the command (T) first forks a helper (W) that stays
// in the outer namespace:
//
//	T (outer, all caps there)                W
//	readlink /proc/self → its host pid
//	pipe, fork W ------------------------->  close the write end
//	                                         read (blocks)
//	unshare(NEWUSER|NEWNS[|NEWUTS])
//	make its memory dumpable (its /proc
//	  files are root's otherwise)
//	write one byte ----------------------->  open /proc/<T's pid>, write
//	wait4(W)                                   uid_map and gid_map, exit 0
//	<-------------------------------------   (error: its record, exit 125)
//	ids, keyring, seccomp, caps, exec
//
// EOF instead of the byte (T died) ends W silently. The host's /proc is
// opened before the root switch (rawTree.proc) and closed before exec; the
// pid there is T's in the host's pid namespace, which sees every process.
// unshare(CLONE_NEWUSER) needs a process that is not a thread and does not
// share its filesystem information; sharing memory with pid 1 (CLONE_VM,
// rawFork) is allowed.

// identityMaps maps the host ids of m onto themselves: the outer
// namespace's maps.
func identityMaps(m []syscall.SysProcIDMap) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: e.HostID, HostID: e.HostID, Size: e.Size}
	}
	return out
}

// outerID is the id of the outer namespace (the host's) that inside id
// maps to through m, or inside itself when m does not map it.
func outerID(m []syscall.SysProcIDMap, inside int) int {
	for _, e := range m {
		if inside >= e.ContainerID && inside < e.ContainerID+e.Size {
			return e.HostID + inside - e.ContainerID
		}
	}
	return inside
}

// nest emits the move of the command's process into the nested user and
// mount namespaces (see above). proc is the handle on the host's /proc;
// underPID1: the process shares pid 1's memory, which must be non-dumpable
// again once the maps are written.
func (b *rawBuilder) nest(rs *rawSetup, proc int32, underPID1 bool) {
	b.at("lock the mounts: start the nested user namespace's map writer")
	self := make([]byte, 24) // the host pid in decimal, NUL-terminated (zeroed)
	selfAddr := b.bytes(self)
	b.sys(unix.SYS_READLINKAT, rval(proc), imm(b.cstr("self")), imm(selfAddr), imm(uintptr(len(self)-1)))
	wr := b.reg()
	in := b.insn(rkPipe, 0, imm(uintptr(wr)))
	rd := b.reg()
	in.out = rd
	b.emit(in)
	fork := b.emit(b.insn(rkForkHelper, 0))
	w := b.reg()
	b.p.insns[fork].out = w

	// W: in the outer namespace, with its capabilities.
	b.at("lock the mounts: write the nested user namespace's id maps")
	b.sys(unix.SYS_CLOSE, rval(wr))
	one := b.bytes([]byte{0})
	b.sys(unix.SYS_READ, rval(rd), imm(one), imm(1))
	b.last().exitWhen = exitZero
	dir := b.sysOut(unix.SYS_OPENAT, rval(proc), imm(selfAddr), imm(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
	for _, m := range []struct {
		file string
		ids  []syscall.SysProcIDMap
	}{{"uid_map", rs.id.uidMap}, {"gid_map", rs.id.gidMap}} {
		text := idmap.Format(m.ids)
		fd := b.sysOut(unix.SYS_OPENAT, rval(dir), imm(b.cstr(m.file)), imm(unix.O_WRONLY|unix.O_CLOEXEC))
		b.sys(unix.SYS_WRITE, rval(fd), imm(b.bytes([]byte(text))), immInt(len(text)))
		b.closeReg(fd)
	}
	b.emit(b.insn(rkExit, 0, imm(0)))
	b.used[dir] = false

	// T.
	b.p.insns[fork].onOK = b.here()
	b.at("lock the mounts: make the nested user and mount namespaces")
	b.closeReg(rd)
	flags := uintptr(unix.CLONE_NEWUSER | unix.CLONE_NEWNS)
	if rs.spec.Namespaces.UTS {
		// The command may still name its host: a UTS namespace of its
		// own, a copy of the one nook set up.
		flags |= unix.CLONE_NEWUTS
	}
	b.sys(unix.SYS_UNSHARE, imm(flags))
	for _, e := range []unix.Errno{unix.EPERM, unix.ENOSPC, unix.EUSERS} {
		b.hint(e, "the kernel refused the nested user namespace that locks nook's mounts (user.max_user_namespaces, or 32 levels of nesting)")
	}
	if rs.spec.SharedPropagation {
		b.shareMounts()
	}
	b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(1))
	b.sys(unix.SYS_WRITE, rval(wr), imm(one), imm(1))
	b.emit(b.insn(rkReap, 0, imm(uintptr(w))))
	b.used[w] = false
	b.closeReg(wr)
	b.closeReg(proc)
	if underPID1 {
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(0))
	}
}

// shareMounts makes every mount of the current mount namespace shared
// (Spec.SharedPropagation): a peer group of the sandbox's own. Where the
// mounts are locked it runs in the command's nested namespace, whose
// mounts are copies of nook's private ones (or slaves of the host's, as
// nook's binds are): no peer of the outer namespace's (the kernel would
// make a copy of a shared one a slave, the namespace's user namespace
// being less privileged). The command's mounts propagate among its own,
// never out to nook's, and MNT_LOCKED and the locked flags stay as they
// are.
func (b *rawBuilder) shareMounts() {
	b.at("make the sandbox's mounts shared")
	b.sys(unix.SYS_MOUNT, imm(b.cstr("")), imm(b.cstr("/")), imm(b.cstr("")), imm(unix.MS_REC|unix.MS_SHARED), imm(0))
}
