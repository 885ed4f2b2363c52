//go:build arm64 || riscv64 || loong64

package seccomp

import "golang.org/x/sys/unix"

// rawProbes: see sysnum_classic_test.go. The asm-generic table has no chown
// or lchown.
func rawProbes() []rawProbe {
	return []rawProbe{
		{"fchown", unix.SYS_FCHOWN, [6]uintptr{badFD, 12345, 12345}, unix.EBADF},
		{"fchownat", unix.SYS_FCHOWNAT, [6]uintptr{atFDCWD, 0, 12345, 12345, 0}, unix.EFAULT},
		{"fsync", unix.SYS_FSYNC, [6]uintptr{badFD}, unix.EBADF},
		{"fdatasync", unix.SYS_FDATASYNC, [6]uintptr{badFD}, unix.EBADF},
		{"syncfs", unix.SYS_SYNCFS, [6]uintptr{badFD}, unix.EBADF},
		{"sync_file_range", unix.SYS_SYNC_FILE_RANGE, [6]uintptr{badFD, 0, 0, 0}, unix.EBADF},
		{"msync", unix.SYS_MSYNC, [6]uintptr{1, 4096, unix.MS_SYNC}, unix.EINVAL},
	}
}
