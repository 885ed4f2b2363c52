package main

import (
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRelayStalledReaderSIGTERM: `nook run ... | sleep infinity` with a
// relayed stdout (a pipe the command cannot reopen: mode 000 and no
// capabilities), sent SIGTERM while the command blocks on the full pipe.
// nook forwards it, the command dies, and nook exits soon after, dropping
// what its relay held, as it does without a relay; before, it waited for
// the reader (for ever here).
func TestRelayStalledReaderSIGTERM(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := unix.Fchmod(int(r.Fd()), 0); err != nil {
		t.Fatalf("fchmod a pipe: %v", err)
	}
	cmd := exec.Command(nookBin, "run", "--cap-drop", "ALL", "--", "sh", "-c", "head -c 300000 /dev/zero")
	cmd.Stdout = w
	errOut, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errOut.Close()
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ); err == nil && n > 0 { // FIONREAD
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("nothing reached nook's stdout in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // nook's relay holds the rest now
	cmd.Process.Signal(unix.SIGTERM)
	select {
	case err := <-exited:
		e, _ := os.ReadFile(errOut.Name())
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 128+int(unix.SIGTERM) {
			t.Errorf("nook run: %v, want exit status %d; stderr %q", err, 128+int(unix.SIGTERM), e)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("nook run did not exit within 5s of SIGTERM: its relay waits for a reader that never reads")
		io.Copy(io.Discard, r)
		<-exited
	}
}
