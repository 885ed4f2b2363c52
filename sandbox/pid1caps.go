package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The Go init's pid 1 lives on while the command runs, and unless the
// command is in a user namespace below pid 1's (the locked layout), the
// command holds its capabilities in pid 1's user namespace too: with
// CAP_SYS_PTRACE it can attach to pid 1 although pid 1 is not dumpable
// (the kernel asks for that capability in the namespace that owns pid 1's
// memory), and use any thread of it. So pid 1 must hold nothing the
// command lacks, on every thread: capability sets are per thread
// (capset(2) and prctl(2) change the calling thread's only), and an exec
// from any of them gives uid 0 whatever that thread's bounding set holds.
//
// Without cgo, syscall.AllThreadsSyscall reaches every thread of the
// runtime (dropAllCaps). With cgo it cannot (the runtime does not know the
// threads C made) and returns ENOTSUP, and nothing else in Go or the
// kernel changes another thread's capabilities; nook itself has no cgo,
// but a program that embeds it may. That build fails closed: pid 1 empties
// the thread it runs on, and refuses to start a command that could take
// what the other threads keep (checkPID1Reach).

const capSysPtrace = 19

// errCapsThisThread is dropAllCaps emptying only its own thread's sets.
var errCapsThisThread = errors.New("the capabilities of pid 1's other threads cannot be dropped in a program built with cgo")

// allThreadsSyscall tells whether syscall.AllThreadsSyscall works in this
// build (it does not with cgo). getpid gives the same answer on every
// thread, as AllThreadsSyscall requires.
var allThreadsSyscall = sync.OnceValue(func() bool {
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_GETPID, 0, 0, 0)
	return e == 0
})

// initBounding is the Go init's bounding set as it started, before set-up
// narrowed the thread that starts the command: the most any other thread
// of pid 1 holds (a thread starts with its creator's sets, and only that
// one thread's are narrowed). Read in the init only, before any package's
// init function runs (the init's own takes over the process).
var initBounding = func() capSet {
	if len(os.Args) != 4 || os.Args[0] != initArg0 || os.Args[1] != initArg1 {
		return 0
	}
	set, _ := threadBounding()
	return set
}()

// threadBounding reads the calling thread's bounding set (no /proc: the
// sandbox may have none, or the host's).
func threadBounding() (capSet, error) {
	var set capSet
	for c := 0; c <= lastCap(); c++ {
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if err != nil {
			return 0, os.NewSyscallError("prctl PR_CAPBSET_READ", err)
		}
		if in == 1 {
			set |= 1 << uint(c)
		}
	}
	return set, nil
}

// checkPID1Reach runs in pid 1, on the thread that starts the command,
// once the command's capabilities are set on it. Where dropAllCaps cannot
// reach pid 1's other threads (cgo), it refuses a command that could
// attach to pid 1 — CAP_SYS_PTRACE within its bounding set, in pid 1's
// user namespace — and was denied a capability the init started with: the
// other threads may keep it, and one of them could exec to get it back.
func checkPID1Reach() error {
	if allThreadsSyscall() || !commandInPID1UserNS() {
		return nil
	}
	// The command is forked from this thread: its bounding set bounds
	// whatever the command can ever hold.
	cmd, err := threadBounding()
	if err != nil {
		return fmt.Errorf("read the command's bounding set: %w", err)
	}
	denied := initBounding &^ cmd
	if cmd&(1<<capSysPtrace) == 0 || denied == 0 {
		return nil
	}
	var names []string
	for c := 0; c < 64; c++ {
		if denied&(1<<uint(c)) != 0 {
			names = append(names, CapName(c))
		}
	}
	return fmt.Errorf("%w, and the command, which may hold CAP_SYS_PTRACE in pid 1's user namespace, could take back %s from them: "+
		"drop CAP_SYS_PTRACE from the command as well, or let it keep those, or build the program with CGO_ENABLED=0",
		errCapsThisThread, strings.Join(names, ","))
}

// commandInPID1UserNS: the command will run in pid 1's user namespace or
// in an ancestor of it (from which pid 1 is just as reachable); false when
// it goes into a user namespace below pid 1's (the locked layout, where
// the init holds lockProc until it starts the command, DisableUserNS, or a
// UserNS2 that descends from it).
func commandInPID1UserNS() bool {
	if lockProc >= 0 {
		return false
	}
	if nested == nil {
		return true
	}
	if nested.userns2 < 0 {
		return false // a new namespace, made below this one
	}
	var own unix.Stat_t
	if unix.Stat("/proc/self/ns/user", &own) != nil {
		return true
	}
	fd, err := unix.FcntlInt(uintptr(nested.userns2), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return true
	}
	for {
		parent, err := unix.IoctlRetInt(fd, nsGetParent)
		unix.Close(fd)
		if err != nil {
			return true // the root of what this process may see: no descendant
		}
		var st unix.Stat_t
		if unix.Fstat(parent, &st) != nil {
			unix.Close(parent)
			return true
		}
		if st.Dev == own.Dev && st.Ino == own.Ino {
			unix.Close(parent)
			return false
		}
		fd = parent
	}
}
