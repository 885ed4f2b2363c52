package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMkosiSuspend: --suspend, newer than mkosi 25.3, as mkosi-sandbox(1)
// on mkosi's main branch documents it: the process its caller started
// stops itself with SIGSTOP once the sandbox is set up and before the
// command runs; the caller sees the stop with waitid(WSTOPPED|WNOWAIT)
// and continues it with SIGCONT. Checked for nook as mkosi-sandbox and for
// `nook run --suspend`. (Not a differential case: runCase would wait for
// ever on the stopped nook, and 25.3 only refuses the option.)
func TestMkosiSuspend(t *testing.T) {
	if _, err := os.Stat(realMkosiSandbox); err == nil {
		out, err := exec.Command(realMkosiSandbox, "--suspend", "--ro-bind", "/", "/", "true").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Unrecognized option") {
			t.Errorf("mkosi-sandbox 25.3 was expected to refuse --suspend: %v: %s", err, out)
		}
	} else {
		t.Logf("SKIP LOUDLY: no mkosi-sandbox 25.3 at %s: its refusal of --suspend not checked", realMkosiSandbox)
	}
	nk := nookAsMkosi(t)
	for _, c := range []struct {
		name string
		argv func(dir string) []string
	}{
		{"mkosi-sandbox", func(dir string) []string {
			return []string{nk, "--suspend", "--ro-bind", "/", "/", "--bind", dir, "/d", "sh", "-c", "echo ran >/d/ran"}
		}},
		{"nook run", func(dir string) []string {
			return []string{nookBin, "run", "--suspend", "--bind", dir, "/d", "--", "sh", "-c", "echo ran >/d/ran"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Chmod(dir, 0o777)
			argv := c.argv(dir)
			cmd := exec.Command(argv[0], argv[1:]...)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			pid := cmd.Process.Pid
			ws, err := waitStopOrExit(pid, 30*time.Second)
			if err != nil {
				t.Fatalf("wait for nook to stop: %v", err)
			}
			if !ws.Stopped() || ws.StopSignal() != unix.SIGSTOP {
				cmd.Process.Release() // reaped already
				t.Fatalf("nook did not stop: wait status %#x; stderr %q", ws, errb.String())
			}
			if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
				t.Errorf("the command ran before nook was continued")
			}
			// Set up: the sandbox's process exists, in its own mount
			// namespace.
			// (Children are listed per thread: nook forks from a locked one.)
			var kids []byte
			tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
			for _, p := range tasks {
				b, _ := os.ReadFile(p)
				kids = append(kids, b...)
			}
			f := strings.Fields(string(kids))
			if len(f) != 1 {
				t.Errorf("nook's children while stopped: %q, want one", kids)
			} else {
				ours, _ := os.Readlink("/proc/self/ns/mnt")
				theirs, err := os.Readlink("/proc/" + f[0] + "/ns/mnt")
				if err != nil || theirs == ours {
					t.Errorf("the sandbox's process is not in a mount namespace of its own while nook is stopped: %q %v", theirs, err)
				}
			}
			if err := unix.Kill(pid, unix.SIGCONT); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("nook after SIGCONT: %v; stderr %q", err, errb.String())
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "ran")); string(b) != "ran\n" {
				t.Errorf("the command did not run after SIGCONT: %q", b)
			}
		})
	}
	// A set-up failure ends nook without a stop, as sandbox.py fails
	// (a traceback) before it stops itself.
	t.Run("set-up fails", func(t *testing.T) {
		cmd := exec.Command(nk, "--suspend", "--ro-bind", "/nonexistent-nook-test", "/x", "true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		ws, err := waitStopOrExit(cmd.Process.Pid, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !ws.Exited() || ws.ExitStatus() != 125 {
			t.Errorf("wait status %#x, want an exit with 125", ws)
		}
		if ws.Stopped() {
			unix.Kill(cmd.Process.Pid, unix.SIGCONT)
			cmd.Wait()
		} else {
			cmd.Process.Release() // reaped already
		}
	})
}

// waitStopOrExit waits for pid to stop (not reaping it) or to end
// (reaping it), as a caller of mkosi-sandbox --suspend does.
func waitStopOrExit(pid int, limit time.Duration) (unix.WaitStatus, error) {
	type res struct {
		ws  unix.WaitStatus
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var r res
		for {
			_, r.err = unix.Wait4(pid, &r.ws, unix.WUNTRACED, nil)
			if r.err != unix.EINTR {
				break
			}
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		return r.ws, r.err
	case <-time.After(limit):
		unix.Kill(pid, unix.SIGKILL)
		return 0, os.ErrDeadlineExceeded
	}
}
