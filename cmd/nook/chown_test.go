package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSuppressChownOnlyWhereChownFails: --suppress-chown, as mkosi-sandbox's,
// makes chown a no-op only where chown cannot work: in a user namespace nook
// makes, or in a single-id one that nook runs in (a nook started inside a
// --become-root sandbox, which needs no namespace of its own). Real root
// without a user namespace chowns for real: an image built with sudo keeps
// its owners (issue 16).
func TestSuppressChownOnlyWhereChownFails(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	binDir := filepath.Dir(nookBin)
	t.Run("real root without a user namespace", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("SKIP (not root): only real root runs a sandbox without a user namespace")
		}
		out, errb, code := nook(t, dir, "run", "--suppress-chown", "--", "sh", "-c", "touch root-owned && chown 1234:1234 root-owned")
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errb)
		}
		if uid, gid := owner(t, filepath.Join(dir, "root-owned")); uid != 1234 || gid != 1234 {
			t.Errorf("real root's chown to 1234:1234 under --suppress-chown left %d:%d: every chown became a silent no-op", uid, gid)
		}
	})
	t.Run("in a single-id namespace", func(t *testing.T) {
		outer := []string{"run", "--become-root", "--ro-bind", binDir, binDir}
		if os.Getuid() == 0 {
			outer = append(outer, "--userns", "always")
		}
		script := "touch nested && chown 1234:1234 nested && echo chowned"
		out, errb, code := nook(t, dir, append(outer, "--", nookBin, "run", "--suppress-chown", "--", "sh", "-c", script)...)
		if code != 0 || !strings.Contains(out, "chowned") {
			t.Fatalf("chown in a nook inside a --become-root sandbox, with --suppress-chown: exit %d: %s%s", code, out, errb)
		}
		if uid, _ := owner(t, filepath.Join(dir, "nested")); uid != uint32(os.Getuid()) {
			t.Errorf("the suppressed chown changed the owner to %d", uid)
		}
		// Without the option the same chown fails there: the filter is
		// what made it succeed.
		_, _, code = nook(t, dir, append(outer, "--", nookBin, "run", "--", "sh", "-c", script)...)
		if code == 0 {
			t.Errorf("chown to an unmapped id succeeded in a single-id namespace without --suppress-chown; the case proves nothing")
		}
	})
}

func owner(t *testing.T, p string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}
