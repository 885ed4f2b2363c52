package sandbox

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tryUserNS makes a child in a new user namespace that exits at once, and
// reports whether the kernel allowed it. clone(2), unlike unshare(2), may
// make a user namespace from a multi-threaded process.
//
//go:norace
func tryUserNS() error {
	syscall.ForkLock.Lock()
	old := blockSignals()
	pid, _, errno := syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		exitNow()
	}
	setSignalMask(&old)
	syscall.ForkLock.Unlock()
	if errno != 0 {
		return errno
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(int(pid), &ws, 0, nil); !errors.Is(err, unix.EINTR) {
			return nil
		}
	}
}

// exitNow ends the child of tryUserNS without running any Go code.
//
//go:nosplit
//go:norace
func exitNow() {
	syscall.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
}

// rawNestedFork forks the command's process into rawNestedChild.
//
//go:norace
//go:nocheckptr
func rawNestedFork(p *nestPlan) (int, syscall.Errno) {
	syscall.ForkLock.Lock()
	old := blockSignals()
	pid, _, errno := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		rawNestedChild(p, &old)
	}
	setSignalMask(&old)
	syscall.ForkLock.Unlock()
	return int(pid), errno
}

// rawNestedChild unshares a user namespace, maps its uid and gid onto
// themselves and execs the command. Only raw system calls on prepared
// memory: no allocation, no stack growth, no pointer stores. Never returns.
//
//go:nosplit
//go:norace
//go:nocheckptr
func rawNestedChild(p *nestPlan, oldMask *uint64) {
	var rec [2]uint64
	step := 0
	var errno syscall.Errno
	var fd uintptr
	if p.userns2 >= 0 {
		step = 3
		if _, _, errno = syscall.RawSyscall(unix.SYS_SETNS, uintptr(p.userns2), unix.CLONE_NEWUSER, 0); errno != 0 {
			goto failed
		}
		goto entered
	}
	if _, _, errno = syscall.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0); errno != 0 {
		goto failed
	}
	// pid 1 made itself non-dumpable, which makes its /proc files root's;
	// this process must be able to open its own.
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 1, 0, 0, 0, 0)
	step = 1
	if fd, _, errno = syscall.RawSyscall6(unix.SYS_OPENAT, uintptr(p.proc), uintptr(unsafe.Pointer(p.uidPath)), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0); errno != 0 {
		goto failed
	}
	if _, _, errno = syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p.uidMap[0])), uintptr(len(p.uidMap))); errno != 0 {
		goto failed
	}
	syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	if fd, _, errno = syscall.RawSyscall6(unix.SYS_OPENAT, uintptr(p.proc), uintptr(unsafe.Pointer(p.sgPath)), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0); errno != 0 {
		goto failed
	}
	if _, _, errno = syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p.deny[0])), uintptr(len(p.deny))); errno != 0 {
		goto failed
	}
	syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	if fd, _, errno = syscall.RawSyscall6(unix.SYS_OPENAT, uintptr(p.proc), uintptr(unsafe.Pointer(p.gidPath)), unix.O_WRONLY|unix.O_CLOEXEC, 0, 0, 0); errno != 0 {
		goto failed
	}
	if _, _, errno = syscall.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p.gidMap[0])), uintptr(len(p.gidMap))); errno != 0 {
		goto failed
	}
	syscall.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_DUMPABLE, 0, 0, 0, 0, 0)
entered:
	// Entering or making a user namespace gave every capability in it:
	// leave exactly the kept set, as the init left its own (bounding,
	// permitted, effective, inheritable, and ambient).
	step = 4
	for c := 0; c <= p.lastCap; c++ {
		if p.keep&(1<<uint(c)) == 0 {
			syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0, 0)
		}
	}
	if _, _, errno = syscall.RawSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&p.capHdr[0])), uintptr(unsafe.Pointer(&p.capData[0])), 0); errno != 0 {
		goto failed
	}
	// Ambient only for a non-root uid: root keeps them across exec anyway.
	if uid, _, _ := syscall.RawSyscall(unix.SYS_GETUID, 0, 0, 0); uid != 0 || p.ambientAlways {
		for c := 0; c <= p.lastCap; c++ {
			if p.keep&(1<<uint(c)) != 0 {
				syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0, 0)
			}
		}
	}
	// The caller's seccomp programs, now that nothing more needs what they
	// may forbid (no_new_privs is set).
	step = 5
	for i := 0; i < len(p.progs); i++ {
		if _, _, errno = syscall.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&p.progs[i]))); errno != 0 {
			goto failed
		}
	}
	rawDefaultSignals(&p.sigOld, &p.sigAct, oldMask)
	step = 2
	_, _, errno = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(p.path)),
		uintptr(unsafe.Pointer(&p.argv[0])), uintptr(unsafe.Pointer(&p.envv[0])))
failed:
	rec[0], rec[1] = uint64(step), uint64(errno)
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(p.report), uintptr(unsafe.Pointer(&rec[0])), 16)
	syscall.RawSyscall(unix.SYS_EXIT_GROUP, 127, 0, 0)
}
