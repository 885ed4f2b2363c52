package attack

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestKeyringIsolated: the command can neither read the caller's session
// keyring (a key the caller added there) nor leave a key in it, or in the
// caller's user keyring, that outlives the sandbox. runc joins a fresh
// anonymous session keyring per container for the same reason. The caller
// is a wrapper (this binary, "keyring-caller") that joins a session keyring
// of its own, adds the secret, runs nook and looks at its keyrings after.
func TestKeyringIsolated(t *testing.T) {
	needStaticSelf(t)
	base := tempDir(t)
	root := attackerRoot(t, base)
	kinds := map[string][]string{
		"run":         append(append([]string{"run"}, userns()...), "--bind", root, "/", "--proc", "/proc", "--dev", "/dev"),
		"run-default": append([]string{"run"}, userns()...),
		"bwrap":       {"bwrap", "--unshare-user", "--unshare-pid", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev"},
	}
	for name, args := range kinds {
		t.Run(name, func(t *testing.T) {
			helperPath := "/attack"
			if name == "run-default" {
				helperPath = selfBin
			}
			for _, env := range [][]string{nil, {"NOOK_ENGINE=init"}} {
				cmd := exec.Command(selfBin, append([]string{"-attack-helper", "keyring-caller", nookBin}, append(args, "--", helperPath, "-attack-helper", "keyring")...)...)
				cmd.Env = append(os.Environ(), env...)
				cmd.Dir = base
				out, err := cmd.CombinedOutput()
				r := result{out: string(out)}
				if err != nil {
					r.code = 1
				}
				noHarm(t, fmt.Sprintf("%s %v", name, env), r)
				if !strings.Contains(r.out, "inside done") {
					t.Errorf("%s %v: the helper inside did not run: %s", name, env, out)
				}
			}
		})
	}
}

// helperKeyringCaller is the caller of TestKeyringIsolated: args are nook
// and its arguments.
func helperKeyringCaller(args []string) {
	// Keyrings are per thread: join, add and fork from this one.
	runtime.LockOSThread()
	if _, err := unix.KeyctlJoinSessionKeyring("nook-attack"); err != nil {
		fmt.Println("SKIP join a session keyring:", err)
		fmt.Println("done")
		return
	}
	if _, err := unix.AddKey("user", "nook-secret", []byte("s3cret"), unix.KEY_SPEC_SESSION_KEYRING); err != nil {
		fmt.Println("add the secret:", err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Println("nook:", err)
	}
	for _, ring := range []int{unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_USER_KEYRING} {
		if id, err := unix.KeyctlSearch(ring, "user", "nook-planted", 0); err == nil {
			fmt.Printf("HARM key %d planted in the caller's keyring %d\n", id, ring)
			unix.KeyctlInt(unix.KEYCTL_UNLINK, id, ring, 0, 0)
		}
	}
	fmt.Println("done")
}

// helperKeyring is the command: read the caller's secret, plant a key.
func helperKeyring() {
	for _, ring := range []int{unix.KEY_SPEC_SESSION_KEYRING, unix.KEY_SPEC_USER_SESSION_KEYRING, unix.KEY_SPEC_USER_KEYRING} {
		if id, err := unix.KeyctlSearch(ring, "user", "nook-secret", 0); err == nil {
			buf := make([]byte, 64)
			n, _ := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
			fmt.Printf("HARM read the caller's key %d through keyring %d: %q\n", id, ring, buf[:max(n, 0)])
		}
		unix.AddKey("user", "nook-planted", []byte("x"), ring)
	}
	fmt.Println("inside done")
}
