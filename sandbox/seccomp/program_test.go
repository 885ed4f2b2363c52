package seccomp

import (
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
}

const x32Bit = 0x40000000

var (
	caseX8664 = abiCase{
		name: "x86_64", arch: unix.AUDIT_ARCH_X86_64,
		ioctl: []uint32{16},
		chown: map[string]uint32{"chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260},
		sync: map[string]uint32{"msync": 26, "fsync": 74, "fdatasync": 75, "sync": 162,
			"sync_file_range": 277, "syncfs": 306},
		other: map[string]uint32{"read": 0, "write": 1, "fchmod": 91, "umask": 95,
			"putpmsg(i386 chown)": 182, "openat": 257, "fchmodat": 268, "perf_event_open(i386 fchownat)": 298,
			"x32 ioctl number without bit": 514, "fchmodat2": 452},
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

var goarchCases = map[string][]abiCase{
	"amd64":   {caseX8664, caseX32, caseI386},
	"386":     {caseI386, caseX8664, caseX32},
	"arm64":   {caseAArch64, caseARM},
	"arm":     {caseARM, caseAArch64},
	"riscv64": {caseRISCV64, caseRISCV32},
	"loong64": {caseLoong64},
}

// Arches no program handles, plus every case arch (each goarch treats the
// arches it does not list as unknown).
var foreignArches = []uint32{0, 0xffffffff, unix.AUDIT_ARCH_ARMEB, unix.AUDIT_ARCH_PPC64LE,
	unix.AUDIT_ARCH_S390X, unix.AUDIT_ARCH_MIPSEL64, unix.AUDIT_ARCH_X86_64 &^ 0x80000000}

const (
	wantAllow   = unix.SECCOMP_RET_ALLOW
	wantSucceed = unix.SECCOMP_RET_ERRNO // errno 0: return 0 without running
	wantEPERM   = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)

	tiocsti    = 0x5412
	tioclinux  = 0x541c
	tiocgwinsz = 0x5413
)

var allOptions = []Options{{}, {SuppressChown: true}, {SuppressSync: true}, {SuppressChown: true, SuppressSync: true}}

func mustProgram(t *testing.T, goarch string, opts Options) []unix.SockFilter {
	t.Helper()
	prog, err := Program(goarch, opts)
	if err != nil {
		t.Fatalf("Program(%q, %+v): %v", goarch, opts, err)
	}
	if err := verify(prog); err != nil {
		t.Fatalf("Program(%q, %+v) fails verification: %v", goarch, opts, err)
	}
	return prog
}

// eval runs prog with nr/arch/args and random other fields, which must not
// matter.
func eval(t *testing.T, prog []unix.SockFilter, rng *rand.Rand, arch, nr uint32, args map[int]uint64) uint32 {
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
	ret, err := run(prog, d.bytes())
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
	requests := []struct {
		name string
		arg1 uint64
		want uint32
	}{
		{"TIOCSTI", tiocsti, wantEPERM},
		{"TIOCLINUX", tioclinux, wantEPERM},
		{"TIOCSTI high bits", 0xffffffff_00000000 | tiocsti, wantEPERM},
		{"TIOCSTI one high bit", 1<<32 | tiocsti, wantEPERM},
		{"TIOCLINUX high bits", 0xdeadbeef_00000000 | tioclinux, wantEPERM},
		{"TIOCGWINSZ", tiocgwinsz, wantAllow},
		{"zero", 0, wantAllow},
		{"TIOCSTI in high word only", tiocsti << 32, wantAllow},
		{"TIOCSTI plus one", tiocsti + 1, wantAllow},
		{"TIOCSPTLCK", 0x40045431, wantAllow},
	}
	for goarch, cases := range goarchCases {
		for _, opts := range allOptions {
			prog := mustProgram(t, goarch, opts)
			for _, c := range cases {
				for _, nr := range c.ioctl {
					for _, r := range requests {
						got := eval(t, prog, rng, c.arch, nr|c.bit, map[int]uint64{1: r.arg1})
						if got != r.want {
							t.Errorf("%s %+v %s ioctl nr %#x %s: got %s, want %s",
								goarch, opts, c.name, nr|c.bit, r.name, retName(got), retName(r.want))
						}
					}
					// The request must be read from args[1], not another slot.
					for _, slot := range []int{0, 2, 3, 4, 5} {
						got := eval(t, prog, rng, c.arch, nr|c.bit, map[int]uint64{slot: tiocsti})
						if got != wantAllow {
							t.Errorf("%s %s: TIOCSTI in args[%d] gave %s", goarch, c.name, slot, retName(got))
						}
					}
				}
			}
		}
	}
}

// TestExhaustive sweeps syscall numbers for every ABI (with and without the
// x32 bit) and every foreign arch, so a stray match anywhere shows up.
func TestExhaustive(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for goarch, cases := range goarchCases {
		known := map[uint32]bool{}
		for _, c := range cases {
			known[c.arch] = true
		}
		for _, opts := range allOptions {
			prog := mustProgram(t, goarch, opts)
			args := map[int]uint64{1: tiocsti}
			for _, c := range cases {
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
				for raw := uint32(0); raw < 1100; raw++ {
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
			// Same ioctl/chown numbers on arches this program does not
			// handle: always allowed.
			var unknown []uint32
			unknown = append(unknown, foreignArches...)
			for _, cs := range goarchCases {
				for _, c := range cs {
					if !known[c.arch] {
						unknown = append(unknown, c.arch)
					}
				}
			}
			for _, arch := range unknown {
				for raw := uint32(0); raw < 1100; raw++ {
					for _, nr := range []uint32{raw, raw | x32Bit} {
						if got := eval(t, prog, rng, arch, nr, args); got != wantAllow {
							t.Fatalf("%s %+v unknown arch %#x nr %#x: got %s, want ALLOW", goarch, opts, arch, nr, retName(got))
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
		{"native 514 (not a syscall)", 514, tiocsti, wantAllow},
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
	for _, goarch := range []string{"", "mips", "ppc64", "ppc64le", "s390x", "wasm"} {
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
		if len(prog) > 200 {
			t.Errorf("%s: %d instructions, expected a small program", goarch, len(prog))
		}
		t.Logf("%s: %d instructions", goarch, len(prog))
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
	if got := eval(t, prog, rng, 0, 1, nil); got != wantEPERM {
		t.Errorf("nr 1: got %s, want EPERM", retName(got))
	}
	if got := eval(t, prog, rng, 0, 2, nil); got != wantAllow {
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
	if _, err := run(prog, seccompData{}.bytes()); err == nil {
		t.Error("interpreter accepted an opcode it does not implement")
	}
	prog = []unix.SockFilter{{Code: opLdAbsW, K: 2}, {Code: opRetK}}
	if _, err := run(prog, seccompData{}.bytes()); err == nil {
		t.Error("interpreter accepted a misaligned load")
	}
}
