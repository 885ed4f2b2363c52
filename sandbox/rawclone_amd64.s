#include "textflag.h"

// func rawCloneVM(flags, stack uintptr, p *rawProg) (pid, errno uintptr)
//
// clone(2) with a new stack: the child starts on stack and calls
// rawChildEntry(p); the parent returns the child's pid. With CLONE_VM the
// child shares the caller's memory, so no page table is copied and no
// copy-on-write fault follows in the parent.
TEXT ·rawCloneVM(SB),NOSPLIT|NOFRAME,$0-40
	MOVQ	flags+0(FP), DI
	MOVQ	stack+8(FP), SI
	MOVQ	p+16(FP), R12 // kept across the system call, read by the child
	XORQ	DX, DX
	XORQ	R10, R10
	XORQ	R8, R8
	MOVQ	$56, AX // SYS_clone
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	NEGQ	AX
	MOVQ	$0, pid+24(FP)
	MOVQ	AX, errno+32(FP)
	RET
ok:
	MOVQ	AX, pid+24(FP)
	MOVQ	$0, errno+32(FP)
	RET
child:
	SUBQ	$16, SP
	MOVQ	R12, 0(SP)
	// Called through a register: the linker's nosplit check would
	// otherwise count this call, on a fresh stack, against the caller's.
	MOVQ	$·rawChildEntry(SB), AX
	CALL	AX
	MOVQ	$125, DI
	MOVQ	$231, AX // SYS_exit_group
	SYSCALL
	INT	$3
