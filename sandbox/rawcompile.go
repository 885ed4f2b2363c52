package sandbox

import (
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"

	"github.com/nook-project/nook/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// rawSetup is what the compiler needs besides the spec: the fds the parent
// prepared and what it found out about the caller.
type rawSetup struct {
	spec *Spec
	id   *identity
	// errFd: the child's error records (close-on-exec, so EOF means the
	// command runs). statusFd: pid 1's records, or -1. syncFd: read end the
	// child waits on while the parent writes its id maps, or -1. pidFd:
	// a pidfd of the parent, readable once the parent is gone, or -1.
	errFd, statusFd, syncFd, pidFd int
	// ttyFd is the terminal to hand the foreground to, or -1.
	ttyFd int
	// moves put the command's fds in place: parent fd → fd number inside.
	moves []fdMove
	umask int
	// console is the fd (in nook) of the terminal on the command's
	// stdio, bound as /dev/console, or -1; consolePath its path.
	console     int
	consolePath string
	// selfMaps: the child writes its own one-id maps (uidMapLine, gidMapLine).
	selfMaps               bool
	uidMapLine, gidMapLine string
	// innerUID and innerGID are the ids the child has once mapped.
	innerUID, innerGID int
	// enterFd, when not -1, is a user namespace (with the maps the
	// identity asks for) to make the sandbox in: see Spec.EnterUserNS.
	enterFd int
	// shareMemory: the child is made with CLONE_VM (see rawFork).
	// makeDumpable: the child has memory of its own, copied from a
	// non-dumpable nook, and must make it dumpable for its id maps.
	shareMemory, makeDumpable bool
}

type fdMove struct{ from, to int }

// ne writes the kernel's structs in the machine's byte order.
var ne = binary.NativeEndian

// compileRaw turns a spec into a raw program, or fails with
// errRawUnsupported when part of it needs the Go init.
func compileRaw(rs *rawSetup) (*rawProg, error) {
	s := rs.spec
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		return nil, fmt.Errorf("%w: architecture %s", errRawUnsupported, runtime.GOARCH)
	}
	if s.NoPivotRoot {
		return nil, fmt.Errorf("%w: no pivot_root asked for", errRawUnsupported)
	}
	if os.Getenv("NOOK_ENGINE") == "init" {
		return nil, fmt.Errorf("%w: NOOK_ENGINE=init", errRawUnsupported)
	}
	if why := s.initOnly(); why != "" {
		return nil, fmt.Errorf("%w: %s", errRawUnsupported, why)
	}
	b := newRawBuilder()
	p := b.p
	p.errFd = uintptr(rs.errFd)
	p.allocStacks()
	p.cloneFlags = s.cloneFlags(rs.id.userns)

	p.shared = rs.shareMemory
	p.cloneVM = useCloneVM
	if rs.enterFd >= 0 {
		// setns(2) into a user namespace needs a single-threaded process
		// that shares no filesystem information, and the namespaces made
		// next must belong to the joined one: so a middle process joins
		// and clones the sandbox's first process with the new namespaces
		// (CLONE_PARENT: nook's child, nook waits for it as usual),
		// reports its pid and exits. The middle shares nook's memory when
		// it can: it only joins, clones and writes one record, all on its
		// own stack, and no process of the sandbox can see it (it stays in
		// nook's pid namespace); the first process gets a copy.
		inner := p.cloneFlags &^ unix.CLONE_NEWUSER
		p.cloneFlags = 0
		p.shared = useCloneVM
		b.at("enter the user namespace kept for the sandbox")
		p.middleSteps = append(p.middleSteps, int(b.cur))
		b.sys(unix.SYS_SETNS, immInt(rs.enterFd), imm(unix.CLONE_NEWUSER))
		b.at("start the sandbox in that user namespace")
		p.middleSteps = append(p.middleSteps, int(b.cur))
		b.emit(b.insn(rkCloneParent, 0, imm(inner|uintptr(unix.SIGCHLD))))
		b.closeFd(rs.enterFd)
	}
	b.at("prepare the sandbox process")
	b.emit(b.insn(rkResetSignals, 0))
	if rs.makeDumpable {
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(1))
	}
	b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_PDEATHSIG), imm(uintptr(unix.SIGKILL)))
	if rs.pidFd >= 0 {
		// The parent may have died before the death signal was armed.
		pollfd := make([]byte, 8) // struct pollfd {fd int32; events, revents int16}
		ne.PutUint32(pollfd[0:], uint32(rs.pidFd))
		ne.PutUint16(pollfd[4:], unix.POLLIN)
		ts := b.bytes(make([]byte, 16)) // zero timeout
		b.sys(unix.SYS_PPOLL, imm(b.bytes(pollfd)), imm(1), imm(ts), imm(0), imm(0))
		b.last().exitWhen = exitNonZero
	}

	if rs.id.userns && rs.enterFd < 0 {
		b.at("set up the user namespace")
		if rs.selfMaps {
			b.writeProc("/proc/self/setgroups", "deny", true)
			b.writeProc("/proc/self/uid_map", rs.uidMapLine, false)
			b.writeProc("/proc/self/gid_map", rs.gidMapLine, false)
		} else {
			// Wait for the parent (or newuidmap) to write the maps: one
			// byte means done, EOF means the parent gave up.
			buf := b.bytes(make([]byte, 1))
			b.sys(unix.SYS_READ, immInt(rs.syncFd), imm(buf), imm(1))
			b.last().exitWhen = exitZero
			b.closeFd(rs.syncFd)
		}
	}

	b.at("put the sandbox in its own process group")
	switch {
	case s.NewSession:
		b.sys(unix.SYS_SETSID)
	default:
		b.sys(unix.SYS_SETPGID, imm(0), imm(0))
		if rs.ttyFd >= 0 {
			pg := b.sysOut(unix.SYS_GETPID)
			b.sys(unix.SYS_IOCTL, immInt(rs.ttyFd), imm(unix.TIOCSPGRP), raddr(pg))
		}
	}
	// AsPID1: this process stays as pid 1 of the sandbox's pid namespace
	// (a guard) and the command's process, forked now, is pid 1 of a pid
	// namespace of its own below it, where it builds the tree (so its
	// /proc is that namespace's), nests and execs. The guard holds the
	// parent-death signal the command could clear in itself: when nook
	// dies, the guard dies, and the kernel kills everything in its
	// namespace, the command's included. The guard is in the command's
	// process group (so the terminal's foreground and job control work as
	// under a plain pid 1), but a signal from a namespace below cannot
	// kill or stop the pid 1 of the one above: `kill -KILL 0` from the
	// command hits nothing of nook's.
	guard := s.AsPID1 && s.Namespaces.PID
	guardFork := -1
	var guardCmd int32
	if guard {
		b.at("start the command in a pid namespace of its own")
		// Before the command exists, as for pid 1 below.
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(0))
		guardFork = b.emit(b.insn(rkFork, 0, imm(unix.CLONE_NEWPID)))
		guardCmd = b.reg()
		b.p.insns[guardFork].out = guardCmd
		// The command's process: set-up as the first process's, with
		// memory it may read its own /proc files with (lock.go); it is
		// made non-dumpable again before exec when it shares the guard's.
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(1))
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_PDEATHSIG), imm(uintptr(unix.SIGKILL)))
		if s.NewSession {
			// It leads a session of its own, as without the guard.
			b.sys(unix.SYS_SETSID)
		}
	}
	b.sys(unix.SYS_UMASK, imm(0))

	c := &rawTree{b: b, inUserNS: rs.id.userns, bwrapModes: s.BwrapModes, bwrapMountFlags: s.BwrapMountFlags, ttyGID: 5}
	if rs.id.userns {
		c.ttyGID = outerID(rs.id.gidMap, 5)
	}
	c.stage()
	for _, m := range Plan(s.Mounts, s.SortMounts) {
		c.apply(m, rs)
		if b.err != nil {
			return nil, b.err
		}
	}
	c.finish()
	if s.SharedPropagation && !rs.id.userns {
		// Without a user namespace nothing is nested (lock.go, which
		// shares the command's own mounts).
		b.shareMounts()
	}

	if s.Hostname != "" {
		b.at("set the host name")
		b.sys(unix.SYS_SETHOSTNAME, imm(b.cstr(s.Hostname)), immInt(len(s.Hostname)))
	}
	if s.Namespaces.Net {
		b.at("bring up lo")
		copy(p.ifr[:], "lo")
		ifrAddr := addrOfAny(&p.ifr)
		sock := b.sysOut(unix.SYS_SOCKET, imm(unix.AF_INET), imm(unix.SOCK_DGRAM|unix.SOCK_CLOEXEC))
		b.sys(unix.SYS_IOCTL, rval(sock), imm(unix.SIOCGIFFLAGS), imm(ifrAddr))
		b.emit(b.insn(rkIfUp, 0))
		b.sys(unix.SYS_IOCTL, rval(sock), imm(unix.SIOCSIFFLAGS), imm(ifrAddr))
		b.closeReg(sock)
	}

	if p := personalities[s.Personality]; p >= 0 {
		b.at("set the personality " + s.Personality)
		b.sys(unix.SYS_PERSONALITY, immInt(p))
	}

	b.chdir(s)

	// Nested user namespace (lock.go): what the command may not undo is
	// final here, so from now on it is locked.
	lock := rs.id.userns
	if s.Namespaces.PID && !s.AsPID1 {
		b.at("start the command under pid 1")
		// pid 1 must not be readable or traceable from the command: only
		// a non-dumpable mm stops ptrace and /proc/1/mem there. So before
		// the command exists: the kernel checks at open, and a handle
		// opened in between would outlive the flag. The mm is pid 1's own
		// (rawFork never shares nook's memory with a pid 1) and belongs to
		// the host's user namespace, where the command has no capability.
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(0))
		fork := b.emit(b.insn(rkFork, 0))
		cmd := b.reg()
		b.p.insns[fork].out = cmd
		// The child (the command) continues after the fork instruction;
		// pid 1 jumps to its loop, placed after the command's part.
		if lock {
			b.nest(rs, c.proc, true)
		}
		if err := b.credentials(rs); err != nil {
			return nil, err
		}
		b.command(rs)
		b.p.insns[fork].onOK = b.here()
		b.at("pid 1")
		b.pid1Loop(rs, cmd)
	} else {
		// Under a guard with shared memory (CLONE_VFORK), the guard's
		// memory must be non-dumpable again before the command exists.
		shared := guard && p.cloneVM
		if lock {
			b.nest(rs, c.proc, shared)
		} else if shared {
			b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_DUMPABLE), imm(0))
		}
		if err := b.credentials(rs); err != nil {
			return nil, err
		}
		b.command(rs)
		if guard {
			b.p.insns[guardFork].onOK = b.here()
			b.at("pid 1")
			// Out of the caller's directory on the host tree it left
			// (which would stay busy, and reachable, the whole run).
			b.sys(unix.SYS_CHDIR, imm(b.cstr("/")))
			b.pid1Loop(rs, guardCmd)
		}
	}
	if b.err != nil {
		return nil, b.err
	}
	return p, nil
}

// chdir emits the change to the command's working directory: the one
// asked for, else the caller's when it exists inside, else (bwrap's rule,
// HomeFallback) $HOME, else /.
func (b *rawBuilder) chdir(s *Spec) {
	b.at("change to the working directory " + s.Dir)
	b.p.steps[b.cur].workDir = true
	if s.Dir != "" {
		b.sys(unix.SYS_CHDIR, imm(b.cstr(s.Dir)))
		return
	}
	var tries []string
	if s.CallerDir != "" {
		tries = append(tries, s.CallerDir)
	}
	if home := envValue(s.Env, "HOME"); s.HomeFallback && home != "" {
		tries = append(tries, home)
	}
	var oks []int
	for _, d := range tries {
		oks = append(oks, b.sys(unix.SYS_CHDIR, imm(b.cstr(d))))
		b.last().softAll = true
	}
	b.sys(unix.SYS_CHDIR, imm(b.cstr("/")))
	for _, i := range oks {
		b.p.insns[i].onOK = b.here()
	}
}

// pid1Loop is pid 1's part once it has forked the command (cmd): report
// the start, drop its capabilities and fds, then wait, forward signals and
// report the command's stops and end on the status pipe.
func (b *rawBuilder) pid1Loop(rs *rawSetup, cmd int32) {
	p := b.p
	if p.cloneVM {
		// CLONE_VFORK returned: the command has exec'd, or failed
		// and written its error record before this one.
		started := make([]byte, recSize)
		ne.PutUint32(started, recStarted)
		b.sys(unix.SYS_WRITE, imm(p.errFd), imm(b.bytes(started)), imm(recSize))
		b.last().softAll = true
		p.reportsStart = true
	}
	// pid 1 only waits and forwards signals: it keeps no capability
	// (in the sandbox's outer user namespace, where nook's mounts are
	// not locked, one would be worth having). Its bounding set stays:
	// it never execs, and 41 prctl calls would delay its loop.
	b.emit(b.insn(rkCapsApply, 0, imm(0), imm(capsKeepBounding), immInt(lastCap())))
	st := uintptr(rs.statusFd)
	b.sys(unix.SYS_CLOSE_RANGE, imm(0), imm(st-1), imm(0))
	b.sys(unix.SYS_CLOSE_RANGE, imm(st+1), imm(^uintptr(0)), imm(0))
	var mask uint64
	for _, sig := range pid1Signals {
		mask |= 1 << (uint(sig) - 1)
	}
	b.emit(b.insn(rkWaitLoop, 0, imm(uintptr(cmd)), imm(st), imm(uintptr(mask))))
}

// credentials emits the command's ids, session keyring, seccomp filter,
// capabilities and umask, in that order.
func (b *rawBuilder) credentials(rs *rawSetup) error {
	s := rs.spec
	uid, gid := rs.innerUID, rs.innerGID
	if rs.id.switchUID >= 0 || rs.id.switchGID >= 0 {
		b.at(fmt.Sprintf("switch to uid %d, gid %d", rs.id.switchUID, rs.id.switchGID))
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_KEEPCAPS), imm(1))
		g := rs.id.switchGID
		if g >= 0 && g != gid {
			b.sys(unix.SYS_SETRESGID, immInt(g), immInt(g), immInt(g))
			gid = g
		}
		list := supplementaryGroups(s.Identity.Groups, gid)
		groups := make([]byte, 4*len(list))
		for i, g := range list {
			ne.PutUint32(groups[4*i:], uint32(g))
		}
		b.sys(unix.SYS_SETGROUPS, immInt(len(list)), imm(b.bytes(groups)))
		b.last().soft[0] = uint16(unix.EPERM)
		if u := rs.id.switchUID; u >= 0 && u != uid {
			b.sys(unix.SYS_SETRESUID, immInt(u), immInt(u), immInt(u))
			uid = u
		}
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_PDEATHSIG), imm(uintptr(unix.SIGKILL)))
		b.emit(b.insn(rkCapsEffective, 0))
	}

	// A keyring of its own, as runc gives every container: the caller's
	// session keyring (and, through it, the user keyring's keys) must be
	// neither readable nor writable from the command. After the id switch,
	// so that the keyring belongs to the command's user.
	b.at("join a new session keyring")
	b.sys(unix.SYS_KEYCTL, imm(unix.KEYCTL_JOIN_SESSION_KEYRING), imm(0))
	// A kernel without keys, or a container manager's seccomp profile
	// that refuses keyctl (Docker's default): the command cannot reach
	// any keyring either.
	b.last().soft[0] = uint16(unix.ENOSYS)
	b.last().soft[1] = uint16(unix.EPERM)
	b.hint(unix.EDQUOT, "the key quota of the user is used up (see /proc/key-users, kernel.keys.maxkeys)")

	keep, err := commandCaps(s, rs.id)
	if err != nil {
		return err
	}
	b.at("install the seccomp filter")
	filter, err := seccomp.Program(runtime.GOARCH, seccomp.Options{SuppressChown: s.SuppressChown, SuppressSync: s.SuppressSync})
	if err != nil {
		return fmt.Errorf("build seccomp filter: %w", err)
	}
	b.p.keep = append(b.p.keep, filter)
	fprog := &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	b.p.keep = append(b.p.keep, fprog)
	b.sys(unix.SYS_SECCOMP, imm(1 /* SECCOMP_SET_MODE_FILTER */), imm(0), imm(addrOfAny(fprog)))
	b.last().soft[0] = uint16(unix.ENOSYS)
	b.last().onOK = b.here() + 1
	b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_SECCOMP), imm(2 /* SECCOMP_MODE_FILTER */), imm(addrOfAny(fprog)))

	b.at("set the capabilities")
	var capFlags uintptr
	if uid != 0 {
		capFlags |= capsNonRoot
	}
	if s.Caps.AmbientAlways {
		capFlags |= capsAmbientAlways
	}
	if s.Caps.KeepBounding && s.NoNewPrivs {
		capFlags |= capsKeepBounding
	}
	if s.Caps.LeaveSets {
		capFlags |= capsLeaveSets
	}
	b.emit(b.insn(rkCapsApply, 0, imm(uintptr(keep)), imm(capFlags), immInt(lastCap())))
	if s.NoNewPrivs {
		b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_NO_NEW_PRIVS), imm(1))
	}
	b.sys(unix.SYS_UMASK, immInt(rs.umask))

	return nil
}

// allocStacks gives the program its stacks. The raw code needs well under
// 2 KiB of stack; signals stay blocked, so no signal frame lands there
// either. One large allocation: fresh memory that is not cleared page by
// page here, and of which the child touches only the top.
func (p *rawProg) allocStacks() {
	stacks := make([]byte, len(p.stacks)*32<<10)
	for i := range p.stacks {
		p.stacks[i] = stacks[i*32<<10 : (i+1)*32<<10]
		p.stackTop[i] = (addrOf(p.stacks[i]) + uintptr(len(p.stacks[i]))) &^ 15
	}
}

// initOnly names a feature of s that only the Go init implements, or "".
// (Most are the bwrap personality's: see extras.go.)
func (s *Spec) initOnly() string {
	switch {
	case s.OnForked != nil:
		return "a callback once forked"
	case s.BlockFD != nil, s.UserNSBlockFD != nil:
		return "block fds"
	case s.BeforeExec != nil:
		return "a callback before exec"
	case s.NoIDMaps:
		return "id maps written by the caller"
	case len(s.LockFiles) > 0, s.KeepInit:
		return "lock files"
	case len(s.SeccompPrograms) > 0:
		return "the caller's seccomp programs"
	case s.JoinUserNS != nil, s.JoinPIDNS != nil, s.UserNS2 != nil:
		return "joining existing namespaces"
	case s.DisableUserNS, s.AssertUserNSDisabled:
		return "a nested user namespace"
	case s.ExecLabel != "", s.FileLabel != "":
		return "SELinux labels"
	}
	for _, m := range s.Mounts {
		switch {
		case m.FromFD:
			return "a bind from an fd"
		case m.SourceInRoot:
			return "a bind inside the new root"
		case m.FollowDest:
			return "a destination followed inside the new root"
		}
	}
	return ""
}

func boolArg(v bool) uintptr {
	if v {
		return 1
	}
	return 0
}

// closeFd emits close(fd) for a fixed fd number.
func (b *rawBuilder) closeFd(fd int) { b.sys(unix.SYS_CLOSE, immInt(fd)) }

// writeProc writes s to a /proc file in one write(2); tolerateMissing lets
// an ENOENT pass (kernels before 3.19 have no setgroups file).
func (b *rawBuilder) writeProc(file, s string, tolerateMissing bool) {
	fd := b.sysOut(unix.SYS_OPENAT, imm(atFdcwd), imm(b.cstr(file)), imm(unix.O_WRONLY|unix.O_CLOEXEC))
	if tolerateMissing {
		b.last().soft[0] = uint16(unix.ENOENT)
		b.last().onSoft = b.here() + 2
	}
	b.sys(unix.SYS_WRITE, rval(fd), imm(b.bytes([]byte(s))), immInt(len(s)))
	b.closeReg(fd)
}

// command emits the command's own part: its fds, its environment, exec.
func (b *rawBuilder) command(rs *rawSetup) {
	s := rs.spec
	b.at("pass the file descriptors")
	// Two rounds, so no move overwrites a source another still needs: copy
	// every source above all targets, then onto its target.
	base := 3
	for _, m := range rs.moves {
		if m.to >= base {
			base = m.to + 1
		}
	}
	high := make([]int32, len(rs.moves))
	for i, m := range rs.moves {
		high[i] = b.sysOut(unix.SYS_FCNTL, immInt(m.from), imm(unix.F_DUPFD_CLOEXEC), immInt(base))
	}
	var targets []int
	for i, m := range rs.moves {
		b.sys(unix.SYS_DUP3, rval(high[i]), immInt(m.to), imm(0))
		if m.to > 2 {
			targets = append(targets, m.to)
		}
	}
	// Everything else above 2 closes at exec.
	from := 3
	for _, t := range sortedInts(targets) {
		if t > from {
			b.sys(unix.SYS_CLOSE_RANGE, immInt(from), immInt(t-1), imm(unix.CLOSE_RANGE_CLOEXEC))
			b.last().fallback = errnoBit(unix.EINVAL) | errnoBit(unix.ENOSYS)
		}
		if t+1 > from {
			from = t + 1
		}
	}
	b.sys(unix.SYS_CLOSE_RANGE, immInt(from), imm(^uintptr(0)), imm(unix.CLOSE_RANGE_CLOEXEC))
	b.last().fallback = errnoBit(unix.EINVAL) | errnoBit(unix.ENOSYS)

	argv := append([]string(nil), s.Args...)
	if s.Argv0 != "" {
		argv[0] = s.Argv0
	}
	env := s.Env
	npass := len(s.Fds)
	listenPID, pwd := -1, -1 // the entries whose values the child fills in
	if s.PackFds && npass > 0 {
		env = withEnv(env, "LISTEN_FDS", strconv.Itoa(npass))
	}
	if s.SetPWD {
		env = withEnv(env, "PWD", "")
		pwd = len(env) - 1
	}
	if s.setsListenPID(env, npass) {
		env = withEnv(env, "LISTEN_PID", "")
		listenPID = len(env) - 1
	}
	envPtrs := make([]uintptr, 0, len(env)+1)
	for i, kv := range env {
		if i == pwd {
			// PWD=, then getcwd(2) writes the directory the command got.
			buf := make([]byte, 4+unix.PathMax+1)
			copy(buf, "PWD=")
			b.p.keep = append(b.p.keep, buf)
			envPtrs = append(envPtrs, addrOf(buf))
			b.sys(unix.SYS_GETCWD, imm(addrOf(buf)+4), imm(unix.PathMax+1))
			b.last().softAll = true
			continue
		}
		if i == listenPID {
			b.p.pidEnv = make([]byte, len(kv)+11)
			copy(b.p.pidEnv, kv)
			b.p.keep = append(b.p.keep, b.p.pidEnv)
			envPtrs = append(envPtrs, addrOf(b.p.pidEnv))
			continue
		}
		envPtrs = append(envPtrs, b.cstr(kv))
	}
	envPtrs = append(envPtrs, 0)
	argvPtrs := make([]uintptr, 0, len(argv)+1)
	for _, a := range argv {
		argvPtrs = append(argvPtrs, b.cstr(a))
	}
	argvPtrs = append(argvPtrs, 0)
	cands := candidates(s.Args[0], s.Env)
	for _, c := range cands {
		b.p.cands = append(b.p.cands, b.cstr(c))
		if s.ShellFallback {
			// What execvp(3) runs for a file the kernel cannot
			// execute (ENOEXEC): the shell, the file, the arguments.
			sh := []uintptr{b.cstr(fallbackShell), b.cstr(c)}
			sh = append(sh, argvPtrs[1:]...) // ends with the NULL
			b.p.keep = append(b.p.keep, sh)
			b.p.shellArgv = append(b.p.shellArgv, addrOfPtrs(sh))
		}
	}
	if s.ShellFallback {
		b.p.shell = b.cstr(fallbackShell)
		cands = append(cands, fallbackShell) // for messages about it
	}
	b.p.keep = append(b.p.keep, envPtrs, argvPtrs)
	if b.p.pidEnv != nil {
		b.emit(b.insn(rkPidEnv, 0))
	}
	b.at("execute the command")
	b.p.execName, b.p.execCands, b.p.mounts = s.Args[0], cands, s.Mounts
	b.emit(b.insn(rkExec, 0, imm(0), imm(addrOfPtrs(argvPtrs)), imm(addrOfPtrs(envPtrs)),
		imm(boolArg(strings.Contains(s.Args[0], "/")))))
}

func sortedInts(v []int) []int {
	out := append([]int(nil), v...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// rawTree compiles the mount operations; see tree, the Go init's twin,
// for what each does and why.
type rawTree struct {
	b        *rawBuilder
	inUserNS bool
	proc     int32 // O_PATH handle on the host's /proc, for the nested user namespace (lock.go)
	// ttyGID is group 5 ("tty" on Debian) inside, as the set-up sees it
	// (outerID).
	ttyGID   int
	host     int32 // O_PATH handle on the host clone
	root     int32 // O_PATH handle on the new root
	roLast   []int32
	roMounts []Mount // the --remount-ro of each of roLast
	howPath  uintptr // struct open_how for O_PATH lookups inside a root
	// howNoFollow is howPath with O_NOFOLLOW.
	howNoFollow uintptr
	nOverlay    int
	nData       int
	// owned is the mask of registers holding the mount ids of mounts nook
	// made (tmpfs and the like): files there may be written in place.
	owned   uint64
	ownNext bool // the next attach is of such a mount
	// bwrapModes and parentMode: Spec.BwrapModes (see modes.go).
	bwrapModes      bool
	bwrapMountFlags bool // Spec.BwrapMountFlags
	parentMode      uint32
}

func (c *rawTree) dirMode(p string) uint32 {
	if c.bwrapModes {
		return 0o755
	}
	return defaultDirMode(p)
}

func (c *rawTree) parentDirMode(p string) uint32 {
	if c.bwrapModes && c.parentMode != 0 {
		return c.parentMode
	}
	return defaultDirMode(p)
}

// own records the mount id of the mount in register m as nook's own.
func (c *rawTree) own(m int32) {
	b := c.b
	in := b.insn(rkMntID, 0, imm(uintptr(m)))
	r := b.reg()
	in.out = r
	b.emit(in)
	c.owned |= 1 << uint(r)
}

const rawStaging = stagingDir

func (c *rawTree) stage() {
	b := c.b
	b.at("make / a slave mount")
	b.sys(unix.SYS_MOUNT, imm(b.cstr("")), imm(b.cstr("/")), imm(b.cstr("")), imm(unix.MS_REC|unix.MS_SLAVE), imm(0))
	if c.inUserNS || !initialUserNS() {
		// "/" is not a mount point (a chroot into a plain directory); in a
		// user namespace the host is shielded anyway (see newTree). The
		// parent is in the child's user namespace when it makes none.
		b.last().soft[0] = uint16(unix.EINVAL)
	}
	if c.inUserNS {
		// Before the root switch: the command's process finds its own
		// entry there to have its nested maps written (lock.go).
		b.at("open /proc")
		c.proc = b.sysOut(unix.SYS_OPENAT, imm(atFdcwd), imm(b.cstr("/proc")), imm(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
		b.hint(unix.ENOENT, "nook needs the host's /proc mounted")
	}
	how := make([]byte, 24) // struct open_how {flags, mode, resolve uint64}
	ne.PutUint64(how[0:], unix.O_PATH|unix.O_CLOEXEC)
	ne.PutUint64(how[16:], unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
	c.howPath = b.bytes(how)
	// The same, leaving a symlink in the last component unfollowed
	// (Mount.NoFollow): a handle on the link itself.
	ne.PutUint64(how[0:], unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	c.howNoFollow = b.bytes(how)

	b.at("clone the host tree")
	hostClone := b.sysOut(unix.SYS_OPEN_TREE, imm(atFdcwd), imm(b.cstr("/")), imm(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE))
	b.at("mount the staging tmpfs on " + rawStaging)
	st := c.tmpfs(0o755, 0, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	b.sys(unix.SYS_MOVE_MOUNT, rval(st), imm(b.cstr("")), imm(atFdcwd), imm(b.cstr(rawStaging)), imm(unix.MOVE_MOUNT_F_EMPTY_PATH))
	b.closeReg(st)
	hostDir, rootDir := path.Join(rawStaging, "host"), path.Join(rawStaging, "root")
	b.at("create the staging directories")
	b.sys(unix.SYS_MKDIRAT, imm(atFdcwd), imm(b.cstr(hostDir)), imm(0o755))
	b.sys(unix.SYS_MKDIRAT, imm(atFdcwd), imm(b.cstr(rootDir)), imm(0o755))
	b.at("attach the host tree")
	b.sys(unix.SYS_MOVE_MOUNT, rval(hostClone), imm(b.cstr("")), imm(atFdcwd), imm(b.cstr(hostDir)), imm(unix.MOVE_MOUNT_F_EMPTY_PATH))
	b.closeReg(hostClone)
	b.at("mount the new root")
	rt := c.tmpfs(0o755, 0, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	b.sys(unix.SYS_MOVE_MOUNT, rval(rt), imm(b.cstr("")), imm(atFdcwd), imm(b.cstr(rootDir)), imm(unix.MOVE_MOUNT_F_EMPTY_PATH))
	c.own(rt)
	b.closeReg(rt)
	c.host = b.sysOut(unix.SYS_OPENAT, imm(atFdcwd), imm(b.cstr(hostDir)), imm(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
	c.root = b.reg()
	c.openRoot()
}

// openRoot (re)opens the new root by path, so it reaches the topmost
// mount on it.
func (c *rawTree) openRoot() {
	b := c.b
	b.sys(unix.SYS_OPENAT, imm(atFdcwd), imm(b.cstr(path.Join(rawStaging, "root"))), imm(unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC))
	b.last().out = c.root
}

// tmpfs emits fsopen..fsmount of a tmpfs and returns the mount's register.
func (c *rawTree) tmpfs(mode uint32, size int64, attrs uintptr) int32 {
	b := c.b
	fs := b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("tmpfs")), imm(unix.FSOPEN_CLOEXEC))
	c.fsconfig(fs, "mode", fmt.Sprintf("%o", mode))
	if size > 0 {
		c.fsconfig(fs, "size", fmt.Sprint(size))
	}
	return c.createMount(fs, attrs)
}

func (c *rawTree) fsconfig(fs int32, key, value string) {
	b := c.b
	if value == "" {
		b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_SET_FLAG), imm(b.cstr(key)), imm(0), imm(0))
		return
	}
	b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_SET_STRING), imm(b.cstr(key)), imm(b.cstr(value)), imm(0))
}

// createMount makes the superblock and a detached mount of it, closes the
// context, and returns the mount's register.
func (c *rawTree) createMount(fs int32, attrs uintptr) int32 {
	b := c.b
	b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_CMD_CREATE), imm(0), imm(0), imm(0))
	m := b.sysOut(unix.SYS_FSMOUNT, rval(fs), imm(unix.FSMOUNT_CLOEXEC), imm(attrs))
	b.closeReg(fs)
	return m
}

// openIn resolves p inside the new root into a new register.
func (c *rawTree) openIn(p string) int32 {
	b := c.b
	r := b.sysOut(unix.SYS_OPENAT2, rval(c.root), imm(b.cstr(p)), imm(c.howPath), imm(24))
	// EAGAIN: a rename raced the lookup; ENOSYS: no openat2. The Go init
	// handles both (it retries, or resolves in user space).
	b.last().fallback = errnoBit(unix.EAGAIN) | errnoBit(unix.ENOSYS)
	return r
}

// ensureDir makes every missing component of p (mode for the last, the
// default for parents) and returns a handle on it.
func (c *rawTree) ensureDir(p string, mode uint32) int32 {
	b := c.b
	p = Clean(p)
	if p == "/" {
		return c.openIn("/")
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	parent := c.root
	owned := false // parent is a register this function opened
	cur := ""
	saved := b.phase
	defer func() { b.phase = saved }()
	for i, name := range parts {
		cur += "/" + name
		m := c.parentDirMode(cur)
		b.phase = PhaseParents
		if i == len(parts)-1 {
			m = mode
			b.phase = PhaseCreate
		}
		b.sys(unix.SYS_MKDIRAT, rval(parent), imm(b.cstr(name)), imm(uintptr(m&0o777)))
		mk := len(b.p.insns) - 1
		b.p.insns[mk].soft[0] = uint16(unix.EEXIST)
		b.p.insns[mk].fallback = fbCreate
		if m&^0o777 != 0 {
			// mkdir ignores the sticky and set-id bits: set them through a
			// no-follow handle on the new directory.
			fd := b.sysOut(unix.SYS_OPENAT, rval(parent), imm(b.cstr(name)), imm(unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC))
			b.sys(unix.SYS_FCHMOD, rval(fd), imm(uintptr(m)))
			b.closeReg(fd)
		}
		b.p.insns[mk].onSoft = b.here()
		if owned {
			b.closeReg(parent)
		}
		parent = c.openIn(cur)
		owned = true
	}
	return parent
}

// parents makes dest's missing parent directories and returns a handle on
// the one it goes in.
func (c *rawTree) parents(dest string) int32 {
	start := len(c.b.p.insns)
	r := c.ensureDir(path.Dir(dest), c.parentDirMode(path.Dir(dest)))
	c.b.inPhase(start, PhaseParents)
	return r
}

// mountPoint returns a handle on dest, made as a directory or an empty
// file when missing.
func (c *rawTree) mountPoint(dest string, dir bool) int32 {
	b := c.b
	if dir {
		return c.ensureDir(dest, c.dirMode(dest))
	}
	dest = Clean(dest)
	parent := c.parents(dest)
	saved := b.phase
	b.phase = PhaseCreate
	defer func() { b.phase = saved }()
	fd := b.sysOut(unix.SYS_OPENAT, rval(parent), imm(b.cstr(path.Base(dest))),
		imm(unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW), imm(0o444))
	mk := len(b.p.insns) - 1
	b.p.insns[mk].soft[0] = uint16(unix.EEXIST)
	b.p.insns[mk].fallback = fbCreate
	b.closeReg(fd)
	b.p.insns[mk].onSoft = b.here()
	b.closeReg(parent)
	return c.openIn(dest)
}

// attach moves mount m onto dest's handle and closes both.
func (c *rawTree) attach(m, target int32, dest string) {
	b := c.b
	mv := b.sys(unix.SYS_MOVE_MOUNT, rval(m), imm(b.cstr("")), rval(target), imm(b.cstr("")),
		imm(unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH))
	// The source's type changed between the parent's look and now.
	b.last().fallback = errnoBit(unix.ENOTDIR) | errnoBit(unix.EISDIR)
	// EINVAL: say whether the kinds differ (a directory onto a file).
	b.last().soft[0] = uint16(unix.EINVAL)
	b.p.insns[mv].onSoft = b.here()
	saved := b.phase
	if saved != 0 {
		b.phase = PhaseExisting
	}
	b.emit(b.insn(rkKindCheck, 0, imm(uintptr(m)), imm(uintptr(target))))
	b.phase = saved
	b.p.insns[mv].onOK = b.here() // success: past the check
	b.closeReg(target)
	if c.ownNext {
		c.own(m)
		c.ownNext = false
	}
	b.closeReg(m)
	if Clean(dest) == "/" {
		b.sys(unix.SYS_CLOSE, rval(c.root))
		c.openRoot()
	}
}

func (c *rawTree) apply(m Mount, rs *rawSetup) {
	b := c.b
	b.atMount(fmt.Sprintf("%s %s", m.Op, m.Dest), m)
	if c.bwrapModes {
		c.parentMode = bwrapParentMode(m)
	}
	switch m.Op {
	case OpBind, OpDevBind:
		c.bind(m)
	case OpTmpfs:
		mt := c.tmpfs(modeOr(m.Mode, c.dirMode(m.Dest)), m.Size, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
		target := c.mountPoint(m.Dest, true)
		c.ownNext = true
		c.attach(mt, target, m.Dest)
	case OpProc:
		fs := b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("proc")), imm(unix.FSOPEN_CLOEXEC))
		b.hint(unix.EPERM, "a new /proc inside a user namespace needs a new pid namespace too (--unshare-pid)")
		create := len(b.p.insns)
		mt := c.createMount(fs, unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC)
		c.attach(mt, c.mountPoint(m.Dest, true), m.Dest)
		if m.FallbackBind {
			// The kernel refuses a new procfs without a pid namespace of
			// our own (EPERM at create): bind the host's, as bwrap does.
			done := b.sys(unix.SYS_GETPID)
			b.p.insns[create].soft[0] = uint16(unix.EPERM)
			b.p.insns[create].onSoft = b.here()
			b.closeReg(fs) // still open: the failure came before its close
			c.bind(Mount{Op: OpBind, Source: "/proc", Dest: m.Dest})
			b.p.insns[done].onOK = b.here()
		}
	case OpDev:
		c.dev(m.Dest, m.Fuse, rs.console, rs.consolePath)
	case OpMqueue:
		fs := b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("mqueue")), imm(unix.FSOPEN_CLOEXEC))
		b.hint(unix.EPERM, "a new mqueue needs a new IPC namespace: --unshare-ipc")
		mt := c.createMount(fs, uintptr(mqueueFlags(c.bwrapMountFlags)))
		c.attach(mt, c.mountPoint(m.Dest, true), m.Dest)
	case OpDir:
		d := c.ensureDir(m.Dest, modeOr(m.Mode, c.dirMode(m.Dest)))
		if !m.Try {
			// What was there already must be a directory too.
			b.phase = PhaseExisting
			b.emit(b.insn(rkWantDir, 0, imm(uintptr(d))))
		}
		b.closeReg(d)
	case OpSymlink:
		c.symlinkReplacing(m.Source, m.Dest, m.Replace)
	case OpRemountRO:
		b.phase = PhaseCreate
		c.roLast = append(c.roLast, c.openIn(m.Dest))
		c.roMounts = append(c.roMounts, m)
	case OpOverlay:
		c.overlay(m)
	case OpWrite, OpFile:
		c.write(m)
	case OpChmod:
		c.chmod(Clean(m.Dest), *m.Mode)
	default:
		b.fail("operation %s", m.Op)
	}
}

func (c *rawTree) bind(m Mount) {
	b := c.b
	// The parent looks at the source to choose a directory or a file as
	// the mount point; the child checks that it stayed so (attach).
	var st unix.Stat_t
	stat, how := unix.Stat, c.howPath
	if m.NoFollow {
		stat, how = unix.Lstat, c.howNoFollow
	}
	if err := stat(m.Source, &st); err != nil {
		if m.Try && os.IsNotExist(err) {
			return
		}
		// Let the Go init report it with its own resolution.
		b.fail("bind source %s: %v", m.Source, err)
		return
	}
	if m.NoFollow && !m.SourceInRoot && st.Mode&unix.S_IFMT == unix.S_IFLNK && procLinkSource(m.Source) {
		// The Go init refuses it (ErrProcLinkSource) with its own
		// resolution of the source.
		b.fail("bind source %s: a symlink in procfs", m.Source)
		return
	}
	src := b.sysOut(unix.SYS_OPENAT2, rval(c.host), imm(b.cstr(m.Source)), imm(how), imm(24))
	b.last().fallback = errnoBit(unix.EAGAIN) | errnoBit(unix.ENOSYS) | errnoBit(unix.ENOENT)
	tr := b.sysOut(unix.SYS_OPEN_TREE, rval(src), imm(b.cstr("")), imm(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE))
	b.closeReg(src)
	var set uint64
	if m.ReadOnly {
		set |= unix.MOUNT_ATTR_RDONLY
	}
	if m.Op == OpBind {
		set |= unix.MOUNT_ATTR_NODEV
	}
	if c.bwrapMountFlags {
		set |= unix.MOUNT_ATTR_NOSUID
	}
	if set != 0 {
		attr := make([]byte, 32) // struct mount_attr {set, clr, propagation, userns_fd uint64}
		ne.PutUint64(attr[0:], set)
		b.sys(unix.SYS_MOUNT_SETATTR, rval(tr), imm(b.cstr("")), imm(unix.AT_EMPTY_PATH|unix.AT_RECURSIVE), imm(b.bytes(attr)), imm(32))
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if !m.DestNoFollow || isDir {
		c.attach(tr, c.mountPoint(m.Dest, isDir), m.Dest)
		return
	}
	// DestNoFollow: a symlink at dest is mounted on as itself. Whether
	// one is there is found out in the child: readlinkat of the O_PATH
	// handle's own link succeeds only on a symlink.
	dest := Clean(m.Dest)
	under := b.sysOut(unix.SYS_OPENAT2, rval(c.root), imm(b.cstr(dest)), imm(c.howNoFollow), imm(24))
	open := len(b.p.insns) - 1
	b.p.insns[open].soft = [3]uint16{uint16(unix.ENOENT), uint16(unix.ENOTDIR), uint16(unix.ELOOP)}
	b.p.insns[open].fallback = errnoBit(unix.EAGAIN) | errnoBit(unix.ENOSYS)
	b.sys(unix.SYS_READLINKAT, rval(under), imm(b.cstr("")), imm(b.bytes(make([]byte, 64))), imm(64))
	readlink := len(b.p.insns) - 1
	b.p.insns[readlink].softAll = true
	b.sys(unix.SYS_CLOSE, rval(under)) // no symlink: the usual way
	// The usual way first: its handles must not take the registers of tr
	// and under, which the symlink's way below still uses.
	b.p.insns[open].onSoft = b.here()
	c.attach(tr, c.mountPoint(dest, false), dest)
	done := b.sys(unix.SYS_GETPID)
	b.p.insns[readlink].onOK = b.here()
	b.used[tr], b.used[under] = true, true
	c.attach(tr, under, dest)
	b.p.insns[done].onOK = b.here()
}

// write puts a file's contents (OpWrite's data, or what OpFile's fd
// holds) at its destination: in place when the directory is on a mount
// nook made and nothing else is there, otherwise as a file on the staging
// tmpfs bound over the destination — never into a host file (see
// rawWriteDecide).
func (c *rawTree) write(m Mount) {
	b := c.b
	dest := Clean(m.Dest)
	mode := modeOr(m.Mode, 0o644)
	data := func(fd int32) {
		if m.Op == OpFile {
			b.emit(b.insn(rkCopyFd, 0, imm(uintptr(fd)), immInt(m.FD)))
			return
		}
		if len(m.Data) > 0 {
			b.emit(b.insn(rkWriteData, 0, imm(uintptr(fd)), imm(b.bytes(m.Data)), immInt(len(m.Data))))
		}
	}
	parent := c.parents(dest)
	name := b.cstr(path.Base(dest))
	done := -1
	if !m.AsBind {
		decide := b.emit(b.insn(rkWriteDecide, 0, imm(uintptr(parent)), imm(name), imm(uintptr(c.owned))))
		b.p.insns[decide].soft[0] = uint16(unix.EXDEV)
		b.phase = PhaseCreate
		fd := b.sysOut(unix.SYS_OPENAT, rval(parent), imm(name), imm(unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC), imm(uintptr(mode&0o7777)))
		b.phase = PhaseMount
		data(fd)
		b.sys(unix.SYS_FCHMOD, rval(fd), imm(uintptr(mode)))
		b.closeReg(fd)
		done = b.sys(unix.SYS_GETPID) // success: jump past the staged way
		b.p.insns[decide].onSoft = b.here()
	}
	c.nData++
	staged := b.cstr(path.Join(rawStaging, fmt.Sprintf("data%d", c.nData)))
	sfd := b.sysOut(unix.SYS_OPENAT, imm(atFdcwd), imm(staged), imm(unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC), imm(uintptr(mode&0o7777)))
	data(sfd)
	b.sys(unix.SYS_FCHMOD, rval(sfd), imm(uintptr(mode)))
	b.closeReg(sfd)
	tr := b.sysOut(unix.SYS_OPEN_TREE, imm(atFdcwd), imm(staged), imm(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC))
	if m.AsBind && m.ReadOnly {
		attr := make([]byte, 32)
		ne.PutUint64(attr[0:], unix.MOUNT_ATTR_RDONLY)
		b.sys(unix.SYS_MOUNT_SETATTR, rval(tr), imm(b.cstr("")), imm(unix.AT_EMPTY_PATH), imm(b.bytes(attr)), imm(32))
	}
	c.attach(tr, c.mountPoint(dest, false), dest)
	if done >= 0 {
		b.p.insns[done].onOK = b.here()
	}
	b.closeReg(parent)
}

// chmod changes the mode of dest itself, never of what a symlink there
// points to, and never of a device node (see tree.chmod). fchmodat2 with
// AT_EMPTY_PATH (Linux 6.6) changes it through the O_PATH handle; older
// kernels change it through the handle's /proc/self/fd path, which names
// the file itself (rkChmodable has made sure it is no symlink).
func (c *rawTree) chmod(dest string, mode uint32) {
	b := c.b
	cm := Mount{Op: OpChmod, Dest: dest, Mode: &mode}
	b.atMount("chmod "+dest, cm)
	b.phase = PhaseOpen
	parent := c.openIn(path.Dir(dest))
	name := path.Base(dest)
	if dest == "/" {
		name = "."
	}
	fd := b.sysOut(unix.SYS_OPENAT, rval(parent), imm(b.cstr(name)), imm(unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC))
	b.phase = 0 // what follows is nook's own refusal, or the chmod
	b.closeReg(parent)
	b.emit(b.insn(rkChmodable, 0, imm(uintptr(fd))))
	b.hint(unix.ELOOP, "it is a symlink; name what it points to instead")
	b.hint(unix.EPERM, "refusing to change a device node")
	b.atMount("chmod "+dest, cm)
	b.phase = PhaseChmod
	b.sys(unix.SYS_FCHMODAT2, rval(fd), imm(b.cstr("")), imm(uintptr(mode)), imm(unix.AT_EMPTY_PATH))
	two := len(b.p.insns) - 1
	b.p.insns[two].soft = [3]uint16{uint16(unix.ENOSYS), uint16(unix.EINVAL), uint16(unix.EOPNOTSUPP)}
	b.p.insns[two].onSoft = b.here()
	b.sys(unix.SYS_FCHMODAT, imm(atFdcwd), imm(b.fdPaths("", fd)), imm(uintptr(mode)), imm(0))
	b.resetScratch()
	b.p.insns[two].onOK = b.here() // success: past the fallback
	b.closeReg(fd)
}

func (c *rawTree) dev(dest string, fuse bool, console int, consolePath string) {
	b := c.b
	mt := c.tmpfs(0o755, 0, uintptr(devTmpfsFlags(c.bwrapMountFlags)))
	target := c.mountPoint(dest, true)
	c.ownNext = true
	c.attach(mt, target, dest)
	for _, n := range devNodes {
		b.at("bind /dev/" + n + " into " + dest)
		c.bind(Mount{Op: OpDevBind, Source: "/dev/" + n, Dest: path.Join(dest, n)})
	}
	if fuse {
		b.at("bind /dev/fuse into " + dest)
		c.bind(fuseNode(dest))
	}
	for _, l := range [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"/proc/kcore", "core"}, {"pts/ptmx", "ptmx"},
	} {
		c.symlink(l[0], path.Join(dest, l[1]))
	}
	b.at("create " + path.Join(dest, "shm"))
	shm := uint32(0o1777)
	if c.bwrapModes {
		shm = 0o755
	}
	b.closeReg(c.ensureDir(path.Join(dest, "shm"), shm))
	b.at("mount devpts on " + path.Join(dest, "pts"))
	// gid 5 ("tty" on Debian) exists only when mapped: try with it, then
	// without, as the Go init does. bwrap's devpts has no gid option.
	var fs, pts int32
	if c.bwrapMountFlags {
		fs = b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("devpts")), imm(unix.FSOPEN_CLOEXEC))
		pts = b.reg()
		c.devptsInto(fs, pts)
		c.attach(pts, c.mountPoint(path.Join(dest, "pts"), true), path.Join(dest, "pts"))
		c.console(dest, console, consolePath)
		return
	}
	fs = b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("devpts")), imm(unix.FSOPEN_CLOEXEC))
	var withGID []int
	for _, kv := range [][2]string{{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}, {"gid", strconv.Itoa(c.ttyGID)}} {
		c.fsconfig(fs, kv[0], kv[1])
		withGID = append(withGID, len(b.p.insns)-1)
	}
	b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_CMD_CREATE), imm(0), imm(0), imm(0))
	withGID = append(withGID, len(b.p.insns)-1)
	pts = b.reg()
	b.sys(unix.SYS_FSMOUNT, rval(fs), imm(unix.FSMOUNT_CLOEXEC), imm(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC))
	b.last().out = pts
	withGID = append(withGID, len(b.p.insns)-1)
	b.closeReg(fs)
	jumpOver := len(b.p.insns)
	b.sys(unix.SYS_GETPID) // a no-op whose success jumps past the retry
	retry := b.here()
	for _, i := range withGID {
		b.p.insns[i].softAll = true
		b.p.insns[i].onSoft = retry
	}
	b.closeReg(fs)
	fs = b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("devpts")), imm(unix.FSOPEN_CLOEXEC))
	c.devptsInto(fs, pts)
	b.p.insns[jumpOver].onOK = b.here()
	c.attach(pts, c.mountPoint(path.Join(dest, "pts"), true), path.Join(dest, "pts"))
	c.console(dest, console, consolePath)
}

// devptsInto configures, creates and mounts the devpts instance open as fs
// without a gid option, the mount going into the register pts.
func (c *rawTree) devptsInto(fs, pts int32) {
	b := c.b
	for _, kv := range [][2]string{{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}} {
		c.fsconfig(fs, kv[0], kv[1])
	}
	b.sys(unix.SYS_FSCONFIG, rval(fs), imm(unix.FSCONFIG_CMD_CREATE), imm(0), imm(0), imm(0))
	b.sys(unix.SYS_FSMOUNT, rval(fs), imm(unix.FSMOUNT_CLOEXEC), imm(unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC))
	b.last().out = pts
	b.closeReg(fs)
}

// console binds the terminal on the command's stdio as DEST/console.
func (c *rawTree) console(dest string, console int, consolePath string) {
	b := c.b
	if console >= 0 {
		// The terminal by its path (a mount can only be cloned from this
		// namespace's copy of the host's tree), checked to be the very
		// file on the command's stdio: a path could name another device
		// by the time it is resolved.
		b.at("bind the terminal " + consolePath + " as " + path.Join(dest, "console"))
		src := b.sysOut(unix.SYS_OPENAT2, rval(c.host), imm(b.cstr(consolePath)), imm(c.howPath), imm(24))
		b.emit(b.insn(rkSameFile, 0, imm(uintptr(src)), immInt(console)))
		b.hint(unix.EXDEV, "that path now names another file")
		tr := b.sysOut(unix.SYS_OPEN_TREE, rval(src), imm(b.cstr("")), imm(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH))
		b.closeReg(src)
		c.attach(tr, c.mountPoint(path.Join(dest, "console"), false), path.Join(dest, "console"))
	}
}

func (c *rawTree) symlink(target, dest string) { c.symlinkReplacing(target, dest, false) }

// symlinkReplacing makes a symlink at dest; with replace, what is there
// already (not the same symlink, not a directory) is covered by a symlink
// made on the staging tmpfs and mounted over dest's own entry (see
// tree.symlinkOver).
func (c *rawTree) symlinkReplacing(target, dest string, replace bool) {
	b := c.b
	sm := Mount{Op: OpSymlink, Source: target, Dest: dest}
	b.atMount(fmt.Sprintf("create symlink %s -> %s", dest, target), sm)
	dest = Clean(dest)
	parent := c.parents(dest)
	name := b.cstr(path.Base(dest))
	b.phase = PhaseCreate
	b.sys(unix.SYS_SYMLINKAT, imm(b.cstr(target)), rval(parent), imm(name))
	mk := len(b.p.insns) - 1
	b.p.insns[mk].soft[0] = uint16(unix.EEXIST)
	b.p.insns[mk].fallback = fbCreate
	b.p.insns[mk].onOK = b.here() + 1
	// Idempotent for the same target, as bwrap's --symlink.
	b.atMount(fmt.Sprintf("create symlink %s: something else is there already", dest), sm)
	b.phase = PhaseExisting
	in := b.insn(rkReadlinkEq, 0, imm(uintptr(parent)), imm(name))
	in.text = target
	eq := b.emit(in)
	if replace {
		// Another target (EEXIST) or no symlink (EINVAL): cover it. A
		// directory there makes the move_mount fail, and the Go init
		// says so.
		b.p.insns[eq].soft = [3]uint16{uint16(unix.EEXIST), uint16(unix.EINVAL)}
		b.p.insns[eq].onSoft = b.here()
		b.atMount(fmt.Sprintf("mount a symlink %s -> %s over what is there", dest, target), sm)
		c.nData++
		staged := b.cstr(path.Join(rawStaging, fmt.Sprintf("link%d", c.nData)))
		b.sys(unix.SYS_SYMLINKAT, imm(b.cstr(target)), imm(atFdcwd), imm(staged))
		tr := b.sysOut(unix.SYS_OPEN_TREE, imm(atFdcwd), imm(staged), imm(unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_SYMLINK_NOFOLLOW))
		under := b.sysOut(unix.SYS_OPENAT, rval(parent), imm(name), imm(unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC))
		c.attach(tr, under, dest)
		b.p.insns[eq].onOK = b.here()
		// A symlink made in place is done: past the covering mount too
		// (onOK above only skips the readlink check).
		b.p.insns[mk].onOK = b.here()
	}
	b.closeReg(parent)
}

// finish makes deferred mounts read-only, detaches the host clone and
// switches to the new root with pivot_root; when "/" is not a mount point
// (EINVAL) it asks for the Go init, which falls back to MS_MOVE + chroot.
func (c *rawTree) finish() {
	b := c.b
	b.at("make mounts read-only")
	for i, r := range c.roLast {
		b.atMount(fmt.Sprintf("%s %s", OpRemountRO, c.roMounts[i].Dest), c.roMounts[i])
		attr := make([]byte, 32)
		ne.PutUint64(attr[0:], unix.MOUNT_ATTR_RDONLY)
		b.sys(unix.SYS_MOUNT_SETATTR, rval(r), imm(b.cstr("")), imm(unix.AT_EMPTY_PATH), imm(b.bytes(attr)), imm(32))
		b.closeReg(r)
	}
	b.closeReg(c.host)
	b.closeReg(c.root)
	hostDir := path.Join(rawStaging, "host")
	b.at("detach the host tree")
	b.sys(unix.SYS_UMOUNT2, imm(b.cstr(hostDir)), imm(unix.MNT_DETACH))
	b.at("switch to the new root")
	b.sys(unix.SYS_CHDIR, imm(b.cstr(path.Join(rawStaging, "root"))))
	dot := b.cstr(".")
	b.sys(unix.SYS_PIVOT_ROOT, imm(dot), imm(dot))
	b.last().fallback = errnoBit(unix.EINVAL)
	b.sys(unix.SYS_UMOUNT2, imm(dot), imm(unix.MNT_DETACH))
	b.sys(unix.SYS_CHDIR, imm(b.cstr("/")))
}
