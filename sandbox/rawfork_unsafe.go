package sandbox

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The raw forks of joined namespaces (rawJoinFork) and of the nested user
// namespace (rawNestedFork, tryUserNS) share one shape:
//
//	old := blockSignals()        parent: no signal may run a Go handler in
//	clone(...)                   a child that has no runtime
//	child:  ...raw system calls..., rawDefaultSignals(..., &old), execve
//	parent: setSignalMask(&old)
//
// rawFork (rawchild_unsafe.go) does the same steps in its own way and is
// left alone: it gives the child the mask nook started with rather than
// the current one, has a CLONE_VM branch whose child runs on a stack of
// its own, and reports a failed sigprocmask; its child resets handlers as
// instructions of the compiled program.

// blockSignals blocks every signal on the calling thread and returns the
// mask it had.
//
//go:nosplit
//go:norace
func blockSignals() (old uint64) {
	all := ^uint64(0)
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	return old
}

// setSignalMask sets the calling thread's signal mask to *mask.
//
//go:nosplit
//go:norace
//go:nocheckptr
func setSignalMask(mask *uint64) {
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(mask)), 0, 8, 0, 0)
}

// rawDefaultSignals, in a forked child about to exec, puts every handler
// back to the default (Go's handlers would run without a runtime; ignored
// signals stay ignored, as across exec) and then sets the mask to *mask,
// the caller's from before blockSignals. scratch receives each old action
// and dfl is a zeroed one (SIG_DFL): memory the parent prepared, since the
// child must not allocate or grow its stack.
//
//go:nosplit
//go:norace
//go:nocheckptr
func rawDefaultSignals(scratch, dfl *[4]uint64, mask *uint64) {
	for sig := 1; sig < 65; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			continue
		}
		scratch[0] = 0
		syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&scratch[0])), 8, 0, 0)
		if scratch[0] != 1 { // SIG_IGN
			syscall.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl[0])), 0, 8, 0, 0)
		}
	}
	setSignalMask(mask)
}
