package session

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/internal/procpid"
)

// Owner is the process a session's life is bound to, when it has one:
// autopkgtest-virt-nook's server begins a session for one autopkgtest run
// and ends it when the run ends. A server killed with SIGKILL (a worker
// machine's crash, a control group's kill, an operator's kill -9) cannot
// end it; the session is then an orphan, which EndOrphans recognises by
// its owner being gone. Sessions begun at the command line or through the
// schroot face have no owner: they live until someone ends them, as
// schroot's do.
type Owner struct {
	// PID is the owner's pid in PidNS.
	PID int `json:"pid"`
	// Start is its start time (clock ticks after boot, /proc/PID/stat's
	// 22nd field): with PID, it names the process even after the pid is
	// reused.
	Start uint64 `json:"start"`
	// BootID is the kernel's boot id: after a reboot no owner lives.
	BootID string `json:"boot_id"`
	// PidNS is the owner's pid namespace (the target of
	// /proc/self/ns/pid): a pid means nothing in another.
	PidNS string `json:"pid_ns"`
	// TimeNS is its time namespace (/proc/self/ns/time; empty before
	// Linux 5.6): /proc/PID/stat's start time is shifted by the reader's
	// boot-time offset, so it compares only within one.
	TimeNS string `json:"time_ns,omitempty"`
}

// ErrNoOwner: the calling process cannot be described as an owner (no
// /proc, say).
var ErrNoOwner = errors.New("cannot name this process as a session's owner")

// SelfOwner describes the calling process as a session's owner.
func SelfOwner() (*Owner, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoOwner, err)
	}
	start, err := statStart(b)
	if err != nil {
		return nil, fmt.Errorf("%w: /proc/self/stat: %w", ErrNoOwner, err)
	}
	boot, err := bootID()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoOwner, err)
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoOwner, err)
	}
	tns, _ := os.Readlink("/proc/self/ns/time")
	return &Owner{PID: os.Getpid(), Start: start, BootID: boot, PidNS: ns, TimeNS: tns}, nil
}

// Gone reports whether the owner has certainly exited. Whatever cannot be
// told for sure (another pid or time namespace, a /proc that hides the
// process) counts as alive: ending a session under a running autopkgtest
// is worse than keeping an orphan.
func (o *Owner) Gone() bool {
	// The pid namespace first: a container may show a boot id of its own
	// (systemd-nspawn mounts one over /proc/sys/kernel/random/boot_id),
	// while the host's initial pid namespace is the same after a reboot.
	if ns, err := os.Readlink("/proc/self/ns/pid"); err != nil || ns != o.PidNS || o.PID <= 0 {
		return false
	}
	if boot, err := bootID(); err != nil || o.BootID == "" {
		return false
	} else if boot != o.BootID {
		return true
	}
	// kill(pid, 0) asks this pid namespace, whatever /proc is mounted.
	if err := unix.Kill(o.PID, 0); errors.Is(err, unix.ESRCH) {
		return true
	}
	// A process has the pid: the owner, or another one that reuses it
	// and so started later.
	if tns, _ := os.Readlink("/proc/self/ns/time"); tns != o.TimeNS {
		return false
	}
	p, err := procpid.Translate(o.PID)
	if err != nil {
		return errors.Is(err, unix.ESRCH)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		// Gone meanwhile, or hidden (hidepid): only kill can tell.
		return errors.Is(unix.Kill(o.PID, 0), unix.ESRCH)
	}
	start, err := statStart(b)
	return err == nil && start > o.Start
}

// statStart is the start time in a /proc/PID/stat line: the 20th field
// after the command name, which is in parentheses and may hold spaces and
// parentheses itself.
func statStart(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state (3rd field of the line) ... starttime (22nd).
	if len(f) < 20 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func bootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("read the boot id: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// EndOrphans ends the caller's sessions whose owner is gone and returns
// their ids; an orphan that cannot be ended is skipped (the next call
// tries it again) and its error joined into the one returned, and one
// whose lock a command holds is left for a later call (a booted
// session's commands go through its agent and hold no lock: a booted
// orphan is powered off under them). Sessions without an owner are never
// touched.
func (s *Store) EndOrphans() ([]string, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var ended []string
	var errs []error
	for _, st := range all {
		if st.Owner == nil || !st.Owner.Gone() {
			continue
		}
		// Without waiting: a command its dead owner started may
		// outlive it (a test that hangs); a later sweep ends it. Never
		// packed back (Discard): an orphan's tree is no one's result.
		if err := s.end(st.ID, nil, true, true); err != nil {
			if !errors.Is(err, ErrNoSession) && !errors.Is(err, errBusy) {
				errs = append(errs, fmt.Errorf("end orphaned session %s: %w", st.ID, err))
			}
			continue
		}
		ended = append(ended, st.ID)
	}
	return ended, errors.Join(errs...)
}
