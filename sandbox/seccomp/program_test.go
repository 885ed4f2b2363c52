package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"
)

// The expectations below are written out independently of tables.go (by
// name, from the kernel's syscall tables) so that a wrong number in either
// place makes a test fail.

type abiCase struct {
	name  string
	arch  uint32
	bit   uint32 // OR'd into every nr of this ABI (x32)
	ioctl []uint32
	chown map[string]uint32
	sync  map[string]uint32
	// other holds unrelated syscalls, some of them sharing a number with a
	// family member of another ABI.
	other map[string]uint32
	// tiocsti and tioclinux are the request codes the filter must refuse;
	// zero means the asm-generic 0x5412 and 0x541c.
	tiocsti, tioclinux uint32
}

// requests returns c's TIOCSTI and TIOCLINUX.
func (c abiCase) requests() (sti, linux uint32) {
	sti, linux = tiocsti, tioclinux
	if c.tiocsti != 0 {
		sti, linux = c.tiocsti, c.tioclinux
	}
	return sti, linux
}

const x32Bit = 0x40000000

var (
	caseX8664 = abiCase{
		name: "x86_64", arch: unix.AUDIT_ARCH_X86_64,
		// 514: x32's ioctl, run for x86_64 tasks too before 5.4 (abiX8664).
		ioctl: []uint32{16, 514},
		chown: map[string]uint32{"chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260},
		sync: map[string]uint32{"msync": 26, "fsync": 74, "fdatasync": 75, "sync": 162,
			"sync_file_range": 277, "syncfs": 306},
		other: map[string]uint32{"read": 0, "write": 1, "fchmod": 91, "umask": 95,
			"putpmsg(i386 chown)": 182, "openat": 257, "fchmodat": 268, "perf_event_open(i386 fchownat)": 298,
			"fchmodat2": 452},
	}
	caseX32 = abiCase{
		name: "x32", arch: unix.AUDIT_ARCH_X86_64, bit: x32Bit,
		ioctl: []uint32{514, 16},
		chown: caseX8664.chown,
		sync:  caseX8664.sync,
		other: map[string]uint32{"read": 0, "write": 1, "readv": 515, "rt_sigaction": 512,
			"fchmod": 91, "openat": 257, "execve": 520},
	}
	caseI386 = abiCase{
		name: "i386", arch: unix.AUDIT_ARCH_I386,
		ioctl: []uint32{54},
		chown: map[string]uint32{"lchown": 16, "fchown": 95, "chown": 182, "lchown32": 198,
			"fchown32": 207, "chown32": 212, "fchownat": 298},
		sync: map[string]uint32{"sync": 36, "fsync": 118, "msync": 144, "fdatasync": 148,
			"sync_file_range": 314, "syncfs": 344},
		other: map[string]uint32{"read": 3, "write": 4, "open": 5, "chmod": 15,
			"fchmod": 94, "fchmodat": 306, "arm fchownat": 325},
	}
	caseARM = abiCase{
		name: "arm", arch: unix.AUDIT_ARCH_ARM,
		ioctl: []uint32{54},
		chown: map[string]uint32{"lchown": 16, "fchown": 95, "chown": 182, "lchown32": 198,
			"fchown32": 207, "chown32": 212, "fchownat": 325},
		sync: map[string]uint32{"sync": 36, "fsync": 118, "msync": 144, "fdatasync": 148,
			"arm_sync_file_range": 341, "syncfs": 373},
		other: map[string]uint32{"read": 3, "write": 4, "fchmod": 94, "i386 fchownat": 298,
			"ioprio_set(i386 sync_file_range)": 314, "fchmodat": 333},
	}
	expGenericChown = map[string]uint32{"fchownat": 54, "fchown": 55}
	expGenericSync  = map[string]uint32{"sync": 81, "fsync": 82, "fdatasync": 83,
		"sync_file_range": 84, "msync": 227, "syncfs": 267}
	expGenericOther = map[string]uint32{"fchmod": 52, "fchmodat": 53, "openat": 56, "read": 63,
		"write": 64, "x86 chown": 92, "x86 ioctl": 16}
	caseAArch64 = abiCase{name: "aarch64", arch: unix.AUDIT_ARCH_AARCH64,
		ioctl: []uint32{29}, chown: expGenericChown, sync: expGenericSync, other: expGenericOther}
	caseRISCV64 = abiCase{name: "riscv64", arch: unix.AUDIT_ARCH_RISCV64,
		ioctl: []uint32{29}, chown: expGenericChown, sync: expGenericSync, other: expGenericOther}
	caseRISCV32 = abiCase{name: "riscv32", arch: unix.AUDIT_ARCH_RISCV32,
		ioctl: []uint32{29}, chown: expGenericChown, sync: expGenericSync, other: expGenericOther}
	caseLoong64 = abiCase{name: "loongarch64", arch: unix.AUDIT_ARCH_LOONGARCH64,
		ioctl: []uint32{29}, chown: expGenericChown, sync: expGenericSync, other: expGenericOther}
)

// powerpc: arch/powerpc/kernel/syscalls/syscall.tbl, one table for 32- and
// 64-bit tasks; request codes from arch/powerpc/include/uapi/asm/ioctls.h,
// which has the asm-generic values for these two.
var (
	expPPCChown = map[string]uint32{"lchown": 16, "fchown": 95, "chown": 181, "fchownat": 289}
	expPPCSync  = map[string]uint32{"sync": 36, "fsync": 118, "msync": 144, "fdatasync": 148,
		"sync_file_range2": 308, "syncfs": 348}
	expPPCOther = map[string]uint32{"read": 3, "write": 4, "fchmod": 94, "getcwd(i386 chown)": 182,
		"openat": 286, "x86 ioctl (ppc lchown is 16)": 17, "generic ioctl": 29}
	casePPC64LE = abiCase{name: "ppc64le", arch: unix.AUDIT_ARCH_PPC64LE,
		ioctl: []uint32{54}, chown: expPPCChown, sync: expPPCSync, other: expPPCOther}
	casePPC = abiCase{name: "ppc", arch: unix.AUDIT_ARCH_PPC,
		ioctl: []uint32{54}, chown: expPPCChown, sync: expPPCSync, other: expPPCOther}
)

// s390: arch/s390/kernel/syscalls/syscall.tbl. The 16-bit-id calls exist
// only for 31-bit tasks; 198/207/212 are lchown/fchown/chown for 64-bit
// tasks and the *32 variants for 31-bit ones.
var (
	caseS390X = abiCase{name: "s390x", arch: unix.AUDIT_ARCH_S390X,
		ioctl: []uint32{54},
		chown: map[string]uint32{"lchown": 198, "fchown": 207, "chown": 212, "fchownat": 291},
		sync: map[string]uint32{"sync": 36, "fsync": 118, "msync": 144, "fdatasync": 148,
			"sync_file_range": 307, "syncfs": 338},
		other: map[string]uint32{"read": 3, "write": 4, "fchmod": 94, "s390 lchown16": 16,
			"s390 fchown16": 95, "s390 chown16": 182, "getuid": 199, "fchmodat": 299}}
	caseS390 = abiCase{name: "s390", arch: unix.AUDIT_ARCH_S390,
		ioctl: []uint32{54},
		chown: map[string]uint32{"lchown": 16, "fchown": 95, "chown": 182, "lchown32": 198,
			"fchown32": 207, "chown32": 212, "fchownat": 291},
		sync:  caseS390X.sync,
		other: map[string]uint32{"read": 3, "write": 4, "fchmod": 94, "getuid32": 199, "fchmodat": 299}}
)

// MIPS: arch/mips/kernel/syscalls/syscall_{o32,n64,n32}.tbl plus 4000, 5000
// and 6000; request codes from arch/mips/include/uapi/asm/ioctls.h. Any task
// can call any of the three tables by number (see mipsABI), so every MIPS
// arch value must catch all three.
var (
	expMIPSIoctl = []uint32{4054, 5015, 6015}
	expMIPSChown = map[string]uint32{
		"o32 lchown": 4016, "o32 fchown": 4095, "o32 chown": 4202, "o32 fchownat": 4291,
		"n64 chown": 5090, "n64 fchown": 5091, "n64 lchown": 5092, "n64 fchownat": 5250,
		"n32 chown": 6090, "n32 fchown": 6091, "n32 lchown": 6092, "n32 fchownat": 6254}
	expMIPSSync = map[string]uint32{
		"o32 sync": 4036, "o32 fsync": 4118, "o32 msync": 4144, "o32 fdatasync": 4152,
		"o32 sync_file_range": 4305, "o32 syncfs": 4342,
		"n64 msync": 5025, "n64 fsync": 5072, "n64 fdatasync": 5073, "n64 sync": 5157,
		"n64 sync_file_range": 5264, "n64 syncfs": 5301,
		"n32 msync": 6025, "n32 fsync": 6072, "n32 fdatasync": 6073, "n32 sync": 6157,
		"n32 sync_file_range": 6268, "n32 syncfs": 6306}
	expMIPSOther = map[string]uint32{"o32 read": 4003, "n64 read": 5000, "n32 read": 6000,
		"o32 fchmod": 4094, "n64 fchmod": 5089, "n32 fchmod": 6089, "generic ioctl": 29,
		"ppc ioctl": 54, "n64 ioctl minus 1000": 4015, "o32 ioctl plus 1000": 5054}
	caseMIPSEL64 = abiCase{name: "mipsel64", arch: unix.AUDIT_ARCH_MIPSEL64,
		ioctl: expMIPSIoctl, chown: expMIPSChown, sync: expMIPSSync, other: expMIPSOther,
		tiocsti: 0x5472, tioclinux: 0x5483}
	caseMIPSEL64N32 = abiCase{name: "mipsel64n32", arch: unix.AUDIT_ARCH_MIPSEL64N32,
		ioctl: expMIPSIoctl, chown: expMIPSChown, sync: expMIPSSync, other: expMIPSOther,
		tiocsti: 0x5472, tioclinux: 0x5483}
	caseMIPSEL = abiCase{name: "mipsel", arch: unix.AUDIT_ARCH_MIPSEL,
		ioctl: expMIPSIoctl, chown: expMIPSChown, sync: expMIPSSync, other: expMIPSOther,
		tiocsti: 0x5472, tioclinux: 0x5483}
)

var goarchCases = map[string][]abiCase{
	"amd64":    {caseX8664, caseX32, caseI386},
	"386":      {caseI386, caseX8664, caseX32},
	"arm64":    {caseAArch64, caseARM},
	"arm":      {caseARM, caseAArch64},
	"riscv64":  {caseRISCV64, caseRISCV32},
	"loong64":  {caseLoong64},
	"ppc64le":  {casePPC64LE, casePPC},
	"s390x":    {caseS390X, caseS390},
	"mips64le": {caseMIPSEL64, caseMIPSEL64N32, caseMIPSEL},
}

// testBigEndian lists the GOARCHes whose kernels lay out seccomp_data
// big-endian; written here independently of Program's bigEndian.
var testBigEndian = map[string]bool{"s390x": true}

// Arches no program handles, plus every case arch (each goarch treats the
// arches it does not list as unknown, and kills them).
var foreignArches = []uint32{0, 0xffffffff, unix.AUDIT_ARCH_ARMEB, unix.AUDIT_ARCH_PPC64,
	unix.AUDIT_ARCH_MIPS64, unix.AUDIT_ARCH_MIPS, unix.AUDIT_ARCH_X86_64 &^ 0x80000000,
	unix.AUDIT_ARCH_S390X &^ 0x80000000, unix.AUDIT_ARCH_SPARC64}

const (
	wantAllow   = unix.SECCOMP_RET_ALLOW
	wantSucceed = unix.SECCOMP_RET_ERRNO // errno 0: return 0 without running
	wantEPERM   = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	wantKill    = unix.SECCOMP_RET_KILL_PROCESS

	tiocsti    = 0x5412
	tioclinux  = 0x541c
	tiocgwinsz = 0x5413
)

var allOptions = []Options{{}, {SuppressChown: true}, {SuppressSync: true}, {SuppressChown: true, SuppressSync: true}}

// filter is a program and the byte order of the kernel it is meant for.
type filter struct {
	prog  []unix.SockFilter
	order binary.ByteOrder
}

func mustProgram(t *testing.T, goarch string, opts Options) filter {
	t.Helper()
	prog, err := Program(goarch, opts)
	if err != nil {
		t.Fatalf("Program(%q, %+v): %v", goarch, opts, err)
	}
	if err := verify(prog); err != nil {
		t.Fatalf("Program(%q, %+v) fails verification: %v", goarch, opts, err)
	}
	f := filter{prog: prog, order: binary.LittleEndian}
	if testBigEndian[goarch] {
		f.order = binary.BigEndian
	}
	return f
}

// eval runs prog with nr/arch/args and random other fields, which must not
// matter.
func eval(t *testing.T, prog filter, rng *rand.Rand, arch, nr uint32, args map[int]uint64) uint32 {
	t.Helper()
	d := seccompData{nr: int32(nr), arch: arch, ip: rng.Uint64()}
	for i := range d.args {
		d.args[i] = rng.Uint64()
	}
	if args != nil {
		// Clear args[1] so a random TIOCSTI cannot appear by accident, then
		// set what the caller asked for.
		d.args[1] = 0
		for i, v := range args {
			d.args[i] = v
		}
	} else {
		d.args[1] = 0
	}
	ret, err := run(prog.prog, d.bytes(prog.order), prog.order)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return ret
}

func retName(r uint32) string {
	switch r {
	case wantAllow:
		return "ALLOW"
	case wantSucceed:
		return "ERRNO(0)"
	case wantEPERM:
		return "ERRNO(EPERM)"
	case wantKill:
		return "KILL_PROCESS"
	}
	return fmt.Sprintf("%#x", r)
}

func TestFamilies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for goarch, cases := range goarchCases {
		for _, opts := range allOptions {
			prog := mustProgram(t, goarch, opts)
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/%+v/%s", goarch, opts, c.name), func(t *testing.T) {
					check := func(what string, nr uint32, want uint32) {
						t.Helper()
						if got := eval(t, prog, rng, c.arch, nr|c.bit, nil); got != want {
							t.Errorf("%s (nr %#x): got %s, want %s", what, nr|c.bit, retName(got), retName(want))
						}
					}
					for name, nr := range c.chown {
						want := uint32(wantAllow)
						if opts.SuppressChown {
							want = wantSucceed
						}
						check(name, nr, want)
					}
					for name, nr := range c.sync {
						want := uint32(wantAllow)
						if opts.SuppressSync {
							want = wantSucceed
						}
						check(name, nr, want)
					}
					for name, nr := range c.other {
						check(name, nr, wantAllow)
					}
				})
			}
		}
	}
}

func TestIoctl(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type request struct {
		name string
		arg1 uint64
		want uint32
	}
	requestsFor := func(c abiCase) []request {
		sti, linux := c.requests()
		other := []request{}
		if sti != tiocsti {
			// This arch's TIOCSTI and TIOCLINUX differ from the
			// asm-generic ones, which are then harmless requests.
			other = append(other, request{"asm-generic TIOCSTI", tiocsti, wantAllow},
				request{"asm-generic TIOCLINUX", tioclinux, wantAllow})
		}
		return append(other, []request{
			{"TIOCSTI", uint64(sti), wantEPERM},
			{"TIOCLINUX", uint64(linux), wantEPERM},
			{"TIOCSTI high bits", 0xffffffff_00000000 | uint64(sti), wantEPERM},
			{"TIOCSTI one high bit", 1<<32 | uint64(sti), wantEPERM},
			{"TIOCLINUX high bits", 0xdeadbeef_00000000 | uint64(linux), wantEPERM},
			{"TIOCGWINSZ", tiocgwinsz, wantAllow},
			{"zero", 0, wantAllow},
			{"TIOCSTI in high word only", uint64(sti) << 32, wantAllow},
			{"TIOCLINUX in high word only", uint64(linux) << 32, wantAllow},
			{"TIOCSTI plus one", uint64(sti) + 1, wantAllow},
			{"TIOCSPTLCK", 0x40045431, wantAllow},
		}...)
	}
	for goarch, cases := range goarchCases {
		for _, opts := range allOptions {
			prog := mustProgram(t, goarch, opts)
			for _, c := range cases {
				requests := requestsFor(c)
				sti, _ := c.requests()
				for _, nr := range c.ioctl {
					for _, r := range requests {
						got := eval(t, prog, rng, c.arch, nr|c.bit, map[int]uint64{1: r.arg1})
						if got != r.want {
							t.Errorf("%s %+v %s ioctl nr %#x %s: got %s, want %s",
								goarch, opts, c.name, nr|c.bit, r.name, retName(got), retName(r.want))
						}
					}
					// The request must be read from args[1], not another
					// slot (args[2] counts on MIPS n64 and n32 only with
					// args[0] = 4054: TestMIPSCrossABI).
					for _, slot := range []int{0, 2, 3, 4, 5} {
						got := eval(t, prog, rng, c.arch, nr|c.bit, map[int]uint64{slot: uint64(sti)})
						if got != wantAllow {
							t.Errorf("%s %s nr %d: TIOCSTI in args[%d] gave %s, want ALLOW", goarch, c.name, nr, slot, retName(got))
						}
					}
				}
			}
		}
	}
}

// sweep lists the syscall numbers TestExhaustive tries: the low range every
// table uses, and the starts of the MIPS o32, n64 and n32 ranges.
func sweep() []uint32 {
	var nrs []uint32
	for _, r := range [][2]uint32{{0, 1100}, {4000, 4500}, {5000, 5500}, {6000, 6500}} {
		for nr := r[0]; nr < r[1]; nr++ {
			nrs = append(nrs, nr)
		}
	}
	return nrs
}

// TestExhaustive sweeps syscall numbers for every ABI (with and without the
// x32 bit) and every foreign arch, so a stray match anywhere shows up.
// Foreign arches are killed whatever the number.
func TestExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	nrs := sweep()
	for goarch, cases := range goarchCases {
		known := map[uint32]bool{}
		for _, c := range cases {
			known[c.arch] = true
		}
		for _, opts := range allOptions {
			prog := mustProgram(t, goarch, opts)
			for _, c := range cases {
				sti, _ := c.requests()
				args := map[int]uint64{1: uint64(sti)}
				expect := map[uint32]uint32{}
				for _, nr := range c.ioctl {
					expect[nr|c.bit] = wantEPERM
				}
				if opts.SuppressChown {
					for _, nr := range c.chown {
						expect[nr|c.bit] = wantSucceed
					}
				}
				if opts.SuppressSync {
					for _, nr := range c.sync {
						expect[nr|c.bit] = wantSucceed
					}
				}
				for _, raw := range nrs {
					nr := raw | c.bit
					want, ok := expect[nr]
					if !ok {
						want = wantAllow
					}
					if got := eval(t, prog, rng, c.arch, nr, args); got != want {
						t.Errorf("%s %+v %s nr %#x: got %s, want %s", goarch, opts, c.name, nr, retName(got), retName(want))
					}
				}
			}
			// Arches this program does not list: killed, whatever the
			// number (here: the low range and every family number).
			var unknown []uint32
			for _, arch := range foreignArches {
				if !known[arch] {
					unknown = append(unknown, arch)
				}
			}
			familyNrs := append([]uint32{}, nrs[:1100]...)
			for _, cs := range goarchCases {
				for _, c := range cs {
					if !known[c.arch] {
						unknown = append(unknown, c.arch)
					}
					familyNrs = append(familyNrs, c.ioctl...)
					for _, nr := range c.chown {
						familyNrs = append(familyNrs, nr)
					}
					for _, nr := range c.sync {
						familyNrs = append(familyNrs, nr)
					}
				}
			}
			for _, arch := range unknown {
				for _, raw := range familyNrs {
					for _, nr := range []uint32{raw, raw | x32Bit} {
						for _, req := range []uint64{tiocsti, 0x5472, tiocgwinsz} {
							if got := eval(t, prog, rng, arch, nr, map[int]uint64{1: req}); got != wantKill {
								t.Fatalf("%s %+v unknown arch %#x nr %#x: got %s, want KILL_PROCESS", goarch, opts, arch, nr, retName(got))
							}
						}
					}
				}
			}
		}
	}
}

// TestX32Dispatch pins down the x32 routing on amd64: the bit alone picks
// the ABI, and x86_64 numbers without it never hit x32-only entries.
func TestX32Dispatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	prog := mustProgram(t, "amd64", Options{SuppressChown: true, SuppressSync: true})
	tests := []struct {
		name string
		nr   uint32
		arg1 uint64
		want uint32
	}{
		{"x32 ioctl 514 TIOCSTI", x32Bit | 514, tiocsti, wantEPERM},
		{"x32 legacy ioctl 16 TIOCSTI", x32Bit | 16, tiocsti, wantEPERM},
		{"x32 ioctl 514 TIOCGWINSZ", x32Bit | 514, tiocgwinsz, wantAllow},
		{"native 514 (x32's ioctl before 5.4)", 514, tiocsti, wantEPERM},
		{"native 514 TIOCGWINSZ", 514, tiocgwinsz, wantAllow},
		{"x32 chown", x32Bit | 92, 0, wantSucceed},
		{"x32 fchownat", x32Bit | 260, 0, wantSucceed},
		{"x32 syncfs", x32Bit | 306, 0, wantSucceed},
		{"x32 readv 515", x32Bit | 515, 0, wantAllow},
		{"native chown", 92, 0, wantSucceed},
		{"native ioctl", 16, tiocsti, wantEPERM},
		{"other high bit 0x20000000|16", 0x20000000 | 16, tiocsti, wantAllow},
	}
	for _, tt := range tests {
		if got := eval(t, prog, rng, unix.AUDIT_ARCH_X86_64, tt.nr, map[int]uint64{1: tt.arg1}); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, retName(got), retName(tt.want))
		}
	}
}

func TestProgramUnsupportedArch(t *testing.T) {
	for _, goarch := range []string{"", "mips", "mipsle", "mips64", "ppc64", "sparc64", "wasm"} {
		if _, err := Program(goarch, Options{}); !errors.Is(err, ErrUnsupportedArch) {
			t.Errorf("Program(%q): err = %v, want ErrUnsupportedArch", goarch, err)
		}
	}
}

// TestProgramSize keeps an eye on jumps: every conditional offset must have
// come out of the assembler unclamped, which verify already checks; here we
// also make sure the programs stay small.
func TestProgramSize(t *testing.T) {
	for goarch := range goarchCases {
		prog := mustProgram(t, goarch, Options{SuppressChown: true, SuppressSync: true})
		if len(prog.prog) > 200 {
			t.Errorf("%s: %d instructions, expected a small program", goarch, len(prog.prog))
		}
		t.Logf("%s: %d instructions", goarch, len(prog.prog))
	}
}

func TestAssemblerJumps(t *testing.T) {
	// A conditional jump over 300 instructions cannot be encoded.
	a := newAssembler()
	far := a.newLabel()
	a.loadWord(offNr)
	a.jumpIf(unix.BPF_JEQ, 1, far, next)
	for range 300 {
		a.ret(wantAllow)
	}
	a.bind(far)
	a.ret(wantEPERM)
	if _, err := a.assemble(); !errors.Is(err, ErrJumpTooFar) {
		t.Fatalf("far conditional jump: err = %v, want ErrJumpTooFar", err)
	}

	// The same distance through BPF_JA works, and lands where it should.
	a = newAssembler()
	far = a.newLabel()
	near := a.newLabel()
	a.loadWord(offNr)
	a.jumpIf(unix.BPF_JEQ, 1, next, near)
	a.jump(far)
	a.bind(near)
	for range 300 {
		a.ret(wantAllow)
	}
	a.bind(far)
	a.ret(wantEPERM)
	prog, err := a.assemble()
	if err != nil {
		t.Fatalf("far JA: %v", err)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	if got := eval(t, filter{prog, binary.LittleEndian}, rng, 0, 1, nil); got != wantEPERM {
		t.Errorf("nr 1: got %s, want EPERM", retName(got))
	}
	if got := eval(t, filter{prog, binary.LittleEndian}, rng, 0, 2, nil); got != wantAllow {
		t.Errorf("nr 2: got %s, want ALLOW", retName(got))
	}

	// Unbound labels are an error, not a zero offset.
	a = newAssembler()
	a.jump(a.newLabel())
	a.ret(wantAllow)
	if _, err := a.assemble(); err == nil {
		t.Error("jump to unbound label assembled")
	}
}

func TestInterpreterRejectsUnknownOpcodes(t *testing.T) {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LDX | unix.BPF_W | unix.BPF_MEM},
		{Code: opRetK, K: wantAllow},
	}
	if _, err := run(prog, seccompData{}.bytes(binary.LittleEndian), binary.LittleEndian); err == nil {
		t.Error("interpreter accepted an opcode it does not implement")
	}
	prog = []unix.SockFilter{{Code: opLdAbsW, K: 2}, {Code: opRetK}}
	if _, err := run(prog, seccompData{}.bytes(binary.LittleEndian), binary.LittleEndian); err == nil {
		t.Error("interpreter accepted a misaligned load")
	}
}

// TestS390xArgByteOrder pins down the big-endian argument load: on s390x the
// low word of args[1] is at offset 28, so TIOCSTI as a 64-bit value is
// refused, and the same bits only in the high word (offset 24, where a
// little-endian load would look) are not.
func TestS390xArgByteOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	prog := mustProgram(t, "s390x", Options{})
	for _, arch := range []uint32{unix.AUDIT_ARCH_S390X, unix.AUDIT_ARCH_S390} {
		tests := []struct {
			name string
			arg1 uint64
			want uint32
		}{
			{"TIOCSTI", tiocsti, wantEPERM},
			{"TIOCLINUX", tioclinux, wantEPERM},
			{"TIOCSTI with high bits", 0xffffffff_00000000 | tiocsti, wantEPERM},
			{"TIOCSTI in the high word", tiocsti << 32, wantAllow},
		}
		for _, tt := range tests {
			if got := eval(t, prog, rng, arch, 54, map[int]uint64{1: tt.arg1}); got != tt.want {
				t.Errorf("arch %#x ioctl %s: got %s, want %s", arch, tt.name, retName(got), retName(tt.want))
			}
		}
	}
	// The instruction itself: one load of args[1], at the low word.
	loads := 0
	for _, ins := range prog.prog {
		if ins.Code == opLdAbsW && ins.K >= 16 {
			loads++
			if ins.K != 16+8+4 {
				t.Errorf("argument load at offset %d, want 28", ins.K)
			}
		}
	}
	if loads == 0 {
		t.Error("no argument load in the s390x program")
	}
}

// TestMIPSCrossABI: a MIPS task can call another ABI's syscalls by number
// (see mipsABI), so whichever arch value the kernel reports, the ioctl and
// the chown family of all three ABIs are caught.
func TestMIPSCrossABI(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	prog := mustProgram(t, "mips64le", Options{SuppressChown: true})
	const mipsTIOCSTI, mipsTIOCLINUX = 0x5472, 0x5483
	for _, arch := range []uint32{unix.AUDIT_ARCH_MIPSEL64, unix.AUDIT_ARCH_MIPSEL64N32, unix.AUDIT_ARCH_MIPSEL} {
		for _, nr := range []uint32{4054, 5015, 6015} { // ioctl in o32, n64, n32
			for _, req := range []uint64{mipsTIOCSTI, mipsTIOCLINUX} {
				if got := eval(t, prog, rng, arch, nr, map[int]uint64{1: req}); got != wantEPERM {
					t.Errorf("arch %#x ioctl nr %d req %#x: got %s, want ERRNO(EPERM)", arch, nr, req, retName(got))
				}
			}
			if got := eval(t, prog, rng, arch, nr, map[int]uint64{1: tiocsti}); got != wantAllow {
				t.Errorf("arch %#x ioctl nr %d asm-generic TIOCSTI (not TIOCSTI on MIPS): got %s, want ALLOW", arch, nr, retName(got))
			}
		}
		for _, nr := range []uint32{4202, 5090, 6090} { // chown in o32, n64, n32
			if got := eval(t, prog, rng, arch, nr, nil); got != wantSucceed {
				t.Errorf("arch %#x chown nr %d: got %s, want ERRNO(0)", arch, nr, retName(got))
			}
		}
	}
	// o32's indirect syscall from an n64 or n32 task: seccomp sees the inner
	// number with unshifted arguments (4054, fd, TIOCSTI), the kernel runs
	// ioctl(fd, TIOCSTI). From an o32 task the kernel shifts the arguments
	// itself, so the same data is a harmless ioctl on fd 4054.
	indirect := map[int]uint64{0: 4054, 1: 3, 2: mipsTIOCSTI}
	for _, tt := range []struct {
		arch uint32
		want uint32
	}{{unix.AUDIT_ARCH_MIPSEL64, wantEPERM}, {unix.AUDIT_ARCH_MIPSEL64N32, wantEPERM}, {unix.AUDIT_ARCH_MIPSEL, wantAllow}} {
		if got := eval(t, prog, rng, tt.arch, 4054, indirect); got != tt.want {
			t.Errorf("arch %#x: o32 indirect ioctl TIOCSTI: got %s, want %s", tt.arch, retName(got), retName(tt.want))
		}
	}
	// The same call when a tracer rewrites a0 at the syscall-entry stop:
	// seccomp runs after that stop, but mips_syscall_update_nr re-reads the
	// number only for o32 tasks, so for an n64 or n32 task the number
	// seccomp sees is whatever the task first asked for (the indirect 4000,
	// or anything else), while the o32 handler's sys32_syscall then runs the
	// a0 the tracer wrote. The filter must refuse on the arguments alone,
	// comparing low words (sys32_syscall subtracts with 32-bit subu; ioctl's
	// cmd is an unsigned int).
	for _, arch := range []uint32{unix.AUDIT_ARCH_MIPSEL64, unix.AUDIT_ARCH_MIPSEL64N32} {
		for _, seen := range []uint32{4000, 4020, 5038, 6038, 4054, 5015} {
			for _, req := range []uint64{mipsTIOCSTI, mipsTIOCLINUX, 0xffffffff_00000000 | mipsTIOCSTI} {
				for _, a0 := range []uint64{4054, 0xffffffff_00000000 | 4054} {
					args := map[int]uint64{0: a0, 1: 3, 2: req}
					if got := eval(t, prog, rng, arch, seen, args); got != wantEPERM {
						t.Errorf("arch %#x seen nr %d args (%#x, 3, %#x): got %s, want ERRNO(EPERM)", arch, seen, a0, req, retName(got))
					}
				}
			}
			// What is not that call still passes.
			for _, args := range []map[int]uint64{
				{0: 4054, 1: 3, 2: tiocsti}, // asm-generic TIOCSTI, not TIOCSTI on MIPS
				{0: 4055, 1: 3, 2: mipsTIOCSTI},
				{0: 4054, 1: 3, 2: mipsTIOCSTI << 32},
				{0: 4054 << 32, 1: 3, 2: mipsTIOCSTI},
			} {
				if got := eval(t, prog, rng, arch, seen, args); got != wantAllow {
					t.Errorf("arch %#x seen nr %d args %#x: got %s, want ALLOW", arch, seen, args, retName(got))
				}
			}
		}
	}
	// An o32 task's number is re-read after the tracer, so its block
	// judges by nr as usual.
	for _, seen := range []uint32{4000, 4020} {
		if got := eval(t, prog, rng, unix.AUDIT_ARCH_MIPSEL, seen, indirect); got != wantAllow {
			t.Errorf("o32 seen nr %d args (4054, 3, TIOCSTI): got %s, want ALLOW", seen, retName(got))
		}
	}
	// The big-endian MIPS arches are not nook's (GOARCH mips64 is not
	// supported), so they are killed.
	for _, arch := range []uint32{unix.AUDIT_ARCH_MIPS64, unix.AUDIT_ARCH_MIPS64N32, unix.AUDIT_ARCH_MIPS} {
		if got := eval(t, prog, rng, arch, 5015, map[int]uint64{1: mipsTIOCSTI}); got != wantKill {
			t.Errorf("arch %#x: got %s, want KILL_PROCESS", arch, retName(got))
		}
	}
}
