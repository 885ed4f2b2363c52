package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Install loads prog with seccomp(2) SECCOMP_SET_MODE_FILTER.
//
// The kernel only accepts a filter from a caller that either holds
// CAP_SYS_ADMIN in its user namespace or has set no_new_privs
// (prctl(PR_SET_NO_NEW_PRIVS, 1)); otherwise Install fails with EACCES.
// Filters are inherited across fork and execve and cannot be removed.
//
// Install first asks for SECCOMP_FILTER_FLAG_TSYNC so that every thread of
// the process gets the filter: the Go runtime moves goroutines between
// threads, so a per-thread filter would cover whatever happens to run on one
// thread only. If TSYNC is refused (a thread carries an unrelated filter, or
// the kernel rejects the flag) Install falls back to the calling thread
// alone, and on kernels without seccomp(2) to prctl(PR_SET_SECCOMP), which
// is per-thread too. To be covered in every case, call
// runtime.LockOSThread before Install and start the sandboxed process from
// the same goroutine; that is what the fallbacks rely on.
func Install(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > maxInsns {
		return fmt.Errorf("install seccomp filter: program has %d instructions, want 1..%d", len(prog), maxInsns)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}

	tid, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	switch {
	case errno == 0 && tid == 0:
		runtime.KeepAlive(prog)
		return nil
	case errno == unix.ENOSYS:
		// seccomp(2) arrived in Linux 3.17; older kernels only have prctl.
		_, _, errno = unix.Syscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP,
			unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)))
		runtime.KeepAlive(prog)
		if errno != 0 {
			return fmt.Errorf("install seccomp filter with prctl: %w", errno)
		}
		return nil
	case errno == unix.EACCES:
		runtime.KeepAlive(prog)
		return fmt.Errorf("install seccomp filter (needs no_new_privs or CAP_SYS_ADMIN): %w", errno)
	}
	// TSYNC failed: errno 0 with a positive tid names a thread that could
	// not be synchronised; EINVAL may mean the flag is unknown. Try the
	// calling thread alone; a genuinely bad program fails here again.
	tsyncErr := error(errno)
	if errno == 0 {
		tsyncErr = fmt.Errorf("thread %d could not be synchronised", tid)
	}
	_, _, errno = unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0,
		uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errors.Join(errno, fmt.Errorf("with TSYNC: %w", tsyncErr)))
	}
	return nil
}
