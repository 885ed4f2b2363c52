package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/nook-project/nook/internal/phase"
	"github.com/nook-project/nook/internal/procpid"
	"github.com/nook-project/nook/sandbox/idmap"
	"golang.org/x/sys/unix"
)

// Process is a running sandbox.
type Process struct {
	// Pid is the sandbox's first process as the caller sees it: the command
	// itself, or nook's pid 1 when the command runs under a reaper.
	Pid int
	// Identity is the id mapping mode that was used ("host" when no user
	// namespace was made).
	Identity string
	// Engine is what set the sandbox up: "raw" (a prepared list of system
	// calls, no second Go runtime) or "init" (nook re-executed as the
	// sandbox init, for what the raw engine cannot express).
	Engine string

	pgid int
	pid1 bool
	// rawStatus is the raw pid 1's status pipe, read by waitRaw.
	rawStatus *os.File
	// earlyStart: the first process's start record came before the
	// middle process's pid (enteredChild).
	earlyStart bool
	// cleanup removes what the sandbox needed on the host while it ran
	// (disk-backed overlay uppers); Wait calls it.
	cleanup func()
	// relay is the stdio relays (stdiorelay.go), drained before Wait
	// returns.
	relay *stdioRelay
	// reaped is how the process reap waited for ended.
	reaped Status
	msgs   chan statusMsg
	tty    int // the terminal whose foreground nook hands over, or -1
	waited bool
	// gone is set once the first process is reaped: its pid, the
	// sandbox's process group id, may then name another group.
	gone atomic.Bool
}

// Status is how the command ended.
type Status struct {
	// Code is the exit status when the command exited.
	Code int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
}

// ExitCode is the status a shell would report: Code, or 128+Signal.
func (s Status) ExitCode() int {
	if s.Signal != 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

// StartError is a sandbox that could not be set up, or a command that could
// not be started (ExitCode 126 or 127).
type StartError struct {
	Code int
	Msg  string
	// Setup is the filesystem operation that failed, when one did.
	Setup *SetupFailure
	// errno is the failed system call's error, where there was one.
	errno unix.Errno
	// workDir: the failure was the change to the command's working
	// directory (WorkDir).
	workDir bool
}

func (e *StartError) Error() string { return e.Msg }

// Unwrap gives the failed filesystem operation, when there is one.
func (e *StartError) Unwrap() error {
	if e.Setup == nil {
		return nil
	}
	return e.Setup
}

// WorkDir reports whether the command could not start because its working
// directory could not be entered, and why (the system call's error, or "").
// Faces with their own wording for it (schroot's) use this.
func (e *StartError) WorkDir() (bool, string) {
	if !e.workDir {
		return false, ""
	}
	if e.errno != 0 {
		return true, e.errno.Error()
	}
	return true, ""
}

// Run starts the sandbox, waits for it and returns the command's status.
func Run(s *Spec) (Status, error) {
	p, err := Start(s)
	if err != nil {
		return Status{}, err
	}
	return p.Wait()
}

// Start sets the sandbox up and starts the command. It returns once the
// command runs, or with a *StartError when setup or exec failed.
func Start(s *Spec) (*Process, error) {
	Phase("start")
	if err := s.Validate(); err != nil {
		return nil, err
	}
	spec := *s
	if spec.CallerDir == "" {
		spec.CallerDir, _ = os.Getwd()
	}
	if err := spec.absoluteSources(); err != nil {
		return nil, err
	}
	id, err := resolveIdentity(&spec)
	if err != nil {
		return nil, err
	}
	if spec.DieWithParent {
		if err := dieWithParent(); err != nil {
			return nil, err
		}
	}
	if err := readFileOps(&spec); err != nil {
		return nil, err
	}
	if spec.SuppressChown && !id.userns && !singleIDUserNS() {
		// As mkosi-sandbox: the chown filter goes only where chown
		// cannot work, in a user namespace nook makes or a single-id one
		// it runs in. Real root without a user namespace chowns for
		// real (an image built with sudo keeps its files' owners);
		// every chown a silent no-op would hand the caller a tree owned
		// by root throughout.
		spec.SuppressChown = false
	}
	cleanup, err := spec.diskUppers(id)
	if err != nil {
		return nil, err
	}
	relay, err := spec.relayStdio(id)
	if err != nil {
		cleanup()
		return nil, err
	}
	Phase("identity")
	p, err := startRaw(&spec, id)
	if err != nil && id.userns && spec.EnterUserNS != nil && heldRefused(err) {
		p, err = startReplacingHolder(&spec, id, err)
	}
	var fb *errRawFallback
	switch {
	case err == nil:
		if id.userns && spec.EnterUserNS != nil && spec.HeldUserNS != nil {
			spec.HeldUserNS.Used()
		}
	case errors.Is(err, errRawUnsupported), errors.As(err, &fb):
		Phase("falling back to the Go init: " + err.Error())
		initFallbacks.Add(1)
		p, err = startInit(&spec, id)
	}
	if err != nil {
		relay.abort()
		cleanup()
		return nil, err
	}
	relay.started()
	p.cleanup, p.relay = cleanup, relay
	return p, nil
}

// singleIDUserNS: this process is in a user namespace that maps one uid
// only (nook started inside a --become-root sandbox, say), where a chown to
// any other id fails.
func singleIDUserNS() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := strings.Fields(lines[0])
	return len(lines) == 1 && len(f) == 3 && f[2] == "1"
}

// heldRefused: a sandbox that was to start in a held user namespace failed
// as the kernel fails a new namespace over a ucounts limit of that
// namespace. (A full tmpfs at set-up answers ENOSPC as well; it costs one
// holder, then the same error.)
func heldRefused(err error) bool {
	var se *StartError
	return errors.As(err, &se) && (se.errno == unix.ENOSPC || se.errno == unix.EUSERS)
}

// startReplacingHolder starts the sandbox again after its held user
// namespace refused it: in a fresh holder's namespace when the spec names
// the holder (the refusing one is ended, so no later sandbox tries it
// again), else the refusal is the error.
func startReplacingHolder(spec *Spec, id *identity, refused error) (*Process, error) {
	if spec.HeldUserNS == nil {
		return nil, fmt.Errorf("%w: %w", ErrHeldUserNSRefused, refused)
	}
	Phase("held user namespace refused")
	fd, err := spec.HeldUserNS.replace(spec.Identity)
	if err != nil {
		// No holder: a namespace of the sandbox's own, as without one.
		spec.EnterUserNS = nil
		return startRaw(spec, id)
	}
	defer unix.Close(fd)
	spec.EnterUserNS = &fd
	p, err := startRaw(spec, id)
	if err != nil && heldRefused(err) {
		err = fmt.Errorf("%w: %w", ErrHeldUserNSRefused, err)
	}
	return p, err
}

// absoluteSources makes the mounts' relative host paths relative to the
// caller's working directory, as a shell user means them (bwrap's `--bind
// . /src`), on a copy of the mounts: the engines resolve host paths from
// /, where "." would be the whole host.
func (s *Spec) absoluteSources() error {
	abs := func(p string) (string, error) {
		if p == "" || path.IsAbs(p) {
			return p, nil
		}
		if !path.IsAbs(s.CallerDir) {
			return "", fmt.Errorf("relative path %q: the working directory is unknown, give an absolute path", p)
		}
		return path.Join(s.CallerDir, p), nil
	}
	var err error
	ms := make([]Mount, len(s.Mounts))
	copy(ms, s.Mounts)
	for i := range ms {
		m := &ms[i]
		switch m.Op {
		case OpBind, OpDevBind:
			if !m.FromFD && !m.SourceInRoot {
				if m.Source, err = abs(m.Source); err != nil {
					return err
				}
			}
		case OpOverlay:
			m.Lower = append([]string(nil), m.Lower...)
			for j := range m.Lower {
				if m.Lower[j], err = abs(m.Lower[j]); err != nil {
					return err
				}
			}
			if m.Upper, err = abs(m.Upper); err != nil {
				return err
			}
			if m.Work, err = abs(m.Work); err != nil {
				return err
			}
		}
	}
	s.Mounts = ms
	return nil
}

// beforeFork calls sp.BeforeFork, once: a raw start that falls back to
// the Go init has already called it.
func beforeFork(sp *Spec) {
	if f := sp.BeforeFork; f != nil {
		sp.BeforeFork = nil
		f()
	}
}

// startInit starts the sandbox through nook's own re-executed init.
func startInit(sp *Spec, id *identity) (*Process, error) {
	spec := *sp

	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create spec pipe: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create status pipe: %w", err)
	}
	defer statusW.Close()

	cfg := initConfig{Spec: spec, InUserNS: id.userns, UID: id.switchUID, GID: id.switchGID, Umask: currentUmask()}
	// The init's own namespace: the identity's maps, or, when the init
	// nests the command (lock.go), host ids onto themselves.
	uidMap, gidMap := id.uidMap, id.gidMap
	if lockInInit(&spec, id) {
		cfg.Lock = &lockConfig{UIDMap: id.uidMap, GIDMap: id.gidMap,
			InnerUID: innerID(id.uidMap, os.Getuid()), InnerGID: innerID(id.gidMap, os.Getgid())}
		uidMap, gidMap = identityMaps(id.uidMap), identityMaps(id.gidMap)
	}
	files, borrowed, err := childFiles(&spec, &cfg)
	defer closeAll(borrowed)
	if err != nil {
		statusR.Close()
		return nil, err
	}
	specFd, statusFd := len(files), len(files)+1
	files = append(files, specR, statusW)
	for _, fd := range spec.fileOpFds() {
		f, err := borrow(fd)
		if err != nil {
			statusR.Close()
			return nil, err
		}
		borrowed = append(borrowed, f)
		cfg.FileFds[fd] = len(files)
		files = append(files, f)
	}
	var holdW *os.File
	if spec.BeforeExec != nil {
		holdR, w, err := os.Pipe()
		if err != nil {
			statusR.Close()
			return nil, fmt.Errorf("create hold pipe: %w", err)
		}
		defer holdR.Close() // the init has its own copy once forked
		holdW = w
		defer holdW.Close() // lets the init go on if Start fails first
		cfg.HoldFd = len(files)
		files = append(files, holdR)
	}

	attr := &syscall.SysProcAttr{
		Cloneflags: spec.cloneFlags(id.userns),
		Pdeathsig:  syscall.SIGKILL,
	}
	// The init stays as the command's parent with a pid namespace, and
	// whenever it nests the command (lock.go).
	p := &Process{Identity: id.mode, pid1: spec.underInit() || lockInInit(&spec, id), tty: -1, Engine: "init"}
	if spec.NewSession {
		attr.Setsid = true
	} else {
		attr.Setpgid = true
		if tty := foregroundTTY(files[0]); tty >= 0 {
			attr.Foreground, attr.Ctty = true, 0
			p.tty = tty
		}
	}
	rootMaps := false // nook, as root, writes the maps after the fork
	if id.userns {
		attr.AmbientCaps = allCaps()
		switch {
		case id.helper || spec.NoIDMaps:
			// newuidmap writes them once the init runs (below), or the
			// caller does (NoIDMaps).
		case os.Geteuid() != 0:
			// One id of its own: the init writes its maps itself, first
			// thing. (The standard library would write them from here,
			// which fails while nook is non-dumpable.)
			cfg.UIDMap, cfg.GIDMap = idmap.Format(uidMap), idmap.Format(gidMap)
		default:
			if own, err := procpid.Own(); err == nil && own {
				attr.UidMappings, attr.GidMappings = uidMap, gidMap
				attr.GidMappingsEnableSetgroups = !spec.Identity.DenySetgroups
			} else {
				// The standard library would write /proc/PID with the
				// pid of this namespace into a /proc of another (nook
				// as bwrap in a sandbox that kept the host's /proc):
				// another process's maps, or none. Written below
				// through the pid that /proc knows, as newuidmap does.
				rootMaps = true
			}
		}
	}
	// Pdeathsig follows the thread that forks, so fork from a locked
	// thread (Go never ends a thread that was unlocked again).
	// syscall.ForkExec rather than os.StartProcess: the latter probes for
	// pidfd support with an extra fork the first time. The init gets an
	// almost empty environment; the command's comes in the spec.
	fds := make([]uintptr, len(files))
	for i, f := range files {
		fds[i] = ^uintptr(0)
		if f != nil {
			fds[i] = f.Fd()
		}
	}
	var initEnv []string
	if phase.Timing() {
		initEnv = []string{"NOOK_TIMING=1"}
	}
	if stopAt := phase.StopAt(); stopAt != "" {
		initEnv = append(initEnv, "NOOK_TEST_STOP_AT="+stopAt)
	}
	beforeFork(sp)
	runtime.LockOSThread()
	Phase("fork")
	initArgv := []string{initArg0, initArg1, strconv.Itoa(specFd), strconv.Itoa(statusFd)}
	var pid int
	if spec.JoinUserNS != nil || spec.JoinPIDNS != nil {
		// Existing namespaces need a single-threaded setns: joinns.go.
		pid, err = forkJoined(&spec, "/proc/self/exe", initArgv, initEnv, fds, attr)
	} else {
		pid, err = syscall.ForkExec("/proc/self/exe", initArgv, &syscall.ProcAttr{Env: initEnv, Files: fds, Sys: attr})
	}
	runtime.UnlockOSThread()
	runtime.KeepAlive(files)
	specR.Close()
	statusW.Close()
	if err != nil {
		statusR.Close()
		return nil, userNSError(fmt.Errorf("start the sandbox: %w", err), id.userns)
	}
	Phase("forked")
	p.Pid, p.pgid = pid, pid
	if rootMaps && spec.Identity.DenySetgroups {
		dir, err := procpid.Dir(p.Pid)
		if err == nil {
			err = writeFileOnce(dir+"/setgroups", "deny")
		}
		if err != nil {
			p.abort(statusR)
			return nil, fmt.Errorf("write the id maps of the sandbox: %w", err)
		}
	}
	if (id.helper || rootMaps) && !spec.NoIDMaps {
		if err := idmap.Write(p.Pid, uidMap, gidMap, id.helper); err != nil {
			p.abort(statusR)
			return nil, fmt.Errorf("write the id maps of the sandbox: %w", err)
		}
	}
	// Before the spec goes out: the init may block on UserNSBlockFD until
	// whoever reads this pid has acted on it.
	if spec.OnForked != nil {
		spec.OnForked(p.Pid)
	}
	if err := json.NewEncoder(specW).Encode(&cfg); err != nil {
		p.abort(statusR)
		return nil, fmt.Errorf("send the spec to the sandbox init: %w", err)
	}
	specW.Close()
	Phase("spec sent")

	p.msgs = make(chan statusMsg, 4)
	go readStatus(statusR, p.msgs)
	first, ok := <-p.msgs
	if ok && first.Ready && holdW != nil {
		releaseHold(&spec, holdW)
		first, ok = <-p.msgs
	}
	Phase("started")
	switch {
	case !ok && !p.pid1:
		return p, nil // the status pipe closed at exec: the command runs
	case ok && first.Started:
		return p, nil
	case ok && first.Error != "":
		p.reap()
		return nil, &StartError{Code: first.Exit, Msg: first.Error, Setup: first.Setup, errno: unix.Errno(first.Errno), workDir: first.WorkDir}
	}
	st, _ := p.reap()
	return nil, &StartError{Code: ExitSetupFailed, Msg: fmt.Sprintf("the sandbox init ended before starting the command (%s)", describe(st))}
}

func describe(st Status) string {
	if st.Signal != 0 {
		return "killed by " + unix.SignalName(st.Signal)
	}
	return fmt.Sprintf("exit status %d", st.Code)
}

func readStatus(r *os.File, out chan<- statusMsg) {
	defer r.Close()
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m statusMsg
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out <- m
		}
	}
}

func (p *Process) abort(statusR *os.File) {
	unix.Kill(p.Pid, unix.SIGKILL)
	statusR.Close()
	p.reap()
}

// reap waits for the first process without job control.
func (p *Process) reap() (Status, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(p.Pid, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Status{}, os.NewSyscallError("wait4", err)
		}
		break
	}
	p.ended()
	p.restoreTTY()
	if ws.Signaled() {
		p.reaped = Status{Signal: ws.Signal()}
	} else {
		p.reaped = Status{Code: ws.ExitStatus()}
	}
	return p.reaped, nil
}

// Signal sends sig to the sandbox's process group: the command and, with a
// pid namespace, nook's pid 1, which ignores it. So the command gets one
// copy, as it would from the terminal.
//
// A signal that asks the command to end (SIGTERM, SIGINT, SIGHUP, SIGQUIT,
// SIGKILL) also tells the stdio relays, before or after the command ends:
// once it has ended, a relay whose destination takes nothing for a moment
// drops what it holds, so that Wait returns as it would without a relay
// (a caller's reader that stalled would otherwise hold it for ever). Here
// rather than in an API of its own: every front end forwards the signals
// it gets through Signal, and a library caller that asks the command to
// end wants Wait to return as well; a command that survives the signal
// loses nothing, since nothing is dropped before the sandbox ends.
func (p *Process) Signal(sig syscall.Signal) error {
	switch sig {
	case unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGKILL:
		p.relay.toldToEnd()
	}
	if p.gone.Load() {
		// Reaped: the group is empty, and its id free for another.
		return nil
	}
	if err := unix.Kill(-p.pgid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return os.NewSyscallError("kill", err)
	}
	return nil
}

// Wait waits for the command to end and returns its status. When the
// command is stopped (Ctrl-Z), nook stops itself the same way and, once
// continued, hands the terminal back and continues the command, so job
// control in the caller's shell works as if nook were not there.
func (p *Process) Wait() (Status, error) {
	if p.waited {
		return Status{}, errors.New("sandbox already waited for")
	}
	if p.cleanup != nil {
		defer p.cleanup()
	}
	defer p.relay.wait()
	if p.Engine == "raw" {
		return p.waitRaw()
	}
	type waitResult struct {
		ws  unix.WaitStatus
		err error
	}
	waits := make(chan waitResult)
	go func() {
		for {
			var ws unix.WaitStatus
			_, err := unix.Wait4(p.Pid, &ws, unix.WUNTRACED, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			waits <- waitResult{ws, err}
			if err != nil || !ws.Stopped() {
				return
			}
		}
	}()
	var done *statusMsg
	msgs := p.msgs
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			if m.Stopped != 0 {
				p.jobStop()
			}
			if m.Done {
				mm := m
				done = &mm
			}
		case r := <-waits:
			if r.err != nil {
				return Status{}, os.NewSyscallError("wait4", r.err)
			}
			if r.ws.Stopped() {
				p.jobStop()
				continue
			}
			p.ended()
			p.restoreTTY()
			if p.pid1 {
				// Messages written before pid 1 exited are all in the pipe.
				for m := range drain(msgs) {
					if m.Done {
						mm := m
						done = &mm
					}
				}
				if done != nil {
					return Status{Code: done.Code, Signal: syscall.Signal(done.Signal)}, nil
				}
			}
			if r.ws.Signaled() {
				return Status{Signal: r.ws.Signal()}, nil
			}
			return Status{Code: r.ws.ExitStatus()}, nil
		}
	}
}

// ended notes that the first process has been reaped.
func (p *Process) ended() {
	p.waited = true
	p.gone.Store(true)
	liveProgs.Delete(p.Pid)
}

// drain returns c, or a closed channel when c is nil.
func drain(c chan statusMsg) chan statusMsg {
	if c == nil {
		c = make(chan statusMsg)
		close(c)
	}
	return c
}

// jobStop mirrors a stopped command: take the terminal back, stop nook
// itself so the shell sees the job stop, and once continued give the
// terminal back and continue the command.
func (p *Process) jobStop() {
	if p.tty < 0 {
		// No terminal, no job control to mirror: whoever stopped the
		// command continues it, and nook keeps waiting.
		return
	}
	p.restoreTTY()
	unix.Kill(os.Getpid(), unix.SIGSTOP)
	if p.tty >= 0 {
		if fg, err := unix.IoctlGetInt(p.tty, unix.TIOCGPGRP); err == nil && fg == unix.Getpgrp() {
			setForeground(p.tty, p.pgid)
		}
	}
	unix.Kill(-p.pgid, unix.SIGCONT)
}

// restoreTTY gives the terminal's foreground back to nook's own group.
func (p *Process) restoreTTY() {
	if p.tty >= 0 {
		setForeground(p.tty, unix.Getpgrp())
	}
}

// setForeground makes pgrp the terminal's foreground group. nook may be in
// the background at that moment, so SIGTTOU is blocked on this thread
// (tcsetpgrp from the background is allowed when it is blocked).
func setForeground(tty, pgrp int) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set, old unix.Sigset_t
	set.Val[(unix.SIGTTOU-1)/64] |= 1 << ((uint(unix.SIGTTOU) - 1) % 64)
	unix.PthreadSigmask(unix.SIG_BLOCK, &set, &old)
	unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, pgrp)
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
}

// foregroundTTY returns f's fd when f is a terminal whose foreground group
// is nook's own, i.e. nook was started in the foreground of an interactive
// shell; otherwise -1.
func foregroundTTY(f *os.File) int {
	if f == nil {
		return -1
	}
	fd := int(f.Fd())
	fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return -1
	}
	return fd
}

// umaskMu: reading the umask means setting it and back, so two starts at
// once could leave the process with the wrong one.
var umaskMu sync.Mutex

func currentUmask() int {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	m := unix.Umask(0o022)
	unix.Umask(m)
	return m
}

func dieWithParent() error {
	if unix.Gettid() != unix.Getpid() {
		return errors.New("DieWithParent must be set up from the main thread (call runtime.LockOSThread in an init function)")
	}
	ppid := unix.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl PR_SET_PDEATHSIG", err)
	}
	if ppid == 1 {
		return errors.New("the parent process is already gone")
	}
	return nil
}

func allCaps() []uintptr {
	var out []uintptr
	for c := 0; c <= lastCap(); c++ {
		out = append(out, uintptr(c))
	}
	return out
}

func (s *Spec) cloneFlags(userns bool) uintptr {
	f := uintptr(unix.CLONE_NEWNS)
	if userns {
		f |= unix.CLONE_NEWUSER
	}
	ns := s.Namespaces
	for _, x := range []struct {
		on   bool
		flag uintptr
	}{{ns.PID, unix.CLONE_NEWPID}, {ns.Net, unix.CLONE_NEWNET}, {ns.IPC, unix.CLONE_NEWIPC},
		{ns.UTS, unix.CLONE_NEWUTS}, {ns.Cgroup, unix.CLONE_NEWCGROUP}} {
		if x.on {
			f |= x.flag
		}
	}
	return f
}

// maxFileOp bounds what one OpFile may read.
const maxFileOp = 256 << 20

// readFileOps reads the fds of OpFile operations here, in the order the
// operations come, and turns them into OpWrite: a set-up that starts over
// (the raw engine handing over to the Go init) must not find a pipe
// drained by the first attempt.
func readFileOps(s *Spec) error {
	var mounts []Mount
	for i, m := range s.Mounts {
		if m.Op != OpFile {
			continue
		}
		if mounts == nil {
			mounts = append([]Mount(nil), s.Mounts...)
		}
		f, err := borrow(m.FD)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(f, maxFileOp+1))
		f.Close()
		if err != nil {
			return fmt.Errorf("read file descriptor %d for %s: %w", m.FD, m.Dest, err)
		}
		if len(data) > maxFileOp {
			return fmt.Errorf("file descriptor %d for %s holds more than %d MiB; bind a file instead", m.FD, m.Dest, maxFileOp>>20)
		}
		w := m
		w.Op, w.Data, w.FD = OpWrite, data, 0
		mounts[i] = w
	}
	if mounts != nil {
		s.Mounts = mounts
	}
	return nil
}

// fileOpFds are the caller's fds that the init uses during setup: the ones
// OpFile operations read and FromFD binds mount, and the block fds.
func (s *Spec) fileOpFds() []int {
	var out []int
	seen := map[int]bool{}
	for _, m := range s.Mounts {
		if m.usesCallerFD() && !seen[m.FD] {
			seen[m.FD] = true
			out = append(out, m.FD)
		}
	}
	for _, fd := range s.waitFds() {
		if !seen[fd] {
			seen[fd] = true
			out = append(out, fd)
		}
	}
	return out
}

// childFiles lays out the init's fd table: stdio, then every passed fd at
// the number the command gets, holes closed. The caller's fds are passed as
// duplicates (borrowed, to be closed after the start): an *os.File made
// straight from a caller's fd number would close it when collected.
func childFiles(s *Spec, cfg *initConfig) (files, borrowed []*os.File, err error) {
	files = []*os.File{orDefault(s.Stdin, os.Stdin), orDefault(s.Stdout, os.Stdout), orDefault(s.Stderr, os.Stderr)}
	cfg.FileFds = map[int]int{}
	for i, fd := range s.Fds {
		inside := fd.Inside
		if s.PackFds {
			inside = 3 + i
		}
		f, err := borrow(fd.Outside)
		if err != nil {
			return nil, borrowed, err
		}
		borrowed = append(borrowed, f)
		for len(files) <= inside {
			files = append(files, nil)
		}
		files[inside] = f
		cfg.PassFds = append(cfg.PassFds, inside)
	}
	return files, borrowed, nil
}

// borrow duplicates a caller's fd into a file nook owns.
func borrow(fd int) (*os.File, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("file descriptor %d to pass is not open: %w", fd, err)
	}
	return os.NewFile(uintptr(d), fmt.Sprintf("fd%d", fd)), nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

func orDefault(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

// identity is the resolved user namespace set-up.
type identity struct {
	userns               bool
	mode                 string
	uidMap, gidMap       []syscall.SysProcIDMap
	helper               bool
	switchUID, switchGID int
}

func resolveIdentity(s *Spec) (*identity, error) {
	root := os.Geteuid() == 0
	id := &identity{switchUID: -1, switchGID: -1}
	switch s.Identity.UserNS {
	case UserNSAlways:
		id.userns = true
	case UserNSNever:
		if !root && !holdsSysAdmin() {
			return nil, errors.New("without a user namespace only root, or a process holding CAP_SYS_ADMIN, can build a sandbox")
		}
	case UserNSAuto:
		id.userns = !root
	default:
		return nil, fmt.Errorf("unknown user namespace choice %q", s.Identity.UserNS)
	}
	if !id.userns {
		id.mode = "host"
		if s.Identity.UID != nil {
			id.switchUID = *s.Identity.UID
		}
		if s.Identity.GID != nil {
			id.switchGID = *s.Identity.GID
		} else if s.Identity.UID != nil {
			// A uid alone must not leave the command in group 0 (root's,
			// or the range's): take the user-private group of that uid.
			id.switchGID = *s.Identity.UID
		}
		return id, nil
	}
	modeName := s.Identity.Mode
	if modeName == "" {
		modeName = "self"
	}
	mode, err := idmap.ParseMode(modeName)
	if err != nil {
		return nil, err
	}
	id.mode = mode.String()
	uid, gid := os.Getuid(), os.Getgid()
	innerUID, innerGID := idmap.DefaultInner, idmap.DefaultInner
	// Real root needs no subordinate ranges: without any it maps the low
	// 65536 ids onto themselves, which is what root sees anyway.
	rootRange := []idmap.Range{{Start: 1, Count: idmap.SpanIDs - 1}}
	var subU, subG []idmap.Range
	switch mode {
	case idmap.Self, idmap.Root:
		if s.JoinUserNS != nil {
			// A joined namespace has its maps: UID and GID are ids to
			// switch to inside it, not what to map the caller to.
			id.switchUID, id.switchGID = joinedIDs(s)
			break
		}
		if s.Identity.UID != nil {
			innerUID = *s.Identity.UID
		}
		if s.Identity.GID != nil {
			innerGID = *s.Identity.GID
		}
	default:
		name := idmap.UserName(uid)
		if subU, err = idmap.LookupSubIDs("/etc/subuid", name, uid); err != nil {
			return nil, err
		}
		if subG, err = idmap.LookupSubIDs("/etc/subgid", name, uid); err != nil {
			return nil, err
		}
		if root && len(subU) == 0 {
			subU = rootRange
		}
		if root && len(subG) == 0 {
			subG = rootRange
		}
		if s.Identity.UID != nil {
			id.switchUID = *s.Identity.UID
		}
		if s.Identity.GID != nil {
			id.switchGID = *s.Identity.GID
		} else if s.Identity.UID != nil {
			// A uid alone must not leave the command in group 0 (root's,
			// or the range's): take the user-private group of that uid.
			id.switchGID = *s.Identity.UID
		}
	}
	id.uidMap, id.gidMap, err = idmap.PlanInner(mode, uid, gid, innerUID, innerGID, subU, subG)
	if err != nil {
		return nil, err
	}
	id.helper = idmap.NeedsHelper(id.uidMap, uid, root) || idmap.NeedsHelper(id.gidMap, gid, root)
	return id, nil
}

// userNSError explains a refused user namespace: the kernel says only EPERM
// or ENOSPC, and the fix is a sysctl the caller has to find.
func userNSError(err error, userns bool) error {
	if !userns || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EACCES)) {
		return err
	}
	return &UserNSError{Err: err}
}

// UserNSError is a sandbox that could not start because the kernel refused
// it a user namespace (EPERM, EACCES, or ENOSPC: a limit or the nesting
// depth); Err says which. Faces word it their own way (bwrap's messages).
type UserNSError struct{ Err error }

func (e *UserNSError) Error() string {
	return e.Err.Error() + "\nnook: the kernel refused to create a user namespace; check user.max_user_namespaces (must be > 0), " +
		"kernel.unprivileged_userns_clone (Debian, must be 1) and kernel.apparmor_restrict_unprivileged_userns (Ubuntu, must be 0)"
}

func (e *UserNSError) Unwrap() error { return e.Err }

// initFallbacks counts the starts the raw engine left to the Go init, for
// tests that must see the raw engine do an operation itself.
var initFallbacks atomic.Int64
