package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Options chooses what the filter does beyond the always-on terminal protections.
type Options struct {
	SuppressChown bool // the chown family returns 0 and changes nothing
	SuppressSync  bool // the sync family returns 0 and does nothing
}

// ErrUnsupportedArch is returned by Program for a GOARCH it has no tables for.
var ErrUnsupportedArch = errors.New("unsupported GOARCH")

// Offsets into struct seccomp_data (linux/seccomp.h):
//
//	int   nr;                  // 0
//	__u32 arch;                // 4
//	__u64 instruction_pointer; // 8
//	__u64 args[6];             // 16
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// argLow is the offset of the low 32 bits of syscall argument i. args[] are
// u64s in the kernel's byte order: on a little-endian kernel the low word
// comes first, on a big-endian one (s390x) it is the second word.
func argLow(i uint32, bigEndian bool) uint32 {
	if bigEndian {
		return offArgs + 8*i + 4
	}
	return offArgs + 8*i
}

// Return values of the filter.
const (
	retAllow = unix.SECCOMP_RET_ALLOW
	// retSucceed makes the syscall return 0 without running it: RET_ERRNO
	// sets the return value to -data, and data is 0.
	retSucceed = unix.SECCOMP_RET_ERRNO // | errno 0
	retEPERM   = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	// retKill ends the whole process. Kernels before 4.14 do not know
	// KILL_PROCESS; they read it as SECCOMP_RET_KILL and kill the thread.
	retKill = unix.SECCOMP_RET_KILL_PROCESS
)

// Program returns the filter for the given GOARCH ("amd64", "arm64", "386",
// "arm", "riscv64", "loong64", "ppc64le", "s390x", "mips64le"), covering
// that arch's native syscalls and its compat ABIs: on amd64 also i386
// (AUDIT_ARCH_I386) and x32 (AUDIT_ARCH_X86_64 with the __X32_SYSCALL_BIT
// 0x40000000 set in nr); on arm64 also 32-bit arm; on riscv64 also rv32; on
// ppc64le also 32-bit powerpc; on s390x also 31-bit s390; on mips64le n64,
// n32 and o32. The 32-bit GOARCHes also cover their 64-bit siblings, since a
// 32-bit nook may run on a 64-bit kernel.
//
// Layout: a dispatch on seccomp_data.arch (and, for AUDIT_ARCH_X86_64, the
// x32 bit) that reaches each ABI's block with BPF_JA, then one small block
// per ABI. Conditional jumps never leave their block, which keeps them far
// inside the 8-bit jt/jf range; assemble reports ErrJumpTooFar otherwise.
// Any other seccomp_data.arch kills the process (SECCOMP_RET_KILL_PROCESS):
// the kernels a GOARCH runs on present only the ABIs listed for it, so
// another value is an ABI whose numbers the filter does not know, and
// allowing it would let its ioctl through unchecked.
func Program(goarch string, opts Options) ([]unix.SockFilter, error) {
	abis := abisByGOARCH(goarch)
	if abis == nil {
		return nil, fmt.Errorf("build seccomp program for %q: %w", goarch, ErrUnsupportedArch)
	}
	a := newAssembler()

	blocks := make([]label, len(abis))
	for i := range abis {
		blocks[i] = a.newLabel()
	}

	// Dispatch. Within one group A holds arch on entry; a group may then
	// load nr, but it always leaves through a jump or a return, so the next
	// group's check is only reached via the jf edge with arch still in A.
	a.loadWord(offArch)
	done := map[uint32]bool{}
	for _, x := range abis {
		if done[x.auditArch] {
			continue
		}
		done[x.auditArch] = true
		plain, x32 := -1, -1
		for j, y := range abis {
			if y.auditArch != x.auditArch {
				continue
			}
			if y.x32 {
				x32 = j
			} else {
				plain = j
			}
		}
		nextGroup := a.newLabel()
		a.jumpIf(unix.BPF_JEQ, x.auditArch, next, nextGroup)
		if x32 >= 0 {
			notX32 := a.newLabel()
			a.loadWord(offNr)
			a.jumpIf(unix.BPF_JSET, x32SyscallBit, next, notX32)
			a.jump(blocks[x32])
			a.bind(notX32)
		}
		if plain >= 0 {
			a.jump(blocks[plain])
		} else {
			a.ret(retKill)
		}
		a.bind(nextGroup)
	}
	a.ret(retKill)

	be := bigEndian(goarch)
	for i, x := range abis {
		a.bind(blocks[i])
		emitABI(a, x, opts, be)
	}
	return a.assemble()
}

// emitABI emits the block for one ABI. It starts by loading nr (or, for an
// ABI with indirectIoctl, args[0]) and ends in returns only, so blocks can
// be laid out in any order.
func emitABI(a *assembler, x abi, opts Options, bigEndian bool) {
	var bit uint32
	if x.x32 {
		bit = x32SyscallBit
	}
	ioctl := a.newLabel()
	deny := a.newLabel()
	succeed := a.newLabel()

	if x.indirectIoctl != 0 {
		// First, and whatever nr says (see abi.indirectIoctl): the ioctl
		// number in args[0] with the request in args[2].
		notIndirect := a.newLabel()
		a.loadWord(argLow(0, bigEndian))
		a.jumpIf(unix.BPF_JEQ, x.indirectIoctl, next, notIndirect)
		a.loadWord(argLow(2, bigEndian))
		for _, req := range x.denyReq {
			a.jumpIf(unix.BPF_JEQ, req, deny, next)
		}
		a.bind(notIndirect)
	}
	a.loadWord(offNr)
	for _, n := range x.ioctl {
		a.jumpIf(unix.BPF_JEQ, n|bit, ioctl, next)
	}
	var quiet []uint32
	if opts.SuppressChown {
		quiet = append(quiet, x.chown...)
	}
	if opts.SuppressSync {
		quiet = append(quiet, x.sync...)
	}
	for _, n := range quiet {
		a.jumpIf(unix.BPF_JEQ, n|bit, succeed, next)
	}
	a.ret(retAllow)

	if len(quiet) > 0 {
		a.bind(succeed)
		a.ret(retSucceed)
	}

	// ioctl: the kernel passes cmd on as unsigned int, so only the low word
	// of args[1] matters; comparing just that word means high garbage bits
	// cannot smuggle TIOCSTI past the filter.
	a.bind(ioctl)
	a.loadWord(argLow(1, bigEndian))
	for _, req := range x.denyReq {
		a.jumpIf(unix.BPF_JEQ, req, deny, next)
	}
	a.ret(retAllow)
	a.bind(deny)
	a.ret(retEPERM)
}
