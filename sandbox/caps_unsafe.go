package sandbox

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropAllCaps leaves every thread of the Go init's pid 1 (see pid1caps.go
// for why every thread) with no capability and no way to gain one: its
// sets emptied (the ambient one with them), and no_new_privs set, so
// that an exec from any thread gains nothing (the kernel then limits the
// new permitted set to the old one, empty, for uid 0 and for set-user-ID
// and file-capability binaries alike). Each step needs no privilege and
// gives one answer on every thread, as AllThreadsSyscall requires. The
// bounding sets stay: dropping from them needs CAP_SETPCAP, which not every
// thread holds (a switch from uid 0 cleared it on all but the one that set
// up the command), and with no_new_privs they no longer matter.
//
// With cgo AllThreadsSyscall cannot reach the threads: only this one is
// done, and errCapsThisThread says so (checkPID1Reach has already refused
// a command that could use the rest).
func dropAllCaps() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	each := syscall.AllThreadsSyscall6
	if !allThreadsSyscall() {
		each = func(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, uintptr, syscall.Errno) {
			return syscall.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
		}
	}
	// capset first (the command runs already: every moment counts), and
	// it clears the ambient set too, which may hold only what is both
	// permitted and inheritable.
	if _, _, e := each(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0, 0, 0, 0); e != 0 {
		return os.NewSyscallError("capset", e)
	}
	if _, _, e := each(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return os.NewSyscallError("prctl PR_SET_NO_NEW_PRIVS", e)
	}
	if !allThreadsSyscall() {
		return errCapsThisThread
	}
	return nil
}
