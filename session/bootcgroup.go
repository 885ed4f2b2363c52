package session

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A booted session's systemd needs a cgroup v2 subtree it may manage: the
// caller's delegated one. Which one that is follows one documented rule
// (docs/system-containers.md):
//
//  1. NOOK_CGROUP, when set, names it: a directory of a cgroup v2 mount.
//  2. Otherwise the cgroup nook runs in, when the caller may write to it:
//     what a systemd host gives inside user@UID.service or a scope started
//     with Delegate=yes (systemd-run --user --scope -p Delegate=yes), and
//     what a host without systemd gives when root made a directory, chowned
//     it to the user and started the user's processes in it.
//
// The kernel lets a process move another (itself included) only when it
// may write to the cgroup.procs of the two cgroups' common ancestor, so an
// unprivileged caller can only use a subtree it already runs in: naming
// another in NOOK_CGROUP works for root alone.
//
// Below it each booted session gets nook-session-ID, and in that two
// leaves: supervisor (nook's process) and payload (the container, whose
// cgroup namespace starts there). systemd inside is the only process in its
// tree, so it may enable whatever controllers the host delegated.

// Boot errors, told apart with errors.Is.
var (
	ErrBootNoSubids   = errors.New("a booted session needs a range of 65536 subordinate ids")
	ErrBootAsRoot     = errors.New("nook boots no container as real root")
	ErrBootNoCgroup2  = errors.New("no cgroup v2 hierarchy is mounted (cgroup v1 only): systemd in a container needs cgroup v2")
	ErrBootNoCgroup   = errors.New("no delegated cgroup")
	ErrBootNoSystemd  = errors.New("no systemd in the chroot")
	ErrBootFailed     = errors.New("the container did not boot")
	ErrBootNotRunning = errors.New("the booted session is not running")
	// ErrNetworkNotBooted: begin's NoNetwork is for booted sessions.
	ErrNetworkNotBooted = errors.New("only a booted or long-lived session takes its network at begin")
	// ErrBadBegin: begin options that do not go together.
	ErrBadBegin = errors.New("begin options that do not go together")
)

const cgroup2Magic = 0x63677270

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted and the
// cgroup path (as /proc/self/cgroup gives it) of that mount's root.
func cgroup2Mount() (mnt, root string, err error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	return cgroup2MountIn(b)
}

// cgroup2MountIn is cgroup2Mount for the mountinfo text b.
func cgroup2MountIn(b []byte) (mnt, root string, err error) {
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 || g[0] != "cgroup2" {
			continue
		}
		return unescapeMountinfo(f[4]), unescapeMountinfo(f[3]), nil
	}
	return "", "", ErrBootNoCgroup2
}

// ownCgroup is the directory of the cgroup v2 group this process is in.
func ownCgroup(mnt, root string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			rel, err := filepath.Rel(root, p)
			if err != nil || strings.HasPrefix(rel, "..") {
				return "", fmt.Errorf("%w: this process's cgroup %s is outside the cgroup v2 mount at %s", ErrBootNoCgroup, p, mnt)
			}
			return filepath.Join(mnt, rel), nil
		}
	}
	return "", fmt.Errorf("%w: /proc/self/cgroup has no cgroup v2 line", ErrBootNoCgroup)
}

// writableCgroup reports why dir is not a cgroup v2 directory the caller
// may make groups in and move processes into, or "".
func writableCgroup(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Sprintf("%s: %v", dir, err)
	}
	if st.Type != cgroup2Magic {
		return dir + " is not on a cgroup v2 filesystem"
	}
	for _, p := range []string{dir, filepath.Join(dir, "cgroup.procs")} {
		if err := unix.Access(p, unix.W_OK); err != nil {
			return fmt.Sprintf("%s is not writable by you (%v)", p, err)
		}
	}
	return ""
}

// DelegatedCgroup is the cgroup v2 directory a booted session of the
// caller would be made below, by the rule above, or why there is none.
func DelegatedCgroup() (string, error) { return delegatedCgroup() }

// delegatedCgroup finds the caller's delegated cgroup by the rule above.
func delegatedCgroup() (string, error) {
	mnt, root, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	if d := os.Getenv("NOOK_CGROUP"); d != "" {
		if why := writableCgroup(d); why != "" {
			return "", fmt.Errorf("%w: NOOK_CGROUP: %s", ErrBootNoCgroup, why)
		}
		return filepath.Clean(d), nil
	}
	own, err := ownCgroup(mnt, root)
	if err != nil {
		return "", err
	}
	if why := writableCgroup(own); why != "" {
		return "", fmt.Errorf("%w: nook runs in cgroup %s, which was not delegated to you (%s); on a systemd host start nook inside a delegated scope (systemd-run --user --scope -p Delegate=yes nook session begin --boot ...); elsewhere have root make a cgroup v2 directory, chown it and its cgroup.procs, cgroup.threads and cgroup.subtree_control to you, and start your shell in it, or set NOOK_CGROUP (docs/system-containers.md)",
			ErrBootNoCgroup, own, why)
	}
	return own, nil
}

// sessionCgroup is the cgroup nook makes for session id below deleg.
func sessionCgroup(deleg, id string) string { return filepath.Join(deleg, "nook-session-"+id) }

// makeSessionCgroup makes the session's group with its supervisor and
// payload leaves, and hands down what controllers it can (best effort: a
// parent with processes of its own cannot hand any down).
func makeSessionCgroup(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "supervisor"), filepath.Join(dir, "payload")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("make cgroup %s: %w", d, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")); err == nil {
		for _, c := range strings.Fields(string(b)) {
			os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0)
		}
	}
	return nil
}

// joinCgroup moves this process (every thread) into dir.
func joinCgroup(dir string) error {
	p := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(p, []byte("0"), 0); err != nil {
		return fmt.Errorf("move nook into cgroup %s: %w", dir, err)
	}
	return nil
}

// cgroupPopulated reports whether any process is left in dir's subtree.
func cgroupPopulated(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	return bytes.Contains(b, []byte("populated 1")), nil
}

// killCgroup kills every process in dir's subtree and waits (bounded)
// until none is left: cgroup.kill where the kernel has it (5.14), else
// SIGKILL to each process listed, repeated while new ones appear.
func killCgroup(dir string, bound time.Duration) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	deadline := time.Now().Add(bound)
	for {
		pop, err := cgroupPopulated(dir)
		if err != nil {
			return fmt.Errorf("read cgroup %s: %w", dir, err)
		}
		if !pop {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes are left in cgroup %s after %v", dir, bound)
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.Name() != "cgroup.procs" {
					return nil
				}
				f, err := os.Open(p)
				if err != nil {
					return nil
				}
				defer f.Close()
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					var pid int
					if _, err := fmt.Sscan(sc.Text(), &pid); err == nil && pid > 0 {
						unix.Kill(pid, unix.SIGKILL)
					}
				}
				return nil
			})
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroup removes dir and every group below it, deepest first.
func removeCgroup(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := removeCgroup(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := unix.Rmdir(dir); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}
