//go:build amd64

package sandbox

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// threadTLS is the memory around this thread's FS base, where the Go
// runtime keeps its current goroutine: the assembly-to-Go wrapper a raw
// child enters through (rawChildEntry) loads that word, though nothing
// dereferences what it holds. Without cgo the word is just below the FS
// base, inside the runtime's M; with cgo it is in the thread's static TLS
// block, below glibc's thread descriptor, at an offset the dynamic linker
// chose: a few KiB either way, so the range is generous.
func threadTLS() [2]uintptr {
	var fs uintptr
	if _, _, e := syscall.RawSyscall(unix.SYS_ARCH_PRCTL, 0x1003 /* ARCH_GET_FS */, uintptr(unsafe.Pointer(&fs)), 0); e != 0 || fs < 16<<10 {
		return [2]uintptr{}
	}
	return [2]uintptr{fs - 16<<10, fs + 4<<10}
}
