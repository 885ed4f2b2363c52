package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// DisableUserNS, as bwrap does it: in the sandbox's user namespace set
// user.max_user_namespaces to 1, then start the command in one nested user
// namespace. That one uses up the limit, and the command, whose
// capabilities are in the nested namespace only, cannot raise the limit of
// the outer one: every further user namespace is refused with ENOSPC.
//
// The init is multi-threaded, so it cannot unshare(CLONE_NEWUSER) itself,
// and syscall.ForkExec's clone(CLONE_NEWUSER) would have the init write
// the nested maps through /proc/PID, which the sandbox may not have. So
// the command is started under the init (underInit) by a raw fork whose
// single-threaded child unshares its user namespace and maps its own uid
// and gid onto themselves through a handle on the procfs the init had
// before switching root (rawNestedChild, in usernslimit_unsafe.go).

// nested is set when the command goes into a nested user namespace.
var nested *nestPlan

// nestPlan is what the raw child needs, prepared so that it allocates
// nothing.
type nestPlan struct {
	proc int // O_PATH handle on a procfs, from before the root switch
	// userns2 is the namespace to enter, or -1 to make a nested one.
	userns2                  int
	uidMap, gidMap, deny     []byte
	uidPath, gidPath, sgPath *byte
	path                     *byte
	argv, envv               []*byte
	report                   int
	lastCap                  int
	// keep is the capability set the command keeps, and capHdr/capData
	// the capset(2) arguments that leave exactly it.
	keep          uint64
	ambientAlways bool
	capHdr        [2]uint32
	capData       [6]uint32
	progs         []unix.SockFprog
	sigOld        [4]uint64
	sigAct        [4]uint64
}

// limitUserNS prepares the move of the command into another user
// namespace: for DisableUserNS the limit and a procfs handle, for UserNS2
// a handle on that namespace. It runs before the root switch.
func limitUserNS(s *Spec, files map[int]*os.File, lock bool) error {
	shellFallback = s.ShellFallback
	if !s.DisableUserNS && s.UserNS2 == nil {
		return nil
	}
	if lock && s.DisableUserNS {
		// The nested namespace that locks the mounts (lock.go) is the one
		// that uses the limit up.
		if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("1\n"), 0); err != nil {
			return fmt.Errorf("limit user namespaces: %w", err)
		}
		return nil
	}
	keep, err := keptCaps(s.Caps)
	if err != nil {
		return err
	}
	p := &nestPlan{proc: -1, userns2: -1, deny: []byte("deny"), lastCap: lastCap(), keep: uint64(keep)}
	p.capHdr[0] = unix.LINUX_CAPABILITY_VERSION_3
	for i, half := range []uint32{uint32(keep), uint32(keep >> 32)} {
		inh := half
		if s.Caps.LeaveSets {
			inh = 0 // Capabilities.LeaveSets: nothing inheritable
		}
		p.capData[3*i], p.capData[3*i+1], p.capData[3*i+2] = half, half, inh
	}
	p.ambientAlways = s.Caps.AmbientAlways && !s.Caps.LeaveSets
	if s.UserNS2 != nil {
		f := files[*s.UserNS2]
		if f == nil {
			return fmt.Errorf("file descriptor %d of the user namespace to enter was not passed", *s.UserNS2)
		}
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
		if err != nil {
			return os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
		}
		p.userns2 = fd
	} else {
		const sysctl = "/proc/sys/user/max_user_namespaces"
		if err := os.WriteFile(sysctl, []byte("1\n"), 0); err != nil {
			return fmt.Errorf("limit user namespaces: %w", err)
		}
		if p.proc, err = unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return &os.PathError{Op: "open", Path: "/proc", Err: err}
		}
	}
	nested = p
	return nil
}

// startCommand starts the command for pid 1: syscall.ForkExec, or the raw
// fork into a nested user namespace. The uid and gid are read here, after
// the init switched to the command's.
func startCommand(path string, argv []string, attr *syscall.ProcAttr) (int, error) {
	if nested == nil {
		pid, err := syscall.ForkExec(path, argv, attr)
		if errors.Is(err, unix.ENOEXEC) && shellFallback {
			return syscall.ForkExec(fallbackShell, shellArgv(path, argv), attr)
		}
		return pid, err
	}
	p := nested
	uid, gid := os.Getuid(), os.Getgid()
	p.uidMap = []byte(fmt.Sprintf("%d %d 1\n", uid, uid))
	p.gidMap = []byte(fmt.Sprintf("%d %d 1\n", gid, gid))
	var err error
	for _, x := range []struct {
		dst **byte
		s   string
	}{{&p.uidPath, "self/uid_map"}, {&p.gidPath, "self/gid_map"}, {&p.sgPath, "self/setgroups"}, {&p.path, path}} {
		if *x.dst, err = syscall.BytePtrFromString(x.s); err != nil {
			return 0, err
		}
	}
	if p.argv, err = syscall.SlicePtrFromStrings(argv); err != nil {
		return 0, err
	}
	if p.envv, err = syscall.SlicePtrFromStrings(attr.Env); err != nil {
		return 0, err
	}
	var rep [2]int
	if err := unix.Pipe2(rep[:], unix.O_CLOEXEC); err != nil {
		return 0, os.NewSyscallError("pipe2", err)
	}
	p.report = rep[1]
	pid, errno := rawNestedFork(p)
	unix.Close(rep[1])
	defer unix.Close(rep[0])
	if errno != 0 {
		return 0, os.NewSyscallError("clone", errno)
	}
	var rec [16]byte
	n, _ := unix.Read(rep[0], rec[:])
	if n == len(rec) {
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		step := []string{"make the nested user namespace", "map ids in the nested user namespace", "execute",
			"enter the user namespace (--userns2)", "set capabilities", "install seccomp program"}[min(int(binary.NativeEndian.Uint64(rec[:8])), 5)]
		return 0, fmt.Errorf("%s: %w", step, syscall.Errno(binary.NativeEndian.Uint64(rec[8:])))
	}
	return pid, nil
}

// assertUserNSDisabled checks, where the command will run, that a new user
// namespace is refused. With DisableUserNS that place is the nested
// namespace, which does not exist yet; the limit limitUserNS wrote (or
// failed on) is what makes it true there.
func assertUserNSDisabled(s *Spec) error {
	if !s.AssertUserNSDisabled || s.DisableUserNS {
		return nil
	}
	err := tryUserNS()
	switch {
	case err == nil:
		return errors.New("new user namespaces can still be made here (--assert-userns-disabled)")
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EPERM), errors.Is(err, unix.EUSERS):
		return nil
	}
	return fmt.Errorf("check whether user namespaces are disabled: %w", err)
}
