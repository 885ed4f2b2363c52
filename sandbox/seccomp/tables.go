package seccomp

import "golang.org/x/sys/unix"

//go:generate go run ./internal/gensysnum -o xsysnum.go

// sysnums holds one syscall table's numbers for the families the filter
// matches, plus the terminal ioctl request codes of its architecture.
// xsysnum.go has one per x/sys GOARCH, generated from golang.org/x/sys/unix;
// the hand-written ones below are compat ABIs x/sys has no file for.
type sysnums struct {
	ioctl     uint32
	chown     []uint32
	sync      []uint32
	tiocsti   uint32
	tioclinux uint32
}

// abi describes one system-call ABI the kernel can present to a filter: a
// value of seccomp_data.arch plus, for x32, a marker bit in seccomp_data.nr.
//
// Numbers are listed as the kernel's syscall tables give them. For x32 they
// are listed without __X32_SYSCALL_BIT; Program adds it.
type abi struct {
	name      string
	auditArch uint32
	// x32 marks the ABI that shares AUDIT_ARCH_X86_64 but is told apart by
	// __X32_SYSCALL_BIT in nr.
	x32   bool
	ioctl []uint32
	// indirectIoctl, when not zero, is an ioctl number the kernel may run
	// from args[0] with the request in args[2], whatever nr the filter sees
	// (MIPS o32's indirect syscall from an n64 or n32 task; see mipsABI).
	indirectIoctl uint32
	chown         []uint32
	sync          []uint32
	// ioctl requests refused: TIOCSTI and TIOCLINUX. They are per
	// architecture (asm-generic 0x5412/0x541c; MIPS 0x5472/0x5483).
	denyReq []uint32
}

// x32SyscallBit is __X32_SYSCALL_BIT from arch/x86/include/uapi/asm/unistd.h.
const x32SyscallBit = 0x40000000

func fromSysnums(name string, auditArch uint32, s sysnums) abi {
	return abi{name: name, auditArch: auditArch, ioctl: []uint32{s.ioctl},
		chown: s.chown, sync: s.sync, denyReq: []uint32{s.tiocsti, s.tioclinux}}
}

// The ABIs are built by functions, not package variables, so that a nook
// invocation that never installs a filter does not pay for them.

func abiX8664() abi {
	x := fromSysnums("x86_64", unix.AUDIT_ARCH_X86_64, xsysAmd64)
	// 514 is x32's ioctl (compat_sys_ioctl). Before 5.4 split the x32
	// entries into their own table, a kernel built with x32 support held
	// them at 512 and up in sys_call_table and do_syscall_64 masked
	// __X32_SYSCALL_BIT off nr, so an x86_64 task calling 514 without the
	// bit ran that ioctl. Current kernels
	// return ENOSYS for it, so matching it costs nothing.
	x.ioctl = []uint32{xsysAmd64.ioctl, 514}
	return x
}

func abiX32() abi {
	x := fromSysnums("x32", unix.AUDIT_ARCH_X86_64, xsysAmd64)
	x.x32 = true
	// x32's ioctl is the compat entry 514 (arch/x86/entry/syscalls/
	// syscall_64.tbl). The x86_64 number is the 64-bit-only entry: current
	// kernels return ENOSYS for it on x32, but kernels before the x32 table
	// split dispatched it to the native sys_ioctl, so it is matched too.
	// The chown and sync families are "common" entries in syscall_64.tbl,
	// so x32 uses the x86_64 numbers (plus the bit); nothing at 512 and
	// above belongs to these families.
	x.ioctl = []uint32{xsysAmd64.ioctl, 514}
	return x
}

func abiI386() abi    { return fromSysnums("i386", unix.AUDIT_ARCH_I386, xsys386) }
func abiARM() abi     { return fromSysnums("arm", unix.AUDIT_ARCH_ARM, xsysArm) }
func abiAArch64() abi { return fromSysnums("aarch64", unix.AUDIT_ARCH_AARCH64, xsysArm64) }
func abiRISCV64() abi { return fromSysnums("riscv64", unix.AUDIT_ARCH_RISCV64, xsysRiscv64) }

// rv32 tasks use the same asm-generic numbers as riscv64
// (include/uapi/asm-generic/unistd.h; x/sys has no linux/riscv32 file).
// Upstream riscv64 kernels report AUDIT_ARCH_RISCV64 for rv32 compat tasks
// (syscall_get_arch looks at CONFIG_64BIT, not at the task), so those are
// caught by the riscv64 block; this one only matters on a kernel that
// reports AUDIT_ARCH_RISCV32.
func abiRISCV32() abi { return fromSysnums("riscv32", unix.AUDIT_ARCH_RISCV32, xsysRiscv64) }

func abiLoong64() abi { return fromSysnums("loongarch64", unix.AUDIT_ARCH_LOONGARCH64, xsysLoong64) }

func abiPPC64LE() abi { return fromSysnums("ppc64le", unix.AUDIT_ARCH_PPC64LE, xsysPpc64le) }

// 32-bit tasks on a 64-bit powerpc kernel (CONFIG_COMPAT) report
// AUDIT_ARCH_PPC and use the same syscall.tbl, whose 32-bit numbers x/sys
// has as linux/ppc. Listed so that such a task is filtered, not killed.
func abiPPC() abi { return fromSysnums("ppc", unix.AUDIT_ARCH_PPC, xsysPpc) }

func abiS390X() abi { return fromSysnums("s390x", unix.AUDIT_ARCH_S390X, xsysS390x) }

// abiS390 is the 31-bit compat ABI of s390x kernels built with
// CONFIG_COMPAT (AUDIT_ARCH_S390, TIF_31BIT tasks). From
// arch/s390/kernel/syscalls/syscall.tbl, the entries whose compat column is
// set: the s390x numbers plus the 16-bit-id lchown 16, fchown 95, chown 182
// (abi "32"); 198/207/212 are lchown32, fchown32, chown32 there. The
// request codes are asm-generic.
func abiS390() abi {
	x := fromSysnums("s390", unix.AUDIT_ARCH_S390, xsysS390x)
	x.chown = append([]uint32{16, 95, 182}, xsysS390x.chown...)
	return x
}

// mipsN32 is the n32 table, arch/mips/kernel/syscalls/syscall_n32.tbl with
// __NR_N32_Linux 6000 added: ioctl 15; chown 90, fchown 91, lchown 92,
// fchownat 254; sync 157, fsync 72, fdatasync 73, msync 25,
// sync_file_range 268, syncfs 306. x/sys has no n32 GOARCH.
func mipsN32() sysnums {
	return sysnums{
		ioctl:     6015,
		chown:     []uint32{6090, 6091, 6092, 6254},
		sync:      []uint32{6157, 6072, 6073, 6025, 6268, 6306},
		tiocsti:   xsysMips64le.tiocsti,
		tioclinux: xsysMips64le.tioclinux,
	}
}

// mipsABI builds the block for one MIPS ABI. On MIPS the kernel picks the
// syscall table by the number's range (o32 4000+, n64 5000+, n32 6000+:
// scall64-o32.S's handle_sys passes numbers outside its range on to
// handle_sysn32, which passes them on to handle_sys64), while
// seccomp_data.arch is the task's own ABI (syscall_get_arch looks at
// TIF_32BIT_REGS and TIF_32BIT_ADDR). So a task of any ABI can call any
// ABI's ioctl, and every MIPS block matches all three tables. The ranges do
// not overlap, so no other syscall is caught.
//
// One more path: o32's indirect syscall, syscall(4000, nr, args...), which
// any task can make since 4000 is in o32's range. sys32_syscall
// (scall64-o32.S) runs the o32 syscall numbered by a0 (compared as a 32-bit
// word) with a1... as its arguments. The kernel shifts the arguments, and
// re-reads the number after a tracer's syscall-entry stop
// (mips_syscall_update_nr), only when mips_syscall_is_indirect holds, and
// that needs TIF_32BIT_REGS: an o32 task. For an n64 or n32 task seccomp
// sees the unshifted (4054, fd, TIOCSTI), and since seccomp runs after the
// ptrace entry stop while the number it sees is never re-read, a tracer
// that writes a0 there leaves seccomp with a stale nr of any value. So the
// n64 and n32 blocks cannot trust nr for this call: before looking at it,
// they refuse any syscall whose args[0] low word is o32 ioctl (4054) and
// whose args[2] low word is TIOCSTI or TIOCLINUX. The price: such an n64 or
// n32 call of any syscall, read(4054, buf, 0x5472) say, gets EPERM too.
// The o32 block needs none of this: for o32 tasks nr and arguments are
// already the inner call's.
func mipsABI(name string, auditArch uint32) abi {
	o32, n64, n32 := xsysMipsle, xsysMips64le, mipsN32()
	x := fromSysnums(name, auditArch, n64)
	x.ioctl = []uint32{o32.ioctl, n64.ioctl, n32.ioctl}
	if auditArch != unix.AUDIT_ARCH_MIPSEL {
		x.indirectIoctl = o32.ioctl
	}
	x.chown = concat(o32.chown, n64.chown, n32.chown)
	x.sync = concat(o32.sync, n64.sync, n32.sync)
	return x
}

func concat(l ...[]uint32) []uint32 {
	var out []uint32
	for _, s := range l {
		out = append(out, s...)
	}
	return out
}

// abisByGOARCH lists, per GOARCH, the ABIs a process in the sandbox may use,
// most likely first (dispatch order only affects speed). Program kills a
// process that presents any other seccomp_data.arch: on these kernels that
// is an ABI nobody modelled, whose numbers the filter cannot check.
//
// The 32-bit entries also list their 64-bit siblings: a 386 or arm build of
// nook may run on a 64-bit kernel, and then the sandboxed programs can be
// 64-bit.
func abisByGOARCH(goarch string) []abi {
	// A switch, not a map: a map literal is built when the program starts,
	// and every nook invocation would pay for it.
	switch goarch {
	case "amd64":
		return []abi{abiX8664(), abiX32(), abiI386()}
	case "386":
		return []abi{abiI386(), abiX8664(), abiX32()}
	case "arm64":
		return []abi{abiAArch64(), abiARM()}
	case "arm":
		return []abi{abiARM(), abiAArch64()}
	case "riscv64":
		return []abi{abiRISCV64(), abiRISCV32()}
	case "loong64":
		return []abi{abiLoong64()}
	case "ppc64le":
		return []abi{abiPPC64LE(), abiPPC()}
	case "s390x":
		return []abi{abiS390X(), abiS390()}
	case "mips64le":
		return []abi{mipsABI("mipsel64", unix.AUDIT_ARCH_MIPSEL64),
			mipsABI("mipsel64n32", unix.AUDIT_ARCH_MIPSEL64N32),
			mipsABI("mipsel", unix.AUDIT_ARCH_MIPSEL)}
	}
	return nil
}

// bigEndian reports whether goarch's kernel lays out struct seccomp_data
// big-endian. The kernel fills it in its own byte order whatever the task's
// ABI, so this is per GOARCH, not per ABI.
func bigEndian(goarch string) bool {
	return goarch == "s390x"
}
