package session

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Attacks on `nook session run` into a long-lived session from inside, by
// a program of the test's own (this test binary, put in the chroot and
// started as root inside), which takes the agent's place as the
// container's root can: it removes the agent's socket and listens on a
// new one by the same name.

// attackAgentEnv makes this test binary the attacking agent (init below
// runs before TestMain, in session_test.go).
const attackAgentEnv = "NOOK_TEST_ATTACK_AGENT"

func init() {
	if os.Getenv(attackAgentEnv) == "pidfd" {
		os.Exit(pidfdAgent())
	}
}

// pidfdAgent answers one request as an agent would, and meanwhile asks
// the kernel for nook's own process (SO_PEERPIDFD on the connection: the
// peer's pidfd, across pid namespaces) and for nook's fds through it
// (pidfd_getfd). It writes what it got to the command's stdout: "pidfd:
// ERR" when the kernel gives no pidfd, else "got N" and one "fd DEV INO"
// line for each of nook's fds it holds.
func pidfdAgent() int {
	sock := agentInside + "/" + agentSocket
	os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	os.WriteFile("/tmp/attack-ready", nil, 0o644)
	c, err := l.AcceptUnix()
	if err != nil {
		return 1
	}
	defer c.Close()
	oob := make([]byte, unix.CmsgSpace(3*4))
	_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 1<<16), oob)
	if err != nil {
		return 1
	}
	var files []*os.File
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	for _, m := range msgs {
		fds, _ := unix.ParseUnixRights(&m)
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "sent"))
		}
	}
	if len(files) != 3 {
		return 1
	}
	enc := json.NewEncoder(c)
	enc.Encode(agentReply{Started: true})
	var report strings.Builder
	raw, _ := c.SyscallConn()
	pidfd, perr := -1, error(nil)
	raw.Control(func(fd uintptr) { pidfd, perr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PEERPIDFD) })
	if perr != nil {
		fmt.Fprintf(&report, "pidfd: %v\n", perr)
	} else {
		got := 0
		var lines strings.Builder
		for fd := 0; fd < 1024; fd++ {
			nfd, err := unix.PidfdGetfd(pidfd, fd, 0)
			if err != nil {
				continue
			}
			got++
			var st unix.Stat_t
			unix.Fstat(nfd, &st)
			fmt.Fprintf(&lines, "fd %d %d\n", st.Dev, st.Ino)
			unix.Close(nfd)
		}
		fmt.Fprintf(&report, "got %d\n%s", got, lines.String())
	}
	files[1].WriteString(report.String())
	for _, f := range files {
		f.Close()
	}
	exit := 0
	enc.Encode(agentReply{Exit: &exit})
	return 0
}

// attackSession begins a long-lived session of busybox and this test
// binary (at /bin/attack) and starts the attacking agent mode as root
// inside.
func attackSession(t *testing.T, mode string) (*Store, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t, ent{Name: "./bin/attack", Type: tar.TypeReg, Mode: 0o755, Body: string(bin)}))
	res, err := s.Begin("bb", BeginOptions{LongLived: true})
	if err != nil {
		t.Fatalf("begin --long-lived: %v", err)
	}
	id := res.State.ID
	t.Cleanup(func() { s.End(id, nil) })
	script := attackAgentEnv + "=" + mode + " /bin/attack </dev/null >/tmp/attack.log 2>&1 &\n" +
		"i=0; while [ ! -e /tmp/attack-ready ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; cat /tmp/attack.log; test -e /tmp/attack-ready"
	if out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", script}}, "", nil); code != 0 {
		t.Fatalf("start the attacking agent inside: %d %q %q", code, out, errOut)
	}
	return s, id
}

// Root inside a long-lived session (any command run as root there, the
// default user) gets nook's own process from the connection nook makes
// to its agent (SO_PEERPIDFD, Linux 6.5) and, where it runs as the
// caller's uid on the host (a caller without subordinate ids: one id
// mapped), takes nook's fds with pidfd_getfd: the caller's terminal and
// files, and any directory nook or its caller holds, which is the host's
// file system beyond the session. What stops it is the user namespace:
// across one, ptrace access needs CAP_SYS_PTRACE over nook's
// (cap_ptrace_access_check), whatever the uids and nook's dumpable flag.
// This passes on the code of 2026-12-03 as a user (with subordinate ids
// or without); it guards the boundary.
func TestRunBootedNoFdThroughPidfd(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("SKIP: real root's sessions use the host's ids without a user namespace: root inside is the host's root by design (docs/security.md), CAP_SYS_PTRACE included")
	}
	s, id := attackSession(t, "pidfd")
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	code, err := s.RunBooted(id, RunOptions{Args: []string{"true"}}, null, out, out, nil)
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v", code, err)
	}
	b, _ := os.ReadFile(out.Name())
	report := string(b)
	if strings.HasPrefix(report, "pidfd: ") {
		t.Skipf("SKIP: the kernel gives no pidfd of a unix socket's peer (SO_PEERPIDFD, Linux 6.5): %s", report)
	}
	var n int
	if _, err := fmt.Sscanf(report, "got %d", &n); err != nil {
		t.Fatalf("the attacking agent's report: %q", report)
	}
	if n > 0 {
		var st unix.Stat_t
		unix.Fstat(int(out.Fd()), &st)
		mine := fmt.Sprintf("fd %d %d\n", st.Dev, st.Ino)
		t.Errorf("root inside took %d of nook's fds through a pidfd of nook's process (the caller's stdout among them: %v):\n%s", n, strings.Contains(report, mine), report)
	}
}

// heldSession begins a long-lived session of busybox.
func heldSession(t *testing.T) (*Store, string) {
	t.Helper()
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t))
	res, err := s.Begin("bb", BeginOptions{LongLived: true})
	if err != nil {
		t.Fatalf("begin --long-lived: %v", err)
	}
	id := res.State.ID
	t.Cleanup(func() { s.End(id, nil) })
	return s, id
}

// `nook session run ID yes | head -1`: once the caller's stdout has no
// reader, the command's writes fail (EPIPE, SIGPIPE) as they would on the
// caller's pipe itself, and run returns. Before, the relay stopped
// copying at the failed write but kept its end of the pipe open: the
// command blocked on a full pipe, and nook waited for it without end.
func TestRunBootedStdoutReaderGone(t *testing.T) {
	s, id := heldSession(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	errF, err := os.Create(filepath.Join(t.TempDir(), "err"))
	if err != nil {
		t.Fatal(err)
	}
	defer errF.Close()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	sigs := make(chan os.Signal, 1)
	go func() {
		code, err := s.RunBooted(id, RunOptions{Args: []string{"sh", "-c", "while :; do echo y; done"}}, null, w, errF, sigs)
		done <- result{code, err}
	}()
	select {
	case res := <-done:
		if res.err != nil || res.code != 128+int(unix.SIGPIPE) {
			t.Errorf("run with no reader on its stdout: %d %v, want %d (SIGPIPE)", res.code, res.err, 128+int(unix.SIGPIPE))
		}
	case <-time.After(10 * time.Second):
		t.Errorf("run still waits 10 s after the reader of its stdout went away: the command blocks on the relay's pipe")
		sigs <- unix.SIGKILL
		<-done
	}
}

// What a long-lived session's commands leave running ends with the
// session: after end, no process is left in its pid namespace, whether
// it was started in the background, in a session of its own, or as root
// that ignores SIGTERM and SIGHUP.
func TestLongLivedEndLeavesNoProcess(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "end", true: "supervisor-killed"}[kill], func(t *testing.T) { testLongLivedLeavesNoProcess(t, kill) })
	}
}

// testLongLivedLeavesNoProcess: with kill, the supervisor is killed
// (SIGKILL, as end does when it will not stop) before end.
func testLongLivedLeavesNoProcess(t *testing.T, kill bool) {
	s, id := heldSession(t)
	// Two sleeps of a length no other process has, found on the host
	// by their command lines (nook's pid 1 is not readable, and the
	// sleeps' pids inside are not the host's).
	n := 2000000 + time.Now().UnixNano()%1000000
	script := fmt.Sprintf("trap '' TERM HUP; sleep %d </dev/null >/dev/null 2>&1 & (trap '' TERM HUP INT; exec sleep %d) </dev/null >/dev/null 2>&1 & echo started", n, n+1)
	if out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", script}}, "", nil); code != 0 || out != "started\n" {
		t.Fatalf("leave processes behind: %d %q %q", code, out, errOut)
	}
	inNs := func() []string {
		var left []string
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil {
				continue
			}
			c := string(b)
			if c == fmt.Sprintf("sleep\x00%d\x00", n) || c == fmt.Sprintf("sleep\x00%d\x00", n+1) {
				st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
				if !strings.Contains(string(st), ") Z ") {
					left = append(left, e.Name()+" "+strings.ReplaceAll(c, "\x00", " "))
				}
			}
		}
		return left
	}
	for i := 0; len(inNs()) < 2; i++ {
		if i == 50 {
			t.Fatalf("the sleeps left behind are not found on the host: %v", inNs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if kill {
		st, err := s.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		var rec bootRecord
		if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err != nil || rec.Supervisor <= 0 {
			t.Fatalf("the supervisor's record: %+v %v", rec, err)
		}
		if err := unix.Kill(rec.Supervisor, unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for i := 0; len(inNs()) > 0 && i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if left := inNs(); len(left) > 0 {
			t.Errorf("processes the session's commands left are there 5 s after its supervisor was killed: %v", left)
		}
	}
	if err := s.End(id, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
	if left := inNs(); len(left) > 0 {
		t.Errorf("processes the session's commands left are there after end: %v", left)
	}
}

// An agent that accepts and reads nothing of a request longer than the
// socket's buffer leaves nook interruptible, as one that reads it and
// never answers does.
func TestRunBootedUnreadRequestInterruptible(t *testing.T) {
	s, id, l := fakeBooted(t)
	conns := make(chan *net.UnixConn, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err == nil {
			conns <- c
		}
		close(conns)
	}()
	f := devNulls(t)
	sigs := make(chan os.Signal, 4)
	done := make(chan error, 1)
	args := []string{"true"}
	for i := 0; i < 8; i++ {
		args = append(args, strings.Repeat("x", 100<<10))
	}
	go func() {
		_, err := s.RunBooted(id, RunOptions{Args: args}, f[0], f[1], f[2], sigs)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	sigs <- unix.SIGINT
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("nook still sends its request to an agent that reads nothing 5 s after SIGINT")
		if c := <-conns; c != nil {
			c.Close()
		}
		<-done
		return
	}
	if c := <-conns; c != nil {
		c.Close()
	}
}

// A window resize (SIGWINCH, which nook session run subscribes to with
// the signals it passes on) while the agent has not answered yet does
// not end the run: only a signal that would end a command does.
func TestRunBootedResizeBeforeStart(t *testing.T) {
	s, id, l := fakeBooted(t)
	answer := make(chan struct{})
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(3*4))
		_, oobn, _, _, _ := c.ReadMsgUnix(make([]byte, 1<<16), oob)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := unix.ParseUnixRights(&m)
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
		<-answer
		exit := 7
		enc := json.NewEncoder(c)
		enc.Encode(agentReply{Started: true})
		enc.Encode(agentReply{Exit: &exit})
	}()
	f := devNulls(t)
	sigs := make(chan os.Signal, 4)
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := s.RunBooted(id, RunOptions{Args: []string{"true"}}, f[0], f[1], f[2], sigs)
		done <- result{code, err}
	}()
	time.Sleep(200 * time.Millisecond)
	sigs <- unix.SIGWINCH
	time.Sleep(200 * time.Millisecond)
	close(answer)
	select {
	case r := <-done:
		if r.err != nil || r.code != 7 {
			t.Errorf("run with a resize before the agent answered: %d %v, want the command's 7", r.code, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run has not returned 10 s after the agent answered")
	}
}

// An agent that says the command started on the caller's terminal and
// then hangs up (or dies) leaves the caller's terminal as it was: raw
// mode ends with run, whichever way run ends.
func TestRunBootedAgentGoneRestoresTerminal(t *testing.T) {
	s, id, l := fakeBooted(t)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(3*4))
		_, oobn, _, _, _ := c.ReadMsgUnix(make([]byte, 1<<16), oob)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := unix.ParseUnixRights(&m)
			for _, fd := range fds {
				unix.Close(fd)
			}
		}
		json.NewEncoder(c).Encode(agentReply{Started: true})
		time.Sleep(300 * time.Millisecond)
	}()
	master, slave, err := openPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	before, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	sawRaw := make(chan bool, 1)
	go func() {
		for i := 0; i < 100; i++ {
			if tm, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err == nil && tm.Lflag&unix.ICANON == 0 {
				sawRaw <- true
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		sawRaw <- false
	}()
	if _, err := s.RunBooted(id, RunOptions{Args: []string{"true"}}, slave, slave, slave, nil); err == nil {
		t.Errorf("run with an agent that went away after start: no error")
	}
	if !<-sawRaw {
		t.Errorf("the caller's terminal was never raw: the test does not test what it should")
	}
	if after, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); after == nil || *after != *before {
		t.Errorf("the caller's terminal is not as it was after the agent went away")
	}
}
