package attack

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSharedPropagationKeepsSharedHostMountApart: a host directory that
// is a shared mount point (a peer group of the host's, as systemd makes /
// and everything under it) bound into a sandbox with --propagation shared:
// a tmpfs the command mounts on the bind never shows on the host, and its
// file stays inside, with and without a user namespace, on both engines.
// TestMountPropagationOut's host directory is a private mount (or none),
// where nothing could propagate whatever nook did; here the copy nook
// binds is first a peer of the host's mount, so only nook's making its
// namespace a slave of the host's before sharing it keeps the host apart
// (with that MS_SLAVE aimed at /proc instead of /, in both engines, the
// cases without a user namespace fail here, shared or private, while
// TestMountPropagationOut still passes). Root only: only root makes a
// host mount shared.
func TestSharedPropagationKeepsSharedHostMountApart(t *testing.T) {
	if !isRoot() {
		t.Skip("only root can make a host mount point shared")
	}
	base := tempDir(t)
	root := attackerRoot(t, base)
	hostDir := filepath.Join(base, "shared")
	must(t, os.MkdirAll(hostDir, 0o777))
	must(t, unix.Mount(hostDir, hostDir, "", unix.MS_BIND, ""))
	defer unix.Unmount(hostDir, unix.MNT_DETACH)
	must(t, unix.Mount("", hostDir, "", unix.MS_SHARED, ""))
	hostMounts := func() int {
		mi, _ := os.ReadFile("/proc/self/mountinfo")
		return strings.Count(string(mi), " "+hostDir)
	}
	before := hostMounts()
	for _, engine := range []string{"raw", "init"} {
		for _, ns := range [][]string{nil, {"--userns", "always"}} {
			for _, prop := range []string{"shared", "private"} {
				name := engine + "/userns-" + map[bool]string{true: "always", false: "none"}[ns != nil] + "/" + prop
				t.Run(name, func(t *testing.T) {
					args := append([]string{"run"}, ns...)
					args = append(args, "--propagation", prop, "--bind", root, "/", "--proc", "/proc", "--dev", "/dev",
						"--bind", hostDir, "/shared", "--cap-add", "CAP_SYS_ADMIN", "--", "/attack", "-attack-helper", "mount", "/shared")
					cmd := exec.Command(nookBin, args...)
					cmd.Dir = "/"
					cmd.Env = append(os.Environ(), "NOOK_ENGINE="+engine)
					in, err := cmd.StdinPipe()
					must(t, err)
					outp, err := cmd.StdoutPipe()
					must(t, err)
					must(t, cmd.Start())
					line, _ := bufio.NewReader(outp).ReadString('\n')
					if line != "mounted\n" {
						in.Close()
						cmd.Wait()
						t.Fatalf("the command could not mount on its bind (%q): the attack tests nothing", line)
					}
					if n := hostMounts(); n != before {
						t.Errorf("a mount made inside appeared on the host's shared mount while the sandbox runs (%d mounts at %s, want %d)", n, hostDir, before)
					}
					if _, err := os.Stat(filepath.Join(hostDir, "planted")); err == nil {
						t.Errorf("a file written on the command's own mount reached the host")
						os.Remove(filepath.Join(hostDir, "planted"))
					}
					in.Close()
					cmd.Wait()
					if n := hostMounts(); n != before {
						t.Errorf("a mount made inside stayed on the host (%d mounts at %s, want %d)", n, hostDir, before)
						for hostMounts() > before {
							if unix.Unmount(hostDir, unix.MNT_DETACH) != nil {
								break
							}
						}
					}
				})
			}
		}
	}
}
