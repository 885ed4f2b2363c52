package seccomp

import "golang.org/x/sys/unix"

// abi describes one system-call ABI the kernel can present to a filter: a
// value of seccomp_data.arch plus, for x32, a marker bit in seccomp_data.nr.
//
// Numbers are listed as the kernel's syscall tables give them. For x32 they
// are listed without __X32_SYSCALL_BIT; the generator adds it.
type abi struct {
	name      string
	auditArch uint32
	// x32 marks the ABI that shares AUDIT_ARCH_X86_64 but is told apart by
	// __X32_SYSCALL_BIT in nr.
	x32   bool
	ioctl []uint32
	chown []uint32
	sync  []uint32
}

// x32SyscallBit is __X32_SYSCALL_BIT from arch/x86/include/uapi/asm/unistd.h.
const x32SyscallBit = 0x40000000

// The ioctl request codes are the asm-generic values (asm-generic/ioctls.h),
// which x86, arm, arm64, riscv and loongarch all use. Architectures with their
// own values (alpha, mips, powerpc, sparc) are not supported.
const (
	reqTIOCSTI   = 0x5412
	reqTIOCLINUX = 0x541c
)

var (
	abiX8664 = abi{
		name:      "x86_64",
		auditArch: unix.AUDIT_ARCH_X86_64,
		ioctl:     []uint32{16},
		// chown, fchown, lchown, fchownat
		chown: []uint32{92, 93, 94, 260},
		// msync, fsync, fdatasync, sync, sync_file_range, syncfs
		sync: []uint32{26, 74, 75, 162, 277, 306},
	}

	abiX32 = abi{
		name:      "x32",
		auditArch: unix.AUDIT_ARCH_X86_64,
		x32:       true,
		// x32's ioctl is the compat entry 514. 16 is the 64-bit-only entry:
		// current kernels return ENOSYS for it on x32, but kernels before
		// the x32 table split dispatched it to the native sys_ioctl, so it
		// is matched too.
		ioctl: []uint32{16, 514},
		// The chown and sync families are "common" entries in
		// syscall_64.tbl, so x32 uses the x86_64 numbers (plus the bit);
		// nothing at 512 and above belongs to these families.
		chown: []uint32{92, 93, 94, 260},
		sync:  []uint32{26, 74, 75, 162, 277, 306},
	}

	abiI386 = abi{
		name:      "i386",
		auditArch: unix.AUDIT_ARCH_I386,
		ioctl:     []uint32{54},
		// lchown(16-bit ids) 16, fchown 95, chown 182, lchown32 198,
		// fchown32 207, chown32 212, fchownat 298
		chown: []uint32{16, 95, 182, 198, 207, 212, 298},
		// sync 36, fsync 118, msync 144, fdatasync 148,
		// sync_file_range 314, syncfs 344
		sync: []uint32{36, 118, 144, 148, 314, 344},
	}

	abiARM = abi{
		name:      "arm",
		auditArch: unix.AUDIT_ARCH_ARM,
		ioctl:     []uint32{54},
		// lchown 16, fchown 95, chown 182, lchown32 198, fchown32 207,
		// chown32 212, fchownat 325
		chown: []uint32{16, 95, 182, 198, 207, 212, 325},
		// sync 36, fsync 118, msync 144, fdatasync 148,
		// arm_sync_file_range (sync_file_range2) 341, syncfs 373.
		// EABI arm has no plain sync_file_range.
		sync: []uint32{36, 118, 144, 148, 341, 373},
	}

	// The asm-generic table (arm64, riscv, loongarch) has no chown or
	// lchown; callers go through fchownat.
	genericChown = []uint32{54, 55}                   // fchownat, fchown
	genericSync  = []uint32{81, 82, 83, 84, 227, 267} // sync, fsync, fdatasync, sync_file_range, msync, syncfs
	genericIoctl = []uint32{29}

	abiAArch64 = abi{
		name:      "aarch64",
		auditArch: unix.AUDIT_ARCH_AARCH64,
		ioctl:     genericIoctl,
		chown:     genericChown,
		sync:      genericSync,
	}

	abiRISCV64 = abi{
		name:      "riscv64",
		auditArch: unix.AUDIT_ARCH_RISCV64,
		ioctl:     genericIoctl,
		chown:     genericChown,
		sync:      genericSync,
	}

	// rv32 compat tasks on a riscv64 kernel use the same generic numbers.
	abiRISCV32 = abi{
		name:      "riscv32",
		auditArch: unix.AUDIT_ARCH_RISCV32,
		ioctl:     genericIoctl,
		chown:     genericChown,
		sync:      genericSync,
	}

	abiLoong64 = abi{
		name:      "loongarch64",
		auditArch: unix.AUDIT_ARCH_LOONGARCH64,
		ioctl:     genericIoctl,
		chown:     genericChown,
		sync:      genericSync,
	}
)

// abisByGOARCH lists, per GOARCH, the ABIs a process in the sandbox may use,
// most likely first (dispatch order only affects speed).
//
// The 32-bit entries also list their 64-bit siblings: a 386 or arm build of
// nook may run on a 64-bit kernel, and then the sandboxed programs can be
// 64-bit. Extra blocks cost a few instructions and can only add protection,
// since unrecognised architectures are allowed anyway.
func abisByGOARCH(goarch string) []abi {
	// A switch, not a map: a map literal is built when the program starts,
	// and every nook invocation would pay for it.
	switch goarch {
	case "amd64":
		return []abi{abiX8664, abiX32, abiI386}
	case "386":
		return []abi{abiI386, abiX8664, abiX32}
	case "arm64":
		return []abi{abiAArch64, abiARM}
	case "arm":
		return []abi{abiARM, abiAArch64}
	case "riscv64":
		return []abi{abiRISCV64, abiRISCV32}
	case "loong64":
		return []abi{abiLoong64}
	}
	return nil
}
