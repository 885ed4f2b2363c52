package sandbox

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file is the only code that runs in the raw child between fork and
// exec. The child is a copy of a multi-threaded Go process with one thread
// left, so it must not enter the Go runtime: every function here is
// nosplit (no stack growth, no preemption check), allocates nothing, writes
// no pointers (no write barriers) and makes system calls only through
// syscall.RawSyscall6. Signals stay blocked from before the fork until the
// exec; the command's own mask is restored just before execve.

// addrOf returns the address of b's first byte (b must stay reachable).
func addrOf(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

// addrOfPtrs returns the address of an array of pointers (argv, envp).
func addrOfPtrs(p []uintptr) uintptr {
	return uintptr(unsafe.Pointer(&p[0]))
}

// addrOfAny returns the address of a value the instructions point into.
func addrOfAny[T any](v *T) uintptr { return uintptr(unsafe.Pointer(v)) }

// initialSigmask is the signal mask nook started with (package init runs
// on the main thread, before the runtime blocks anything there); the
// command gets it back at exec, as from the standard library's fork/exec.
var initialSigmask = func() uint64 {
	var m uint64
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, 0, uintptr(unsafe.Pointer(&m)), 8, 0, 0)
	return m
}()

// rawFork forks the child that runs p. It returns the child's pid in the
// parent. Must be called on a locked OS thread: the parent-death signal
// follows the thread that forks, so the child is killed if that thread
// ends. The Go runtime ends a thread only when a goroutine locked to it
// exits without unlocking; nook has none that does (an embedder that
// starts a sandbox from such a goroutine loses its sandbox with it).
//
//go:nosplit
//go:norace
func rawFork(p *rawProg) (pid uintptr, errno syscall.Errno) {
	all := ^uint64(0)
	var old uint64
	// Block every signal on this thread, so none is delivered to the child
	// before it has reset the Go handlers it inherited.
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK,
		uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return 0, e
	}
	p.sigmask = initialSigmask
	if p.shared {
		// The child shares this process's memory and runs on its own
		// stack: no page tables copied, no copy-on-write faults (and TLB
		// shootdowns, costly in a VM) in this multi-threaded parent
		// afterwards. startRaw decides when that is allowed.
		p.entry = 0
		r, e := rawCloneVM(p.cloneFlags|unix.CLONE_VM|uintptr(unix.SIGCHLD), p.stackTop[0], p)
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
		return r, syscall.Errno(e)
	}
	if useCloneVM {
		// A copy of this process's memory, but the child starts on a
		// stack of its own: the goroutine stack this runs on may not be
		// copied into it (forkOnly).
		p.entry = 0
		r, e := rawCloneVM(p.cloneFlags|uintptr(unix.SIGCHLD), p.stackTop[0], p)
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
		return r, syscall.Errno(e)
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_CLONE, p.cloneFlags|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 || r != 0 {
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
		return r, e
	}
	rawRun(p, 0)
	return 0, 0 // not reached: rawRun ends in exec or exit
}

// rawChildEntry is referenced from assembly only.
var _ = rawChildEntry

// rawChildEntry is where a child made by rawCloneVM starts, on its own
// stack.
//
//go:nosplit
//go:norace
func rawChildEntry(p *rawProg) {
	rawRun(p, int(p.entry))
}

//go:nosplit
//go:norace
func rawExit(code uintptr) {
	for {
		syscall.RawSyscall6(unix.SYS_EXIT_GROUP, code, 0, 0, 0, 0, 0)
	}
}

// rawReport writes one record to fd (errors ignored: nobody may be
// listening any more).
//
//go:nosplit
//go:norace
func rawReport(p *rawProg, fd uintptr, kind, a, b, c, d uint32) {
	p.rec[0], p.rec[1], p.rec[2], p.rec[3], p.rec[4] = kind, a, b, c, d
	syscall.RawSyscall6(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p.rec[0])), recSize, 0, 0, 0)
}

//go:nosplit
//go:norace
func rawArg(p *rawProg, in *rawInsn, i uint) uintptr {
	a := in.args[i]
	if in.argReg&(1<<i) != 0 {
		return p.regs[a&(rawRegs-1)]
	}
	if in.argAddr&(1<<i) != 0 {
		return uintptr(unsafe.Pointer(&p.regs[a&(rawRegs-1)]))
	}
	return a
}

// rawRun interprets p from instruction pc. It never returns.
//
//go:nosplit
//go:norace
func rawRun(p *rawProg, pc int) {
	n := len(p.insns)
	for pc >= 0 && pc < n {
		in := &p.insns[pc]
		next := pc + 1
		var r uintptr
		var e syscall.Errno
		switch in.kind {
		case rkSyscall:
			r, _, e = syscall.RawSyscall6(in.nr, rawArg(p, in, 0), rawArg(p, in, 1), rawArg(p, in, 2),
				rawArg(p, in, 3), rawArg(p, in, 4), rawArg(p, in, 5))
		case rkExit:
			rawExit(in.args[0])
		case rkResetSignals:
			rawResetSignals(p)
		case rkCapsEffective:
			e = rawCapsEffective(p)
		case rkCapsApply:
			e = rawCapsApply(p, in)
		case rkIfUp:
			// ifr_flags follows the 16-byte interface name.
			p.ifr[16] |= byte(unix.IFF_UP)
		case rkReadlinkEq:
			e = rawReadlinkEq(p, in)
		case rkFork:
			if p.cloneVM {
				// The command starts on the second stack at the next
				// instruction; pid 1 waits (CLONE_VFORK) until it has
				// exec'd, so they never run on shared memory together.
				p.entry = uint32(next)
				var ee uintptr
				r, ee = rawCloneVM(unix.CLONE_VM|unix.CLONE_VFORK|in.args[0]|uintptr(unix.SIGCHLD), p.stackTop[1], p)
				e = syscall.Errno(ee)
				break
			}
			r, _, e = syscall.RawSyscall6(unix.SYS_CLONE, in.args[0]|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
			if e == 0 && r == 0 {
				pc = next
				continue // the child: go on with the command's steps
			}
		case rkCloneParent:
			// A plain fork: the child gets a copy of this memory (which
			// may be nook's own, shared by this middle process) and
			// nook, its parent by CLONE_PARENT, as the only waiter.
			r, _, e = syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_PARENT|in.args[0], 0, 0, 0, 0, 0)
			if e == 0 && r == 0 {
				pc = next
				continue
			}
			if e == 0 {
				rawReport(p, p.errFd, recPid, uint32(r), 0, 0, 0)
				rawExit(0)
			}
		case rkPipe:
			fds := (*[2]int32)(unsafe.Pointer(&p.scratch[0]))
			_, _, e = syscall.RawSyscall6(unix.SYS_PIPE2, uintptr(unsafe.Pointer(fds)), unix.O_CLOEXEC, 0, 0, 0, 0)
			if e == 0 {
				r = uintptr(fds[0])
				p.regs[in.args[0]&(rawRegs-1)] = uintptr(fds[1])
			}
		case rkForkHelper:
			if p.cloneVM {
				// The helper runs on the third stack from the next
				// instruction. It and this process take turns (a pipe,
				// then wait4): they never write the same memory at once.
				p.entry = uint32(next)
				var ee uintptr
				r, ee = rawCloneVM(unix.CLONE_VM|uintptr(unix.SIGCHLD), p.stackTop[2], p)
				e = syscall.Errno(ee)
				break
			}
			r, _, e = syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
			if e == 0 && r == 0 {
				pc = next
				continue
			}
		case rkReap:
			e = rawReap(p, p.regs[in.args[0]&(rawRegs-1)])
		case rkWaitLoop:
			rawWaitLoop(p, in)
		case rkPidEnv:
			rawPidEnv(p)
		case rkExec:
			rawExec(p, in)
		case rkMntID:
			r, e = rawMntID(p, p.regs[in.args[0]&(rawRegs-1)], 0, unix.AT_EMPTY_PATH)
		case rkWriteDecide:
			e = rawWriteDecide(p, in)
		case rkWriteData:
			e = rawWriteAll(p.regs[in.args[0]&(rawRegs-1)], in.args[1], in.args[2])
		case rkChmodable:
			e = rawChmodable(p, p.regs[in.args[0]&(rawRegs-1)])
		case rkSameFile:
			e = rawSameFile(p, p.regs[in.args[0]&(rawRegs-1)], in.args[1])
		case rkCopyFd:
			e = rawCopyFd(p, p.regs[in.args[0]&(rawRegs-1)], in.args[1])
		case rkFormat:
			e = rawFormat(p, in)
		case rkWantDir:
			e = rawWantDir(p, p.regs[in.args[0]&(rawRegs-1)])
		case rkKindCheck:
			e = rawKindCheck(p, p.regs[in.args[0]&(rawRegs-1)], p.regs[in.args[1]&(rawRegs-1)])
		}
		if e == 0 {
			if in.out >= 0 {
				p.regs[in.out&(rawRegs-1)] = r
			}
			if (in.exitWhen == exitNonZero && r != 0) || (in.exitWhen == exitZero && r == 0) {
				rawExit(uintptr(in.code))
			}
			if in.onOK >= 0 {
				next = int(in.onOK)
			}
			pc = next
			continue
		}
		if in.softAll || e == syscall.Errno(in.soft[0]) || e == syscall.Errno(in.soft[1]) || e == syscall.Errno(in.soft[2]) {
			if in.onSoft >= 0 {
				next = int(in.onSoft)
			}
			pc = next
			continue
		}
		rawFail(p, in, pc, e)
	}
	rawExit(ExitSetupFailed)
}

// rawFail reports instruction pc's failure e to the parent and exits. It is
// a frame of its own (noinline) so that its temporaries do not widen
// rawRun's frame, which every nosplit chain below rawRun pays for.
//
//go:nosplit
//go:norace
//go:noinline
func rawFail(p *rawProg, in *rawInsn, pc int, e syscall.Errno) {
	if e < 64 && in.fallback&(1<<uint(e)) != 0 {
		rawReport(p, p.errFd, recFallback, uint32(in.step), uint32(e), 0, 0)
		rawExit(ExitSetupFailed)
	}
	rawReport(p, p.errFd, recError, uint32(in.step), uint32(e), uint32(in.code), uint32(pc)|pcFlag)
	if in.kind == rkReadlinkEq && e == unix.EEXIST {
		// What the symlink in the way points to, for the message.
		rawReport(p, p.errFd, recText, uint32(p.textLen), 0, 0, 0)
		syscall.RawSyscall6(unix.SYS_WRITE, p.errFd, uintptr(unsafe.Pointer(&p.scratch[0])), p.textLen, 0, 0, 0)
	}
	rawExit(uintptr(in.code))
}

// rawReap waits for the child pid, which must exit 0; otherwise this
// process exits at once: the child wrote the error record.
//
//go:nosplit
//go:norace
func rawReap(p *rawProg, pid uintptr) syscall.Errno {
	ws := (*uint32)(unsafe.Pointer(&p.scratch[0]))
	for {
		_, _, e := syscall.RawSyscall6(unix.SYS_WAIT4, pid, uintptr(unsafe.Pointer(ws)), 0, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if *ws != 0 { // not "exited with status 0"
			rawExit(ExitSetupFailed)
		}
		return 0
	}
}

// rawResetSignals puts every signal with a handler (the Go runtime's,
// inherited with the memory) back to SIG_DFL, as exec would; ignored
// signals stay ignored, as across exec.
//
//go:nosplit
//go:norace
func rawResetSignals(p *rawProg) {
	act := (*[4]uint64)(unsafe.Pointer(&p.scratch[0]))
	dfl := (*[4]uint64)(unsafe.Pointer(&p.scratch[64]))
	dfl[0], dfl[1], dfl[2], dfl[3] = 0, 0, 0, 0
	for sig := uintptr(1); sig <= 64; sig++ {
		act[0] = 0
		if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(act)), 8, 0, 0); e != 0 {
			continue
		}
		if act[0] > 1 { // neither SIG_DFL (0) nor SIG_IGN (1)
			syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(dfl)), 0, 8, 0, 0)
		}
	}
}

// capability header and data live in scratch: header at 0 (2 uint32),
// data at 16 (2 x {effective, permitted, inheritable}).
//
//go:nosplit
//go:norace
func rawCapGet(p *rawProg) (*[6]uint32, syscall.Errno) {
	hdr := (*[2]uint32)(unsafe.Pointer(&p.scratch[0]))
	data := (*[6]uint32)(unsafe.Pointer(&p.scratch[16]))
	hdr[0], hdr[1] = unix.LINUX_CAPABILITY_VERSION_3, 0
	_, _, e := syscall.RawSyscall6(unix.SYS_CAPGET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(data)), 0, 0, 0, 0)
	return data, e
}

//go:nosplit
//go:norace
func rawCapSet(p *rawProg) syscall.Errno {
	hdr := (*[2]uint32)(unsafe.Pointer(&p.scratch[0]))
	hdr[0], hdr[1] = unix.LINUX_CAPABILITY_VERSION_3, 0
	_, _, e := syscall.RawSyscall6(unix.SYS_CAPSET, uintptr(unsafe.Pointer(hdr)), uintptr(unsafe.Pointer(&p.scratch[16])), 0, 0, 0, 0)
	return e
}

//go:nosplit
//go:norace
func rawCapsEffective(p *rawProg) syscall.Errno {
	d, e := rawCapGet(p)
	if e != 0 {
		return e
	}
	d[0], d[3] = d[1], d[4]
	return rawCapSet(p)
}

// Flags of rkCapsApply (args[1]).
const (
	capsNonRoot       = 1 // the command runs as a non-root uid: raise ambient
	capsAmbientAlways = 2 // raise ambient even for uid 0
	capsKeepBounding  = 4 // leave the bounding set alone
	capsLeaveSets     = 8 // inheritable empty, no ambient
)

// rawCapsApply leaves exactly the kept capabilities in the bounding,
// permitted, effective and inheritable sets, and in the ambient set when
// the command runs as a non-root uid (see applyCaps and applyCapsAs, its
// Go twins, for the flags).
//
//go:nosplit
//go:norace
func rawCapsApply(p *rawProg, in *rawInsn) syscall.Errno {
	keep, flags, last := uint64(in.args[0]), in.args[1], in.args[2]
	if flags&capsKeepBounding == 0 {
		for c := uintptr(0); c <= last; c++ {
			if keep&(1<<c) != 0 {
				continue
			}
			if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, c, 0, 0, 0, 0); e != 0 {
				return e
			}
		}
	}
	d, e := rawCapGet(p)
	if e != 0 {
		return e
	}
	lo, hi := uint32(keep), uint32(keep>>32)
	d[0] &= lo
	d[1] &= lo
	d[2] = d[1]
	d[3] &= hi
	d[4] &= hi
	d[5] = d[4]
	if flags&capsLeaveSets != 0 {
		d[2], d[5] = 0, 0
	}
	have := uint64(d[1]) | uint64(d[4])<<32
	if e := rawCapSet(p); e != 0 {
		return e
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
		return e
	}
	if flags&capsLeaveSets != 0 || flags&(capsNonRoot|capsAmbientAlways) == 0 {
		return 0
	}
	for c := uintptr(0); c <= last; c++ {
		if have&(1<<c) == 0 {
			continue
		}
		if _, _, e := syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0, 0); e != 0 {
			return e
		}
	}
	return 0
}

// rawReadlinkEq succeeds when the symlink args[1] in directory args[0]
// (a register) points to exactly in.text.
//
//go:nosplit
//go:norace
func rawReadlinkEq(p *rawProg, in *rawInsn) syscall.Errno {
	dir := p.regs[in.args[0]&(rawRegs-1)]
	n, _, e := syscall.RawSyscall6(unix.SYS_READLINKAT, dir, in.args[1], uintptr(unsafe.Pointer(&p.scratch[0])), uintptr(len(p.scratch)), 0, 0)
	p.textLen = 0
	if e != 0 {
		// EINVAL: what is there is no symlink (the parent words it so).
		return e
	}
	p.textLen = n
	if n != uintptr(len(in.text)) {
		return unix.EEXIST
	}
	for i := 0; i < len(in.text); i++ {
		if p.scratch[i] != in.text[i] {
			return unix.EEXIST
		}
	}
	return 0
}

// rawPidEnv writes this process's pid as decimal digits and a NUL after
// "LISTEN_PID=" in p.pidEnv.
//
//go:nosplit
//go:norace
func rawPidEnv(p *rawProg) {
	buf := p.pidEnv
	pid, _, _ := syscall.RawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
	var digits [10]byte
	i := len(digits)
	for {
		i--
		digits[i] = byte('0' + pid%10)
		pid /= 10
		if pid == 0 || i == 0 {
			break
		}
	}
	j := len(pidEnvPrefix)
	for ; i < len(digits) && j < len(buf)-1; i++ {
		buf[j] = digits[i]
		j++
	}
	buf[j] = 0
}

// rawExec tries each candidate path in turn with execve, after restoring
// the command's signal mask. See execCommand, its Go twin, for the rules:
// a missing file, or a PATH entry that cannot be searched, is "not there";
// a file found but not executable is 126; nothing found is 127.
//
//go:nosplit
//go:norace
func rawExec(p *rawProg, in *rawInsn) {
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.sigmask)), 0, 8, 0, 0)
	explicit := in.args[3] != 0
	denied, present := -1, -1
	var deniedErr syscall.Errno
	for i := 0; i < len(p.cands); i++ {
		path := p.cands[i]
		_, _, e := syscall.RawSyscall6(unix.SYS_EXECVE, path, in.args[1], in.args[2], 0, 0, 0)
		if e == unix.ENOEXEC && i < len(p.shellArgv) {
			// A script without "#!": the shell runs it (ShellFallback).
			_, _, e = syscall.RawSyscall6(unix.SYS_EXECVE, p.shell, p.shellArgv[i], in.args[2], 0, 0, 0)
			code := uint32(ExitCannotExecute)
			if e == unix.ENOENT {
				code = ExitNotFound
			}
			rawReport(p, p.errFd, recError, uint32(in.step), uint32(e), code, uint32(len(p.cands)))
			rawExit(uintptr(code))
		}
		switch e {
		case unix.ENOENT:
			// A file that is there: its interpreter is not (interp.go).
			st := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[0]))
			if _, _, se := syscall.RawSyscall6(unix.SYS_STATX, atFdcwd, path, 0, unix.STATX_TYPE, uintptr(unsafe.Pointer(st)), 0); se == 0 &&
				uint32(st.Mode)&unix.S_IFMT == unix.S_IFREG && present < 0 {
				present = i
			}
			continue
		case unix.ENOTDIR, unix.ENAMETOOLONG, unix.ELOOP:
			continue
		case unix.EACCES:
			st := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[0]))
			if _, _, se := syscall.RawSyscall6(unix.SYS_STATX, atFdcwd, path, 0, unix.STATX_TYPE, uintptr(unsafe.Pointer(st)), 0); se == 0 &&
				(uint32(st.Mode)&unix.S_IFMT != unix.S_IFDIR || explicit) {
				denied, deniedErr = i, e
				if uint32(st.Mode)&unix.S_IFMT == unix.S_IFDIR {
					deniedErr = unix.EISDIR
				}
			}
			continue
		default:
			rawReport(p, p.errFd, recError, uint32(in.step), uint32(e), ExitCannotExecute, uint32(i))
			rawExit(ExitCannotExecute)
		}
	}
	if denied >= 0 {
		rawReport(p, p.errFd, recError, uint32(in.step), uint32(deniedErr), ExitCannotExecute, uint32(denied))
		rawExit(ExitCannotExecute)
	}
	if present >= 0 {
		rawReport(p, p.errFd, recError, uint32(in.step), uint32(unix.ENOENT), ExitNotFound, uint32(present)|interpFlag)
		rawExit(ExitNotFound)
	}
	rawReport(p, p.errFd, recError, uint32(in.step), uint32(unix.ENOENT), ExitNotFound, 0)
	rawExit(ExitNotFound)
}

// rawWaitLoop is pid 1's life. Every signal stays blocked: one sent to
// the sandbox's process group is also the command's own copy, and pid 1 of
// a namespace ignores the rest anyway. The forwarded ones and SIGCHLD are
// read from a signalfd: on SIGCHLD reap every child, report the command's
// stops, and when it ends, report its status and exit with it — which makes
// the kernel kill whatever is left in the namespace. A forwarded signal is
// passed on to the command only when it has left pid 1's process group
// (setsid): otherwise the group's copy reached it already.
//
//go:nosplit
//go:norace
func rawWaitLoop(p *rawProg, in *rawInsn) {
	cmd := p.regs[in.args[0]&(rawRegs-1)]
	fd := in.args[1]
	mask := uint64(in.args[2])
	sfd, _, e := syscall.RawSyscall6(unix.SYS_SIGNALFD4, ^uintptr(0), uintptr(unsafe.Pointer(&mask)), 8, unix.SFD_CLOEXEC, 0, 0)
	if e != 0 {
		sfd = ^uintptr(0) // no signalfd: block in wait4 instead, forward nothing
	}
	own, _, _ := syscall.RawSyscall6(unix.SYS_GETPGID, 0, 0, 0, 0, 0, 0)
	var ws uint32
	for {
		flags := uintptr(unix.WUNTRACED | unix.WNOHANG)
		if sfd == ^uintptr(0) {
			flags = unix.WUNTRACED
		}
		got, _, e := syscall.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), flags, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			rawExit(ExitSetupFailed) // ECHILD: the command is gone unreported
		}
		if got == 0 {
			// Nothing to reap: wait for the next signal.
			n, _, e := syscall.RawSyscall6(unix.SYS_READ, sfd, uintptr(unsafe.Pointer(&p.scratch[0])), 128, 0, 0, 0)
			if e != 0 || n < 4 {
				continue
			}
			sig := uintptr(p.scratch[0]) | uintptr(p.scratch[1])<<8 | uintptr(p.scratch[2])<<16 | uintptr(p.scratch[3])<<24
			if sig != uintptr(unix.SIGCHLD) {
				if pg, _, e := syscall.RawSyscall6(unix.SYS_GETPGID, cmd, 0, 0, 0, 0, 0); e == 0 && pg != own {
					syscall.RawSyscall6(unix.SYS_KILL, cmd, sig, 0, 0, 0, 0)
				}
			}
			continue
		}
		if got != cmd {
			continue
		}
		// The records are written here, not through rawReport: one frame
		// less on this nosplit chain (rawFork → rawRun → rawWaitLoop), which
		// instrumented builds (go test -fuzz) otherwise overflow.
		p.rec = [5]uint32{}
		exit := uintptr(0)
		switch {
		case ws&0xff == 0x7f: // stopped
			p.rec[0], p.rec[1] = recStopped, (ws>>8)&0xff
			exit = ^uintptr(0)
		case ws&0x7f == 0: // exited
			p.rec[0], p.rec[1] = recDone, (ws>>8)&0xff
			exit = uintptr(p.rec[1])
		default: // killed
			p.rec[0], p.rec[2] = recDone, ws&0x7f
			exit = uintptr(128 + p.rec[2])
		}
		syscall.RawSyscall6(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p.rec[0])), recSize, 0, 0, 0)
		if exit != ^uintptr(0) {
			rawExit(exit)
		}
	}
}

// rawMntID returns the mount id of name in dir (statx STATX_MNT_ID).
//
//go:nosplit
//go:norace
func rawMntID(p *rawProg, dir, name, flags uintptr) (uintptr, syscall.Errno) {
	st := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[0]))
	if name == 0 {
		name = uintptr(unsafe.Pointer(&p.empty[0]))
	}
	_, _, e := syscall.RawSyscall6(unix.SYS_STATX, dir, name, flags, unix.STATX_MNT_ID|unix.STATX_TYPE, uintptr(unsafe.Pointer(st)), 0)
	if e != 0 {
		return 0, e
	}
	return uintptr(st.Mnt_id), 0
}

// rawWriteDecide succeeds when the file may be written in place: its
// directory (register args[0]) is on a mount nook made (a mount id held in
// one of the registers of mask args[2]), and the entry args[1] is missing
// or a plain file on that same mount — not a symlink, not a host file
// mounted there. Otherwise EXDEV: the data goes on the staging tmpfs and
// is bound over the destination, so no host file is ever written.
//
//go:nosplit
//go:norace
func rawWriteDecide(p *rawProg, in *rawInsn) syscall.Errno {
	dir := p.regs[in.args[0]&(rawRegs-1)]
	dm, e := rawMntID(p, dir, 0, unix.AT_EMPTY_PATH)
	if e != 0 {
		return e
	}
	owned := false
	mask := uint64(in.args[2])
	for r := uintptr(0); r < rawRegs; r++ {
		if mask&(1<<r) != 0 && p.regs[r] == dm {
			owned = true
		}
	}
	if !owned {
		return unix.EXDEV
	}
	em, e := rawMntID(p, dir, in.args[1], unix.AT_SYMLINK_NOFOLLOW)
	if e == unix.ENOENT {
		return 0
	}
	if e != 0 {
		return e
	}
	st := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[0]))
	if em != dm || uint32(st.Mode)&unix.S_IFMT != unix.S_IFREG {
		return unix.EXDEV
	}
	return 0
}

//go:nosplit
//go:norace
func rawWriteAll(fd, buf, n uintptr) syscall.Errno {
	for n > 0 {
		w, _, e := syscall.RawSyscall6(unix.SYS_WRITE, fd, buf, n, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if w == 0 {
			return unix.EIO
		}
		buf += w
		n -= w
	}
	return 0
}

//go:nosplit
//go:norace
func rawCopyFd(p *rawProg, dst, src uintptr) syscall.Errno {
	buf := uintptr(unsafe.Pointer(&p.scratch[0]))
	for {
		n, _, e := syscall.RawSyscall6(unix.SYS_READ, src, buf, uintptr(len(p.scratch)), 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if n == 0 {
			return 0
		}
		if e := rawWriteAll(dst, buf, n); e != 0 {
			return e
		}
	}
}

//go:nosplit
//go:norace
func rawChmodable(p *rawProg, fd uintptr) syscall.Errno {
	st := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[0]))
	_, _, e := syscall.RawSyscall6(unix.SYS_STATX, fd, uintptr(unsafe.Pointer(&p.empty[0])), unix.AT_EMPTY_PATH, unix.STATX_TYPE, uintptr(unsafe.Pointer(st)), 0)
	if e != 0 {
		return e
	}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFLNK:
		return unix.ELOOP
	case unix.S_IFCHR, unix.S_IFBLK:
		return unix.EPERM
	}
	return 0
}

//go:nosplit
//go:norace
func rawSameFile(p *rawProg, a, b uintptr) syscall.Errno {
	sa := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[0]))
	sb := (*unix.Statx_t)(unsafe.Pointer(&p.scratch[512]))
	empty := uintptr(unsafe.Pointer(&p.empty[0]))
	const what = unix.STATX_TYPE | unix.STATX_INO
	if _, _, e := syscall.RawSyscall6(unix.SYS_STATX, a, empty, unix.AT_EMPTY_PATH, what, uintptr(unsafe.Pointer(sa)), 0); e != 0 {
		return e
	}
	if _, _, e := syscall.RawSyscall6(unix.SYS_STATX, b, empty, unix.AT_EMPTY_PATH, what, uintptr(unsafe.Pointer(sb)), 0); e != 0 {
		return e
	}
	if sa.Dev_major != sb.Dev_major || sa.Dev_minor != sb.Dev_minor || sa.Ino != sb.Ino ||
		sa.Rdev_major != sb.Rdev_major || sa.Rdev_minor != sb.Rdev_minor {
		return unix.EXDEV
	}
	return 0
}

// rawFormat writes in.text into p.scratch from offset in.args[0] (at most
// in.args[1] bytes) with every register reference (fmtReg, number)
// replaced by the register's value in decimal, and a NUL after;
// ENAMETOOLONG when it does not fit (the compiler sizes the room so that
// it always does).
//
//go:nosplit
//go:norace
func rawFormat(p *rawProg, in *rawInsn) syscall.Errno {
	off, n := in.args[0], in.args[1]
	if off >= uintptr(len(p.scratch)) || n == 0 || n > uintptr(len(p.scratch))-off {
		return unix.ENAMETOOLONG
	}
	buf := p.scratch[off : off+n]
	t := in.text
	j := 0
	for i := 0; i < len(t); i++ {
		if t[i] != fmtReg || i+1 >= len(t) {
			if j >= len(buf)-1 {
				return unix.ENAMETOOLONG
			}
			buf[j] = t[i]
			j++
			continue
		}
		i++
		v := p.regs[t[i]&(rawRegs-1)]
		var digits [20]byte
		k := len(digits)
		for {
			k--
			digits[k] = byte('0' + v%10)
			v /= 10
			if v == 0 || k == 0 {
				break
			}
		}
		for ; k < len(digits); k++ {
			if j >= len(buf)-1 {
				return unix.ENAMETOOLONG
			}
			buf[j] = digits[k]
			j++
		}
	}
	buf[j] = 0
	return 0
}

// rawKindCheck says why a mount could not be moved onto a target: ENOTDIR
// when a directory was to go onto something else, EISDIR for the reverse,
// EINVAL (the kernel's answer) when they are alike.
//
//go:nosplit
//go:norace
//go:noinline
func rawKindCheck(p *rawProg, mount, target uintptr) syscall.Errno {
	st := (*unix.Stat_t)(unsafe.Pointer(&p.scratch[0]))
	if _, _, e := syscall.RawSyscall6(unix.SYS_FSTAT, mount, uintptr(unsafe.Pointer(st)), 0, 0, 0, 0); e != 0 {
		return unix.EINVAL
	}
	mdir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if _, _, e := syscall.RawSyscall6(unix.SYS_FSTAT, target, uintptr(unsafe.Pointer(st)), 0, 0, 0, 0); e != 0 {
		return unix.EINVAL
	}
	tdir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case mdir && !tdir:
		return unix.ENOTDIR
	case !mdir && tdir:
		return unix.EISDIR
	}
	return unix.EINVAL
}

// rawWantDir fails with ENOTDIR unless fd is a directory.
//
//go:nosplit
//go:norace
//go:noinline
func rawWantDir(p *rawProg, fd uintptr) syscall.Errno {
	st := (*unix.Stat_t)(unsafe.Pointer(&p.scratch[0]))
	if _, _, e := syscall.RawSyscall6(unix.SYS_FSTAT, fd, uintptr(unsafe.Pointer(st)), 0, 0, 0, 0); e != 0 {
		return e
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return 0
}
