//go:build amd64 || s390x || mips64le

package seccomp

import "golang.org/x/sys/unix"

// rawProbes lists this architecture's chown and sync family syscalls, by the
// numbers golang.org/x/sys knows (independent of tables.go), with arguments
// the kernel rejects. amd64, s390x and mips64le (n64) have the same set:
// chown, lchown, fchown with 32-bit ids and a plain sync_file_range. Without the filter each fails with wantErrno; with
// SuppressChown and SuppressSync each returns 0.
func rawProbes() []rawProbe {
	return []rawProbe{
		{"chown", unix.SYS_CHOWN, [6]uintptr{0, 12345, 12345}, unix.EFAULT},
		{"lchown", unix.SYS_LCHOWN, [6]uintptr{0, 12345, 12345}, unix.EFAULT},
		{"fchown", unix.SYS_FCHOWN, [6]uintptr{badFD, 12345, 12345}, unix.EBADF},
		{"fchownat", unix.SYS_FCHOWNAT, [6]uintptr{atFDCWD, 0, 12345, 12345, 0}, unix.EFAULT},
		{"fsync", unix.SYS_FSYNC, [6]uintptr{badFD}, unix.EBADF},
		{"fdatasync", unix.SYS_FDATASYNC, [6]uintptr{badFD}, unix.EBADF},
		{"syncfs", unix.SYS_SYNCFS, [6]uintptr{badFD}, unix.EBADF},
		{"sync_file_range", unix.SYS_SYNC_FILE_RANGE, [6]uintptr{badFD, 0, 0, 0}, unix.EBADF},
		{"msync", unix.SYS_MSYNC, [6]uintptr{1, 4096, unix.MS_SYNC}, unix.EINVAL},
	}
}
