// Package procpid names a process of this process's pid namespace the way
// the mounted /proc names it.
//
// /proc is not always this process's own: nook started as bwrap inside a
// sandbox that kept the host's procfs (`bwrap --unshare-all --bind / / --
// /proc/self/exe ...`) runs in a new pid namespace while /proc shows the
// host's. A pid from fork or clone then names another process there, or
// none, and a path built from it (/proc/PID/uid_map) would act on that
// other process. The kernel prints the pid a pidfd refers to in the pid
// namespace of the procfs instance its fdinfo is read through (fs/pidfs.c,
// pidfd_show_fdinfo; 0 when the process is not visible there), which is the
// translation.
package procpid

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// ErrNotInProc: the process has no pid in the mounted /proc's pid
// namespace (that namespace is not an ancestor of this process's), or it is
// gone.
var ErrNotInProc = errors.New("the process is not visible in the mounted /proc")

// Translate returns the pid that /proc uses for pid, a process of this
// process's pid namespace (a child, say, which keeps its pid until it is
// reaped).
func Translate(pid int) (int, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("translate pid %d for /proc: %w", pid, unix.EINVAL)
	}
	// Where /proc is this namespace's, which is nearly always, a pid
	// stands as it is, with no pidfd at all: a container's seccomp
	// profile may refuse pidfd_open (EPERM), and that must not break
	// what needs no translation.
	own, err := ownProc()
	if err != nil {
		return 0, fmt.Errorf("translate pid %d for /proc: %w", pid, err)
	}
	if own {
		// A pid that names no process fails as pidfd_open would have
		// (ESRCH), not later as a missing /proc entry.
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return 0, fmt.Errorf("translate pid %d for /proc: %w", pid, os.NewSyscallError("kill", err))
		}
		return pid, nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		// Before Linux 5.3, or refused by a seccomp profile: no
		// translation, and /proc is another namespace's.
		return 0, fmt.Errorf("translate pid %d for /proc (no pidfd_open: %v; /proc is another pid namespace's): %w", pid, err, ErrNotInProc)
	}
	if err != nil {
		return 0, fmt.Errorf("translate pid %d for /proc: %w", pid, os.NewSyscallError("pidfd_open", err))
	}
	defer unix.Close(fd)
	path := "/proc/self/fdinfo/" + strconv.Itoa(fd)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("translate pid %d for /proc: %w", pid, err)
	}
	v, err := fdinfoPid(b)
	if err != nil {
		return 0, fmt.Errorf("translate pid %d for /proc (%s): %w", pid, path, err)
	}
	return v, nil
}

// fdinfoPid is the Pid line of a pidfd's fdinfo: the pid in the procfs's
// namespace, 0 where the process is not visible there, -1 once it is gone.
func fdinfoPid(b []byte) (int, error) {
	n, ok := field(b, "Pid:")
	if !ok {
		return 0, fmt.Errorf("no Pid line: %w", ErrNotInProc)
	}
	v, err := strconv.Atoi(n)
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, fmt.Errorf("the Pid line reads %d: %w", v, ErrNotInProc)
	}
	return v, nil
}

// Dir is /proc/PID for pid of this process's pid namespace.
func Dir(pid int) (string, error) {
	p, err := Translate(pid)
	if err != nil {
		return "", err
	}
	return "/proc/" + strconv.Itoa(p), nil
}

// Own reports whether the mounted /proc is this process's pid namespace's:
// then pids need no translation (and the standard library's own
// /proc/PID writes, SysProcAttr.UidMappings, reach the right process).
func Own() (bool, error) {
	own, err := ownProc()
	if err != nil {
		return false, fmt.Errorf("compare /proc's pid namespace with this process's: %w", err)
	}
	return own, nil
}

// ownProc: /proc/self/status lists this process's pid from the procfs's
// namespace down to its own (NSpid); one entry means the two are one.
func ownProc() (bool, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	ns, ok := field(b, "NSpid:")
	if !ok {
		// Before Linux 4.1 (no NSpid): Pid is the procfs's view.
		p, ok := field(b, "Pid:")
		return ok && p == strconv.Itoa(os.Getpid()), nil
	}
	f := bytes.Fields([]byte(ns))
	return len(f) == 1 && string(f[0]) == strconv.Itoa(os.Getpid()), nil
}

// field is the value of the line that starts with name, trimmed.
func field(b []byte, name string) (string, bool) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name)); ok {
			return string(bytes.TrimSpace(v)), true
		}
	}
	return "", false
}
