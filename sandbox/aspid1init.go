package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The Go init with AsPID1 and locked mounts.
//
// The command must be pid 1 of its pid namespace and run nested (lock.go),
// and the init, a multi-threaded Go process, can neither nest itself nor
// hand pid 1 over. So the init stays pid 1 of the sandbox's pid namespace
// (a guard: it holds the parent-death signal the command could clear, and
// a signal from a namespace below cannot kill or stop it) and forks the
// command's process (T) into a pid namespace of its own, below, before it
// builds the tree: a /proc belongs to the pid namespace of the process that
// opens its file system context, so T opens one per OpProc and passes them
// to the init, which mounts them where the plan says, as any other /proc,
// below everything that covers parts of it. T then waits until the tree is
// final, and runs the raw program of a locked command (compileLocked).
//
//	init (pid 1, outer user ns)              T (pid 1 of its own pid ns)
//	socketpair, one placeholder fd per /proc
//	rawFork(CLONE_NEWPID) ----------------->  fsopen("proc") per OpProc, each
//	                                           dup3'd onto a placeholder;
//	recvmsg <--------------------------------  sendmsg(SCM_RIGHTS placeholders)
//	build the tree with them, pivot           read (blocks)
//	write one byte ------------------------>  chdir, personality, nest,
//	read the error pipe: EOF = exec'd          ids, caps, seccomp, exec
//
// EOF instead of the byte (the init failed) ends T; the init's death ends
// its pid namespace, T's below it included.

// asPID1Below reports whether the init forks the command of cfg into a pid
// namespace of its own (above). With locked mounts, and for real root
// without a user namespace (nothing to lock there, but the command must
// still die with nook). Not where the init could not start it the raw way:
// without pivot_root (its capabilities depend on how the root was
// switched), or with namespaces the caller chose.
func asPID1Below(cfg *initConfig) bool {
	s := &cfg.Spec
	if !s.AsPID1 {
		return false
	}
	return cfg.Lock != nil || (!cfg.InUserNS && !s.NoPivotRoot && !s.DisableUserNS && !s.AssertUserNSDisabled &&
		s.UserNS2 == nil && s.JoinUserNS == nil && s.JoinPIDNS == nil)
}

// plainSetup is lockedSetup for real root without a user namespace.
func plainSetup(cfg *initConfig) (*rawSetup, [][]unix.SockFilter, error) {
	id := &identity{mode: "host", switchUID: cfg.UID, switchGID: cfg.GID}
	return commandSetup(cfg, id, os.Getuid(), os.Getgid())
}

// plainCommand is lockedCommand without the nesting.
func (b *rawBuilder) plainCommand(rs *rawSetup, progs [][]unix.SockFilter) error {
	if rs.spec.NewSession {
		b.sys(unix.SYS_SETSID)
	}
	if err := b.credentials(rs); err != nil {
		return err
	}
	b.seccompPrograms(progs)
	b.command(rs)
	return b.err
}

// earlyCmd is T as the init sees it.
type earlyCmd struct {
	pid  int
	sock int      // the init's end of the socket pair
	errs *os.File // T's error records; EOF at exec
	prog *rawProg
}

// early is T once forked (setupSandbox), released by runInit.
var early *earlyCmd

// forkAsPID1 forks T (see above) and returns the /proc contexts it opened,
// one per OpProc in the plan.
func forkAsPID1(cfg *initConfig) ([]int, error) {
	s := &cfg.Spec
	nproc := 0
	for _, m := range Plan(s.Mounts, s.SortMounts) {
		if m.Op == OpProc {
			nproc++
		}
	}
	var err error
	if cfg.Lock != nil {
		if lockProc, err = unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, &os.PathError{Op: "open", Path: "/proc", Err: err}
		}
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	initEnd, cmdEnd := sp[0], sp[1]
	// The init's copy of T's end goes as soon as T exists, so that T's
	// death reads as EOF here.
	cmdOpen := true
	defer func() {
		if cmdOpen {
			unix.Close(cmdEnd)
		}
	}()
	// Fd numbers T may put its contexts at: copies of the init's end,
	// which T does not need.
	holders := make([]int, nproc)
	for i := range holders {
		if holders[i], err = unix.FcntlInt(uintptr(initEnd), unix.F_DUPFD_CLOEXEC, 3); err != nil {
			unix.Close(initEnd)
			return nil, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
		}
		defer unix.Close(holders[i])
	}
	// The exec label is the thread's and a fork copies it: set now, it
	// holds for T's exec.
	if err := writeAttr("exec", s.ExecLabel); err != nil {
		unix.Close(initEnd)
		return nil, err
	}
	e := &earlyCmd{sock: initEnd}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		unix.Close(initEnd)
		return nil, os.NewSyscallError("pipe2", err)
	}
	e.errs = os.NewFile(uintptr(p[0]), "raw-errors")
	fail := func(err error) ([]int, error) {
		unix.Close(p[1])
		e.errs.Close()
		unix.Close(initEnd)
		return nil, err
	}
	var rs *rawSetup
	var progs [][]unix.SockFilter
	if cfg.Lock != nil {
		rs, progs, err = lockedSetup(cfg)
	} else {
		rs, progs, err = plainSetup(cfg)
	}
	if err != nil {
		return fail(err)
	}
	rs.errFd = p[1]
	b := newRawBuilder()
	b.p.errFd = uintptr(rs.errFd)
	b.p.allocStacks()
	b.p.cloneVM = useCloneVM
	b.p.cloneFlags = unix.CLONE_NEWPID
	b.p.inRoot = true
	b.at("prepare the command's process")
	b.emit(b.insn(rkResetSignals, 0))
	b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_PDEATHSIG), imm(uintptr(unix.SIGKILL)))
	// Its copy of the init's end, so that the init's death reads as EOF.
	b.closeFd(initEnd)
	if nproc > 0 {
		b.at("open a /proc of the command's pid namespace")
		for _, h := range holders {
			fs := b.sysOut(unix.SYS_FSOPEN, imm(b.cstr("proc")), imm(unix.FSOPEN_CLOEXEC))
			b.sys(unix.SYS_DUP3, rval(fs), immInt(h), imm(unix.O_CLOEXEC))
			b.closeReg(fs)
		}
		data := []byte{1}
		iov := &unix.Iovec{Base: &data[0]}
		iov.SetLen(1)
		ctl := unix.UnixRights(holders...)
		msg := &unix.Msghdr{Iov: iov, Control: &ctl[0]}
		msg.SetIovlen(1)
		msg.SetControllen(len(ctl))
		b.p.keep = append(b.p.keep, data, ctl, iov, msg)
		b.sys(unix.SYS_SENDMSG, immInt(cmdEnd), imm(addrOfAny(msg)), imm(0))
	}
	b.at("wait for the sandbox's set-up")
	one := b.bytes([]byte{0})
	b.sys(unix.SYS_READ, immInt(cmdEnd), imm(one), imm(1))
	b.last().exitWhen = exitZero
	b.closeFd(cmdEnd)
	if pers := personalities[s.Personality]; pers >= 0 {
		b.at("set the personality " + s.Personality)
		b.sys(unix.SYS_PERSONALITY, immInt(pers))
	}
	b.chdir(s)
	if cfg.Lock != nil {
		err = b.lockedCommand(rs, lockProc, progs)
	} else {
		err = b.plainCommand(rs, progs)
	}
	if err != nil {
		return fail(err)
	}
	e.prog = b.p
	// On the init's thread, locked since runInit began: T's parent-death
	// signal follows it.
	syscall.ForkLock.Lock()
	pid, errno := rawFork(e.prog)
	syscall.ForkLock.Unlock()
	unix.Close(p[1])
	unix.Close(cmdEnd)
	cmdOpen = false
	if errno != 0 {
		e.errs.Close()
		unix.Close(initEnd)
		return nil, fmt.Errorf("start the command in a pid namespace of its own: %w", os.NewSyscallError("clone", errno))
	}
	e.pid = int(pid)
	early = e
	if nproc == 0 {
		return nil, nil
	}
	oob := make([]byte, unix.CmsgSpace(4*nproc))
	_, oobn, _, _, err := unix.Recvmsg(initEnd, make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
	if err == nil && oobn == 0 {
		err = e.failure()
	}
	if err != nil {
		return nil, fmt.Errorf("receive the command's /proc: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, fmt.Errorf("receive the command's /proc: parse the control message: %w", err)
	}
	// Every fd received is closed unless it is one of the nproc
	// contexts returned.
	var fds []int
	for i := range msgs {
		got, err := unix.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, got...)
		}
	}
	if len(msgs) != 1 || len(fds) != nproc {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receive the command's /proc: %d control messages with %d fds, want 1 with %d", len(msgs), len(fds), nproc)
	}
	return fds, nil
}

// failure is T's error record once it ended before exec.
func (e *earlyCmd) failure() error {
	rec, n, err := readRecord(e.errs)
	runtime.KeepAlive(e.prog)
	var failure error
	if err == nil && n == recSize {
		// Before reaping: a symlink's target follows the record and may
		// not fit the pipe (recordError reads it).
		failure = e.prog.recordError(rec, e.errs)
	}
	unix.Wait4(e.pid, nil, 0, nil)
	switch {
	case err != nil:
		return fmt.Errorf("read the command's start-up report: %w", err)
	case n != recSize:
		return &StartError{Code: ExitSetupFailed, Msg: "the command's process ended before it started the command"}
	}
	return failure
}

// release lets T go on once the tree is final and returns its pid once it
// has exec'd.
func (e *earlyCmd) release() (int, error) {
	_, err := unix.Write(e.sock, []byte{1})
	unix.Close(e.sock)
	if lockProc >= 0 {
		unix.Close(lockProc)
		lockProc = -1
	}
	if err != nil {
		unix.Kill(e.pid, unix.SIGKILL)
		unix.Wait4(e.pid, nil, 0, nil)
		return 0, fmt.Errorf("release the command's process: %w", os.NewSyscallError("write", err))
	}
	rec, n, err := readRecord(e.errs)
	runtime.KeepAlive(e.prog)
	if err == nil && n == 0 {
		e.errs.Close()
		return e.pid, nil // exec closed the pipe: the command runs
	}
	var failure error
	if err == nil && n == recSize {
		failure = e.prog.recordError(rec, e.errs) // before reaping, as above
	}
	unix.Wait4(e.pid, nil, 0, nil)
	e.errs.Close()
	switch {
	case err != nil:
		return 0, fmt.Errorf("read the command's start-up report: %w", err)
	case n != recSize:
		return 0, &StartError{Code: ExitSetupFailed, Msg: "the command's process ended before it started the command"}
	}
	return 0, failure
}
