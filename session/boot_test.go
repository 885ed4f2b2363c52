package session

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// systemdTarball is made once by test/setup-host.sh with mmdebstrap
// (bookworm minbase with systemd, systemd-sysv and dbus).
const systemdTarball = "/var/cache/nook-ci/bookworm-systemd.tar"

// needBootHost skips, saying why, where this host cannot boot a session
// for the caller: no subordinate ids or no delegated cgroup v2.
func needBootHost(t *testing.T, s *Store) string {
	t.Helper()
	if s.Mode() == IDSingle {
		t.Skip("SKIP (booted sessions need subordinate ids; TestBootNeedsSubids covers this user)")
	}
	if s.Mode() == IDHost {
		t.Skip("SKIP (nook boots no container as real root; TestBootRefusedForRoot covers root)")
	}
	deleg, err := delegatedCgroup()
	if err != nil {
		if os.Getenv("NOOK_TEST_EXPECT_SUBIDS") == "1" || os.Geteuid() == 0 {
			t.Logf("NOTE: CI (test/lib/runtests.sh after test/setup-host.sh) runs this in a delegated cgroup; here: %v", err)
		}
		t.Skipf("SKIP: this host gives no delegated cgroup v2 here: %v", err)
	}
	return deleg
}

// A user without subordinate ids is told what to add, and no session is
// left behind.
func TestBootNeedsSubids(t *testing.T) {
	s := testStore(t)
	if s.Mode() != IDSingle {
		t.Skipf("SKIP: this user has a subordinate range (mode %s); the error is for users without one", s.Mode())
	}
	addTarball(t, s, "bb", busyboxTar(t))
	_, err := s.Begin("bb", BeginOptions{Boot: true})
	if !errors.Is(err, ErrBootNoSubids) {
		t.Fatalf("begin --boot without subordinate ids: %v, want ErrBootNoSubids", err)
	}
	for _, want := range []string{"/etc/subuid", "/etc/subgid", ":100000:65536", "usermod --add-subuids"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say what to add (%q missing): %v", want, err)
		}
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Errorf("a failed begin --boot left sessions: %v", l)
	}
}

// A chroot without systemd is refused before anything runs.
func TestBootNoSystemd(t *testing.T) {
	s := testStore(t)
	needBootHost(t, s)
	addTarball(t, s, "bb", busyboxTar(t))
	_, err := s.Begin("bb", BeginOptions{Boot: true})
	if !errors.Is(err, ErrBootNoSystemd) {
		t.Fatalf("begin --boot of a chroot without systemd: %v, want ErrBootNoSystemd", err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Errorf("a failed begin --boot left sessions: %v", l)
	}
}

// A cgroup the caller was not delegated is refused with the way to get
// one.
func TestBootNoDelegatedCgroup(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("SKIP: root may write to every cgroup; the error is for users")
	}
	s := testStore(t)
	if s.Mode() == IDSingle {
		t.Skip("SKIP: without subordinate ids the subid error comes first (TestBootNeedsSubids)")
	}
	mnt, _, err := cgroup2Mount()
	if err != nil {
		t.Skipf("SKIP: %v", err)
	}
	t.Setenv("NOOK_CGROUP", mnt) // the root group: root's alone
	addTarball(t, s, "bb", busyboxTar(t))
	_, err = s.Begin("bb", BeginOptions{Boot: true})
	if !errors.Is(err, ErrBootNoCgroup) {
		t.Fatalf("begin --boot with NOOK_CGROUP=%s: %v, want ErrBootNoCgroup", mnt, err)
	}
	if !strings.Contains(err.Error(), "not writable") {
		t.Errorf("the error does not say why: %v", err)
	}
	t.Setenv("NOOK_CGROUP", "")
	os.Unsetenv("NOOK_CGROUP")
}

// statusUnit reports, once the boot is over, what systemctl
// is-system-running says and which units failed, into a file of the
// session's tree (a route for this test only: commands into a booted
// session are not there yet).
var statusUnit = []File{
	{Path: "/etc/systemd/system/nook-test-state.service", Mode: 0o644, Data: []byte(`[Unit]
Description=nook test: report the system state
[Service]
ExecStart=/bin/sh -c 'systemctl is-system-running --wait >/var/tmp/nook-state.new 2>&1; systemctl --failed --no-legend --plain >>/var/tmp/nook-state.new 2>&1; cat /proc/1/comm >>/var/tmp/nook-state.new; cat /proc/1/environ | tr "\\0" "\\n" | grep ^container= >>/var/tmp/nook-state.new; cat /run/host/container-manager >>/var/tmp/nook-state.new; mv /var/tmp/nook-state.new /var/tmp/nook-state'
`)},
	{Path: "/etc/systemd/system/multi-user.target.d/nook-test.conf", Mode: 0o644, Data: []byte("[Unit]\nWants=nook-test-state.service\n")},
}

// The real thing: bookworm's systemd boots as the session's pid 1 to a
// running system (no unit failing), a command cannot be run into it by
// setns, end powers it off and leaves no process, cgroup or mount.
func TestBootSystemd(t *testing.T) {
	s := testStore(t)
	deleg := needBootHost(t, s)
	if _, err := os.Stat(systemdTarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if _, err := s.Registry.Add("sd", systemdTarball, nil, ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := s.Begin("sd", BeginOptions{Boot: true, Files: statusUnit})
	if err != nil {
		t.Fatalf("begin --boot: %v", err)
	}
	st := res.State
	t.Logf("begin --boot (with the unpack, once) took %v", time.Since(start))
	var rec bootRecord
	if err := readJSON(filepath.Join(st.Dir, bootRecordFile), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Cgroup != sessionCgroup(deleg, st.ID) {
		t.Errorf("cgroup %s, want %s", rec.Cgroup, sessionCgroup(deleg, st.ID))
	}
	comm, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(rec.Pid1), "comm"))
	if strings.TrimSpace(string(comm)) != "systemd" {
		t.Errorf("the container's pid 1 (host pid %d) is %q, want systemd", rec.Pid1, comm)
	}

	state := filepath.Join(st.upper(), "var/tmp/nook-state")
	var out []byte
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if out, err = os.ReadFile(state); err == nil {
			break
		}
	}
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(st.Dir, bootConsoleLog))
		t.Fatalf("the status unit wrote nothing: %v\nconsole:\n%s", err, log)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[0] != "running" {
		log, _ := os.ReadFile(filepath.Join(st.Dir, bootConsoleLog))
		t.Errorf("systemctl is-system-running: %q, want running; failed units and the rest:\n%s\nconsole:\n%s", lines[0], out, log)
	}
	for _, want := range []string{"systemd", "container=nook", "nook"} {
		if !strings.Contains(string(out), "\n"+want+"\n") && !strings.HasSuffix(string(out), "\n"+want+"\n") {
			t.Errorf("%q missing from what the container saw:\n%s", want, out)
		}
	}

	if _, err := s.Prepare(st.ID, RunOptions{Args: []string{"true"}}); !errors.Is(err, ErrBooted) {
		t.Errorf("a sandbox of its own for a command in a booted session: %v, want ErrBooted", err)
	}

	// Power off through the supervisor, as end does first, to see that
	// systemd went down its own way (not killed).
	began := time.Now()
	if err := stopBoot(st); err != nil {
		t.Fatalf("power off: %v", err)
	}
	if d := time.Since(began); d >= stopTimeout() {
		t.Errorf("power off took %v: the container was killed, not powered off", d)
	}
	log, _ := os.ReadFile(filepath.Join(st.Dir, bootConsoleLog))
	if !strings.Contains(string(log), "Powering off.") {
		t.Errorf("the console shows no power-off:\n%s", log)
	}
	if err := s.End(st.ID, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
	for _, pid := range []int{rec.Supervisor, rec.Pid1} {
		if !processGone(pid) {
			t.Errorf("process %d is still running after end", pid)
		}
	}
	if _, err := os.Stat(rec.Cgroup); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s is still there after end (%v)", rec.Cgroup, err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), st.ID) {
		t.Errorf("a mount of the session is left:\n%s", mi)
	}
}

// Ending a booted session without powering it off first also leaves
// nothing, and a supervisor that was killed leaves nothing either once
// end has run.
func TestBootEndKilledSupervisor(t *testing.T) {
	s := testStore(t)
	addSystemdChroot(t, s)
	res, err := s.Begin("sd", BeginOptions{Boot: true})
	if err != nil {
		t.Fatalf("begin --boot: %v", err)
	}
	var rec bootRecord
	if err := readJSON(filepath.Join(res.State.Dir, bootRecordFile), &rec); err != nil {
		t.Fatal(err)
	}
	unix.Kill(rec.Supervisor, syscall.SIGKILL)
	if err := s.End(res.State.ID, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
	for _, pid := range []int{rec.Supervisor, rec.Pid1} {
		if !processGone(pid) {
			t.Errorf("process %d is still running after end", pid)
		}
	}
	if _, err := os.Stat(rec.Cgroup); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cgroup %s is still there after end (%v)", rec.Cgroup, err)
	}
}

// processGone reports whether pid no longer runs: it does not exist, or
// it is a zombie its new parent (the host's init) has yet to reap. A
// zombie is not waited for: this test's process is not its parent.
func processGone(pid int) bool {
	if err := unix.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// Where the cgroup v2 hierarchy is: unified (systemd's default), hybrid
// (this CI host: v1 controllers, v2 at /sys/fs/cgroup/unified), or none
// (cgroup v1 only: refused with ErrBootNoCgroup2).
func TestCgroup2Mount(t *testing.T) {
	const v1 = "35 24 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n" +
		"40 35 0:35 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory\n" +
		"41 35 0:36 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,xattr,name=systemd\n"
	const hybrid = v1 + "36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
	const unified = "30 24 0:26 /user.slice /sys/fs/cgroup\\040x rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
	for _, c := range []struct {
		name, info, mnt, root string
		err                   error
	}{
		{"v1 only", v1, "", "", ErrBootNoCgroup2},
		{"hybrid", hybrid, "/sys/fs/cgroup/unified", "/", nil},
		{"unified", unified, "/sys/fs/cgroup x", "/user.slice", nil},
	} {
		mnt, root, err := cgroup2MountIn([]byte(c.info))
		if mnt != c.mnt || root != c.root || !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("%s: %q %q %v, want %q %q %v", c.name, mnt, root, err, c.mnt, c.root, c.err)
		}
	}
}

// A boot that does not finish in time is ended, says why, and leaves no
// session, process or cgroup.
func TestBootTimeout(t *testing.T) {
	s := testStore(t)
	deleg := needBootHost(t, s)
	if _, err := os.Stat(systemdTarball); err != nil {
		t.Fatalf("%v: run test/setup-host.sh as root, which makes it with mmdebstrap", err)
	}
	if _, err := s.Registry.Add("sd", systemdTarball, nil, ""); err != nil {
		t.Fatal(err)
	}
	// The unpack first, so that the bound below is the boot's alone.
	if _, _, err := s.Cache.Ensure(systemdTarball, s.Mode(), nil, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOOK_BOOT_TIMEOUT", "1ms")
	_, err := s.Begin("sd", BeginOptions{Boot: true, Name: "slow"})
	if !errors.Is(err, ErrBootFailed) || !strings.Contains(err.Error(), "NOOK_BOOT_TIMEOUT") {
		t.Fatalf("begin --boot with a 1 ms bound: %v, want ErrBootFailed naming NOOK_BOOT_TIMEOUT", err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Errorf("a boot that timed out left sessions: %v", l)
	}
	if _, err := os.Stat(sessionCgroup(deleg, "slow")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a boot that timed out left its cgroup (%v)", err)
	}
}

// runBooted runs a command in a booted session through its agent,
// capturing its output.
func runBooted(t *testing.T, s *Store, id string, o RunOptions, stdin string, sigs <-chan os.Signal) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	files := make([]*os.File, 3)
	for i, n := range []string{"in", "out", "err"} {
		f, err := os.OpenFile(filepath.Join(dir, n), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	files[0].WriteString(stdin)
	files[0].Seek(0, 0)
	code, err := s.RunBooted(id, o, files[0], files[1], files[2], sigs)
	if err != nil {
		t.Fatalf("run %q in booted session: %v", o.Args, err)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out"))
	errb, _ := os.ReadFile(filepath.Join(dir, "err"))
	return string(out), string(errb), code
}

// Commands into a booted container go through the agent inside: they
// reach a service the container runs, see its systemd as pid 1 and its
// state, get stdin, give
// their exit status, run as a user of the container's passwd, are found
// (or not: 127) in its PATH, receive the signals passed on, and cannot
// reach the agent's socket unless root inside.
func TestBootRun(t *testing.T) {
	s := testStore(t)
	addSystemdChroot(t, s)
	// A service: a socket unit on a free port of loopback (the
	// container shares the host's network), answered by a unit per
	// connection.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	service := []File{
		{Path: "/etc/systemd/system/nook-echo.socket", Mode: 0o644, Data: []byte("[Socket]\nListenStream=127.0.0.1:" + port + "\nAccept=yes\n[Install]\nWantedBy=sockets.target\n")},
		{Path: "/etc/systemd/system/nook-echo@.service", Mode: 0o644, Data: []byte("[Service]\nExecStart=/bin/sh -c 'echo served by $(cat /proc/1/comm)'\nStandardOutput=socket\n")},
		{Path: "/etc/systemd/system/sockets.target.d/nook-echo.conf", Mode: 0o644, Data: []byte("[Unit]\nWants=nook-echo.socket\n")},
	}
	res, err := s.Begin("sd", BeginOptions{Boot: true, Files: service})
	if err != nil {
		t.Fatalf("begin --boot: %v", err)
	}
	id := res.State.ID
	if out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + port + "; cat <&3"}}, "", nil); code != 0 || out != "served by systemd\n" {
		t.Errorf("the service on port %s: %d %q (stderr %q), want %q", port, code, out, errOut, "served by systemd\n")
	}
	out, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"sh", "-c", "systemctl is-system-running --wait; cat /proc/1/comm; id -u; exit 3"}}, "", nil)
	if code != 3 || out != "running\nsystemd\n0\n" {
		t.Errorf("state, pid 1, uid, exit: %d %q (stderr %q), want 3 %q", code, out, errOut, "running\nsystemd\n0\n")
	}
	start := time.Now()
	if out, _, code := runBooted(t, s, id, RunOptions{Args: []string{"cat"}}, "through the agent\n", nil); code != 0 || out != "through the agent\n" {
		t.Errorf("cat: %d %q", code, out)
	}
	t.Logf("one command through the agent: %v", time.Since(start))
	if out, _, code := runBooted(t, s, id, RunOptions{Args: []string{"id", "-un"}, User: "nobody"}, "", nil); code != 0 || out != "nobody\n" {
		t.Errorf("-u nobody: %d %q", code, out)
	}
	if out, _, code := runBooted(t, s, id, RunOptions{Args: []string{"pwd"}, Dir: "/etc"}, "", nil); code != 0 || out != "/etc\n" {
		t.Errorf("-d /etc: %d %q", code, out)
	}
	if _, errOut, code := runBooted(t, s, id, RunOptions{Args: []string{"no-such-command"}}, "", nil); code != 127 || !strings.Contains(errOut, "not found") {
		t.Errorf("a missing command: %d %q, want 127 and not found", code, errOut)
	}
	if _, _, code := runBooted(t, s, id, RunOptions{Args: []string{"ls", agentInside}, User: "nobody"}, "", nil); code == 0 {
		t.Errorf("a user other than root inside can list the agent's socket directory")
	}
	// The caller's terminal (another session's controlling terminal, as
	// the caller's is its shell's) on stdin, stdout and stderr: the
	// command gets a terminal of the container's own, of the caller's
	// size, as its controlling terminal; the caller's is raw meanwhile
	// and as it was afterwards.
	master, slave, err := openPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	holder := exec.Command("sleep", "60")
	holder.Stdin = slave
	holder.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77})
	before, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	screen := make(chan string, 1)
	go func() {
		// Read until the test closes the master (the slave stays open
		// in the holder): what the command wrote, with the pty's \r\n.
		var b []byte
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil || strings.Contains(string(b), "END") {
				break
			}
		}
		screen <- string(b)
	}()
	code, err = s.RunBooted(id, RunOptions{Args: []string{"sh", "-c", `tty; stty size; set -- $(cat /proc/$$/stat); echo ctty=$7; [ -t 2 ] && echo stderr-tty; echo END`}, User: "nobody"}, slave, slave, slave, nil)
	if err != nil || code != 0 {
		t.Errorf("a command with the caller's terminal: %d %v", code, err)
	}
	var got string
	select {
	case got = <-screen:
	case <-time.After(10 * time.Second):
		t.Errorf("no END on the caller's terminal (run: %d %v)", code, err)
	}
	if !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "33 77\r\n") || !strings.Contains(got, "ctty=") || strings.Contains(got, "ctty=0\r") || !strings.Contains(got, "stderr-tty") {
		t.Errorf("the command's terminal: %q, want a /dev/pts/N as controlling terminal of 33 rows and 77 columns, on stderr too", got)
	}
	if after, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); before == nil || after == nil || *before != *after {
		t.Errorf("the caller's terminal is not as it was after the command")
	}
	// A process the command leaves running keeps nothing of the
	// caller's: run returns when the command ends, and the caller's
	// pipe ends when the caller closes its end.
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	code, err = s.RunBooted(id, RunOptions{Args: []string{"sh", "-c", "sleep 60 & echo left"}}, devnull(t), outW, outW, nil)
	outW.Close()
	if err != nil || code != 0 {
		t.Errorf("sh leaving sleep behind: %d %v", code, err)
	}
	left := make(chan string, 1)
	go func() { b, _ := io.ReadAll(outR); left <- string(b) }()
	select {
	case g := <-left:
		if g != "left\n" {
			t.Errorf("sh leaving sleep behind wrote %q, want left", g)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("the caller's pipe is still open 10 s after run returned (%v): a process left inside holds it", time.Since(start))
		outR.Close()
	}
	sigs := make(chan os.Signal, 1)
	go func() { time.Sleep(500 * time.Millisecond); sigs <- syscall.SIGTERM }()
	if _, _, code := runBooted(t, s, id, RunOptions{Args: []string{"sleep", "60"}}, "", sigs); code != 128+int(syscall.SIGTERM) {
		t.Errorf("sleep sent SIGTERM: exit %d, want %d", code, 128+int(syscall.SIGTERM))
	}
	if err := s.End(id, nil); err != nil {
		t.Fatalf("end: %v", err)
	}
}

// The container's root can put anything where the agent's socket goes:
// nook connects only to a socket there, never through a link to another
// one of the host's.
func TestAgentSocketNotFollowed(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, agentDir), 0o700); err != nil {
		t.Fatal(err)
	}
	// A socket of the host's that a link points to.
	other := filepath.Join(dir, "other")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: other, Net: "unix"})
	if err != nil {
		t.Skipf("SKIP: cannot make a socket in %s: %v", dir, err)
	}
	defer l.Close()
	if err := os.Symlink(other, filepath.Join(dir, agentDir, agentSocket)); err != nil {
		t.Fatal(err)
	}
	if c, err := dialAgentOnce(filepath.Join(dir, agentDir, agentSocket)); err == nil {
		c.Close()
		t.Fatalf("connected through a link at the agent's socket")
	}
	os.Remove(filepath.Join(dir, agentDir, agentSocket))
	if err := os.Rename(other, filepath.Join(dir, agentDir, agentSocket)); err != nil {
		t.Fatal(err)
	}
	c, err := dialAgentOnce(filepath.Join(dir, agentDir, agentSocket))
	if err != nil {
		t.Fatalf("a real socket there: %v", err)
	}
	c.Close()
}

// Real root is refused: without a user namespace the container's root
// would be the host's (found by review: from inside, open_by_handle_at
// read the host's files and a remount of /proc/sys wrote a host sysctl).
func TestBootRefusedForRoot(t *testing.T) {
	s := testStore(t)
	if s.Mode() != IDHost {
		t.Skipf("SKIP: this store's mode is %s; the refusal is for real root", s.Mode())
	}
	addTarball(t, s, "bb", busyboxTar(t))
	_, err := s.Begin("bb", BeginOptions{Boot: true})
	if !errors.Is(err, ErrBootAsRoot) {
		t.Fatalf("begin --boot as real root: %v, want ErrBootAsRoot", err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Errorf("a refused begin --boot left sessions: %v", l)
	}
}

func devnull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// --no-network at begin: the booted container has only loopback for its
// whole life (a service it runs cannot reach the host's network); without
// --boot it is refused, since an ordinary session's commands choose their
// network each.
func TestBootNoNetwork(t *testing.T) {
	s := testStore(t)
	addTarball(t, s, "bb", busyboxTar(t))
	if _, err := s.Begin("bb", BeginOptions{NoNetwork: true}); !errors.Is(err, ErrNetworkNotBooted) {
		t.Errorf("begin --no-network without --boot: %v, want ErrNetworkNotBooted", err)
	}
	needBootHost(t, s)
	if _, err := s.Registry.Add("sd", systemdTarball, nil, ""); err != nil {
		t.Fatal(err)
	}
	res, err := s.Begin("sd", BeginOptions{Boot: true, NoNetwork: true})
	if err != nil {
		t.Fatalf("begin --boot --no-network: %v", err)
	}
	defer s.End(res.State.ID, nil)
	out, errOut, code := runBooted(t, s, res.State.ID, RunOptions{Args: []string{"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; cat /sys/class/net/lo/operstate"}}, "", nil)
	if code != 0 || (out != "lo\nunknown\n" && out != "lo\nup\n") {
		t.Errorf("interfaces in the container: %d %q (stderr %q), want lo alone, up", code, out, errOut)
	}
	if err := s.End(res.State.ID, nil); err != nil {
		t.Errorf("end: %v", err)
	}
}
