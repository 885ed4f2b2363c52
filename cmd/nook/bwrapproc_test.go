package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Differential tests that need to act while the sandbox runs: lock files
// seen from outside, the order of --info-fd and --block-fd, an id map
// written by the caller for --userns-block-fd, --sync-fd's end of file,
// and signals. Each runs the same steps against /usr/bin/bwrap and nook.

// bothBwraps runs f once for the real bwrap and once for nook-as-bwrap.
func bothBwraps(t *testing.T, f func(t *testing.T, bin string) string) {
	needRealBwrap(t)
	nk := nookAsBwrap(t)
	bw := f(t, realBwrap)
	got := f(t, nk)
	if bw != got {
		t.Errorf("nook differs from bwrap\nbwrap: %q\nnook:  %q", bw, got)
	}
}

// deadlockGuard kills cmd if the test has not finished with it after a
// generous while: a hang is then a failure with a message, not a CI timeout.
func deadlockGuard(t *testing.T, cmd *exec.Cmd) func() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	go func() {
		<-ctx.Done()
		if ctx.Err() == context.DeadlineExceeded && cmd.Process != nil {
			cmd.Process.Kill()
			t.Errorf("%s hung", cmd.Path)
		}
	}()
	return cancel
}

func bwrapCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + os.Getenv("HOME"), "LANG=C"}
	cmd.Dir = "/"
	return cmd
}

// lockHolder reports what F_GETLK says about path: "unlocked" or the type
// of lock someone else holds.
func lockHolder(t *testing.T, path string) string {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	switch lk.Type {
	case unix.F_UNLCK:
		return "unlocked"
	case unix.F_RDLCK:
		return "read-locked"
	}
	return fmt.Sprintf("lock type %d", lk.Type)
}

func TestBwrapLockFile(t *testing.T) {
	bothBwraps(t, func(t *testing.T, bin string) string {
		lock := filepath.Join(t.TempDir(), "lock")
		os.WriteFile(lock, nil, 0o644)
		cmd := bwrapCmd(bin, "--ro-bind", "/", "/", "--lock-file", lock, "sh", "-c", "echo ready; read x; echo done")
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer deadlockGuard(t, cmd)()
		r := bufio.NewReader(stdout)
		ready, _ := r.ReadString('\n')
		during := lockHolder(t, lock)
		stdin.Close()
		rest, _ := io.ReadAll(r)
		err := cmd.Wait()
		return fmt.Sprintf("%s%s %s err=%v after=%s", ready, during, rest, err, lockHolder(t, lock))
	})
}

// TestBwrapInfoBeforeBlock: the caller reads --info-fd to its end before
// it releases --block-fd. A sandbox that reported only after the block
// would hang here.
func TestBwrapInfoBeforeBlock(t *testing.T) {
	bothBwraps(t, func(t *testing.T, bin string) string {
		infoR, infoW, _ := os.Pipe()
		blockR, blockW, _ := os.Pipe()
		cmd := bwrapCmd(bin, "--unshare-pid", "--ro-bind", "/", "/", "--info-fd", "3", "--block-fd", "4", "sh", "-c", "echo ran")
		cmd.ExtraFiles = []*os.File{infoW, blockR}
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer deadlockGuard(t, cmd)()
		infoW.Close()
		blockR.Close()
		info, _ := io.ReadAll(infoR)
		var m map[string]int64
		if err := json.Unmarshal(info, &m); err != nil || m["child-pid"] <= 0 || m["pid-namespace"] == 0 {
			t.Errorf("%s: info %q: %v", bin, info, err)
		}
		blockW.Write([]byte("x"))
		blockW.Close()
		err := cmd.Wait()
		return fmt.Sprintf("%s err=%v members=%d", out.String(), err, len(m))
	})
}

// TestBwrapUserNSBlockFd: the caller writes the sandbox's id maps itself
// (as a launcher with newuidmap would), then releases it.
func TestBwrapUserNSBlockFd(t *testing.T) {
	bothBwraps(t, func(t *testing.T, bin string) string {
		infoR, infoW, _ := os.Pipe()
		blockR, blockW, _ := os.Pipe()
		cmd := bwrapCmd(bin, "--unshare-user", "--ro-bind", "/", "/", "--info-fd", "3", "--userns-block-fd", "4",
			"sh", "-c", "id -u; id -g; cat /proc/self/uid_map")
		cmd.ExtraFiles = []*os.File{infoW, blockR}
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer deadlockGuard(t, cmd)()
		infoW.Close()
		blockR.Close()
		info, _ := io.ReadAll(infoR)
		var m map[string]int
		if err := json.Unmarshal(info, &m); err != nil {
			t.Fatalf("%s: info %q: %v", bin, info, err)
		}
		pid := m["child-pid"]
		write := func(name, content string) {
			if err := os.WriteFile(fmt.Sprintf("/proc/%d/%s", pid, name), []byte(content), 0); err != nil {
				t.Errorf("%s: write %s: %v", bin, name, err)
			}
		}
		write("uid_map", fmt.Sprintf("4321 %d 1\n", os.Getuid()))
		write("setgroups", "deny")
		write("gid_map", fmt.Sprintf("8765 %d 1\n", os.Getgid()))
		blockW.Write([]byte("x"))
		blockW.Close()
		err := cmd.Wait()
		return fmt.Sprintf("%s err=%v", out.String(), err)
	})
}

// TestBwrapSyncFd: the sync fd stays open while the sandbox runs and
// reaches end of file when it ends.
func TestBwrapSyncFd(t *testing.T) {
	bothBwraps(t, func(t *testing.T, bin string) string {
		syncR, syncW, _ := os.Pipe()
		defer syncR.Close()
		cmd := bwrapCmd(bin, "--ro-bind", "/", "/", "--sync-fd", "3", "sh", "-c", "echo ready; read x")
		cmd.ExtraFiles = []*os.File{syncW}
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer deadlockGuard(t, cmd)()
		syncW.Close()
		ready, _ := bufio.NewReader(stdout).ReadString('\n')
		// The command is waiting for stdin: the sync fd must be open.
		fds := []unix.PollFd{{Fd: int32(syncR.Fd()), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 0)
		during := "open"
		if n > 0 {
			during = "closed early"
		}
		stdin.Close()
		err := cmd.Wait()
		b, rerr := io.ReadAll(syncR)
		return fmt.Sprintf("%s%s err=%v after=%q %v", ready, during, err, b, rerr)
	})
}

// TestBwrapSignals: a deliberate difference. bwrap dies of SIGTERM and the
// command never hears of it (with --die-with-parent it is killed); nook
// forwards the signal, so the command can clean up and report its status.
func TestBwrapSignals(t *testing.T) {
	needRealBwrap(t)
	nk := nookAsBwrap(t)
	run := func(bin string) (string, error) {
		cmd := bwrapCmd(bin, "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "sh", "-c",
			`trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 1; done`)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer deadlockGuard(t, cmd)()
		r := bufio.NewReader(stdout)
		r.ReadString('\n')
		cmd.Process.Signal(syscall.SIGTERM)
		rest, _ := io.ReadAll(r)
		return string(rest), cmd.Wait()
	}
	out, err := run(realBwrap)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM || out != "" {
		t.Errorf("bwrap: %q %v, want it killed by SIGTERM with nothing from the command", out, err)
	}
	out, err = run(nk)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 9 || out != "got-term\n" {
		t.Errorf("nook: %q %v, want the command to get SIGTERM and exit 9", out, err)
	}
}

// nsHelper starts a process in a new user namespace (the caller mapped to
// root) with a new pid namespace for its children, as a launcher that
// keeps namespaces for several sandboxes would, and returns fds on both.
func nsHelper(t *testing.T) (userns, pidns *os.File) {
	t.Helper()
	// --kill-child: the namespace's pid 1 (sleep) goes when unshare does.
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child", "sh", "-c", "echo ready; exec sleep 1000")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start unshare(1): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if l, _ := bufio.NewReader(stdout).ReadString('\n'); l != "ready\n" {
		t.Fatalf("unshare(1) did not start: %q", l)
	}
	open := func(name string) *os.File {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", cmd.Process.Pid, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	return open("user"), open("pid_for_children")
}

func nsLink(f *os.File) string {
	l, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	return l
}

func TestBwrapJoinNamespaces(t *testing.T) {
	userns, pidns := nsHelper(t)
	probe := `echo uid=$(id -u); cat /proc/self/uid_map; grep CapEff /proc/self/status
[ "$(readlink /proc/self/ns/user)" = "$HELPER_USER" ] && echo joined-userns
p=$(readlink /proc/self/ns/pid); if [ "$p" = "$HELPER_PID" ]; then echo joined-pidns; elif [ "$p" = "$(readlink /proc/$HOSTPID/ns/pid)" ]; then echo host-pidns; else echo new-pidns; fi
ls /proc/self/fd | tr '\n' ' '`
	for _, c := range []struct {
		name string
		args []string
	}{
		{"userns", w("--userns", "3")},
		{"userns and pidns", w("--userns", "3", "--pidns", "4")},
		{"userns, pidns and a new pid namespace below", w("--userns", "3", "--pidns", "4", "--unshare-pid")},
		{"userns with more namespaces", w("--userns", "3", "--unshare-ipc", "--unshare-net", "--unshare-uts", "--hostname", "joined", "--cap-add", "CAP_NET_ADMIN")},
		{"userns and unshare-user", w("--userns", "3", "--unshare-user")},
		{"userns with uid and gid", w("--userns", "3", "--uid", "0", "--gid", "0")},
		{"userns with a uid that is not mapped", w("--userns", "3", "--uid", "1234")},
	} {
		t.Run(c.name, func(t *testing.T) {
			bothBwraps(t, func(t *testing.T, bin string) string {
				cmd := bwrapCmd(bin, cat(c.args, B, sh(probe))...)
				cmd.Env = append(cmd.Env, "HELPER_USER="+nsLink(userns), "HELPER_PID="+nsLink(pidns), fmt.Sprintf("HOSTPID=%d", os.Getpid()))
				cmd.ExtraFiles = []*os.File{userns, pidns}
				out, err := cmd.Output()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				return fmt.Sprintf("exit %d\n%s", code, out)
			})
		})
	}
}

// TestBwrapUserNS2: --userns names a user namespace, --userns2 one nested
// in it, which the command ends up in.
func TestBwrapUserNS2(t *testing.T) {
	cmd := exec.Command("unshare", "--user", "--map-root-user", "sh", "-c",
		`unshare --user --map-root-user sh -c 'echo ready; exec sleep 1000'`)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start unshare(1): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if l, _ := bufio.NewReader(stdout).ReadString('\n'); l != "ready\n" {
		t.Fatalf("unshare(1) did not start: %q", l)
	}
	// The outer shell's child is the inner unshare, now sleep(1).
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil || len(strings.Fields(string(kids))) != 1 {
		t.Fatalf("find the inner process: %q %v", kids, err)
	}
	inner := strings.Fields(string(kids))[0]
	if pid, err := strconv.Atoi(inner); err == nil {
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	}
	outerNS, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer outerNS.Close()
	innerNS, err := os.Open("/proc/" + inner + "/ns/user")
	if err != nil {
		t.Fatal(err)
	}
	defer innerNS.Close()
	probe := `echo uid=$(id -u); cat /proc/self/uid_map; grep -E '^Cap(Eff|Bnd)' /proc/self/status
[ "$(readlink /proc/self/ns/user)" = "$INNER" ] && echo in-userns2`
	// A deliberate difference: bwrap leaves the capability sets that
	// entering the namespace gave (full bounding set; for root, every
	// capability); nook leaves exactly the kept set, as everywhere else.
	// The Cap lines are compared on their own.
	capLines := regexp.MustCompile(`(?m)^Cap(Eff|Bnd):\t(\w+)\n`)
	var nookCaps []string
	bothBwraps(t, func(t *testing.T, bin string) string {
		c := bwrapCmd(bin, cat(w("--userns", "3", "--userns2", "4"), B, sh(probe))...)
		c.Env = append(c.Env, "INNER="+nsLink(innerNS))
		c.ExtraFiles = []*os.File{outerNS, innerNS}
		out, err := c.CombinedOutput()
		if bin != realBwrap {
			for _, m := range capLines.FindAllStringSubmatch(string(out), -1) {
				nookCaps = append(nookCaps, m[2])
			}
		}
		return fmt.Sprintf("%s err=%v", capLines.ReplaceAllString(string(out), ""), err)
	})
	want := "0000000000000000"
	if os.Geteuid() == 0 {
		want = fmt.Sprintf("%016x", rootCaps(t))
	}
	if len(nookCaps) != 2 || nookCaps[0] != want || nookCaps[1] != want {
		t.Errorf("nook's effective and bounding sets in the second namespace: %v, want %s (the kept set)", nookCaps, want)
	}
}

// rootCaps is the test's own effective capability set.
func rootCaps(t *testing.T) uint64 {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Fatal(err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32
}

// TestNookBwrapSubcommand: "nook bwrap ARGS" is the same face as a binary
// called bwrap.
func TestNookBwrapSubcommand(t *testing.T) {
	out, errOut, code := nook(t, "/", "bwrap", "--ro-bind", "/", "/", "--unshare-uts", "--hostname", "via-subcommand", "hostname")
	if code != 0 || out != "via-subcommand\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, _, code = nook(t, "/", "bwrap", "--help")
	if code != 0 || !strings.HasPrefix(out, "usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	_, errOut, code = nook(t, "/", "bwrap", "--no-such-option")
	if code != 1 || errOut != "bwrap: Unknown option --no-such-option\n" {
		t.Errorf("unknown option: exit %d, %q", code, errOut)
	}
}

// TestBwrapJoinedOnTerminal: started from an interactive shell, a sandbox
// made in a joined user namespace owns the terminal's foreground, so it can
// read from it (a background process group would be stopped by SIGTTIN).
func TestBwrapJoinedOnTerminal(t *testing.T) {
	userns, _ := nsHelper(t)
	nk := nookAsBwrap(t)
	sh := startPtyShell(t, nil, userns)
	ptmx, expect := sh.ptmx, sh.expect
	expect("PROMPT> ")
	fmt.Fprintf(ptmx, "%s --userns 3 --ro-bind / / sh -c 'echo READY; read x; echo GOT=$x'\n", nk)
	expect("READY")
	fmt.Fprintf(ptmx, "hello\n")
	expect("GOT=hello")
	expect("PROMPT> ")
}
