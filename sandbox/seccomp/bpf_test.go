package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// seccompData mirrors struct seccomp_data for the interpreter below.
type seccompData struct {
	nr   int32
	arch uint32
	ip   uint64
	args [6]uint64
}

// bytes lays d out as a kernel of the given byte order does: every field in
// native order, so on a big-endian kernel the low half of args[i] is the
// second word.
func (d seccompData) bytes(order binary.ByteOrder) []byte {
	b := make([]byte, 64)
	order.PutUint32(b[0:], uint32(d.nr))
	order.PutUint32(b[4:], d.arch)
	order.PutUint64(b[8:], d.ip)
	for i, a := range d.args {
		order.PutUint64(b[16+8*i:], a)
	}
	return b
}

// Opcodes the interpreter understands. Anything else makes verify and run
// fail, so the tests notice when the generator starts emitting something
// new that nobody checked.
const (
	opLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	opLdImm  = unix.BPF_LD | unix.BPF_IMM
	opAndK   = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	opJa     = unix.BPF_JMP | unix.BPF_JA
	opJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	opJgtK   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
	opJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	opJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	opRetK   = unix.BPF_RET | unix.BPF_K
	opRetA   = unix.BPF_RET | unix.BPF_A
)

// verify applies the static checks the kernel makes before accepting a
// seccomp program (length, known opcodes, aligned in-bounds loads, jumps
// that stay inside the program, a final return).
func verify(prog []unix.SockFilter) error {
	if len(prog) == 0 || len(prog) > 4096 {
		return fmt.Errorf("length %d out of range", len(prog))
	}
	for pc, ins := range prog {
		switch ins.Code {
		case opLdAbsW:
			if ins.K >= 64 || ins.K%4 != 0 {
				return fmt.Errorf("pc %d: bad load offset %d", pc, ins.K)
			}
		case opLdImm, opAndK, opRetK, opRetA:
		case opJa:
			if uint64(pc)+1+uint64(ins.K) >= uint64(len(prog)) {
				return fmt.Errorf("pc %d: ja out of range", pc)
			}
		case opJeqK, opJgtK, opJgeK, opJsetK:
			if pc+1+int(ins.Jt) >= len(prog) || pc+1+int(ins.Jf) >= len(prog) {
				return fmt.Errorf("pc %d: conditional jump out of range", pc)
			}
		default:
			return fmt.Errorf("pc %d: unknown opcode %#x", pc, ins.Code)
		}
	}
	if last := prog[len(prog)-1].Code; last != opRetK && last != opRetA {
		return fmt.Errorf("last instruction %#x is not a return", last)
	}
	return nil
}

// run interprets prog over data and returns the filter's verdict. Loads read
// a word in the given (the kernel's) byte order, as the kernel's BPF does.
func run(prog []unix.SockFilter, data []byte, order binary.ByteOrder) (uint32, error) {
	if err := verify(prog); err != nil {
		return 0, err
	}
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Code {
		case opLdAbsW:
			a = order.Uint32(data[ins.K:])
		case opLdImm:
			a = ins.K
		case opAndK:
			a &= ins.K
		case opJa:
			pc += int(ins.K)
		case opJeqK, opJgtK, opJgeK, opJsetK:
			var taken bool
			switch ins.Code {
			case opJeqK:
				taken = a == ins.K
			case opJgtK:
				taken = a > ins.K
			case opJgeK:
				taken = a >= ins.K
			case opJsetK:
				taken = a&ins.K != 0
			}
			if taken {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case opRetK:
			return ins.K, nil
		case opRetA:
			return a, nil
		default:
			return 0, fmt.Errorf("pc %d: unknown opcode %#x", pc, ins.Code)
		}
	}
	return 0, fmt.Errorf("fell off the end of the program")
}
