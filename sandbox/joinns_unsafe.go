package sandbox

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawJoinFork forks the single-threaded middle process of forkJoined and,
// in the parent, returns its pid. Signals are blocked across the fork so
// that none runs a Go handler in a copy without a runtime.
//
//go:norace
//go:nocheckptr
func rawJoinFork(p *joinPlan) (int, syscall.Errno) {
	old := blockSignals()
	pid, _, errno := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		rawJoinChild(p, &old)
	}
	setSignalMask(&old)
	return int(pid), errno
}

// rawJoinChild is the middle process and, after its clone, the init before
// exec. It must not allocate, grow its stack or store pointers: it only
// makes raw system calls on memory prepared by the parent. It never returns.
//
//go:nosplit
//go:norace
//go:nocheckptr
func rawJoinChild(p *joinPlan, oldMask *uint64) {
	var rec [2]uint64
	step := 0
	var errno syscall.Errno
	if p.userns >= 0 {
		step = 1
		if _, _, errno = syscall.RawSyscall(unix.SYS_SETNS, uintptr(p.userns), unix.CLONE_NEWUSER, 0); errno != 0 {
			goto failed
		}
	}
	if p.pidns >= 0 {
		step = 2
		if _, _, errno = syscall.RawSyscall(unix.SYS_SETNS, uintptr(p.pidns), unix.CLONE_NEWPID, 0); errno != 0 {
			goto failed
		}
		if p.flags&unix.CLONE_NEWPID != 0 {
			// A new pid namespace can only be made by a process that
			// is in the namespace it would be below, and setns moved
			// only this process's children: one more fork, which nook
			// reaps too.
			pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_PARENT|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
			if e != 0 {
				errno = e
				goto failed
			}
			if pid != 0 {
				rec[0], rec[1] = reportReap, uint64(pid)
				syscall.RawSyscall(unix.SYS_WRITE, uintptr(p.report), uintptr(unsafe.Pointer(&rec[0])), 16)
				syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
			}
		}
	}
	{
		step = 3
		pid, _, e := syscall.RawSyscall6(unix.SYS_CLONE, p.flags, 0, 0, 0, 0, 0)
		if e != 0 {
			errno = e
			goto failed
		}
		if pid != 0 {
			// pid counts in this process's pid namespace, which may be
			// the joined one; the init reports itself instead.
			syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
	}
	// The init, in the joined and the new namespaces. Its first message
	// carries its credentials, which the kernel translates into nook's pid
	// namespace (SO_PASSCRED on nook's end of the socket).
	rec[0], rec[1] = reportPid, 0
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(p.report), uintptr(unsafe.Pointer(&rec[0])), 16)
	step = 4
	if p.setsid {
		_, _, errno = syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0)
	} else {
		_, _, errno = syscall.RawSyscall(unix.SYS_SETPGID, 0, 0, 0)
	}
	if errno != 0 {
		goto failed
	}
	if p.ctty >= 0 && !p.setsid {
		// Signals are blocked, SIGTTOU included: allowed from the
		// background.
		pid, _, _ := syscall.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
		p.pgrp = int32(pid)
		if _, _, errno = syscall.RawSyscall(unix.SYS_IOCTL, uintptr(p.ctty), unix.TIOCSPGRP, uintptr(unsafe.Pointer(&p.pgrp))); errno != 0 {
			goto failed
		}
	}
	step = 5
	if _, _, errno = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0, 0); errno != 0 {
		goto failed
	}
	// setns gave every capability in the joined namespace; keep them
	// across execve for a non-root uid through the ambient set, as the
	// normal path does with SysProcAttr.AmbientCaps.
	step = 6
	p.caps[0] = unix.LINUX_CAPABILITY_VERSION_3
	if _, _, errno = syscall.RawSyscall(unix.SYS_CAPGET, uintptr(unsafe.Pointer(&p.caps[0])), uintptr(unsafe.Pointer(&p.capData[0])), 0); errno != 0 {
		goto failed
	}
	p.capData[2], p.capData[5] = p.capData[1], p.capData[4] // inheritable = permitted
	if _, _, errno = syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&p.caps[0])), uintptr(unsafe.Pointer(&p.capData[0])), 0); errno != 0 {
		goto failed
	}
	for c := 0; c <= p.lastCap; c++ {
		syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0, 0)
	}
	// fds: first everything out of the way (close-on-exec copies above
	// the table), then into place without close-on-exec.
	step = 7
	for i := 0; i < len(p.fds); i++ {
		p.tmp[i] = -1
		if p.fds[i] >= 0 {
			fd, _, e := syscall.RawSyscall(unix.SYS_FCNTL, uintptr(p.fds[i]), unix.F_DUPFD_CLOEXEC, uintptr(len(p.fds)))
			if e != 0 {
				errno = e
				goto failed
			}
			p.tmp[i] = int(fd)
		}
	}
	for i := 0; i < len(p.fds); i++ {
		if p.tmp[i] < 0 {
			syscall.RawSyscall(unix.SYS_CLOSE, uintptr(i), 0, 0)
			continue
		}
		if _, _, errno = syscall.RawSyscall(unix.SYS_DUP3, uintptr(p.tmp[i]), uintptr(i), 0); errno != 0 {
			goto failed
		}
	}
	rawDefaultSignals(&p.sigOld, &p.sigAct, oldMask)
	step = 8
	_, _, errno = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(p.path)),
		uintptr(unsafe.Pointer(&p.argv[0])), uintptr(unsafe.Pointer(&p.envv[0])))
failed:
	rec[0], rec[1] = uint64(reportErrno<<8|step), uint64(errno)
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(p.report), uintptr(unsafe.Pointer(&rec[0])), 16)
	syscall.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
}
