package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startMkosiWithExecFd starts nook as mkosi-sandbox the way mkosi 25.3's
// run.py spawn() starts every sandboxed command: the write end of a pipe
// passed as fd 3 and "--exec-fd 3 --" before the command. It returns the
// pipe's read end (nook's and the caller's write ends closed), the
// command's stdin and the running process.
func startMkosiWithExecFd(t *testing.T, args ...string) (execR *os.File, stdin io.WriteCloser, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(nookBin, append([]string{"mkosi-sandbox"}, args...)...)
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{w}
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return r, stdin, cmd, out
}

// TestMkosiExecFdClosedOnceStarted: --exec-fd FD is mkosi 25.3's way of
// learning that the command was executed (sandbox.py marks FD
// close-on-exec; run.py waits for the end of the pipe before it yields
// the process and feeds it input). nook runs the command as a child, so
// it must close its own FD once the command runs: holding it until the
// command ends makes mkosi wait on a command that waits on mkosi (its
// stdin, or a daemon such as swtpm or journal-remote that never ends).
func TestMkosiExecFdClosedOnceStarted(t *testing.T) {
	execR, stdin, cmd, out := startMkosiWithExecFd(t, "--ro-bind", "/", "/", "--exec-fd", "3", "--", "head", "-c", "5")
	defer execR.Close()
	done := make(chan error, 1)
	go func() {
		_, err := execR.Read(make([]byte, 1))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		err = errors.New("no end of the exec pipe after 20 s while the command waits for its input")
	}
	stdin.Write([]byte("hello world"))
	stdin.Close()
	werr := cmd.Wait()
	if err != io.EOF {
		t.Errorf("exec pipe: %v, want EOF before the command gets its input (mkosi 25.3 deadlocks here)", err)
	}
	if werr != nil || out.String() != "hello" {
		t.Errorf("nook: %v, output %q, want exit 0 and %q", werr, out.String(), "hello")
	}
}

// TestMkosiListenPidWithListenFds: mkosi 25.3's run.py sets $LISTEN_FDS
// for the fds it passes ("sandbox.py takes care of setting $LISTEN_PID",
// run.py) and gives no --pack-fds, which 25.3 does not know; sandbox.py
// 25.3 sets $LISTEN_PID to the command's pid whenever $LISTEN_FDS is set.
// Without it sd_listen_fds() in swtpm or systemd-journal-remote (qemu.py)
// sees no fds. The face accepts 25.3's --exec-fd, so it gets 25.3's
// command lines, and these need $LISTEN_PID.
func TestMkosiListenPidWithListenFds(t *testing.T) {
	cmd := exec.Command(nookBin, "mkosi-sandbox", "--ro-bind", "/", "/", "--exec-fd", "4", "--",
		"sh", "-c", `[ "$LISTEN_PID" = $$ ] && echo pid-set || echo "LISTEN_PID=${LISTEN_PID-unset} pid=$$"`)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd.ExtraFiles = []*os.File{null, null}
	got, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(got)) != "pid-set" {
		t.Errorf("nook mkosi-sandbox with LISTEN_FDS=1: %v, %q, want pid-set", err, got)
	}
}
