package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
)

// The supervisor of a booted session is this same binary, started by begin
// on the host (helper verb "boot", through "boot-detach" so that it is not
// begin's child: a double fork), in a session of its own, with no terminal,
// its stdio on the session's supervisor.log. It lives as long as the
// container, across its reboots:
//
//	begin ──► supervisor: boot ─► systemd ── READY=1 ──► "ready" on fd 3
//	                      ▲                 │
//	       reboot (inside, or SIGUSR1 ─►    │ ends: reboot? (SIGHUP, asked,
//	       SIGRTMIN+5 to systemd)           │ or "Rebooting." on the console)
//	                      └── payload cgroup made afresh ◄── yes
//	                                         no / SIGTERM (end: SIGRTMIN+4
//	                                         first) ──► kill what is left,
//	                                         remove the cgroups, exit
//
// It keeps the console's pty (copying what systemd writes there to
// console.log) and the notify socket for the session's life, and counts
// reboots in boot.json once each new systemd reports READY=1. It holds an
// flock on boot.lock while it lives, so that end can tell a live
// supervisor from a pid that was reused.

// Files of a booted session, in its directory.
const (
	bootRecordFile = "boot.json"
	bootLockFile   = "boot.lock"
	bootConsoleLog = "console.log"
	bootNotifyName = "notify"
	bootSuperLog   = "supervisor.log"
)

// bootRecord says where a booted session's supervisor and cgroup are.
type bootRecord struct {
	Supervisor int    `json:"supervisor"`
	Cgroup     string `json:"cgroup"`
	// Pid1 is the container's systemd as the host sees it.
	Pid1 int `json:"pid1,omitempty"`
	// Reboots counts the reboots done: the supervisor raises it once
	// the container has booted again (Store.Reboot waits for that).
	Reboots int `json:"reboots,omitempty"`
}

// sigPoweroff is SIGRTMIN+4 as systemd counts (glibc's SIGRTMIN is 34):
// the signal that makes systemd in a container power off.
const sigPoweroff = syscall.Signal(38)

// sigReboot is SIGRTMIN+5: systemd in a container reboots on it.
const sigReboot = syscall.Signal(39)

// sigAskReboot is what Store.Reboot sends the supervisor.
const sigAskReboot = syscall.SIGUSR1

// bootTimeout is how long begin waits for systemd to report READY=1:
// NOOK_BOOT_TIMEOUT (a Go duration), by default 120 s.
func bootTimeout() time.Duration { return durationEnv("NOOK_BOOT_TIMEOUT", 120*time.Second) }

// stopTimeout is how long end waits for the container to power off before
// killing it: NOOK_BOOT_STOP_TIMEOUT, by default 30 s.
func stopTimeout() time.Duration { return durationEnv("NOOK_BOOT_STOP_TIMEOUT", 30*time.Second) }

func durationEnv(name string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil || d <= 0 {
		return def
	}
	return d
}

// helperBootDetach starts the supervisor (same arguments) in a new session
// and exits at once, so that the supervisor's parent is not begin.
func helperBootDetach(args []string) error {
	// fds begin's caller left open across exec (a shell's pipe, make's
	// jobserver) would stay open in the supervisor until end, and their
	// readers wait: everything from 3 on is close-on-exec (3, the status
	// pipe, is passed on explicitly below).
	sandbox.CloseOnExecExcept()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("start the boot supervisor: %w", err)
	}
	log, err := os.OpenFile(filepath.Join(args[0], bootSuperLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("start the boot supervisor: %w", err)
	}
	defer log.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("start the boot supervisor: %w", err)
	}
	defer null.Close()
	p, err := os.StartProcess(exe, append([]string{helperArg0, helperArg1, "boot"}, args...), &os.ProcAttr{
		Dir:   args[0],
		Files: []*os.File{null, log, log, os.NewFile(3, "status")},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("start the boot supervisor: %w", err)
	}
	return p.Release()
}

// helperBoot is the supervisor: args are the session directory and the
// delegated cgroup.
func helperBoot(args []string) error {
	dir, deleg := args[0], args[1]
	status := os.NewFile(3, "status")
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	report := func(msg string) {
		if status != nil {
			status.WriteString(msg + "\n")
			status.Close()
			status = nil
		}
	}
	err := supervise(dir, deleg, term, func() { report("ready") })
	if err != nil {
		report("error " + bootErrKind(err) + " " + strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return err
}

func supervise(dir, deleg string, term <-chan os.Signal, ready func()) error {
	var st State
	if err := readState(filepath.Join(dir, "state.json"), &st); err != nil {
		return err
	}
	st.Dir = dir
	lock, err := os.OpenFile(filepath.Join(dir, bootLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("boot session %s: it has a supervisor already: %w", st.ID, err)
	}
	if st.LongLived {
		return superviseHeld(&st, term, ready)
	}
	systemd, err := findSystemd(&st)
	if err != nil {
		return err
	}
	cg := sessionCgroup(deleg, st.ID)
	rec := bootRecord{Supervisor: os.Getpid(), Cgroup: cg}
	if err := writeJSONAtomic(filepath.Join(dir, bootRecordFile), rec); err != nil {
		return err
	}
	if err := makeSessionCgroup(cg); err != nil {
		return err
	}
	// Whatever happens below, nothing of the container is left.
	defer teardownCgroup(cg, deleg)

	master, slave, err := openPty()
	if err != nil {
		return fmt.Errorf("boot session %s: console: %w", st.ID, err)
	}
	defer master.Close()
	console, err := os.OpenFile(filepath.Join(dir, bootConsoleLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		slave.Close()
		return fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	defer console.Close()
	copied := make(chan struct{})
	shutdown := &shutdownWatch{}
	go func() {
		io.Copy(io.MultiWriter(&cappedLog{w: console, left: consoleLogMax}, shutdown), master)
		close(copied)
	}()

	// The socket is bound by a name relative to the session directory
	// (the supervisor's working directory): a full path may be longer
	// than a socket address holds.
	os.Remove(bootNotifyName)
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: bootNotifyName, Net: "unixgram"})
	if err != nil {
		slave.Close()
		return fmt.Errorf("boot session %s: notify socket: %w", st.ID, err)
	}
	defer notify.Close()
	defer os.Remove(filepath.Join(dir, bootNotifyName))
	// Any user inside may send to it (mode 0777: systemd's services
	// run as many users); the sender's pid tells systemd's READY=1
	// from anyone else's, which needs credentials on each message, set
	// before anything can send.
	os.Chmod(filepath.Join(dir, bootNotifyName), 0o777)
	if err := passCred(notify); err != nil {
		slave.Close()
		return fmt.Errorf("boot session %s: notify socket: %w", st.ID, err)
	}
	exe, err := os.Executable()
	if err != nil {
		slave.Close()
		return fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	// The slave stays open here while the container runs: systemd
	// closes its stdio and opens /dev/console later, and with no slave
	// open for a moment the master would read end of file (EIO) and the
	// console log would stop.
	defer slave.Close()
	if err := os.Mkdir(filepath.Join(dir, agentDir), 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	watch := &bootWatch{}
	go watch.run(notify)
	// Asked to reboot (Store.Reboot): from here on, so that a request
	// during the first boot waits for its end.
	asked := make(chan os.Signal, 1)
	signal.Notify(asked, sigAskReboot)
	defer signal.Stop(asked)

	// One container per boot. A reboot -- systemd's own (a test's
	// `reboot`), or one nook asks for -- ends the container's pid
	// namespace, its pid 1 killed by SIGHUP as the kernel reports a
	// reboot there; the supervisor then boots another on the same tree,
	// in the same session cgroup, with the same console and sockets.
	var pid1 int
	var exited chan sandbox.Status
	boot := func() error {
		var err error
		pid1, exited, err = startContainer(&st, systemd, cg, exe, slave)
		if err != nil {
			return err
		}
		rec.Pid1 = pid1
		writeJSONAtomic(filepath.Join(dir, bootRecordFile), rec)
		shutdown.reset()
		readyc := watch.expect(pid1)
		select {
		case <-readyc:
			return nil
		case s := <-exited:
			return fmt.Errorf("%w: systemd ended during the boot (%s); see %s", ErrBootFailed, describeStatus(s), filepath.Join(dir, bootConsoleLog))
		case <-time.After(bootTimeout()):
			// A boot that failed is killed (teardownCgroup), not
			// powered off: systemd may not handle the signal yet.
			return fmt.Errorf("%w: systemd did not report the end of its start-up (READY=1) within %v (NOOK_BOOT_TIMEOUT); see %s", ErrBootFailed, bootTimeout(), filepath.Join(dir, bootConsoleLog))
		case <-term:
			return fmt.Errorf("%w: the session was ended during its boot", ErrBootFailed)
		}
	}
	stop := func() {
		unix.Kill(pid1, sigPoweroff)
		select {
		case <-exited:
		case <-time.After(stopTimeout()):
			fmt.Fprintf(os.Stderr, "session %s did not power off within %v: killing it\n", st.ID, stopTimeout())
		}
	}
	if err := boot(); err != nil {
		return err
	}
	ready()
	// rebooting: a reboot was asked for and the container has not ended
	// yet; forceReboot fires when it has not within stopTimeout (systemd
	// may refuse or never get to it): then it is killed and booted again.
	rebooting := false
	var forceReboot <-chan time.Time
	ended := func(s sandbox.Status) (bool, error) {
		reboot := rebooting || rebootStatus(s) || s.ExitCode() == 0 && shutdown.settledReboot()
		if !reboot {
			fmt.Fprintf(os.Stderr, "session %s: the container powered off (%s)\n", st.ID, describeStatus(s))
			return false, nil
		}
		rebooting, forceReboot = false, nil
		fmt.Fprintf(os.Stderr, "session %s: the container rebooted (%s); booting it again\n", st.ID, describeStatus(s))
		if err := resetPayload(cg); err != nil {
			return false, err
		}
		if err := boot(); err != nil {
			return false, err
		}
		rec.Reboots++
		writeJSONAtomic(filepath.Join(dir, bootRecordFile), rec)
		// A request that came while this reboot went on is met by it.
		select {
		case <-asked:
		default:
		}
		return true, nil
	}
	for {
		select {
		case s := <-exited:
			if again, err := ended(s); !again {
				return err
			}
		case <-asked:
			// Not to a systemd that has ended meanwhile (its pid may
			// be another process's by now).
			select {
			case s := <-exited:
				if again, err := ended(s); !again {
					return err
				}
				continue
			default:
			}
			// Sent again on each request: systemd takes a second
			// one as the same job, and one it lost is not waited on.
			unix.Kill(pid1, sigReboot)
			if !rebooting {
				rebooting = true
				forceReboot = time.After(stopTimeout())
			}
		case <-forceReboot:
			forceReboot = nil
			fmt.Fprintf(os.Stderr, "session %s did not reboot within %v: killing it to boot it again\n", st.ID, stopTimeout())
			killCgroup(filepath.Join(cg, "payload"), 10*time.Second)
		case <-term:
			stop()
			return nil
		}
	}
}

// startContainer starts one boot of the session's container: the sandbox
// with systemd as its command, in the session cgroup's payload. It
// returns systemd's pid as the host sees it and a channel that gets the
// sandbox's end.
func startContainer(st *State, systemd, cg, exe string, console *os.File) (int, chan sandbox.Status, error) {
	spec, err := bootSpec(st, systemd, filepath.Join(cg, "payload"), filepath.Join(st.Dir, bootNotifyName), exe)
	if err != nil {
		return 0, nil, err
	}
	spec.Stdin, spec.Stdout, spec.Stderr = console, console, console
	// The container's cgroup namespace starts at the cgroup of the
	// process that makes it: nook is in payload while it starts the
	// sandbox, and leaves for its own leaf once it has. (Leaving from
	// Spec.OnForked would be sooner, but a callback needs the Go init,
	// which stays as a process in payload above systemd; with the raw
	// engine systemd is the sandbox's first process, and it moves itself
	// to init.scope, so payload ends with no process of its own.)
	if err := joinCgroup(filepath.Join(cg, "payload")); err != nil {
		return 0, nil, err
	}
	p, err := sandbox.Start(spec)
	if jerr := joinCgroup(filepath.Join(cg, "supervisor")); jerr != nil && err == nil {
		p.Signal(syscall.SIGKILL)
		p.Wait()
		return 0, nil, jerr
	}
	if err != nil {
		return 0, nil, fmt.Errorf("boot session %s: %w", st.ID, err)
	}
	// systemd's pid, found once now, before it has started anything:
	// later, a process of the container's may be pid 1 of a namespace
	// of its own below it (a service with PrivatePIDs=, unshare -pf),
	// and neither its READY=1 nor the power-off signal is systemd's.
	pid1 := innermostInit(p.Pid)
	exited := make(chan sandbox.Status, 1)
	go func() { s, _ := p.Wait(); exited <- s }()
	return pid1, exited, nil
}

// shutdownWatch reads the console for systemd-shutdown's last words.
// systemd in a container reboots by reboot(2), which ends its pid
// namespace as a reboot (pid 1 killed by SIGHUP) only where it holds
// CAP_SYS_BOOT over that namespace; nook's container's pid namespace
// belongs to the user namespace above the one systemd runs in (the one
// that locks its mounts), so reboot(2) fails there, and systemd-shutdown
// says "Rebooting." (or "Powering off.", "Halting system.") and exits 0
// ("Exiting container."). The last of those lines decides. What the
// container writes on its console is its own to choose: saying
// "Rebooting." makes it boot again, which it can do anyway. systemd
// writes those lines at its default log level (info) to the console; an
// image that logs less there powers off where it meant to reboot.
type shutdownWatch struct {
	mu     sync.Mutex
	line   []byte
	reboot bool
	last   time.Time // of the last write
}

func (w *shutdownWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = time.Now()
	for _, c := range b {
		switch {
		case c == '\n':
			switch string(bytes.TrimSpace(w.line)) {
			case "Rebooting.":
				w.reboot = true
			case "Powering off.", "Halting system.", "Halting.":
				w.reboot = false
			}
			w.line = w.line[:0]
		case len(w.line) < 64:
			w.line = append(w.line, c)
		}
	}
	return len(b), nil
}

// settledReboot says whether the last shutdown line said "Rebooting.",
// once the console has been quiet for a moment (at most a second): the
// pty hands the container's last words over after its end may already
// be seen.
func (w *shutdownWatch) settledReboot() bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		w.mu.Lock()
		quiet := time.Since(w.last) > 150*time.Millisecond
		w.mu.Unlock()
		if quiet {
			break
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reboot
}

// reset forgets what an earlier boot said.
func (w *shutdownWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reboot = false
	w.line = w.line[:0]
}

// rebootStatus reports whether a container's end is a reboot: the kernel
// reports a reboot(2) in a pid namespace as its pid 1 killed by SIGHUP
// (a power-off or halt as SIGINT); nook's Go init, when it stands above
// systemd, exits with the status a shell would give that.
func rebootStatus(s sandbox.Status) bool {
	return s.Signal == syscall.SIGHUP || s.Signal == 0 && s.Code == 128+int(syscall.SIGHUP)
}

// resetPayload makes the payload cgroup afresh for the next boot: what
// the last one left (systemd's own groups, any process that outlived its
// pid namespace) goes.
func resetPayload(cg string) error {
	payload := filepath.Join(cg, "payload")
	if err := killCgroup(payload, 10*time.Second); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	if err := removeCgroup(payload); err != nil {
		return fmt.Errorf("reboot: %w", err)
	}
	if err := os.Mkdir(payload, 0o755); err != nil {
		return fmt.Errorf("reboot: make cgroup %s: %w", payload, err)
	}
	return nil
}

// bootWatch reads the notify socket for the whole session and closes the
// current boot's ready channel when that boot's systemd (pid1, as the
// host sees it) sends READY=1; what any other process inside sends there
// is ignored.
type bootWatch struct {
	mu    sync.Mutex
	pid1  int
	ready chan struct{}
	// readyFrom is the last sender of a READY=1 that nothing awaited:
	// a boot's systemd may send it before expect names it.
	readyFrom int
}

// expect sets the systemd whose READY=1 is awaited and returns the
// channel closed when it comes.
func (w *bootWatch) expect(pid1 int) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	w.pid1, w.ready = pid1, ch
	if w.readyFrom == pid1 {
		close(ch)
		w.ready = nil
	}
	w.readyFrom = 0
	return ch
}

func (w *bootWatch) run(c *net.UnixConn) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		pid := senderPid(oob[:oobn])
		ready := false
		for _, l := range bytes.Split(buf[:n], []byte("\n")) {
			ready = ready || string(l) == "READY=1"
		}
		w.mu.Lock()
		switch {
		case !ready:
		case pid == w.pid1 && w.ready != nil:
			close(w.ready)
			w.ready = nil
		case pid != w.pid1:
			w.readyFrom = pid
		}
		w.mu.Unlock()
	}
}

// consoleLogMax bounds console.log: a container that writes to its
// console without end must not fill the caller's disk.
const consoleLogMax = 8 << 20

// cappedLog writes up to left bytes to w, then one line saying the rest
// is dropped, then nothing; it takes everything, so that the console's
// reader never stops and the writers inside never block.
type cappedLog struct {
	w    io.Writer
	left int64
	said bool
}

func (c *cappedLog) Write(b []byte) (int, error) {
	if int64(len(b)) <= c.left {
		c.left -= int64(len(b))
		if _, err := c.w.Write(b); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	if !c.said {
		c.said = true
		if c.left > 0 {
			c.w.Write(b[:c.left])
			c.left = 0
		}
		fmt.Fprintf(c.w, "\n[nook: console.log reached %d MiB; the rest of the console is dropped]\n", consoleLogMax>>20)
	}
	return len(b), nil
}

// innermostInit is systemd's pid on the host: the sandbox's first process
// when the command itself is pid 1, else the pid 1 of the pid namespace
// nested below nook's init (the Go init's way), found as the child whose
// last NSpid is 1.
func innermostInit(pid int) int {
	for depth := 0; depth < 4; depth++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			return pid
		}
		next := 0
		for _, f := range strings.Fields(string(b)) {
			var c int
			fmt.Sscan(f, &c)
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c))
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(st), "\n") {
				if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
					ns := strings.Fields(v)
					if len(ns) > 1 && ns[len(ns)-1] == "1" {
						next = c
					}
				}
			}
		}
		if next == 0 {
			return pid
		}
		pid = next
	}
	return pid
}

// teardownCgroup kills whatever is left of the container, leaves the
// session's cgroup and removes it.
func teardownCgroup(cg, deleg string) {
	if err := killCgroup(filepath.Join(cg, "payload"), 10*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := joinCgroup(deleg); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := removeCgroup(cg); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// passCred has the kernel attach each sender's credentials to what
// arrives on c (SO_PASSCRED), its pid translated into nook's namespace.
func passCred(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt SO_PASSCRED", serr)
}

// senderPid is the pid in a message's SCM_CREDENTIALS, 0 without one.
func senderPid(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for i := range msgs {
		if cred, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}

func describeStatus(s sandbox.Status) string {
	c := s.ExitCode()
	if c > 128 {
		return fmt.Sprintf("killed by signal %d", c-128)
	}
	return fmt.Sprintf("exit status %d", c)
}

// openPty makes a pseudo-terminal pair: the container's console is the
// slave, nook keeps the master.
func openPty() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, os.NewSyscallError("ioctl TIOCSPTLCK", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, os.NewSyscallError("ioctl TIOCGPTN", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// BootRunning reports whether st is a booted session whose container
// runs (its supervisor is alive).
func (st *State) BootRunning() bool { return st.Supervised() && bootAlive(st.Dir) }

// Supervised says whether the session runs under a supervisor from begin
// to end, its commands through an agent: booted or long-lived.
func (st *State) Supervised() bool { return st.Boot || st.LongLived }

// bootAlive reports whether the booted session in dir has a live
// supervisor (it holds boot.lock).
func bootAlive(dir string) bool {
	f, err := os.Open(filepath.Join(dir, bootLockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// stopBoot powers a booted session off through its supervisor and waits
// (bounded) for the supervisor to end; a supervisor that does not is
// killed (its container dies with it). Then nothing of the container
// may be left in its cgroup, which goes.
func stopBoot(st *State) error {
	var rec bootRecord
	if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("stop session %s: %w", st.ID, err)
	}
	if rec.Supervisor > 0 {
		// A pidfd taken while the supervisor holds its lock names the
		// supervisor and no process that reused its pid later; it
		// becomes readable when the supervisor has exited (its lock goes
		// a moment before).
		pidfd, err := unix.PidfdOpen(rec.Supervisor, 0)
		if err == nil && !bootAlive(st.Dir) {
			unix.Close(pidfd)
			pidfd = -1
		}
		if err == nil && pidfd >= 0 {
			defer unix.Close(pidfd)
			unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0)
			if !waitPidfd(pidfd, stopTimeout()+15*time.Second) {
				unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
				waitPidfd(pidfd, 5*time.Second)
			}
		}
	}
	if rec.Cgroup != "" && strings.Contains(filepath.Base(rec.Cgroup), "nook-session-") {
		if err := killCgroup(rec.Cgroup, 10*time.Second); err != nil {
			return fmt.Errorf("stop session %s: %w", st.ID, err)
		}
		if err := removeCgroup(rec.Cgroup); err != nil {
			return fmt.Errorf("stop session %s: %w", st.ID, err)
		}
	}
	return nil
}

// waitPidfd waits (bounded) for the process of pidfd to exit.
func waitPidfd(pidfd int, bound time.Duration) bool {
	deadline := time.Now().Add(bound)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0
	}
}
