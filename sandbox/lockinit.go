package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The Go init locks nook's mounts the way the raw engine does (lock.go),
// with the raw engine's own code: the init is multi-threaded and may not
// unshare a user namespace, so once the tree is final it compiles the
// command's part of a raw program (nest, credentials, fds, exec) and forks
// a child that runs it. The init stays as that child's parent (pid 1 or
// not) and reports its status as before.

// lockConfig is what the init needs to nest the command.
type lockConfig struct {
	// UIDMap and GIDMap are the identity's maps, for the nested
	// namespace; the init's own maps host ids onto themselves.
	UIDMap []syscall.SysProcIDMap `json:"uid_map"`
	GIDMap []syscall.SysProcIDMap `json:"gid_map"`
	// InnerUID and InnerGID are the command's ids once nested.
	InnerUID int `json:"inner_uid"`
	InnerGID int `json:"inner_gid"`
}

// lockProc is the init's handle on the host's /proc, opened before the
// root switch, or -1.
var lockProc = -1

// lockInInit reports whether the Go init locks the mounts of s. Not where
// the caller owns the maps or the namespace (bwrap's --userns-block-fd with
// maps written by the caller, --userns, --userns2: the command has no
// capability over the sandbox's mount namespace there, or the caller chose
// its namespaces), and not with --no-pivot-root, whose chroot forbids a new
// user namespace. With AsPID1 the command is forked into a pid namespace
// of its own (aspid1init.go).
func lockInInit(s *Spec, id *identity) bool {
	return id.userns && !s.NoPivotRoot && !s.NoIDMaps && s.JoinUserNS == nil && s.UserNS2 == nil
}

// lockedSetup is what the raw program of a locked command needs: its fds
// are in place already, in the init.
func lockedSetup(cfg *initConfig) (*rawSetup, [][]unix.SockFilter, error) {
	id := &identity{userns: true, uidMap: cfg.Lock.UIDMap, gidMap: cfg.Lock.GIDMap, switchUID: cfg.UID, switchGID: cfg.GID}
	return commandSetup(cfg, id, cfg.Lock.InnerUID, cfg.Lock.InnerGID)
}

// commandSetup is the part of a command's raw program the Go init leaves to
// the raw engine (credentials, fds, seccomp, exec) for identity id.
func commandSetup(cfg *initConfig, id *identity, innerUID, innerGID int) (*rawSetup, [][]unix.SockFilter, error) {
	s := &cfg.Spec
	rs := &rawSetup{spec: s, id: id, statusFd: -1, syncFd: -1, pidFd: -1, ttyFd: -1, enterFd: -1, console: -1,
		umask: cfg.Umask, innerUID: innerUID, innerGID: innerGID}
	for _, fd := range append([]int{0, 1, 2}, cfg.PassFds...) {
		rs.moves = append(rs.moves, fdMove{from: fd, to: fd})
	}
	var progs [][]unix.SockFilter
	for i, raw := range s.SeccompPrograms {
		prog, err := DecodeFilter(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("seccomp program %d: %w", i+1, err)
		}
		progs = append(progs, prog)
	}
	return rs, progs, nil
}

// startLocked starts the command in its nested namespaces and returns its
// pid once it has exec'd.
func startLocked(cfg *initConfig) (int, error) {
	rs, progs, err := lockedSetup(cfg)
	if err != nil {
		return 0, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, os.NewSyscallError("pipe2", err)
	}
	errFile := os.NewFile(uintptr(p[0]), "raw-errors")
	defer errFile.Close()
	rs.errFd = p[1]
	prog, err := compileLocked(rs, lockProc, progs)
	if err != nil {
		unix.Close(p[1])
		return 0, err
	}
	prog.inRoot = true
	syscall.ForkLock.Lock()
	pid, errno := rawFork(prog)
	syscall.ForkLock.Unlock()
	unix.Close(p[1])
	unix.Close(lockProc)
	lockProc = -1
	if errno != 0 {
		return 0, fmt.Errorf("start the command: %w", os.NewSyscallError("clone", errno))
	}
	rec, n, err := readRecord(errFile)
	runtime.KeepAlive(prog)
	if err == nil && n == 0 {
		return int(pid), nil // exec closed the pipe: the command runs
	}
	var failure error
	if err == nil && n == recSize {
		failure = prog.recordError(rec, errFile) // before reaping, as in startRawOnce
	}
	unix.Wait4(int(pid), nil, 0, nil)
	switch {
	case err != nil:
		return 0, fmt.Errorf("read the command's start-up report: %w", err)
	case n != recSize:
		return 0, &StartError{Code: ExitSetupFailed, Msg: "the command's process ended before it started the command"}
	}
	return 0, failure
}

// compileLocked is the command's part of a raw program, for a child of the
// init: its signal handlers reset, then lockedCommand.
func compileLocked(rs *rawSetup, proc int, progs [][]unix.SockFilter) (*rawProg, error) {
	b := newRawBuilder()
	p := b.p
	p.errFd = uintptr(rs.errFd)
	p.allocStacks()
	p.cloneVM = useCloneVM
	b.at("prepare the command's process")
	b.emit(b.insn(rkResetSignals, 0))
	b.sys(unix.SYS_PRCTL, imm(unix.PR_SET_PDEATHSIG), imm(uintptr(unix.SIGKILL)))
	if err := b.lockedCommand(rs, proc, progs); err != nil {
		return nil, err
	}
	return p, nil
}

// lockedCommand emits the rest of a locked command's process: its own
// session where asked, the nested namespaces, its credentials, the
// caller's seccomp programs (last: they may forbid what the steps before
// need), its fds and exec.
func (b *rawBuilder) lockedCommand(rs *rawSetup, proc int, progs [][]unix.SockFilter) error {
	if s := rs.spec; s.NewSession && !s.underInit() {
		// Without locking the init would have exec'd the command as the
		// leader of the session it made: the command leads its own.
		b.sys(unix.SYS_SETSID)
	}
	r := b.sysOut(unix.SYS_FCNTL, immInt(proc), imm(unix.F_DUPFD_CLOEXEC), imm(3))
	b.nest(rs, r, false)
	if err := b.credentials(rs); err != nil {
		return err
	}
	b.seccompPrograms(progs)
	b.command(rs)
	return b.err
}

// seccompPrograms installs the caller's seccomp programs.
func (b *rawBuilder) seccompPrograms(progs [][]unix.SockFilter) {
	if len(progs) > 0 {
		b.at("install the caller's seccomp programs")
		for _, f := range progs {
			fprog := &unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
			b.p.keep = append(b.p.keep, f, fprog)
			b.sys(unix.SYS_SECCOMP, imm(unix.SECCOMP_SET_MODE_FILTER), imm(0), imm(addrOfAny(fprog)))
		}
	}
}
