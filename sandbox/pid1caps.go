package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The Go init's pid 1 lives on while the command runs, and unless the
// command is in a user namespace of its own (nested), the command holds
// its capabilities in pid 1's user namespace too: with CAP_SYS_PTRACE it
// can attach to pid 1 although pid 1 is not dumpable (the kernel asks for
// that capability in the namespace that owns pid 1's memory), and use any
// thread of it. So pid 1 must hold nothing the command lacks, on every
// thread: capability sets are per thread (capset(2) changes the calling
// thread's only), and an exec from any of them gives uid 0 whatever that
// thread's bounding set holds.
//
// Without cgo, syscall.AllThreadsSyscall reaches every thread of the
// runtime (dropAllCaps). With cgo it cannot (the runtime does not know the
// threads C made) and returns ENOTSUP, and nothing else in Go or the
// kernel changes another thread's capabilities; nook itself has no cgo,
// but a program that embeds it may. That build fails closed: pid 1 empties
// the thread it runs on, and refuses to start a command that could take
// what the other threads keep (checkPID1Reach).

const (
	capSetpcap   = 8
	capSysPtrace = 19
)

// errCapsThisThread is dropAllCaps emptying only its own thread's sets.
var errCapsThisThread = errors.New("the capabilities of pid 1's other threads cannot be dropped in a program built with cgo")

// allThreadsSyscall tells whether syscall.AllThreadsSyscall works in this
// build (it does not with cgo). getpid gives the same answer on every
// thread, as AllThreadsSyscall requires.
var allThreadsSyscall = sync.OnceValue(func() bool {
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_GETPID, 0, 0, 0)
	return e == 0
})

// threadCaps are one thread's capability sets, as /proc shows them.
type threadCaps struct {
	tid                     string
	inh, prm, eff, bnd, amb capSet
}

// pid1Threads reads the capability sets of every thread of this process.
func pid1Threads() ([]threadCaps, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list pid 1's threads: %w", err)
	}
	var out []threadCaps
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread has exited
		}
		if err != nil {
			return nil, fmt.Errorf("read the capabilities of pid 1's thread %s: %w", e.Name(), err)
		}
		tc := threadCaps{tid: e.Name()}
		for _, f := range []struct {
			key string
			set *capSet
		}{{"CapInh:", &tc.inh}, {"CapPrm:", &tc.prm}, {"CapEff:", &tc.eff}, {"CapBnd:", &tc.bnd}, {"CapAmb:", &tc.amb}} {
			v, ok := statusField(string(b), f.key)
			if !ok {
				return nil, fmt.Errorf("pid 1's thread %s: no %s in its status", e.Name(), f.key)
			}
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("pid 1's thread %s: %s %q: %w", e.Name(), f.key, v, err)
			}
			*f.set = capSet(n)
		}
		out = append(out, tc)
	}
	return out, nil
}

func statusField(status, key string) (string, bool) {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// checkPID1Reach runs in pid 1, on the thread that starts the command,
// once the command's capabilities are set on it. It refuses a command that
// could attach to pid 1 (CAP_SYS_PTRACE within its bounding set, in pid 1's
// user namespace) while some thread of pid 1 would keep, after
// dropAllCaps, a capability outside the command's bounding set. A command
// that keeps every capability gains nothing from pid 1, nor one in a
// nested user namespace, which holds none in pid 1's. bounding says
// whether dropAllCaps can empty the bounding sets too: PR_CAPBSET_DROP
// needs CAP_SETPCAP on each thread it runs on, and AllThreadsSyscall must
// get one answer from every thread.
func checkPID1Reach() (bounding bool, err error) {
	threads, err := pid1Threads()
	if err != nil {
		return false, err
	}
	all := allThreadsSyscall()
	self := strconv.Itoa(unix.Gettid())
	var cmd capSet
	found := false
	bounding = true
	for _, tc := range threads {
		if tc.tid == self {
			// The command is forked from this thread: its bounding set
			// bounds whatever the command can ever hold.
			cmd, found = tc.bnd, true
		}
		if (all || tc.tid == self) && tc.eff&(1<<capSetpcap) == 0 {
			bounding = false
		}
	}
	if !found {
		return false, fmt.Errorf("pid 1's thread %s is not in /proc/self/task", self)
	}
	if cmd&(1<<capSysPtrace) == 0 || !commandInPID1UserNS() {
		return bounding, nil
	}
	for _, tc := range threads {
		dropped := all || tc.tid == self
		var left capSet
		if !dropped {
			left = tc.inh | tc.prm | tc.eff | tc.amb
		}
		if !(dropped && bounding) {
			left |= tc.bnd
		}
		if extra := left &^ cmd; extra != 0 {
			why := "pid 1's threads keep capabilities they cannot drop (CAP_SETPCAP is gone from some)"
			if !all {
				why = errCapsThisThread.Error()
			}
			return false, fmt.Errorf("%s, and the command, which may hold CAP_SYS_PTRACE in pid 1's user namespace, could take back %s from them: "+
				"drop CAP_SYS_PTRACE from the command as well, or let it keep those, or (cgo) build the program with CGO_ENABLED=0", why, capList(extra))
		}
	}
	return bounding, nil
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

// capList names the capabilities in set.
func capList(set capSet) string {
	var names []string
	for c := 0; c < 64; c++ {
		if set&(1<<uint(c)) != 0 {
			names = append(names, CapName(c))
		}
	}
	return strings.Join(names, ",")
}
