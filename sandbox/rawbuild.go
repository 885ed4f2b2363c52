package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// errRawUnsupported marks a spec the raw engine leaves to the Go init.
var errRawUnsupported = errors.New("not expressible as a raw program")

// rawArgSpec is one argument of an instruction: a value, a register's
// value, or a register's address.
type rawArgSpec struct {
	v          uintptr
	reg, addrs bool
}

func imm(v uintptr) rawArgSpec     { return rawArgSpec{v: v} }
func rval(r int32) rawArgSpec      { return rawArgSpec{v: uintptr(r), reg: true} }
func raddr(r int32) rawArgSpec     { return rawArgSpec{v: uintptr(r), addrs: true} }
func immInt(v int) rawArgSpec      { return rawArgSpec{v: uintptr(v)} }
func errnoBit(e unix.Errno) uint64 { return 1 << uint(e) }

// fbCreate: creating an entry failed because the directory is read-only or
// not ours. The Go init splices such a directory (a tmpfs copy), which the
// raw program cannot; so it asks for the Go init.
var fbCreate = errnoBit(unix.EROFS) | errnoBit(unix.EACCES) | errnoBit(unix.EPERM)

// rawBuilder assembles a rawProg.
type rawBuilder struct {
	p   *rawProg
	cur int32 // current step
	// phase is what the instructions emitted now do of a filesystem
	// operation, for its SetupFailure (0: not one).
	phase SetupPhase
	err   error
	used  [rawRegs]bool
	arena []byte // room for strings (cstr); never grown in place
	// scratchUsed is how much of the program's scratch buffer fdPaths
	// has handed out.
	scratchUsed int
}

func newRawBuilder() *rawBuilder {
	// Sized for a typical program, so that it is not copied as it grows.
	return &rawBuilder{p: &rawProg{insns: make([]rawInsn, 0, 384)}}
}

func (b *rawBuilder) fail(format string, a ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: "+format, append([]any{errRawUnsupported}, a...)...)
	}
}

// at starts a new step: instructions from here report errors as what.
func (b *rawBuilder) at(what string) {
	b.p.steps = append(b.p.steps, rawStep{what: what})
	b.cur = int32(len(b.p.steps) - 1)
	b.phase = 0
}

// atMount starts the step of filesystem operation m: its failures are
// reported by m's fields too (SetupFailure), as the mount itself unless
// the instructions say otherwise (inPhase).
func (b *rawBuilder) atMount(what string, m Mount) {
	b.at(what)
	mc := m
	b.p.steps[b.cur].mount = &mc
	b.phase = PhaseMount
}

// inPhase sets the phase of the instructions emitted from start on.
func (b *rawBuilder) inPhase(start int, p SetupPhase) {
	for i := start; i < len(b.p.insns); i++ {
		b.p.insns[i].phase = uint8(p)
	}
}

// hint adds advice to the current step's error message for errno e.
func (b *rawBuilder) hint(e unix.Errno, text string) {
	st := &b.p.steps[b.cur]
	if st.hint == nil {
		st.hint = map[unix.Errno]string{}
	}
	st.hint[e] = text
}

// reg allocates a register; closeReg gives it back.
func (b *rawBuilder) reg() int32 {
	for i := range b.used {
		if !b.used[i] {
			b.used[i] = true
			return int32(i)
		}
	}
	b.fail("more than %d open handles", rawRegs)
	return 0
}

// cstr keeps s as a NUL-terminated string and returns its address. The
// strings share chunks of memory: one allocation for most programs.
func (b *rawBuilder) cstr(s string) uintptr {
	if len(s)+1 > cap(b.arena)-len(b.arena) {
		n := 4096
		if len(s)+1 > n {
			n = len(s) + 1
		}
		b.arena = make([]byte, 0, n)
		b.p.keep = append(b.p.keep, b.arena[:n])
	}
	at := len(b.arena)
	b.arena = append(b.arena, s...)
	b.arena = append(b.arena, 0)
	return addrOf(b.arena[at:])
}

// bytes keeps a copy of v and returns its address.
func (b *rawBuilder) bytes(v []byte) uintptr {
	buf := append([]byte(nil), v...)
	if len(buf) == 0 {
		buf = []byte{0}
	}
	b.p.keep = append(b.p.keep, buf)
	return addrOf(buf)
}

// emit appends an instruction and returns its index.
func (b *rawBuilder) emit(in rawInsn) int {
	in.step = b.cur
	in.phase = uint8(b.phase)
	if in.code == 0 {
		in.code = ExitSetupFailed
	}
	b.p.insns = append(b.p.insns, in)
	return len(b.p.insns) - 1
}

func (b *rawBuilder) insn(kind rawKind, nr uintptr, args ...rawArgSpec) rawInsn {
	in := rawInsn{kind: kind, nr: nr, out: -1, onOK: -1, onSoft: -1}
	for i, a := range args {
		in.args[i] = a.v
		if a.reg {
			in.argReg |= 1 << i
		}
		if a.addrs {
			in.argAddr |= 1 << i
		}
	}
	return in
}

// sys emits a system call whose errors are fatal.
func (b *rawBuilder) sys(nr uintptr, args ...rawArgSpec) int {
	return b.emit(b.insn(rkSyscall, nr, args...))
}

// sysOut emits a system call that stores its result in a new register.
func (b *rawBuilder) sysOut(nr uintptr, args ...rawArgSpec) int32 {
	in := b.insn(rkSyscall, nr, args...)
	r := b.reg()
	in.out = r
	b.emit(in)
	return r
}

// last is the most recent instruction, for adjusting its error handling.
func (b *rawBuilder) last() *rawInsn { return &b.p.insns[len(b.p.insns)-1] }

// here is the index the next instruction will get (a jump target).
func (b *rawBuilder) here() int32 { return int32(len(b.p.insns)) }

func (b *rawBuilder) closeReg(r int32) {
	b.sys(unix.SYS_CLOSE, rval(r))
	b.used[r] = false
}

// fdPaths emits an instruction that writes, when the child gets to it,
// "/proc/self/fd/N" for the fd in each register, joined by sep, into the
// program's scratch buffer, and returns the address of that string. A
// layer given to overlayfs as such a path is the open directory itself:
// nothing is looked up by name again. The strings live until
// resetScratch; nothing else may use the scratch buffer meanwhile.
func (b *rawBuilder) fdPaths(sep string, regs ...int32) uintptr {
	const prefix = "/proc/self/fd/"
	var text []byte
	for i, r := range regs {
		if i > 0 {
			text = append(text, sep...)
		}
		text = append(text, prefix...)
		text = append(text, fmtReg, byte(r))
	}
	// Room for the text with every reference as 20 digits, and the NUL.
	n := len(text) + 20*len(regs) + 1
	off := b.scratchUsed
	if n > len(b.p.scratch)-off {
		b.fail("%d overlay layers: their paths do not fit in %d bytes", len(regs), len(b.p.scratch))
		return 0
	}
	b.scratchUsed += n
	in := b.insn(rkFormat, 0, immInt(off), immInt(n))
	in.text = string(text)
	b.emit(in)
	return addrOf(b.p.scratch[off:])
}

// resetScratch gives the scratch buffer back (see fdPaths).
func (b *rawBuilder) resetScratch() { b.scratchUsed = 0 }
