package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxInsns is BPF_MAXINSNS, the kernel's limit on a classic-BPF program.
const maxInsns = 4096

// ErrJumpTooFar is returned when a conditional jump would need an offset that
// does not fit in classic BPF's 8-bit jt/jf fields. The generator keeps
// conditional jumps inside small per-ABI blocks and crosses blocks only with
// BPF_JA (32-bit offset), so seeing this means a block grew past ~255
// instructions.
var ErrJumpTooFar = errors.New("conditional jump offset exceeds 255")

// label names a position in the program that is known only once the code
// after it has been emitted. The zero label means "the next instruction".
type label int

const next label = 0

// pending is an instruction whose jump fields still refer to labels.
type pending struct {
	ins    unix.SockFilter
	jt, jf label // conditional jumps
	ja     label // BPF_JA target
}

// assembler emits classic BPF with symbolic forward jumps, so the generator
// never computes offsets by hand (the usual source of off-by-one filters).
type assembler struct {
	code   []pending
	labels []int // position per label; -1 until bound; labels[0] unused
}

func newAssembler() *assembler {
	return &assembler{labels: []int{-1}}
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind places l at the next instruction to be emitted.
func (a *assembler) bind(l label) {
	a.labels[l] = len(a.code)
}

// loadWord loads the 32-bit word at off in struct seccomp_data into A.
func (a *assembler) loadWord(off uint32) {
	a.code = append(a.code, pending{ins: unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}})
}

// jumpIf emits a conditional jump comparing A with k; op is BPF_JEQ, BPF_JSET, ...
func (a *assembler) jumpIf(op uint16, k uint32, jt, jf label) {
	a.code = append(a.code, pending{ins: unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k}, jt: jt, jf: jf})
}

// jump emits an unconditional jump, which may span any forward distance.
func (a *assembler) jump(to label) {
	a.code = append(a.code, pending{ins: unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA}, ja: to})
}

// ret emits a return of the constant k.
func (a *assembler) ret(k uint32) {
	a.code = append(a.code, pending{ins: unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k}})
}

// assemble resolves labels into offsets. Classic BPF only jumps forward, and
// conditional offsets are 8 bits wide; anything else is an error rather
// than a silently truncated (and therefore wrong) filter.
func (a *assembler) assemble() ([]unix.SockFilter, error) {
	if len(a.code) > maxInsns {
		return nil, fmt.Errorf("assemble seccomp program: %d instructions, kernel limit is %d", len(a.code), maxInsns)
	}
	out := make([]unix.SockFilter, len(a.code))
	for i, p := range a.code {
		ins := p.ins
		var err error
		if ins.Code&0x07 == unix.BPF_JMP {
			if ins.Code&0xf0 == unix.BPF_JA {
				var off int
				off, err = a.offset(i, p.ja)
				ins.K = uint32(off)
			} else {
				var t, f int
				t, err = a.offset(i, p.jt)
				if err == nil {
					f, err = a.offset(i, p.jf)
				}
				if err == nil && (t > 255 || f > 255) {
					err = fmt.Errorf("instruction %d: %w (jt %d, jf %d)", i, ErrJumpTooFar, t, f)
				}
				ins.Jt, ins.Jf = uint8(t), uint8(f)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("assemble seccomp program: %w", err)
		}
		out[i] = ins
	}
	return out, nil
}

// offset is the jump offset from instruction i to label l.
func (a *assembler) offset(i int, l label) (int, error) {
	if l == next {
		return 0, nil
	}
	pos := a.labels[l]
	if pos < 0 {
		return 0, fmt.Errorf("instruction %d: jump to unbound label %d", i, l)
	}
	if pos <= i {
		return 0, fmt.Errorf("instruction %d: backward jump to %d", i, pos)
	}
	if pos >= len(a.code) {
		return 0, fmt.Errorf("instruction %d: jump past the end of the program", i)
	}
	return pos - (i + 1), nil
}
