package sandbox

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropAllCaps empties the capability sets of every thread of the Go init's
// pid 1. The command runs in pid 1's user namespace and may trace it; then
// pid 1 must hold nothing the command lacks. The sets are per thread, and
// a Go process has several, hence AllThreadsSyscall (which needs a build
// without cgo, as nook's is; with cgo it does nothing).
func dropAllCaps() {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
}
