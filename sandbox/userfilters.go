package sandbox

import (
	"encoding/binary"
	"fmt"

	"github.com/nook-project/nook/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// The caller's own compiled seccomp programs (Spec.SeccompPrograms).

// installPrograms installs the caller's compiled seccomp programs, in order.
// When the command goes into another user namespace (usernslimit.go), the
// raw child that moves it installs them instead, after the move: a
// program may well forbid making or entering user namespaces.
func installPrograms(progs [][]byte) error {
	for i, raw := range progs {
		prog, err := DecodeFilter(raw)
		if err != nil {
			return fmt.Errorf("seccomp program %d: %w", i+1, err)
		}
		if nested != nil {
			nested.progs = append(nested.progs, unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
			continue
		}
		if err := seccomp.Install(prog); err != nil {
			return fmt.Errorf("install seccomp program %d: %w", i+1, err)
		}
	}
	return nil
}

// DecodeFilter turns a compiled classic BPF program, as libseccomp's
// seccomp_export_bpf writes it (struct sock_filter records of 8 bytes in
// native byte order), into instructions.
func DecodeFilter(raw []byte) ([]unix.SockFilter, error) {
	if len(raw) == 0 || len(raw)%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not a whole number of 8-byte BPF instructions", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/8)
	for i := range prog {
		r := raw[8*i:]
		prog[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(r[0:]),
			Jt:   r[2],
			Jf:   r[3],
			K:    binary.NativeEndian.Uint32(r[4:]),
		}
	}
	return prog, nil
}
