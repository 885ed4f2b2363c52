package sandbox

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropAllCaps empties the capability sets of every thread of the Go init's
// pid 1 (see pid1caps.go for why every thread): with bounding (every thread
// holds CAP_SETPCAP, see checkPID1Reach) the bounding sets first, then the
// ambient sets, then the others. The sets are per thread, and a Go process
// has several, hence AllThreadsSyscall. With cgo that cannot reach the
// threads: only this thread's sets are emptied, and errCapsThisThread says
// so (checkPID1Reach has already refused a command that could use the
// rest).
func dropAllCaps(bounding bool) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	each := syscall.AllThreadsSyscall
	if !allThreadsSyscall() {
		each = func(trap, a1, a2, a3 uintptr) (uintptr, uintptr, syscall.Errno) {
			return syscall.RawSyscall(trap, a1, a2, a3)
		}
	}
	if bounding {
		for c := 0; c <= lastCap(); c++ {
			if _, _, e := each(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); e != 0 {
				return os.NewSyscallError("prctl PR_CAPBSET_DROP "+CapName(c), e)
			}
		}
	}
	if _, _, e := each(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0); e != 0 {
		return os.NewSyscallError("prctl PR_CAP_AMBIENT_CLEAR_ALL", e)
	}
	if _, _, e := each(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return os.NewSyscallError("capset", e)
	}
	if !allThreadsSyscall() {
		return errCapsThisThread
	}
	return nil
}
