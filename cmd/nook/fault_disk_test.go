package main

import (
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bigTarball makes dir/big.tar.gz holding an incompressible file of size
// bytes beside the busybox tree.
func bigTarball(t *testing.T, dir string, size int) string {
	t.Helper()
	root := filepath.Join(dir, "big-tree")
	os.MkdirAll(filepath.Join(root, "bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("needs /bin/busybox (busybox-static): %v", err)
	}
	os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755)
	os.Symlink("busybox", filepath.Join(root, "bin/sh"))
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	junk := make([]byte, size)
	rand.Read(junk)
	os.WriteFile(filepath.Join(root, "zz-big"), junk, 0o644)
	tarball := filepath.Join(dir, "big.tar.gz")
	if out, err := exec.Command("tar", "--numeric-owner", "--owner=0", "--group=0", "-czf", tarball, "-C", root, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return tarball
}

// TestFaultDiskFull: the cache and sessions on a file system that fills
// up during an unpack, and during a command. Real root gets a 6 MiB tmpfs
// (in a private mount namespace); a user, who cannot mount one, gets the
// same failure from a file size limit (RLIMIT_FSIZE, EFBIG instead of
// ENOSPC). Either way: a clear error, nothing half made, the other session
// unharmed, the next begin works.
func TestFaultDiskFull(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	big := bigTarball(t, e.dir, 8<<20)
	e.must("chroot", "add", "big", big)
	script := `set -u
N=` + nookBin + `
small=$($N session begin bb) || exit 10
$N session run "$small" -- sh -c 'echo kept > /root/kept' || exit 11
` + "$LIMIT" + ` $N session begin big 2>"$ERRF" && exit 12
$N session list | grep -v "^$small" && exit 13
ls -A "$XDG_CACHE_HOME/nook/unpack/entries" | wc -l > "$ENTRIES"
ls -A "$XDG_CACHE_HOME/nook/unpack/tmp" 2>/dev/null | wc -l > "$TMPS"
test "$($N session run "$small" -- cat /root/kept)" = kept || exit 14
# A command that fills the disk (or its size limit) fails by itself; the
# session lives on.
` + "$LIMIT" + ` $N session run "$small" -- sh -c 'cat /bin/busybox /bin/busybox /bin/busybox /bin/busybox > /root/fill' 2>/dev/null && echo "fill succeeded" >&2
$N session run "$small" -- sh -c 'rm -f /root/fill; cat /root/kept' | grep -qx kept || exit 15
$N session end "$small" || exit 16
$N session list | grep . && exit 17
exit 0
`
	errf, entries, tmps := filepath.Join(e.dir, "err"), filepath.Join(e.dir, "entries"), filepath.Join(e.dir, "tmps")
	var cmd *exec.Cmd
	if os.Getuid() == 0 {
		// A tiny tmpfs under the store: the busybox chroot fits, the big
		// one cannot.
		mnt := `mkdir -p "$XDG_CACHE_HOME" "$XDG_STATE_HOME" && mount -t tmpfs -o size=6m tmpfs "$XDG_CACHE_HOME" && mount -t tmpfs -o size=6m tmpfs "$XDG_STATE_HOME" || exit 9
`
		cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", mnt+strings.ReplaceAll(script, "$LIMIT", ""))
	} else {
		cmd = exec.Command("sh", "-c", strings.ReplaceAll(script, "$LIMIT", "prlimit --fsize=4194304"))
	}
	cmd.Env = append(append([]string{}, e.env...), "ERRF="+errf, "ENTRIES="+entries, "TMPS="+tmps)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg, _ := os.ReadFile(errf)
		t.Fatalf("disk-full script: %v\n%s\nbegin's stderr: %s", err, out, msg)
	}
	msg, _ := os.ReadFile(errf)
	t.Logf("begin on a full disk: %s", msg)
	if !strings.Contains(string(msg), "no space left on device") && !strings.Contains(string(msg), "file too large") {
		t.Errorf("begin on a full disk said %q; want the cause (no space / file too large)", msg)
	}
	if os.Getuid() == 0 && !strings.Contains(string(msg), "is full: free space there") {
		// The helper's status says ENOSPC (unpack/proto.ExitNoSpace).
		t.Errorf("begin on a full disk said %q; want what to do about it", msg)
	}
	if n, _ := os.ReadFile(entries); strings.TrimSpace(string(n)) != "1" {
		t.Errorf("%s cache entries after the failed unpack, want 1 (the small chroot's)", strings.TrimSpace(string(n)))
	}
	if n, _ := os.ReadFile(tmps); strings.TrimSpace(string(n)) != "0" {
		t.Errorf("%s half-made unpacks left in the cache's tmp", strings.TrimSpace(string(n)))
	}
	if strings.Contains(string(out), "fill succeeded") {
		t.Errorf("filling the disk from a command did not fail:\n%s", out)
	}
}

// TestFaultReadOnlyStore: a store that cannot be written gives a clear
// error and leaves nothing. Real root gets a read-only bind mount of the
// sessions directory (EROFS); a user, whose own 0700 directory nook would
// simply chmod back, a state directory without write permission in which
// the sessions directory does not exist yet (EACCES).
func TestFaultReadOnlyStore(t *testing.T) {
	e := newSessionEnv(t)
	e.busyboxChroot("bb")
	state := filepath.Join(e.dir, "state", "nook", "sessions")
	var cmd *exec.Cmd
	if os.Getuid() == 0 {
		os.MkdirAll(state, 0o700)
		cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
			`mount --bind "$S" "$S" && mount -o remount,bind,ro "$S" && exec "$N" session begin bb`)
	} else {
		parent := filepath.Dir(state)
		os.MkdirAll(parent, 0o700)
		os.Chmod(parent, 0o500)
		defer os.Chmod(parent, 0o700)
		state = parent
		cmd = exec.Command(nookBin, "session", "begin", "bb")
	}
	cmd.Env = append(append([]string{}, e.env...), "S="+state, "N="+nookBin)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("begin into a read-only store succeeded: %s", out)
	}
	if !strings.Contains(string(out), state) || !(strings.Contains(string(out), "read-only file system") || strings.Contains(string(out), "permission denied")) {
		t.Errorf("begin into a read-only store said %q; want the directory and the cause", out)
	}
	os.Chmod(state, 0o700)
	if ents, _ := os.ReadDir(state); len(ents) > 1 || (len(ents) == 1 && ents[0].Name() != ".lock" && ents[0].Name() != "sessions") {
		t.Errorf("left in the read-only store: %v", ents)
	}
	id := strings.TrimSpace(e.must("session", "begin", "bb"))
	e.must("session", "end", id)
}
