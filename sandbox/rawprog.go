package sandbox

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/internal/phase"
)

// The raw engine: instead of re-executing nook as the sandbox init (a
// second Go runtime start, 6+ ms here), the parent compiles the whole setup
// into a list of system calls (a rawProg) and forks a child that runs that
// list with no Go runtime: nosplit code, no allocation, all signals blocked,
// as the standard library's own fork/exec child works. The child makes the
// mounts, switches the root, drops what the command must not keep and
// execs it; with a pid namespace it stays behind as a raw wait4 loop, pid 1.
//
// Everything that needs decisions the list cannot express (reading a
// directory to splice a mount point under a read-only bind, the MS_MOVE
// fallback, writing file contents, overlays) goes to the Go init instead:
// either the compiler refuses a spec up front, or the child reports
// "fallback" before anything of the command ran and the parent starts over
// with the Go init.

// rawKind is what an instruction does.
type rawKind uint32

const (
	rkSyscall       rawKind = iota // nr(args...), see rawInsn for results
	rkExit                         // exit_group(args[0]) without a report
	rkResetSignals                 // every caught signal back to SIG_DFL (ignored ones stay)
	rkCapsEffective                // effective := permitted (after a uid change)
	rkCapsApply                    // args: keep (64-bit mask), nonRoot, last cap
	rkIfUp                         // set IFF_UP in the flags of the interface request ifr
	rkReadlinkEq                   // readlinkat(register args[0], args[1]) must equal text
	rkFork                         // clone(SIGCHLD|args[0]): the child goes on, the parent stores the pid in out and jumps to onOK
	rkWaitLoop                     // pid 1: reap everything, report the command (pid in register args[0]) on fd args[1]
	rkPidEnv                       // write getpid() in decimal and a NUL into pidEnv
	rkExec                         // execve each path of cands with argv args[1], envp args[2]; args[3]: the name has a slash
	rkMntID                        // out := mount id of the fd in register args[0]
	rkWriteDecide                  // ok: write directly into dir register args[0], entry args[1]; EXDEV: stage (owned mount ids: registers in mask args[2])
	rkWriteData                    // write args[2] bytes at args[1] to the fd in register args[0]
	rkCopyFd                       // copy fd args[1] to the fd in register args[0] until EOF
	rkChmodable                    // the fd in register args[0] is no symlink (ELOOP) and no device node (EPERM)
	rkSameFile                     // the fd in register args[0] and fd args[1] are the same file, else EXDEV
	rkCloneParent                  // clone(CLONE_PARENT|args[0]): the child goes on; this process reports the child's pid (recPid) and exits 0
	rkPipe                         // pipe2(O_CLOEXEC): the read end into out, the write end into register args[0]
	rkForkHelper                   // clone a helper (sharing memory on a stack of its own where it can): the helper goes on, the parent stores its pid in out and jumps to onOK
	rkReap                         // wait for the child in register args[0]; unless it exited 0 this process exits silently (the child reported)
	rkKindCheck                    // the mount in register args[0] and the target in register args[1]: ENOTDIR (a directory onto something else), EISDIR (the reverse), else EINVAL
	rkWantDir                      // the fd in register args[0] is a directory, else ENOTDIR
	rkFormat                       // write text into scratch at offset args[0] (args[1] bytes, NUL-terminated), each fmtReg byte and the register number after it replaced by that register's value in decimal
)

// fmtReg marks a register reference in an rkFormat text: the next byte is
// the register's number.
const fmtReg = 0xff

// Record kinds the child writes to the error pipe and pid 1 to the status
// pipe, as five native uint32s.
const (
	recError    = 1 // step, errno, exit code, candidate index (exec) or the failing instruction | pcFlag
	recFallback = 2 // step, errno: start over with the Go init
	recStopped  = 3 // signal
	recDone     = 4 // exit code, signal
	recPid      = 5 // pid: the sandbox's first process, made by a middle process (EnterUserNS)
	recStarted  = 6 // pid 1 has started the command (it exec'd: CLONE_VFORK returned)
	recText     = 7 // length: that many bytes follow (what a symlink in the way points to), after a recError
	recSize     = 20
)

// rawInsn is one step of the child's program.
//
// A system call succeeds when it returns no errno; then its result goes to
// register out (when >= 0) and execution goes on at onOK (next when -1).
// An errno in soft (or any errno with softAll) jumps to onSoft (next when
// -1) instead; an errno with its bit in fallback (errnos below 64) makes the
// child ask for the Go init; any other ends the child with an error record
// naming step, and exit status code.
type rawInsn struct {
	kind rawKind
	nr   uintptr
	args [6]uintptr
	// argReg: bit i means args[i] is a register number, replaced by the
	// register's value. argAddr: bit i means the register's address.
	argReg, argAddr uint8
	softAll         bool
	soft            [3]uint16 // errnos
	out             int32
	onOK, onSoft    int32
	fallback        uint64
	step            int32
	code            int32
	// phase is the SetupPhase of a filesystem operation this does.
	phase uint8
	// text is what rkReadlinkEq compares with.
	text string
	// exitWhen ends the child silently (status code) on a successful
	// call's result: exitNonZero for "the parent is already gone" (a
	// readable pidfd), exitZero for "the parent gave up" (EOF).
	exitWhen uint8
}

const (
	exitNever = iota
	exitNonZero
	exitZero
)

const rawRegs = 64

// rawProg is a compiled sandbox setup. The child reads it from its copy of
// the parent's memory; pointers in args point into keep, which the parent
// holds until the fork is done.
type rawProg struct {
	insns []rawInsn
	regs  [rawRegs]uintptr
	errFd uintptr
	// sigmask is the parent thread's signal mask, restored before exec.
	sigmask uint64
	// cloneFlags for the fork (namespaces).
	cloneFlags uintptr
	rec        [5]uint32
	// textLen is how much of scratch the last rkReadlinkEq read.
	textLen uintptr
	scratch [4096]byte // readlink, stat and capability buffers
	ifr     [40]byte   // struct ifreq for bringing up lo
	empty   [1]byte    // ""
	// pidEnv is the "LISTEN_PID=" entry of the command's environment,
	// with room for the digits.
	pidEnv []byte
	// cands are the addresses of the paths to try executing; with
	// ShellFallback, shellArgv[i] is the argv for shell to run cands[i].
	cands     []uintptr
	shellArgv []uintptr
	shell     uintptr
	// entry is where a child made by rawCloneVM starts; stacks are the
	// stacks of the sandbox's first process, of the command (when pid 1
	// starts it) and of the helper that writes the nested user
	// namespace's maps (lock.go), stackTop their aligned tops.
	entry   uint32
	shared  bool // the first child shares this process's memory (CLONE_VM)
	cloneVM bool // pid 1 starts the command with CLONE_VM|CLONE_VFORK
	// reportsStart: pid 1 writes recStarted once the command has exec'd,
	// so an end of the error pipe without it means the sandbox died first.
	reportsStart bool
	stacks       [3][]byte
	stackTop     [3]uintptr
	// keep holds every byte slice and array the instructions point into.
	// A child with memory of its own gets only what childRanges lists
	// (forkOnly): anything else the child reads must be added there.
	keep []any
	// steps describes each step for error messages; hints adds advice for
	// a given errno.
	steps []rawStep
	// middleSteps are the steps of the middle process that joins a held
	// user namespace (EnterUserNS): its own failures, told apart from
	// the first process's records, which may come before its pid record.
	middleSteps []int
	// execName and execCands are for exec error messages.
	execName  string
	execCands []string
	// mounts are the spec's, to read a command whose interpreter was
	// missing (interp.go).
	mounts []Mount
	// inRoot is set for a program started inside the new root (the Go
	// init's, lockinit.go): there the command's path is the file itself.
	inRoot bool
}

type rawStep struct {
	what string
	hint map[unix.Errno]string
	// mount is the filesystem operation the step carries out, if any.
	mount *Mount
	// workDir marks the change to the command's working directory
	// (StartError.WorkDir).
	workDir bool
}

const pidEnvPrefix = "LISTEN_PID="

// useCloneVM: the raw engine shares memory with its children where it can.
// NOOK_RAW_NO_VM=1 turns that off, so that the plain-fork code, the only
// one on architectures without rawCloneVM, is tested on amd64 too.
var useCloneVM = haveCloneVM && !(phase.TestHooks && os.Getenv("NOOK_RAW_NO_VM") == "1")

// atFdcwd is AT_FDCWD as a system call argument.
const atFdcwd = ^uintptr(99) // -100
