package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// childRanges lists the memory a forked raw child reads or writes: the
// program itself, its instructions, every buffer the instructions point
// into, the candidates' and shell argv arrays, its stacks. Nothing else of
// nook's heap is needed on the child's side (see forkOnly).
func (p *rawProg) childRanges() [][2]uintptr {
	var rs [][2]uintptr
	add := func(addr, n uintptr) {
		if addr != 0 && n != 0 {
			rs = append(rs, [2]uintptr{addr, addr + n})
		}
	}
	add(uintptr(unsafe.Pointer(p)), unsafe.Sizeof(*p))
	if cap(p.insns) > 0 {
		add(uintptr(unsafe.Pointer(unsafe.SliceData(p.insns))), uintptr(cap(p.insns))*unsafe.Sizeof(rawInsn{}))
	}
	for i := range p.insns {
		if t := p.insns[i].text; t != "" {
			add(uintptr(unsafe.Pointer(unsafe.StringData(t))), uintptr(len(t)))
		}
	}
	for _, k := range p.keep {
		switch v := k.(type) {
		case []byte:
			add(uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(cap(v)))
		case []uintptr:
			add(uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(cap(v))*unsafe.Sizeof(uintptr(0)))
		case []unix.SockFilter:
			add(uintptr(unsafe.Pointer(unsafe.SliceData(v))), uintptr(cap(v))*unsafe.Sizeof(unix.SockFilter{}))
		case *unix.SockFprog:
			add(uintptr(unsafe.Pointer(v)), unsafe.Sizeof(*v))
		default:
			// A kind of buffer this list does not know: the child
			// must get all of the heap.
			return nil
		}
	}
	for _, s := range [][]uintptr{p.cands, p.shellArgv} {
		if cap(s) > 0 {
			add(uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(cap(s))*unsafe.Sizeof(uintptr(0)))
		}
	}
	add(uintptr(unsafe.Pointer(unsafe.SliceData(p.pidEnv))), uintptr(cap(p.pidEnv)))
	for _, s := range p.stacks {
		add(uintptr(unsafe.Pointer(unsafe.SliceData(s))), uintptr(cap(s)))
	}
	return rs
}

// bssMarker is a zero-valued package variable: the anonymous mapping that
// holds it is the binary's own bss, which forkOnly leaves alone.
var bssMarker [8]byte

func bssAddr() uintptr { return uintptr(unsafe.Pointer(&bssMarker[0])) }
