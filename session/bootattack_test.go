package session

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nook-project/nook/sandbox"
)

// Attacks on the host side of `nook session run` into a booted session:
// the agent's socket is in a directory the container's root writes to, so
// whatever answers there is the container's, not nook's. These tests put
// a listener of their own there (as the container's root can: stop
// nook-agent.service and listen on /run/host/agent/sock) in a session that
// looks booted, with no container at all.

// fakeBooted makes a session that RunBooted takes for a running booted
// one: an ordinary busybox session whose state says boot, with boot.lock
// held (as a live supervisor holds it), and a listener of the test's on
// agent/sock.
func fakeBooted(t *testing.T) (*Store, string, *net.UnixListener) {
	t.Helper()
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t))
	res, err := s.Begin("bb", BeginOptions{})
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	st := res.State
	st.Boot = true
	if err := writeJSONAtomic(filepath.Join(st.Dir, "state.json"), st); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(st.Dir, bootLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the lock goes before testStore's end.
	t.Cleanup(func() { lock.Close() })
	if err := os.Mkdir(filepath.Join(st.Dir, agentDir), 0o700); err != nil {
		t.Fatal(err)
	}
	// Bound in a short directory and renamed into place: the session's
	// path may be longer than a socket address holds.
	short, err := os.MkdirTemp("", "ag")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(short, "s"), Net: "unix"})
	if err != nil {
		t.Skipf("SKIP: cannot make a socket in %s: %v", short, err)
	}
	l.SetUnlinkOnClose(false)
	t.Cleanup(func() { l.Close() })
	if err := os.Rename(filepath.Join(short, "s"), filepath.Join(st.Dir, agentDir, agentSocket)); err != nil {
		t.Fatal(err)
	}
	if !st.BootRunning() {
		t.Fatal("the fake booted session does not look running")
	}
	return s, st.ID, l
}

func devNulls(t *testing.T) [3]*os.File {
	t.Helper()
	var f [3]*os.File
	for i := range f {
		n, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		f[i] = n
	}
	return f
}

// The caller's environment stays on the host: what the agent receives is
// what a session's command may get of it (TERM and the locale), not the
// caller's secrets. nook session run passes os.Environ() as CallerEnv;
// the agent filters it, but the agent is inside, in the container's hands.
func TestRunBootedSendsNoCallerSecrets(t *testing.T) {
	s, id, l := fakeBooted(t)
	got := make(chan []byte, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf := make([]byte, 1<<16)
		oob := make([]byte, unix.CmsgSpace(3*4))
		n, oobn, _, _, _ := c.ReadMsgUnix(buf, oob)
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				fds, _ := unix.ParseUnixRights(&m)
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
		}
		got <- buf[:n]
		exit := 0
		json.NewEncoder(c).Encode(agentReply{Error: "fake agent", Exit: &exit})
	}()
	f := devNulls(t)
	env := []string{"TERM=xterm", "LANG=C.UTF-8", "AWS_SECRET_ACCESS_KEY=hunter2", "SSH_AUTH_SOCK=/run/user/1000/ssh", "HOME=/home/caller"}
	if _, err := s.RunBooted(id, RunOptions{Args: []string{"true"}, CallerEnv: env}, f[0], f[1], f[2], nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	msg := <-got
	line, _, _ := bytes.Cut(msg, []byte("\n"))
	var req agentRequest
	if err := json.Unmarshal(line, &req); err != nil {
		t.Fatalf("the request %q: %v", msg, err)
	}
	for _, kv := range append(append([]string{}, req.CallerEnv...), req.Env...) {
		k, _, _ := strings.Cut(kv, "=")
		if k != "TERM" && k != "LANG" && k != "LANGUAGE" && !strings.HasPrefix(k, "LC_") {
			t.Errorf("the caller's %s went into the container (request %s)", kv, line)
		}
	}
}

// An agent that answers without end (no newline, ever) does not make nook
// hold all of it in memory: an answer line is a few bytes of JSON.
func TestRunBootedBoundsAgentAnswer(t *testing.T) {
	s, id, l := fakeBooted(t)
	const flood = 16 << 20
	sent := make(chan int, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			sent <- 0
			return
		}
		defer c.Close()
		c.ReadMsgUnix(make([]byte, 1<<16), make([]byte, 64))
		chunk := bytes.Repeat([]byte{'x'}, 1<<16)
		total := 0
		for total < flood {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Write(chunk)
			total += n
			if err != nil {
				break
			}
		}
		sent <- total
	}()
	f := devNulls(t)
	_, err := s.RunBooted(id, RunOptions{Args: []string{"true"}}, f[0], f[1], f[2], nil)
	if err == nil {
		t.Errorf("an answer of %d bytes with no end of line was taken", flood)
	}
	if n := <-sent; n >= flood {
		t.Errorf("nook read all %d bytes of an agent's answer line (%v): a hostile agent makes it grow without bound", n, err)
	}
}

// An agent that accepts and never answers leaves nook interruptible: a
// signal the caller sends (Ctrl-C) ends the wait, as it would end a
// command.
func TestRunBootedSilentAgentInterruptible(t *testing.T) {
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
	go func() {
		_, err := s.RunBooted(id, RunOptions{Args: []string{"true"}}, f[0], f[1], f[2], sigs)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	sigs <- syscall.SIGINT
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Errorf("nook still waits for a silent agent 5 s after SIGINT")
		// Let it go: the agent hangs up.
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

// The supervisor holds no fd of begin's caller beyond what it was given:
// a shell's or make's pipe left open across exec would otherwise stay
// open, and its reader wait, until end. (Found by review: the supervisor
// held the reviewer's shell's fd 251.)
func TestBootSupervisorHoldsNoCallerFile(t *testing.T) {
	s := testStore(t)
	addSystemdChroot(t, s)
	// A pipe begin's caller leaves open across exec, as shells and make
	// do.
	var p [2]int
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	var pst unix.Stat_t
	if err := unix.Fstat(p[1], &pst); err != nil {
		t.Fatal(err)
	}
	res, err := s.Begin("sd", BeginOptions{Boot: true})
	if err != nil {
		t.Fatalf("begin --boot: %v", err)
	}
	id := res.State.ID
	defer s.End(id, nil)
	var rec bootRecord
	if err := readJSON(filepath.Join(res.State.Dir, bootRecordFile), &rec); err != nil {
		t.Fatal(err)
	}
	fdDir := filepath.Join("/proc", strconv.Itoa(rec.Supervisor), "fd")
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	want := "pipe:[" + strconv.FormatUint(pst.Ino, 10) + "]"
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join(fdDir, e.Name())); l == want {
			t.Errorf("the supervisor (pid %d) holds begin's caller's pipe as fd %s", rec.Supervisor, e.Name())
		}
	}
	if err := s.End(id, nil); err != nil {
		t.Errorf("end: %v", err)
	}
}

// Only systemd's READY=1 ends the boot: the notify socket is open to any
// user inside (mode 0777), and before the check a service's process
// could end begin's wait early. Found by review 2026-12-03.
func TestWatchNotifyTakesOnlySystemd(t *testing.T) {
	dir, err := os.MkdirTemp("", "nf")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, "n")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := passCred(l); err != nil {
		t.Fatal(err)
	}
	send := func() {
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("STATUS=x\nREADY=1\n"))
	}
	// The sender (this process) is not pid1: ignored.
	w := &bootWatch{}
	go w.run(l)
	ready := w.expect(os.Getpid() + 1)
	send()
	select {
	case <-ready:
		t.Errorf("READY=1 from pid %d was taken for systemd's (pid %d)", os.Getpid(), os.Getpid()+1)
	case <-time.After(300 * time.Millisecond):
	}
	// The next boot's systemd (a reboot): its READY=1 is taken, on
	// the same socket.
	ready2 := w.expect(os.Getpid())
	send()
	select {
	case <-ready2:
	case <-time.After(5 * time.Second):
		t.Errorf("READY=1 from pid1 itself was not taken")
	}
	// A READY=1 that came before its boot's systemd was named (the
	// reader saw it first) is not lost.
	w.expect(os.Getpid() + 2)
	send()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-w.expect(os.Getpid()):
	case <-time.After(time.Second):
		t.Errorf("a READY=1 sent before expect named its sender was lost")
	}
}

// systemd-shutdown's last words decide a reboot from a power-off: the
// last shutdown line counts, a partial line of an earlier boot does not.
func TestShutdownWatch(t *testing.T) {
	for _, c := range []struct {
		console string
		want    bool
	}{
		{"Sending SIGTERM to remaining processes...\r\nRebooting.\r\nExiting container.\r\n", true},
		{"Rebooting.\r\nPowering off.\r\nExiting container.\r\n", false},
		{"Powering off.\r\nExiting container.\r\n", false},
		{"Halting system.\r\nExiting container.\r\n", false},
		{"Exiting container.\r\n", false},
		{"Rebooting.", false}, // no end of line: not a line yet
		{"echo Rebooting. now\n", false},
	} {
		w := &shutdownWatch{}
		w.Write([]byte(c.console))
		if got := w.settledReboot(); got != c.want {
			t.Errorf("console %q: reboot %v, want %v", c.console, got, c.want)
		}
	}
	w := &shutdownWatch{}
	w.Write([]byte("Rebooting.\n"))
	w.reset()
	if w.settledReboot() {
		t.Errorf("reset kept an earlier boot's reboot")
	}
}

// How the kernel and the Go init report a container's reboot.
func TestRebootStatus(t *testing.T) {
	for _, c := range []struct {
		s    sandbox.Status
		want bool
	}{
		{sandbox.Status{Signal: syscall.SIGHUP}, true},
		{sandbox.Status{Code: 129}, true},
		{sandbox.Status{Signal: syscall.SIGINT}, false},
		{sandbox.Status{Code: 0}, false},
		{sandbox.Status{Signal: syscall.SIGKILL}, false},
	} {
		if got := rebootStatus(c.s); got != c.want {
			t.Errorf("rebootStatus(%+v) = %v, want %v", c.s, got, c.want)
		}
	}
}

// console.log stops growing at its bound and says so; the console is
// still read to its end.
func TestCappedLog(t *testing.T) {
	var b bytes.Buffer
	c := &cappedLog{w: &b, left: 10}
	for _, s := range []string{"0123456", "789abc", "def"} {
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("write %q: %d %v", s, n, err)
		}
	}
	if got := b.String(); !strings.HasPrefix(got, "0123456789\n[nook: console.log reached") || strings.Contains(got, "abc") || strings.Count(got, "[nook:") != 1 {
		t.Errorf("capped log: %q", got)
	}
}
