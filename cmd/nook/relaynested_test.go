package main

import (
	"io"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRelayNestedUnmappedOwner: nook run as root of a user namespace (so
// it makes no user namespace of its own and keeps every capability there)
// given a stdout pipe whose owner that namespace does not map. Its
// CAP_DAC_OVERRIDE does not cover such an inode, so the command could not
// reopen the pipe: it must be relayed (`echo >/dev/stdout` works).
func TestRelayNestedUnmappedOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP (not root): the test needs a pipe of a user the sandbox does not map, and only root can give one away; CI runs this as root")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// 12345: no one the outer namespace (root onto root) maps.
	if err := unix.Fchown(int(w.Fd()), 12345, 12345); err != nil {
		t.Fatalf("give the pipe away: %v", err)
	}
	bin := nookAsBwrap(t)
	cmd := exec.Command(bin, "--unshare-user", "--unshare-pid", "--uid", "0", "--gid", "0", "--cap-add", "ALL",
		"--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--",
		nookBin, "run", "--ro-bind", "/", "/", "--dev", "/dev", "--", "sh", "-c", "echo reopened >/dev/stdout")
	cmd.Stdout = w
	errOut, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out, _ := io.ReadAll(r)
	err = cmd.Wait()
	e, _ := os.ReadFile(errOut.Name())
	if err != nil || string(out) != "reopened\n" {
		t.Errorf("nested nook with an unmapped owner's stdout: %v, stdout %q, stderr %q", err, out, e)
	}
}
