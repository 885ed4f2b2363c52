package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Joining existing namespaces (bwrap's --userns and --pidns).
//
// The kernel lets a process setns(2) into a user namespace only while it is
// single-threaded, and a Go process never is: the runtime starts its
// monitor thread before any package's init function runs, so neither nook
// nor its re-executed init can join. syscall.ForkExec has no setns step,
// and cgo is out. What remains is fork(2) itself: the child of a raw
// clone(2) without CLONE_VM is a copy with exactly one thread. That child
// runs only raw system calls (rawJoinChild, in joinns_unsafe.go): it joins
// the user namespace (and the pid namespace), then clones the init with
// CLONE_PARENT and the CLONE_NEW* flags, so the init is nook's own child,
// made inside the joined namespaces exactly as the normal path makes it in
// new ones, and execs it. The middle process reports the init's pid and
// exits. This is how the standard library's fork/exec child is written too
// (no allocation, no stack growth, signals blocked), without its hooks into
// the runtime, which only the syscall package may call.
//
//	nook (Go, locked thread, signals blocked)
//	  clone(SIGCHLD)  -------------------->  middle (one thread, raw syscalls)
//	                                          setns(user), setns(pid)
//	                                          [a second middle when a new pid
//	                                           namespace goes below the joined one]
//	                                          clone(CLONE_PARENT|NEW*) --> init
//	  <--- {pid} on the report pipe --------  exit                         setsid/setpgid,
//	  wait4(middle)                                                        PDEATHSIG, caps
//	  <--- end of file (exec) or {errno} --------------------------------  fds, execve

// joinPlan is everything the raw child needs, prepared in the parent so
// that the child allocates nothing.
type joinPlan struct {
	userns, pidns int // caller fds, -1 when not joining
	flags         uintptr
	setsid        bool
	// ctty, when not -1, is the terminal (a parent fd) whose foreground
	// the init's new process group takes, as SysProcAttr.Foreground does.
	ctty       int
	pgrp       int32
	fds        []int // fds[i] becomes fd i in the init; -1 closes it
	tmp        []int // scratch, len(fds)
	lastCap    int
	path       *byte
	argv, envv []*byte
	report     int // write end of the report pipe
	caps       [3]uint32
	capData    [6]uint32
	sigAct     [4]uint64
	sigOld     [4]uint64
}

// joinReport is one record on the report pipe.
const (
	reportPid   = 1
	reportErrno = 2
	reportReap  = 3 // another middle process, also nook's child, to reap
)

// Steps that can fail in the raw child, for the error message.
var joinSteps = []string{"", "join the user namespace", "join the pid namespace", "clone the sandbox init",
	"set the process group", "set the parent-death signal", "keep capabilities", "arrange fds", "execute the sandbox init"}

// forkJoined starts the init like syscall.ForkExec, but inside the
// namespaces named by s.JoinUserNS and s.JoinPIDNS.
func forkJoined(s *Spec, path string, argv, env []string, files []uintptr, attr *syscall.SysProcAttr) (int, error) {
	p := &joinPlan{userns: -1, pidns: -1, setsid: attr.Setsid, ctty: -1, lastCap: lastCap()}
	if attr.Foreground && attr.Ctty >= 0 && attr.Ctty < len(files) {
		p.ctty = int(int32(files[attr.Ctty]))
	}
	if s.JoinUserNS != nil {
		p.userns = *s.JoinUserNS
	} else if attr.Cloneflags&unix.CLONE_NEWUSER != 0 {
		return 0, errors.New("joining a pid namespace without joining its user namespace (--userns) needs root")
	}
	if s.JoinPIDNS != nil {
		p.pidns = *s.JoinPIDNS
	}
	p.flags = (attr.Cloneflags &^ unix.CLONE_NEWUSER) | unix.CLONE_PARENT | uintptr(unix.SIGCHLD)
	for _, f := range files {
		p.fds = append(p.fds, int(int32(f)))
	}
	p.tmp = make([]int, len(p.fds))
	var err error
	if p.path, err = syscall.BytePtrFromString(path); err != nil {
		return 0, err
	}
	if p.argv, err = syscall.SlicePtrFromStrings(argv); err != nil {
		return 0, err
	}
	if p.envv, err = syscall.SlicePtrFromStrings(env); err != nil {
		return 0, err
	}
	// The report channel is a socket so that the init's pid arrives
	// translated into nook's pid namespace (SCM_CREDENTIALS).
	rep, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, os.NewSyscallError("socketpair", err)
	}
	p.report = rep[1]
	defer unix.Close(rep[0])
	if err := unix.SetsockoptInt(rep[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(rep[1])
		return 0, os.NewSyscallError("setsockopt SO_PASSCRED", err)
	}

	runtime.LockOSThread()
	// Like syscall.ForkExec: no other goroutine may create an fd without
	// close-on-exec while the copy is made, or it would leak into it.
	syscall.ForkLock.Lock()
	middle, errno := rawJoinFork(p)
	syscall.ForkLock.Unlock()
	runtime.UnlockOSThread()
	unix.Close(rep[1])
	runtime.KeepAlive(p)
	if errno != 0 {
		return 0, os.NewSyscallError("clone", errno)
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(middle, &ws, 0, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	pid := 0
	var rec [16]byte
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := unix.Recvmsg(rep[0], rec[:], oob, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n == 0 || err != nil {
			break
		}
		if n != len(rec) {
			return 0, fmt.Errorf("short report from the namespace-joining child")
		}
		kind, val := binary.NativeEndian.Uint64(rec[:8]), binary.NativeEndian.Uint64(rec[8:])
		switch {
		case kind == reportPid:
			pid = senderPid(oob[:oobn])
		case kind == reportReap:
			var ws unix.WaitStatus
			unix.Wait4(int(val), &ws, 0, nil)
		case kind>>8 == reportErrno:
			step := joinSteps[min(int(kind&0xff), len(joinSteps)-1)]
			if pid > 0 {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
			}
			return 0, fmt.Errorf("%s: %w", step, syscall.Errno(val))
		}
	}
	if pid == 0 {
		return 0, fmt.Errorf("the namespace-joining child ended without starting the init (%v)", ws)
	}
	return pid, nil
}

// senderPid is the pid in the SCM_CREDENTIALS of a received message, as
// the receiver's pid namespace numbers it.
func senderPid(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}

// joinedIDs are the ids the init switches to in a joined user namespace:
// Identity.UID and GID, or -1 (stay).
func joinedIDs(s *Spec) (uid, gid int) {
	uid, gid = -1, -1
	if s.Identity.UID != nil {
		uid = *s.Identity.UID
	}
	if s.Identity.GID != nil {
		gid = *s.Identity.GID
	}
	return uid, gid
}
