package seccomp

import "golang.org/x/sys/unix"

// rawProbes: see sysnum_classic_test.go. arm has 16- and 32-bit id variants and arm_sync_file_range.
func rawProbes() []rawProbe {
	return []rawProbe{
		{"chown", unix.SYS_CHOWN, [6]uintptr{0, 12345, 12345}, unix.EFAULT},
		{"lchown", unix.SYS_LCHOWN, [6]uintptr{0, 12345, 12345}, unix.EFAULT},
		{"fchown", unix.SYS_FCHOWN, [6]uintptr{badFD, 12345, 12345}, unix.EBADF},
		{"chown32", unix.SYS_CHOWN32, [6]uintptr{0, 12345, 12345}, unix.EFAULT},
		{"lchown32", unix.SYS_LCHOWN32, [6]uintptr{0, 12345, 12345}, unix.EFAULT},
		{"fchown32", unix.SYS_FCHOWN32, [6]uintptr{badFD, 12345, 12345}, unix.EBADF},
		{"fchownat", unix.SYS_FCHOWNAT, [6]uintptr{atFDCWD, 0, 12345, 12345, 0}, unix.EFAULT},
		{"fsync", unix.SYS_FSYNC, [6]uintptr{badFD}, unix.EBADF},
		{"fdatasync", unix.SYS_FDATASYNC, [6]uintptr{badFD}, unix.EBADF},
		{"syncfs", unix.SYS_SYNCFS, [6]uintptr{badFD}, unix.EBADF},
		{"arm_sync_file_range", unix.SYS_ARM_SYNC_FILE_RANGE, [6]uintptr{badFD, 0, 0, 0, 0, 0}, unix.EBADF},
		{"msync", unix.SYS_MSYNC, [6]uintptr{1, 4096, unix.MS_SYNC}, unix.EINVAL},
	}
}
