package procpid

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nook-project/nook/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// TestMain: with PROCPID_TEST_CHILD set, the binary is the child of
// TestTranslateForeignProc, pid 1 of a new pid namespace under the
// host's /proc; it reports what it sees on stdout.
func TestMain(m *testing.M) {
	switch os.Getenv("PROCPID_TEST_CHILD") {
	case "1":
		os.Exit(child())
	case "eperm":
		os.Exit(epermChild())
	}
	os.Exit(m.Run())
}

func child() int {
	self, err := os.Readlink("/proc/self")
	if err != nil {
		println(err.Error())
		return 1
	}
	own, err := Own()
	if err != nil {
		println(err.Error())
		return 1
	}
	mine, err := Translate(os.Getpid())
	if err != nil {
		println(err.Error())
		return 1
	}
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		println(err.Error())
		return 1
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	dir, err := Dir(sleep.Process.Pid)
	if err != nil {
		println(err.Error())
		return 1
	}
	comm, err := os.ReadFile(dir + "/comm")
	if err != nil {
		println(err.Error())
		return 1
	}
	os.Stdout.WriteString(strings.Join([]string{strconv.Itoa(os.Getpid()), self, strconv.Itoa(mine), strconv.FormatBool(own), strings.TrimSpace(string(comm))}, " ") + "\n")
	return 0
}

// TestTranslateOwnProc: where /proc is this pid namespace's, a pid stands
// as it is.
func TestTranslateOwnProc(t *testing.T) {
	own, err := Own()
	if err != nil {
		t.Fatal(err)
	}
	if !own {
		t.Skip("SKIP: this test runs under a /proc of another pid namespace")
	}
	got, err := Translate(os.Getpid())
	if err != nil || got != os.Getpid() {
		t.Errorf("Translate(%d) = %d, %v; want it unchanged", os.Getpid(), got, err)
	}
	if _, err := Translate(0); err == nil {
		t.Error("Translate(0): no error")
	}
}

// TestTranslateForeignProc: pid 1 of a new pid namespace that kept the
// host's /proc finds itself and its child there under their host pids.
func TestTranslateForeignProc(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PROCPID_TEST_CHILD=1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	out, err := cmd.Output()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSPC) {
		t.Skipf("SKIP: no user and pid namespace here: %v", err)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 5 {
		t.Fatalf("child said %q", out)
	}
	if f[0] != "1" {
		t.Errorf("child's own pid %s, want 1", f[0])
	}
	if f[1] != strconv.Itoa(cmd.Process.Pid) || f[2] != f[1] {
		t.Errorf("child: /proc/self is %s, Translate(1) = %s; want both %d", f[1], f[2], cmd.Process.Pid)
	}
	if f[3] != "false" {
		t.Errorf("child: Own() = %s under the host's /proc", f[3])
	}
	if f[4] != "sleep" {
		t.Errorf("child: its child's /proc dir shows %q, want sleep", f[4])
	}
}

// TestFdinfoPidFailsClosed: a process /proc does not show (Pid 0: its
// namespace is not under /proc's) or no longer has (-1), or an fdinfo
// without a Pid line, is ErrNotInProc, never a pid to act on.
func TestFdinfoPidFailsClosed(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		err  error
	}{
		{"pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1234\nPid:\t4321\nNSpid:\t4321\t7\n", 4321, nil},
		{"pos:\t0\nPid:\t0\nNSpid:\t0\n", 0, ErrNotInProc},
		{"pos:\t0\nPid:\t-1\nNSpid:\t-1\n", 0, ErrNotInProc},
		{"pos:\t0\nflags:\t02000002\n", 0, ErrNotInProc},
	} {
		got, err := fdinfoPid([]byte(c.in))
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("fdinfoPid(%q) = %d, %v; want %d, %v", c.in, got, err, c.want, c.err)
		}
	}
}

// epermChild refuses itself pidfd_open with EPERM, as a container's
// seccomp profile may, and translates its own pid under its own /proc.
func epermChild() int {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		println(err.Error())
		return 1
	}
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_PIDFD_OPEN},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	if err := seccomp.Install(prog); err != nil {
		println(err.Error())
		return 1
	}
	if _, err := unix.PidfdOpen(os.Getpid(), 0); !errors.Is(err, unix.EPERM) {
		println("pidfd_open was not refused:", err)
		return 1
	}
	got, err := Translate(os.Getpid())
	if err != nil {
		println(err.Error())
		return 2
	}
	if got != os.Getpid() {
		println("Translate gave", got, "for", os.Getpid())
		return 2
	}
	return 0
}

// TestTranslateWithoutPidfd: a seccomp profile that refuses pidfd_open
// (EPERM) does not break translation where /proc is this namespace's,
// where none is needed. (Found by review: Translate failed, and with it
// every id-map write, under such a profile.)
func TestTranslateWithoutPidfd(t *testing.T) {
	own, err := Own()
	if err != nil {
		t.Fatal(err)
	}
	if !own {
		t.Skip("SKIP: this test runs under a /proc of another pid namespace")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "PROCPID_TEST_CHILD=eperm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child under a profile refusing pidfd_open: %v\n%s", err, out)
	}
}
