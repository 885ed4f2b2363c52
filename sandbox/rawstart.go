package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/nook-project/nook/internal/phase"
	"github.com/nook-project/nook/internal/procpid"
	"github.com/nook-project/nook/sandbox/idmap"
	"golang.org/x/sys/unix"
)

// errRawFallback is a raw child that stopped before the command ran and
// asked for the Go init (see rawprog.go).
type errRawFallback struct {
	step  string
	errno unix.Errno
}

func (e *errRawFallback) Error() string {
	return fmt.Sprintf("raw engine: %s: %v: needs the Go init", e.step, e.errno)
}

// forkOnlyOff is set once a child forked with only its own memory
// (forkOnly) crashed before starting the command: that would mean it
// touched memory childRanges does not list (a Go runtime whose entry
// wrapper reads more of its thread's state, say). From then on, this
// process forks raw children whole, as before forkOnly existed.
var forkOnlyOff atomic.Bool

// startRaw starts spec with the raw engine. An error wrapping
// errRawUnsupported, or an *errRawFallback, means: use the Go init.
func startRaw(spec *Spec, id *identity) (*Process, error) {
	p, err := startRawOnce(spec, id)
	if errors.Is(err, errForkOnlyCrashed) {
		// Nothing of the command ran: start over, forking it whole.
		Phase("raw child crashed with only its own memory; forking it whole")
		p, err = startRawOnce(spec, id)
	}
	return p, err
}

// childRangesHook, when set (by a test), edits the memory a raw child is
// forked with.
var childRangesHook func([][2]uintptr) [][2]uintptr

// errPipeHook, when set (by a test), is given the error pipe's read end
// before the child starts (to shrink the pipe to one page, as for a user
// over fs.pipe-user-pages-soft).
var errPipeHook func(fd int)

// errForkOnlyCrashed: the raw child, forked with only its own memory, died
// of SIGSEGV or SIGBUS before it started the command.
var errForkOnlyCrashed = errors.New("the sandbox's first process crashed on a memory access before starting the command")

// startRawOnce is one attempt of startRaw.
func startRawOnce(spec *Spec, id *identity) (p *Process, err error) {
	if spec.Identity.DenySetgroups && id.userns && id.helper {
		// newgidmap decides about setgroups itself.
		return nil, fmt.Errorf("%w: setgroups denied with newgidmap", errRawUnsupported)
	}
	stdio := []*os.File{orDefault(spec.Stdin, os.Stdin), orDefault(spec.Stdout, os.Stdout), orDefault(spec.Stderr, os.Stderr)}
	rs := &rawSetup{spec: spec, id: id, statusFd: -1, syncFd: -1, pidFd: -1, ttyFd: -1, enterFd: -1, umask: currentUmask()}
	var borrowed []*os.File
	var parentFds []int // fds only the child needs, closed here after the fork
	defer func() {
		closeAll(borrowed)
		for _, fd := range parentFds {
			unix.Close(fd)
		}
	}()
	for i, f := range stdio {
		rs.moves = append(rs.moves, fdMove{from: int(f.Fd()), to: i})
	}
	for i, fd := range spec.Fds {
		f, err := borrow(fd.Outside)
		if err != nil {
			return nil, err
		}
		borrowed = append(borrowed, f)
		inside := fd.Inside
		if spec.PackFds {
			inside = 3 + i
		}
		rs.moves = append(rs.moves, fdMove{from: int(f.Fd()), to: inside})
	}
	// The child's own fds sit above every fd the command gets, so putting
	// those in place cannot overwrite them.
	base := 3
	for _, m := range rs.moves {
		if m.to >= base {
			base = m.to + 1
		}
	}
	pipe := func() (r, w int, err error) {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return -1, -1, os.NewSyscallError("pipe2", err)
		}
		return p[0], p[1], nil
	}
	high := func(fd int) (int, error) {
		h, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, base)
		unix.Close(fd)
		if err != nil {
			return -1, os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
		}
		parentFds = append(parentFds, h)
		return h, nil
	}
	errR, errW, err := pipe()
	if err != nil {
		return nil, err
	}
	if errPipeHook != nil {
		errPipeHook(errR)
	}
	errFile := os.NewFile(uintptr(errR), "raw-errors")
	defer errFile.Close()
	if rs.errFd, err = high(errW); err != nil {
		return nil, err
	}
	// With a pid namespace a pid 1 of nook's reports the command's status:
	// the command's parent, or with AsPID1 the guard above the command's
	// own pid namespace (compileRaw).
	p = &Process{Identity: id.mode, pid1: spec.Namespaces.PID, tty: -1, Engine: "raw"}
	var statusFile *os.File
	if p.pid1 {
		sr, sw, err := pipe()
		if err != nil {
			return nil, err
		}
		statusFile = os.NewFile(uintptr(sr), "raw-status")
		if rs.statusFd, err = high(sw); err != nil {
			statusFile.Close()
			return nil, err
		}
	}
	closeStatus := func() {
		if statusFile != nil {
			statusFile.Close()
		}
	}
	var syncW *os.File
	if id.userns && spec.EnterUserNS != nil {
		fd, err := unix.FcntlInt(uintptr(*spec.EnterUserNS), unix.F_DUPFD_CLOEXEC, base)
		if err != nil {
			closeStatus()
			return nil, fmt.Errorf("enter the user namespace kept for the sandbox: %w", os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err))
		}
		parentFds = append(parentFds, fd)
		rs.enterFd = fd
		rs.innerUID = innerID(id.uidMap, os.Getuid())
		rs.innerGID = innerID(id.gidMap, os.Getgid())
	} else if id.userns {
		if id.helper || os.Geteuid() == 0 {
			sr, sw, err := pipe()
			if err != nil {
				closeStatus()
				return nil, err
			}
			syncW = os.NewFile(uintptr(sw), "raw-sync")
			defer syncW.Close()
			if rs.syncFd, err = high(sr); err != nil {
				closeStatus()
				return nil, err
			}
		} else {
			rs.selfMaps = true
			rs.uidMapLine, rs.gidMapLine = idmap.Format(identityMaps(id.uidMap)), idmap.Format(identityMaps(id.gidMap))
		}
		rs.innerUID = innerID(id.uidMap, os.Getuid())
		rs.innerGID = innerID(id.gidMap, os.Getgid())
	} else {
		rs.innerUID, rs.innerGID = os.Getuid(), os.Getgid()
	}
	if pfd, err := unix.PidfdOpen(os.Getpid(), 0); err == nil {
		parentFds = append(parentFds, pfd)
		rs.pidFd = pfd
	}
	if !spec.NewSession {
		rs.ttyFd = foregroundTTY(stdio[0])
		p.tty = rs.ttyFd
	}
	rs.console, rs.consolePath = consoleOf(stdio)
	Phase("pipes")

	// Share this process's memory with the child (see rawFork) only when
	// the child execs the command itself and changes nothing that belongs
	// to the memory: a pid 1 stays, and keeps non-dumpable memory of its
	// own as its only guard against the command (sharing nook's would put
	// nook's own memory behind that one flag); a switch of uid or gid
	// resets the dumpable flag of the memory the child runs on. And only
	// while nook is dumpable: the child's /proc files, needed for its id
	// maps, belong to root otherwise. Else the child forks memory of its
	// own and makes that dumpable first.
	dumpable, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	rs.shareMemory = useCloneVM && dumpable == 1 && !p.pid1 && id.switchUID < 0 && id.switchGID < 0
	rs.makeDumpable = !rs.shareMemory && dumpable != 1
	prog, err := compileRaw(rs)
	if err != nil {
		closeStatus()
		return nil, err
	}
	Phase("compiled")
	beforeFork(spec)
	runtime.LockOSThread()
	syscall.ForkLock.Lock()
	// A child with memory of its own (pid 1, or the first process forked
	// by the middle one) gets only the memory it uses (forkOnly): until it
	// exists, the rest of nook's is marked not to be copied.
	undo := func() {}
	// Only for a pid 1 that reports the command's start (reportsStart): a
	// crash of it is then told apart from the command's own.
	if prog.reportsStart && !(phase.TestHooks && os.Getenv("NOOK_RAW_FULL_FORK") == "1") && !forkOnlyOff.Load() {
		child := p // the error returns set p to nil
		defer func() {
			if err != nil && (child.reaped.Signal == unix.SIGSEGV || child.reaped.Signal == unix.SIGBUS) {
				forkOnlyOff.Store(true)
				err = fmt.Errorf("%w (%v)", errForkOnlyCrashed, err)
			}
		}()
		// On this thread: the child is cloned from it.
		keep := prog.childRanges()
		if tls := threadTLS(); len(keep) > 0 && tls[1] != 0 {
			keep = append(keep, tls)
		} else {
			keep = nil
		}
		if childRangesHook != nil {
			keep = childRangesHook(keep)
		}
		undo = forkOnly(keep)
	}
	pid, errno := rawFork(prog)
	for _, fd := range parentFds {
		unix.Close(fd)
	}
	parentFds = nil
	if errno == 0 && rs.enterFd >= 0 {
		// pid is the middle process (see compileRaw): it reports the
		// sandbox's first process, or an error, and exits.
		p.Pid = int(pid)
		first, err := p.enteredChild(errFile, prog)
		if err != nil {
			undo()
			syscall.ForkLock.Unlock()
			runtime.UnlockOSThread()
			closeStatus()
			return nil, err
		}
		pid = uintptr(first)
	}
	undo()
	syscall.ForkLock.Unlock()
	runtime.UnlockOSThread()
	runtime.KeepAlive(prog)
	if errno != 0 {
		closeStatus()
		return nil, userNSError(fmt.Errorf("start the sandbox: %w", os.NewSyscallError("clone", errno)), id.userns)
	}
	Phase("forked")
	p.Pid, p.pgid = int(pid), int(pid)
	// The child runs on this process's memory (rawCloneVM): the program
	// must outlive it, whether or not anyone waits for the sandbox.
	liveProgs.Store(p.Pid, prog)
	if syncW != nil {
		err := error(nil)
		if spec.Identity.DenySetgroups && !id.helper {
			// Real root writes the maps; it may leave setgroups allowed,
			// but was asked not to (bwrap denies it).
			var dir string
			if dir, err = procpid.Dir(p.Pid); err == nil {
				err = writeFileOnce(dir+"/setgroups", "deny")
			}
		}
		if err == nil {
			// The outer namespace: host ids onto themselves (lock.go).
			err = idmap.Write(p.Pid, identityMaps(id.uidMap), identityMaps(id.gidMap), id.helper)
		}
		if err != nil {
			unix.Kill(p.Pid, unix.SIGKILL)
			p.reap()
			closeStatus()
			return nil, fmt.Errorf("write the id maps of the sandbox: %w", err)
		}
		if _, err := syncW.Write([]byte{1}); err != nil {
			unix.Kill(p.Pid, unix.SIGKILL)
			p.reap()
			closeStatus()
			return nil, fmt.Errorf("release the sandbox after writing its id maps: %w", err)
		}
		syncW.Close()
	}
	var rec [5]uint32
	var n int
	if p.earlyStart {
		// enteredChild read it already.
		rec[0], n = recStarted, recSize
	} else {
		rec, n, err = readRecord(errFile)
	}
	Phase("started")
	switch {
	case err == nil && n == recSize && rec[0] == recStarted:
		n = 0 // the command runs
	case err == nil && n == 0 && prog.reportsStart:
		n = -1 // pid 1 ended without starting the command
	}
	if err != nil || n != 0 {
		var failure error
		if err == nil && n == recSize {
			// Before reaping: what follows the record (a symlink's
			// target) may not fit the pipe, and the child, blocked
			// writing it, would never exit.
			failure = prog.recordError(rec, errFile)
		}
		p.reap()
		closeStatus()
		if err != nil {
			return nil, fmt.Errorf("read the sandbox's start-up report: %w", err)
		}
		if n != recSize {
			return nil, &StartError{Code: ExitSetupFailed, Msg: "the sandbox ended before starting the command"}
		}
		return nil, failure
	}
	// Wait reads pid 1's records itself (waitRaw): no goroutine, and so
	// no thread, sits blocked on them meanwhile.
	p.rawStatus = statusFile
	return p, nil
}

// fromMiddle reports whether rec is the middle process's own failure.
func (p *rawProg) fromMiddle(rec [5]uint32) bool {
	if rec[0] != recError && rec[0] != recFallback {
		return false
	}
	for _, s := range p.middleSteps {
		if int(rec[1]) == s {
			return true
		}
	}
	return false
}

// enteredChild reads which process the middle process of an entered user
// namespace started, and reaps the middle.
func (p *Process) enteredChild(errFile *os.File, prog *rawProg) (int, error) {
	rec, n, err := readRecord(errFile)
	if err == nil && n == recSize && rec[0] != recPid && !prog.fromMiddle(rec) {
		// The first process reported before the middle said its pid:
		// in a held namespace, whose maps are written, it waits for
		// nothing of nook's, and the middle may not have run again
		// since it cloned it. (Read as the middle's, its recStarted
		// failed a command that ran: TestLoadConcurrentBegins, about
		// once in 100.) Its error is read now, with what follows it;
		// its start is kept for the caller.
		early := rec
		var failure error
		if early[0] != recStarted {
			failure = prog.recordError(early, errFile)
		}
		rec, n, err = readRecord(errFile)
		if err == nil && n == recSize && rec[0] == recPid {
			first := int(rec[1])
			if err := reapMiddle(p.Pid); err != nil || failure != nil {
				unix.Kill(first, unix.SIGKILL)
				unix.Wait4(first, nil, 0, nil)
				if failure == nil {
					failure = err
				}
				return 0, failure
			}
			p.earlyStart = true
			return first, nil
		}
		p.reap()
		if failure != nil {
			return 0, failure
		}
		return 0, &StartError{Code: ExitSetupFailed, Msg: "the sandbox ended before starting the command"}
	}
	if err == nil && n == recSize && rec[0] == recPid {
		err = reapMiddle(p.Pid)
		if err != nil {
			// The first process is nook's child (CLONE_PARENT) and waits
			// to be released by nothing: it must go too.
			unix.Kill(int(rec[1]), unix.SIGKILL)
			unix.Wait4(int(rec[1]), nil, 0, nil)
		}
		return int(rec[1]), err
	}
	var failure error
	if err == nil && n == recSize {
		failure = prog.recordError(rec, errFile) // before reaping, as in startRawOnce
	}
	p.reap()
	switch {
	case err != nil:
		return 0, fmt.Errorf("read the sandbox's start-up report: %w", err)
	case n != recSize:
		return 0, &StartError{Code: ExitSetupFailed, Msg: "the sandbox ended before starting the command"}
	}
	return 0, failure
}

// reapMiddle waits for the middle process, which exits 0 right after its
// report.
func reapMiddle(pid int) error {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("wait4", err)
		}
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return fmt.Errorf("the process entering the user namespace ended with %v", ws)
		}
		return nil
	}
}

// liveProgs holds the program of every raw child not yet reaped, by pid.
var liveProgs sync.Map

// writeFileOnce writes s to an existing (proc) file in one write.
func writeFileOnce(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// innerID is what host id maps to inside, or -1 when unmapped.
func innerID(m []syscall.SysProcIDMap, host int) int {
	for _, e := range m {
		if host >= e.HostID && host < e.HostID+e.Size {
			return e.ContainerID + host - e.HostID
		}
	}
	return -1
}

// consoleOf is the fd and path of the first terminal among the command's
// stdio, for /dev/console, or -1.
func consoleOf(stdio []*os.File) (int, string) {
	for _, f := range stdio {
		fd := int(f.Fd())
		if !isTerminal(fd) {
			continue
		}
		if p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && strings.HasPrefix(p, "/dev/") {
			return fd, p
		}
	}
	return -1, ""
}

// readRecord reads one record, or nothing until EOF.
func readRecord(f *os.File) ([5]uint32, int, error) {
	var buf [recSize]byte
	n := 0
	for n < recSize {
		k, err := f.Read(buf[n:])
		n += k
		if err != nil {
			if errors.Is(err, os.ErrClosed) || k == 0 {
				break
			}
			return [5]uint32{}, n, err
		}
	}
	var rec [5]uint32
	if n == recSize {
		for i := range rec {
			rec[i] = ne.Uint32(buf[4*i:])
		}
	}
	return rec, n, nil
}

// recordError turns the child's error record into an error.
func (p *rawProg) recordError(rec [5]uint32, f *os.File) error {
	kind, step, errno, code := rec[0], int(rec[1]), unix.Errno(rec[2]), int(rec[3])
	what := "set up the sandbox"
	var hint string
	if step >= 0 && step < len(p.steps) {
		what = p.steps[step].what
		hint = p.steps[step].hint[errno]
	}
	if kind == recFallback {
		return &errRawFallback{step: what, errno: errno}
	}
	if what == "execute the command" {
		cand := int(rec[4])
		switch {
		case code == ExitNotFound && rec[4]&interpFlag != 0 && int(rec[4]&^interpFlag) < len(p.execCands):
			// The child is gone: read the file where it is, inside the
			// root, or else through the bind that put it there.
			file := p.execCands[rec[4]&^interpFlag]
			interp := ""
			if p.inRoot {
				interp = interpreterOf(file)
			} else if host := hostPathOf(p.mounts, file); host != "" {
				interp = interpreterOf(host)
			}
			e := missingInterpreter(file, interp)
			return &StartError{Code: e.code, Msg: e.msg}
		case code == ExitNotFound && cand < len(p.execCands) && cand > 0 && cand == len(p.execCands)-1 && p.shell != 0:
			return &StartError{Code: code, Msg: fmt.Sprintf("execute %s: %v", p.execCands[cand], errno)}
		case code == ExitNotFound:
			return &StartError{Code: code, Msg: fmt.Sprintf("%s: command not found", p.execName)}
		case errno == unix.EACCES && cand < len(p.execCands):
			return &StartError{Code: code, Msg: fmt.Sprintf("execute %s: %v", p.execCands[cand], errno)}
		case cand < len(p.execCands):
			return &StartError{Code: code, Msg: fmt.Sprintf("execute %s: %v", p.execCands[cand], errno)}
		}
	}
	setup := p.setupFailure(rec, f)
	if setup != nil && setup.Op == OpSymlink && setup.Phase == PhaseExisting && errno != unix.EISDIR {
		// As nook has always worded it. EISDIR is a Replace symlink's
		// kind check: a directory is there, which it cannot cover, and
		// "file exists" would not say so.
		errno = unix.EEXIST
	}
	msg := fmt.Sprintf("%s: %v", what, errno)
	if hint != "" {
		msg += ": " + hint
	}
	if code == 0 {
		code = ExitSetupFailed
	}
	workDir := step >= 0 && step < len(p.steps) && p.steps[step].workDir
	return &StartError{Code: code, Msg: msg, errno: errno, Setup: setup, workDir: workDir}
}

// waitRaw is Wait for the raw engine, on the calling goroutine: without
// pid 1, wait4 on the command; with it, pid 1's records until it exits
// (stops to mirror, then the command's status), then wait4 on pid 1.
func (p *Process) waitRaw() (Status, error) {
	var done *statusMsg
	if f := p.rawStatus; f != nil {
		p.rawStatus = nil
		for {
			rec, n, err := readRecord(f)
			if err != nil || n != recSize {
				break
			}
			switch rec[0] {
			case recStopped:
				p.jobStop()
			case recDone:
				done = &statusMsg{Done: true, Code: int(rec[1]), Signal: int(rec[2])}
			}
		}
		f.Close()
	}
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(p.Pid, &ws, unix.WUNTRACED, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Status{}, os.NewSyscallError("wait4", err)
		}
		if ws.Stopped() {
			p.jobStop()
			continue
		}
		p.ended()
		p.restoreTTY()
		switch {
		case done != nil:
			return Status{Code: done.Code, Signal: syscall.Signal(done.Signal)}, nil
		case ws.Signaled():
			return Status{Signal: ws.Signal()}, nil
		}
		return Status{Code: ws.ExitStatus()}, nil
	}
}
